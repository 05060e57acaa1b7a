"""SMS trunks and SMS trunk groups (configuration.md §4, §7).

Same page shapes as the voice trunks (configuration/trunks.py), whose shared helpers these use.
Inside an SMS group the lower priority is tried first, as in voice groups.
"""
from flask import Blueprint, abort, flash, redirect, request, url_for

from did_app import audit
from did_app.configuration import routes_forms as forms
from did_app.configuration import routes_queries as queries
from did_app.configuration import routes_service as service
from did_app.configuration.trunks import (
    flash_notices,
    list_filters,
    posted_ids,
    posted_int,
    posted_versions,
    refused,
)
from did_app.errors import Conflict, DomainError
from did_app.htmx import redirect_to, render, wants_fragment
from did_app.rules import routes
from did_app.rules.routes import SMS
from did_app.security import role_required

bp = Blueprint("sms", __name__, url_prefix="/sms-trunks")
TRUNK_PAGE, GROUP_PAGE = "configuration/sms_trunk_form.html", "configuration/sms_group.html"


@bp.get("")
def index():
    filters, notes = list_filters(routes.SMS_KINDS)
    trunks, groups, sizes = queries.list_routes(SMS, **filters)
    return render("configuration/sms_trunks.html", "trunk_table", trunks=trunks, groups=groups, sizes=sizes,
                  blocked=queries.blocked_member_counts(), counts=queries.number_counts(SMS), filters=filters, routes=routes,
                  notes=notes,
                  group_names={g.id: g.name for g in groups})


# ---- SMS trunks ----

def _trunk_form(kind: str, **kwargs):
    if kind not in forms.SMS_FORMS:
        abort(404)
    form = forms.SMS_FORMS[kind](**kwargs)
    form.group_id.choices = [("", "No group"), *queries.group_choices(SMS)]
    return form


def _trunk_or_404(trunk_id: int):
    return queries.get_route(SMS, trunk_id, "trunk") or abort(404)


def _trunk_page(form, *, trunk=None, kind=None, refusal=None, status=200, blocks=()):
    kind = trunk.trunk_kind if trunk is not None else kind
    group = queries.get_route(SMS, trunk.group_id, "group") if trunk is not None and trunk.group_id else None
    return render(TRUNK_PAGE, *blocks, form=form, trunk=trunk, kind=kind, group=group, refusal=refusal,
                  counts=queries.number_counts(SMS, [trunk.id, trunk.group_id]) if trunk is not None else {},
                  routes=routes,
                  settings=dict(trunk.settings or {}) if trunk is not None else {},
                  history=queries.history("sms_trunk", trunk.id) if trunk is not None else []), status


@bp.get("/new/<kind>")
@role_required("operator")
def new(kind: str):
    return _trunk_page(_trunk_form(kind), kind=kind)


@bp.post("/new/<kind>")
@role_required("operator")
def create(kind: str):
    form = _trunk_form(kind)
    if form.validate_on_submit():
        try:
            trunk, notices = service.create_sms_trunk(audit.Actor.current(), kind, form.values())
        except DomainError as err:
            form.attach_all(err)
        else:
            flash_notices(f"SMS trunk {trunk.name} created.", notices)
            return redirect(url_for(".show", trunk_id=trunk.id), 303)
    else:
        form.attach_more(lambda: routes.clean_sms_trunk(kind, form.values()))
    return _trunk_page(form, kind=kind, status=422)


@bp.get("/<int:trunk_id>")
def show(trunk_id: int):
    trunk = _trunk_or_404(trunk_id)
    return _trunk_page(_trunk_form(trunk.trunk_kind, data=forms.sms_trunk_data(trunk)), trunk=trunk)


@bp.post("/<int:trunk_id>")
@role_required("operator")
def update(trunk_id: int):
    trunk = _trunk_or_404(trunk_id)
    form = _trunk_form(trunk.trunk_kind)
    if form.validate_on_submit():
        try:
            trunk, notices = service.update_sms_trunk(audit.Actor.current(), trunk_id, form.values(),
                                                      form.version_number())
        except Conflict as err:
            trunk = _trunk_or_404(trunk_id)
            fresh = _trunk_form(trunk.trunk_kind, formdata=None, data=forms.sms_trunk_data(trunk))
            fresh.form_errors.append(err.message)
            return _trunk_page(fresh, trunk=trunk, status=409)
        except DomainError as err:
            form.attach_all(err)
        else:
            flash_notices(f"SMS trunk {trunk.name} saved.", notices)
            return redirect(url_for(".show", trunk_id=trunk_id), 303)
    else:
        form.attach_more(lambda: routes.clean_sms_trunk(trunk.trunk_kind, form.values(), trunk))
    return _trunk_page(form, trunk=_trunk_or_404(trunk_id), status=422)


@bp.post("/<int:trunk_id>/credentials")
@role_required("operator")
def regenerate(trunk_id: int):
    """New SMPP ESME system ID and password (the button asks for confirmation first)."""
    if _trunk_or_404(trunk_id).trunk_kind != "smpp_esme":
        abort(404)
    trunk = service.regenerate_sms_credentials(audit.Actor.current(), trunk_id)
    flash("New credentials generated. The old system ID and password no longer work.", "success")
    form = _trunk_form(trunk.trunk_kind, formdata=None, data=forms.sms_trunk_data(trunk))
    if wants_fragment():
        return render(TRUNK_PAGE, "credentials", flash_oob=True, form=form, trunk=trunk,
                      settings=dict(trunk.settings or {}))
    return redirect(url_for(".show", trunk_id=trunk_id), 303)


@bp.post("/<int:trunk_id>/delete")
@role_required("operator")
def remove(trunk_id: int):
    trunk = _trunk_or_404(trunk_id)
    try:
        name = service.delete_sms_trunk(audit.Actor.current(), trunk_id)
    except DomainError as err:
        form = _trunk_form(trunk.trunk_kind, formdata=None, data=forms.sms_trunk_data(trunk))
        return refused(err, TRUNK_PAGE, lambda refusal: _trunk_page(form, trunk=trunk, refusal=refusal, status=422))
    flash(f"SMS trunk {name} deleted.", "success")
    return redirect_to(url_for(".index"))


# ---- SMS trunk groups ----

def _group_form(**kwargs):
    return forms.GroupForm(**kwargs)


def _group_or_404(group_id: int):
    return queries.get_route(SMS, group_id, "group") or abort(404)


def _stored_group_form(group):
    members = [t.id for t in queries.members_of(SMS, group.id)]
    return _group_form(formdata=None, data=forms.group_data(group, members))


def _group_page(form, *, group=None, refusal=None, order_errors=None, order_values=None, status=200):
    members = queries.members_of(SMS, group.id) if group is not None else []
    return render(GROUP_PAGE, form=form, group=group, refusal=refusal, rows=routes.try_order(SMS, members),
                  candidates=queries.member_candidates(SMS, group.id if group is not None else None), routes=routes,
                  counts=queries.number_counts(SMS, [group.id]) if group is not None else {},
                  order_errors=order_errors or {}, order_values=order_values or {},
                  history=queries.history("sms_trunk_group", group.id) if group is not None else []), status


@bp.get("/groups/new")
@role_required("operator")
def new_group():
    return _group_page(_group_form())


@bp.post("/groups/new")
@role_required("operator")
def create_group():
    form = _group_form()
    if form.validate_on_submit():
        try:
            group, notices = service.create_sms_group(audit.Actor.current(), form.values(), form.members.data)
        except DomainError as err:
            form.attach_all(err)
        else:
            flash_notices(f"SMS trunk group {group.name} created.", notices)
            return redirect(url_for(".show_group", group_id=group.id), 303)
    else:
        form.attach_more(lambda: routes.clean_group(SMS, form.values(), form.members.data))
    return _group_page(form, status=422)


@bp.get("/groups/<int:group_id>")
def show_group(group_id: int):
    return _group_page(_stored_group_form(_group_or_404(group_id)), group=_group_or_404(group_id))


@bp.post("/groups/<int:group_id>")
@role_required("operator")
def update_group(group_id: int):
    _group_or_404(group_id)
    form = _group_form()
    if form.validate_on_submit():
        try:
            group, notices = service.update_sms_group(audit.Actor.current(), group_id, form.values(),
                                                      form.members.data, form.version_number())
        except Conflict as err:
            group = _group_or_404(group_id)
            fresh = _stored_group_form(group)
            fresh.form_errors.append(err.message)
            return _group_page(fresh, group=group, status=409)
        except DomainError as err:
            form.attach_all(err)
        else:
            flash_notices(f"SMS trunk group {group.name} saved.", notices)
            return redirect(url_for(".show_group", group_id=group_id), 303)
    else:
        form.attach_more(lambda: routes.clean_group(SMS, form.values(), form.members.data))
    return _group_page(form, group=_group_or_404(group_id), status=422)


@bp.post("/groups/<int:group_id>/order")
@role_required("operator")
def order_members(group_id: int):
    """The priority of each member, edited in the group page's members table."""
    group = _group_or_404(group_id)
    priorities = {tid: posted_int(f"priority-{tid}") for tid in posted_ids("priority-")}
    try:
        service.set_sms_order(audit.Actor.current(), group_id, priorities, versions=posted_versions(priorities))
    except Conflict as err:
        group = _group_or_404(group_id)
        form = _stored_group_form(group)
        form.form_errors.append(err.message)
        return _group_page(form, group=group, status=409)
    except DomainError as err:
        group = _group_or_404(group_id)
        return _group_page(_stored_group_form(group), group=group, status=422, order_values=request.form,
                           order_errors=dict(getattr(err, "problems", [(None, err.message)])))
    flash("Priorities saved.", "success")
    return redirect(url_for(".show_group", group_id=group.id, _anchor="members"), 303)


@bp.post("/groups/<int:group_id>/delete")
@role_required("operator")
def remove_group(group_id: int):
    group = _group_or_404(group_id)
    try:
        name = service.delete_sms_group(audit.Actor.current(), group_id)
    except DomainError as err:
        form = _stored_group_form(group)
        return refused(err, GROUP_PAGE, lambda refusal: _group_page(form, group=group, refusal=refusal, status=422))
    flash(f"SMS trunk group {name} deleted.", "success")
    return redirect_to(url_for(".index"))
