"""Configuration profiles and rules (configuration.md §8–§9)."""
import sqlalchemy as sa
from flask import Blueprint, g, render_template, request, url_for

from did_app import crud
from did_app.configuration import profiles_service
from did_app.configuration.profiles_forms import BLANK, ProfileForm, RuleFilterForm, RuleForm, RuleTestForm
from did_app.db import db
from did_app.htmx import render
from did_app.models import CapacityGroup, ConfigurationProfile, Rule, SmsRoute, VoiceRoute
from did_app.models.numbers import NUMBER_TYPES

bp = Blueprint("profiles", __name__, url_prefix="/profiles")


# ---- profiles ------------------------------------------------------------------------------

def _route_choices(model) -> list[tuple]:
    rows = db.session.execute(sa.select(model.id, model.name, model.kind).order_by(model.name)).all()
    return [BLANK] + [(i, f"{name} (group)" if kind == "group" else name) for i, name, kind in rows]


def _profile_form(profile=None, formdata=True) -> ProfileForm:
    """The profile form bound to the request (formdata) or filled from `profile`, with choices."""
    form = ProfileForm() if formdata else ProfileForm(formdata=None, obj=profile)
    form.voice_route_id.choices = _route_choices(VoiceRoute)
    form.sms_route_id.choices = _route_choices(SmsRoute)
    form.capacity_group_id.choices = crud.choices(CapacityGroup, BLANK)
    return form


def _profile_page(profile, form=None, *, refusal=None, status=200):
    rules = db.session.scalars(sa.select(Rule).where(Rule.profile_id == profile.id).order_by(Rule.name)).all()
    return render_template("configuration/profiles_edit.html", profile=profile, rules=rules,
                           form=form or _profile_form(profile, formdata=False),
                           fields=profiles_service.profile_fields(profile), refusal=refusal and refusal.message,
                           history=crud.history("profile", profile.id)), status


@bp.get("")
def index():
    profiles = db.session.scalars(sa.select(ConfigurationProfile).order_by(ConfigurationProfile.name)).all()
    return render_template("configuration/profiles.html", profiles=profiles,
                           fields={p.id: profiles_service.profile_fields(p) for p in profiles},
                           rules=profiles_service.rules_by_profile())


crud.ObjectViews(
    model=ConfigurationProfile, name="", path="", id_arg="profile_id", role="operator",
    new_template="configuration/profiles_new.html", list_endpoint=".index", form=_profile_form,
    page=_profile_page, create=lambda form: profiles_service.create_profile(crud.actor(), **form.values()),
    update=lambda profile_id, version, form: profiles_service.update_profile(crud.actor(), profile_id,
                                                                             version=version, **form.values()),
    remove=lambda profile_id: profiles_service.delete_profile(crud.actor(), profile_id),
    created=lambda profile: (f"Profile {profile.name} created.", url_for(".index")),
    saved="Profile saved.", deleted=lambda profile: f"Profile {profile.name} deleted.",
).register(bp)


# ---- rules ---------------------------------------------------------------------------------

def _filtered(ordered: list[Rule], filters: RuleFilterForm) -> list[tuple[int | None, Rule]]:
    """(evaluation position, rule) for the rules that pass the page's filters. Disabled rules keep
    their place in the list but have no position: they are never evaluated."""
    name = (filters.name.data or "").strip().casefold()
    country = (filters.country.data or "").strip().upper()
    positions, position = [], 0
    for rule in ordered:
        if rule.enabled:
            position += 1
        positions.append(position if rule.enabled else None)
    return [(position, rule) for position, rule in zip(positions, ordered)
            if (not name or name in rule.name.casefold())
            and (not country or country in rule.countries)
            and (filters.profile.data is None or rule.profile_id == filters.profile.data)
            and (not filters.type.data or filters.type.data in rule.number_types)]


@bp.get("/rules")
def rules():
    filters, test_form = RuleFilterForm(request.args), RuleTestForm(request.args)
    filters.profile.choices = crud.choices(ConfigurationProfile, ("", "Any profile"))
    filters.validate()
    typed = (test_form.number.data or "").strip()
    test = profiles_service.try_number(typed, g.workspace.default_country) if typed else None
    rows = _filtered(profiles_service.rules_in_evaluation_order(), filters)
    return render("configuration/rules.html", "rule_list", "rule_test", rows=rows, filters=filters,
                  test_form=test_form, test=test, type_labels=NUMBER_TYPES, level_labels=profiles_service.LEVEL_LABELS)


def _rule_form(rule=None, formdata=True) -> RuleForm:
    """The rule form bound to the request (formdata) or filled from `rule`, with profile choices."""
    if formdata:
        form = RuleForm()
    elif rule is None:
        form = RuleForm(formdata=None)
    else:
        form = RuleForm(formdata=None, data=dict(
            name=rule.name, profile_id=rule.profile_id, countries=", ".join(rule.countries),
            number_types=rule.number_types, regions=", ".join(rule.regions), cities=", ".join(rule.cities),
            enabled=rule.enabled, version=rule.version))
    form.profile_id.choices = crud.choices(ConfigurationProfile, ("", "Choose a profile"))
    return form


def _rule_page(rule, form=None, *, refusal=None, status=200):
    return render_template("configuration/rules_edit.html", rule=rule, form=form or _rule_form(rule, formdata=False),
                           type_labels=NUMBER_TYPES, level_labels=profiles_service.LEVEL_LABELS,
                           refusal=refusal and refusal.message, history=crud.history("rule", rule.id)), status


crud.ObjectViews(
    model=Rule, name="rule", path="/rules", id_arg="rule_id", role="operator",
    new_template="configuration/rules_new.html", list_endpoint=".rules", form=_rule_form, page=_rule_page,
    create=lambda form: profiles_service.create_rule(crud.actor(), **form.values()),
    update=lambda rule_id, version, form: profiles_service.update_rule(crud.actor(), rule_id, version=version,
                                                                       **form.values()),
    remove=lambda rule_id: profiles_service.delete_rule(crud.actor(), rule_id),
    created=lambda rule: (f"Rule {rule.name} created.", url_for(".rules")),
    saved="Rule saved.", deleted=lambda rule: f"Rule {rule.name} deleted.",
).register(bp)
