"""What the filter panel offers, and the chips that name the active filters."""
from dataclasses import dataclass

import sqlalchemy as sa

from did_app import filters
from did_app.db import db
from did_app.models import CapacityGroup, Identity, Number, SmsRoute, VoiceRoute
from did_app.models.numbers import FEATURES, NUMBER_TYPES
from did_app.models.registration import VERIFICATION_STATES
from did_app.numbers import blockers, queries
from did_app.numbers.display import LABELS


def countries_present() -> list[str]:
    """Distinct countries by a loose index scan: one index seek per country, not a full scan."""
    c = sa.select(sa.func.min(Number.country).label("x")).cte("c", recursive=True)
    nxt = sa.select(sa.select(sa.func.min(Number.country)).where(Number.country > c.c.x)
                    .scalar_subquery()).where(c.c.x.is_not(None))
    c = c.union_all(nxt)
    return [x for x in db.session.scalars(sa.select(c.c.x).where(c.c.x.is_not(None)))]


def panel_options(view: queries.View) -> dict:
    """Everything the filter panel lists; loaded only when the panel opens."""
    voice = db.session.execute(sa.select(VoiceRoute.id, VoiceRoute.name, VoiceRoute.kind)
                               .order_by(VoiceRoute.kind.desc(), VoiceRoute.name)).all()
    sms = db.session.execute(sa.select(SmsRoute.id, SmsRoute.name, SmsRoute.kind, SmsRoute.blocked)
                             .order_by(SmsRoute.kind.desc(), SmsRoute.name)).all()
    groups = db.session.execute(sa.select(CapacityGroup.id, CapacityGroup.name).order_by(CapacityGroup.name)).all()
    identities = db.session.execute(sa.select(Identity.id, Identity.identity_type, Identity.company_name,
                                              Identity.first_name, Identity.last_name)
                                    .order_by(Identity.company_name, Identity.last_name)).all()
    one_country = view.country[0] if len(view.country) == 1 else None
    return dict(
        countries=[(c, filters.country_name(c)) for c in countries_present()],
        voice_trunks=[r for r in voice if r.kind == "trunk"], voice_groups=[r for r in voice if r.kind == "group"],
        sms_trunks=[r for r in sms if r.kind == "trunk"], sms_groups=[r for r in sms if r.kind == "group"],
        capacity_groups=groups,
        identities=[(i.id, i.company_name if i.identity_type == "business" and i.company_name
                     else f"{i.first_name} {i.last_name}") for i in identities],
        regions=queries.facet_values(Number.region, one_country) if one_country else [],
        cities=queries.facet_values(Number.city, one_country, view.region or None) if one_country else [],
        types=NUMBER_TYPES, features={k: v[0] for k, v in FEATURES.items()},
        verifications=VERIFICATION_STATES, blockers=blockers.BLOCKERS, per_page=queries.PER_PAGE)


@dataclass
class Chip:
    label: str
    remove_query: str  # the view's query string without this value


def _names(model, ids: list[str]) -> dict[str, str]:
    wanted = [int(i) for i in ids if i != "none"]
    if not wanted:
        return {}
    if model is Identity:
        rows = db.session.scalars(sa.select(Identity).where(Identity.id.in_(wanted)))
        return {str(r.id): r.display_name for r in rows}
    return {str(i): n for i, n in db.session.execute(sa.select(model.id, model.name).where(model.id.in_(wanted)))}


def chips(view: queries.View) -> list[Chip]:
    """One chip per active filter value; its × link drops just that value (and resets the page)."""
    names = {"voice_route": _names(VoiceRoute, view.voice_route), "sms_route": _names(SmsRoute, view.sms_route),
             "capacity_group": _names(CapacityGroup, view.capacity_group),
             "identity": _names(Identity, view.identity)}
    titles = {"status": "Status", "country": "Country", "type": "Type", "feature": "Feature",
              "voice_route": "Voice route", "sms_route": "SMS route", "capacity_group": "Capacity group",
              "identity": "Identity", "verification": "Verification", "cycles": "Billing cycles",
              "blocker": "Readiness stops at"}
    value_labels = {"status": queries.QUICK_LABELS, "type": NUMBER_TYPES, "feature": LABELS["feature"],
                    "verification": VERIFICATION_STATES, "blocker": blockers.BLOCKERS}
    out = []
    for key, title in titles.items():
        for value in getattr(view, key):
            label = (value_labels.get(key, {}).get(value) or names.get(key, {}).get(value)
                     or (filters.country_name(value) if key == "country" else None)
                     or ("None" if value == "none" else value))
            remaining = [v for v in getattr(view, key) if v != value]
            out.append(Chip(f"{title}: {label}", view.url_query(**{key: remaining, "page": 1})))
    text_titles = {"q": "Search", "list": "Saved list", "description": "Description contains",
                   "region": "Region", "city": "City", "expires_within": "Expires within (days)",
                   "expires_from": "Expires from", "expires_to": "Expires to", "order": "Order"}
    for key, title in text_titles.items():
        value = getattr(view, key)
        if value:
            shown = value if len(value) <= 40 else value[:37] + "…"
            out.append(Chip(f"{title}: {shown}", view.url_query(**{key: "", "page": 1})))
    return out
