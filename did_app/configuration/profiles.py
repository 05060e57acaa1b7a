"""Configuration profiles and rules (configuration.md §8–§9)."""
import sqlalchemy as sa
from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from did_app import audit
from did_app.configuration import profiles_service
from did_app.configuration.capacity import failed, history, refused_delete
from did_app.configuration.capacity_forms import version_of
from did_app.configuration.profiles_forms import BLANK, ProfileForm, RuleFilterForm, RuleForm, RuleTestForm
from did_app.db import db
from did_app.errors import DomainError
from did_app.htmx import render
from did_app.models import CapacityGroup, ConfigurationProfile, Rule, SmsRoute, VoiceRoute
from did_app.models.numbers import NUMBER_TYPES
from did_app.security import role_required

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
    groups = db.session.execute(sa.select(CapacityGroup.id, CapacityGroup.name).order_by(CapacityGroup.name)).all()
    form.capacity_group_id.choices = [BLANK] + [(i, name) for i, name in groups]
    return form


def _profile_page(profile, form, *, refusal=None, status=200):
    rules = db.session.scalars(sa.select(Rule).where(Rule.profile_id == profile.id).order_by(Rule.name)).all()
    return render_template("configuration/profiles_edit.html", profile=profile, form=form, rules=rules,
                           fields=profiles_service.profile_fields(profile), refusal=refusal,
                           history=history("profile", profile.id)), status


@bp.get("")
def index():
    profiles = db.session.scalars(sa.select(ConfigurationProfile).order_by(ConfigurationProfile.name)).all()
    return render_template("configuration/profiles.html", profiles=profiles,
                           fields={p.id: profiles_service.profile_fields(p) for p in profiles},
                           rules=profiles_service.rules_by_profile())


@bp.get("/new")
@role_required("operator")
def new():
    return render_template("configuration/profiles_new.html", form=_profile_form(formdata=False))


@bp.post("")
@role_required("operator")
def create():
    form = _profile_form()
    status = 422
    if form.validate_on_submit():
        try:
            profile = profiles_service.create_profile(audit.Actor.current(), **form.values())
        except DomainError as err:
            status = failed(form, err)
        else:
            flash(f"Profile {profile.name} created.", "success")
            return redirect(url_for(".index"), 303)
    return render_template("configuration/profiles_new.html", form=form), status


@bp.get("/<int:profile_id>")
def show(profile_id: int):
    profile = db.get_or_404(ConfigurationProfile, profile_id)
    return _profile_page(profile, _profile_form(profile, formdata=False))


@bp.post("/<int:profile_id>")
@role_required("operator")
def update(profile_id: int):
    profile = db.get_or_404(ConfigurationProfile, profile_id)
    form = _profile_form()
    status = 422
    if form.validate_on_submit():
        try:
            profiles_service.update_profile(audit.Actor.current(), profile_id, version=version_of(form),
                                            **form.values())
        except DomainError as err:
            status = failed(form, err)
        else:
            flash("Profile saved.", "success")
            return redirect(url_for(".show", profile_id=profile_id), 303)
    return _profile_page(profile, form, status=status)


@bp.post("/<int:profile_id>/delete")
@role_required("operator")
def delete(profile_id: int):
    profile = db.get_or_404(ConfigurationProfile, profile_id)
    name = profile.name
    try:
        profiles_service.delete_profile(audit.Actor.current(), profile_id)
    except DomainError as err:
        page = _profile_page(profile, _profile_form(profile, formdata=False), refusal=err.message, status=422)
        return refused_delete(page, url_for(".show", profile_id=profile_id))
    flash(f"Profile {name} deleted.", "success")
    return redirect(url_for(".index"), 303)


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
    profiles = db.session.execute(sa.select(ConfigurationProfile.id, ConfigurationProfile.name)
                                  .order_by(ConfigurationProfile.name)).all()
    filters.profile.choices = [("", "Any profile")] + [(i, name) for i, name in profiles]
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
    profiles = db.session.execute(sa.select(ConfigurationProfile.id, ConfigurationProfile.name)
                                  .order_by(ConfigurationProfile.name)).all()
    form.profile_id.choices = [("", "Choose a profile")] + [(i, name) for i, name in profiles]
    return form


def _rule_page(rule, form, *, status=200):
    return render_template("configuration/rules_edit.html", rule=rule, form=form, type_labels=NUMBER_TYPES,
                           level_labels=profiles_service.LEVEL_LABELS, history=history("rule", rule.id)), status


@bp.get("/rules/new")
@role_required("operator")
def new_rule():
    return render_template("configuration/rules_new.html", form=_rule_form(formdata=False))


@bp.post("/rules")
@role_required("operator")
def create_rule():
    form = _rule_form()
    status = 422
    if form.validate_on_submit():
        try:
            rule = profiles_service.create_rule(audit.Actor.current(), **form.values())
        except DomainError as err:
            status = failed(form, err)
        else:
            flash(f"Rule {rule.name} created.", "success")
            return redirect(url_for(".rules"), 303)
    return render_template("configuration/rules_new.html", form=form), status


@bp.get("/rules/<int:rule_id>")
def show_rule(rule_id: int):
    rule = db.get_or_404(Rule, rule_id)
    return _rule_page(rule, _rule_form(rule, formdata=False))


@bp.post("/rules/<int:rule_id>")
@role_required("operator")
def update_rule(rule_id: int):
    rule = db.get_or_404(Rule, rule_id)
    form = _rule_form()
    status = 422
    if form.validate_on_submit():
        try:
            profiles_service.update_rule(audit.Actor.current(), rule_id, version=version_of(form), **form.values())
        except DomainError as err:
            status = failed(form, err)
        else:
            flash("Rule saved.", "success")
            return redirect(url_for(".show_rule", rule_id=rule_id), 303)
    return _rule_page(rule, form, status=status)


@bp.post("/rules/<int:rule_id>/delete")
@role_required("operator")
def delete_rule(rule_id: int):
    name = db.get_or_404(Rule, rule_id).name
    profiles_service.delete_rule(audit.Actor.current(), rule_id)
    flash(f"Rule {name} deleted.", "success")
    return redirect(url_for(".rules"), 303)
