"""Configuration profiles and rules: the use cases (configuration.md §8–§9).

Which rule applies to a number is decided in did_app/rules/profiles.py (`match_rule()`), which
number intake uses too; its names are re-exported here for the pages. `apply_profile()` applies a
profile to one number.
"""
from dataclasses import dataclass, field

import sqlalchemy as sa

from did_app import audit, clock, phone
from did_app.db import db, write_transaction
from did_app.errors import DomainError
from did_app.models import CapacityGroup, ConfigurationProfile, Number, Rule
from did_app.models.numbers import NUMBER_TYPES
from did_app.object_checks import InUse, check_version, clean_description, clean_name, existing, name_taken
from did_app.rules import capacity as capacity_rules
from did_app.rules import status
from did_app.rules.profiles import (  # noqa: F401  (rule_matcher, rules_in_evaluation_order: re-exported for the pages)
    PROFILE_FIELDS,
    match_rule,
    rule_matcher,
    rules_in_evaluation_order,
)

LEVEL_LABELS = {"city": "City", "region": "Region", "number_type": "Number type", "country": "Country",
                "global": "Global"}
LIMIT_MESSAGE = "Enter a whole number from 1 to 32,767, or leave blank for no limit."


# ---- helpers (no transaction of their own) ------------------------------------------------


def _label(session, model, obj_id):
    """A referenced object's name for history rows; None stays None."""
    if model is None or obj_id is None:
        return obj_id
    obj = session.get(model, obj_id)
    return obj.name if obj is not None else f"#{obj_id}"


def _write_edit(actor, obj, object_type: str, values: dict, before: dict, after: dict) -> None:
    """Set `values` on `obj` and audit "<object_type>.updated", unless the audited fields
    (`before` and `after`, with names for ids) show no change: then nothing is written."""
    b, a = audit.diff(before, after)
    if not a:
        return
    for key, value in values.items():
        setattr(obj, key, value)
    obj.updated_at = clock.now()
    audit.record(actor, f"{object_type}.updated", object_type, obj.id, obj.name, before=b, after=a)


# ---- profiles ------------------------------------------------------------------------------

def _profile_values(session, values: dict) -> dict:
    out = {"name": values["name"]}
    for column, key, _, model in PROFILE_FIELDS:
        out[key] = _label(session, model, values.get(column))
    return out


def _clean_profile(session, values: dict) -> dict:
    """Checks §8 that need the database (referenced rows exist) or span fields."""
    values = dict(values)
    values["description"] = clean_description(values.get("description"))
    limit = values.get("capacity_limit")
    if limit is not None and not 1 <= limit <= 32767:
        raise DomainError(LIMIT_MESSAGE, "capacity_limit")
    for column, _, label, model in PROFILE_FIELDS:
        if model is not None and values.get(column) is not None and session.get(model, values[column]) is None:
            raise DomainError(f"Choose a {label.lower()} from the list.", column)
    if all(values.get(column) is None for column, *_ in PROFILE_FIELDS):
        raise DomainError("A profile must set at least one field.")
    return values


def create_profile(actor, *, name: str, voice_route_id: int | None = None, sms_route_id: int | None = None,
                   capacity_group_id: int | None = None, capacity_limit: int | None = None,
                   description: str | None = None) -> ConfigurationProfile:
    """Create a configuration profile (operator+).

    Raises DomainError for a taken name, an unknown route or group, a limit outside 1–32,767,
    a description over 255, or "A profile must set at least one field."
    """
    name = clean_name(name)
    with write_transaction() as session:
        values = _clean_profile(session, dict(
            name=name, voice_route_id=voice_route_id, sms_route_id=sms_route_id,
            capacity_group_id=capacity_group_id, capacity_limit=capacity_limit, description=description))
        if name_taken(session, ConfigurationProfile, name, None):
            raise DomainError("Name is already used by another profile.", "name")
        profile = ConfigurationProfile(**values, created_at=clock.now())
        session.add(profile)
        session.flush()
        audit.record(actor, "profile.created", "profile", profile.id, profile.name,
                     after={k: v for k, v in _profile_values(session, values).items() if v is not None})
    return profile


def update_profile(actor, profile_id: int, *, version: int | None, name: str, voice_route_id: int | None = None,
                   sms_route_id: int | None = None, capacity_group_id: int | None = None,
                   capacity_limit: int | None = None, description: str | None = None) -> ConfigurationProfile:
    """Edit a profile (operator+). Numbers it was applied to earlier are not touched.

    Raises DomainError as create_profile() does, and Conflict on a stale `version`.
    """
    name = clean_name(name)
    with write_transaction() as session:
        profile = existing(session, ConfigurationProfile, profile_id, "That profile does not exist.")
        check_version(profile, version)
        values = _clean_profile(session, dict(
            name=name, voice_route_id=voice_route_id, sms_route_id=sms_route_id,
            capacity_group_id=capacity_group_id, capacity_limit=capacity_limit, description=description))
        if name_taken(session, ConfigurationProfile, name, profile.id):
            raise DomainError("Name is already used by another profile.", "name")
        current = {"name": profile.name, **{column: getattr(profile, column) for column, *_ in PROFILE_FIELDS}}
        _write_edit(actor, profile, "profile", values,
                    _profile_values(session, current), _profile_values(session, values))
    return profile


def delete_profile(actor, profile_id: int) -> None:
    """Delete a profile (operator+). Raises InUse "Profile {name} is used by rules: {names}."."""
    with write_transaction() as session:
        profile = existing(session, ConfigurationProfile, profile_id, "That profile does not exist.")
        names = list(session.scalars(sa.select(Rule.name).where(Rule.profile_id == profile.id).order_by(Rule.name)))
        if names:
            raise InUse(f"Profile {profile.name} is used by rules: {', '.join(names)}.")
        current = {"name": profile.name, **{column: getattr(profile, column) for column, *_ in PROFILE_FIELDS}}
        audit.record(actor, "profile.deleted", "profile", profile.id, profile.name,
                     before={k: v for k, v in _profile_values(session, current).items() if v is not None})
        session.delete(profile)


def profile_fields(profile: ConfigurationProfile) -> list[tuple[str, str]]:
    """(label, value) for each field the profile sets, with route and group names."""
    out = []
    for column, _, label, model in PROFILE_FIELDS:
        value = getattr(profile, column)
        if value is None:
            continue
        if model is not None:
            obj = db.session.get(model, value)
            value = obj.name if obj is not None else f"#{value}"
            if model is not CapacityGroup and obj is not None and obj.kind == "group":
                value += " (group)"
        out.append((label, str(value)))
    return out


def rules_by_profile() -> dict[int, list[str]]:
    """Rule names per profile id, for the profile list."""
    out: dict[int, list[str]] = {}
    for profile_id, name in db.session.execute(sa.select(Rule.profile_id, Rule.name).order_by(Rule.name)):
        out.setdefault(profile_id, []).append(name)
    return out


# ---- rules ---------------------------------------------------------------------------------

def _clean_names(values, field_name: str) -> list[str]:
    out, seen = [], set()
    for value in values or []:
        text = " ".join(str(value).split())
        if not text or text.casefold() in seen:
            continue
        if len(text) > 100:
            raise DomainError("Region and city names must be at most 100 characters.", field_name)
        seen.add(text.casefold())
        out.append(text)
    return out


def _clean_rule(session, *, name, profile_id, countries, number_types, regions, cities) -> dict:
    countries = sorted({c.strip().upper() for c in countries or [] if c and c.strip()})
    given = set(number_types or [])
    if given - set(NUMBER_TYPES):
        raise DomainError("Choose number types from the list.", "number_types")
    number_types = [t for t in NUMBER_TYPES if t in given]
    regions, cities = _clean_names(regions, "regions"), _clean_names(cities, "cities")
    if (regions or cities) and len(countries) != 1:
        raise DomainError("Regions and cities need exactly one country.", "regions" if regions else "cities")
    if profile_id is None or session.get(ConfigurationProfile, profile_id) is None:
        raise DomainError("Choose a profile.", "profile_id")
    return dict(name=name, profile_id=profile_id, countries=countries, number_types=number_types,
                regions=regions, cities=cities)


def _rule_values(session, values: dict) -> dict:
    out = {k: values[k] for k in ("name", "countries", "number_types", "regions", "cities", "enabled")}
    out["profile"] = _label(session, ConfigurationProfile, values["profile_id"])
    return out


def create_rule(actor, *, name: str, profile_id: int | None, countries=(), number_types=(), regions=(),
                cities=(), enabled: bool = True) -> Rule:
    """Create a rule (operator+). Rules never touch existing numbers.

    Raises DomainError for a taken name, a missing profile, an unknown number type, or
    "Regions and cities need exactly one country."
    """
    name = clean_name(name)
    with write_transaction() as session:
        values = _clean_rule(session, name=name, profile_id=profile_id, countries=countries,
                             number_types=number_types, regions=regions, cities=cities)
        if name_taken(session, Rule, name, None):
            raise DomainError("Name is already used by another rule.", "name")
        rule = Rule(**values, enabled=bool(enabled), created_at=clock.now())
        session.add(rule)
        session.flush()
        audit.record(actor, "rule.created", "rule", rule.id, rule.name,
                     after=_rule_values(session, {**values, "enabled": rule.enabled}))
    return rule


def update_rule(actor, rule_id: int, *, version: int | None, name: str, profile_id: int | None, countries=(),
                number_types=(), regions=(), cities=(), enabled: bool = True) -> Rule:
    """Edit a rule (operator+); its created_at (a tie-break) stays. Raises as create_rule(), and
    Conflict on a stale `version`."""
    name = clean_name(name)
    with write_transaction() as session:
        rule = existing(session, Rule, rule_id, "That rule does not exist.")
        check_version(rule, version)
        values = _clean_rule(session, name=name, profile_id=profile_id, countries=countries,
                             number_types=number_types, regions=regions, cities=cities)
        values["enabled"] = bool(enabled)
        if name_taken(session, Rule, name, rule.id):
            raise DomainError("Name is already used by another rule.", "name")
        current = {k: getattr(rule, k) for k in values}
        _write_edit(actor, rule, "rule", values, _rule_values(session, current), _rule_values(session, values))
    return rule


def delete_rule(actor, rule_id: int) -> None:
    """Delete a rule (operator+). No number changes."""
    with write_transaction() as session:
        rule = existing(session, Rule, rule_id, "That rule does not exist.")
        current = {k: getattr(rule, k) for k in ("name", "profile_id", "countries", "number_types",
                                                 "regions", "cities", "enabled")}
        audit.record(actor, "rule.deleted", "rule", rule.id, rule.name, before=_rule_values(session, current))
        session.delete(rule)


@dataclass
class RuleTest:
    """What the rules page's Test box shows for one typed number."""
    text: str
    number: str | None = None
    country: str | None = None
    number_type: str | None = None
    region: str | None = None
    city: str | None = None
    rule: Rule | None = None
    fields: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None


def try_number(text: str, default_country: str) -> RuleTest:
    """Parse a number in any format, detect its country, type, region and city, and find the
    rule that would apply with the fields its profile would set."""
    result = RuleTest(text=text)
    parsed = phone.parse(text.strip(), default_country) if text and text.strip() else None
    if parsed is None:
        result.error = "Enter a valid phone number, e.g. +44 20 7183 8750."
        return result
    result.number, result.country, result.number_type = phone.e164(parsed), phone.country_of(parsed), phone.type_of(parsed)
    result.region, result.city = phone.locate(parsed)
    result.rule = match_rule(result.country, result.number_type, result.region, result.city)
    if result.rule is not None:
        result.fields = profile_fields(result.rule.profile)
    return result


# ---- applying a profile to one number ------------------------------------------------------

def _planned_changes(session, number: Number, profile: ConfigurationProfile) -> tuple[dict, list[str]]:
    """{column: (before, after)} that applying `profile` would make, and the skip reasons."""
    changed, skipped = {}, []
    for column, _, _, _ in PROFILE_FIELDS:
        wanted = getattr(profile, column)
        if wanted is None or getattr(number, column) == wanted:
            continue
        if column == "voice_route_id" and not number.has_feature("voice_in"):
            skipped.append("This number does not support inbound voice.")
            continue
        if column == "sms_route_id" and not number.has_feature("sms_in"):
            skipped.append("This number does not support inbound SMS.")
            continue
        if column == "capacity_group_id":
            refusal = capacity_rules.join_group_refusal(number, session.get(CapacityGroup, wanted))
            if refusal:
                skipped.append(refusal)
                continue
        changed[column] = (getattr(number, column), wanted)
    return changed, skipped


def apply_profile(actor, number_id: int, profile_id: int, *, version: int | None = None) -> dict:
    """Apply a profile to one number (§8): each defined field separately; a field that does not
    apply is skipped with its reason; a field that already has the value is left alone.

    Returns {"changed": {column: (before, after)}, "skipped": [reasons]}; when nothing changed,
    nothing is written and "skipped" holds the reasons or "Already matches profile". A change
    bumps the number's version, writes one "number.updated" audit row and recomputes its status.
    Raises Conflict when `version` is given and stale; DomainError for an unknown number or profile.
    """
    with write_transaction() as session:
        number = existing(session, Number, number_id, "That number does not exist.")
        check_version(number, version)
        profile = existing(session, ConfigurationProfile, profile_id, "That profile does not exist.")
        changed, skipped = _planned_changes(session, number, profile)
        if not changed:
            return {"changed": {}, "skipped": skipped or ["Already matches profile"]}
        models = {column: (key, model) for column, key, _, model in PROFILE_FIELDS}
        before, after = {}, {}
        for column, (old, new) in changed.items():  # names first: a lookup may autoflush
            key, model = models[column]
            before[key], after[key] = _label(session, model, old), _label(session, model, new)
        for column, (_, new) in changed.items():
            setattr(number, column, new)
        number.updated_at, number.updated_by = clock.now(), actor.user_id
        audit.record(actor, "number.updated", "number", number.id, number.number, before=before, after=after,
                     note=f"Profile {profile.name} applied")
        session.flush()  # writes the row and bumps its version before the set-based recompute
        status.recompute(Number.id == number.id)
    return {"changed": changed, "skipped": skipped}
