"""Voice trunks and trunk groups (configuration.md §1–§3, §7).

Pages are classic forms (PRG, 422 with the errors in place). htmx adds the filtered table, the
codec up/down buttons, the SDES hint and the confirmed delete. The helpers at the bottom are shared
with the SMS pages (configuration/sms.py).
"""
from flask import Blueprint, abort, flash, make_response, redirect, request, url_for
from jinja2_fragments.flask import render_block

from did_app import audit, parsing
from did_app.configuration import routes_forms as forms
from did_app.configuration import routes_queries as queries
from did_app.configuration import routes_service as service
from did_app.errors import Conflict, DomainError
from did_app.htmx import redirect_to, render, wants_fragment
from did_app.rules import routes
from did_app.rules.routes import VOICE
from did_app.security import role_required

bp = Blueprint("trunks", __name__, url_prefix="/trunks")
TRUNK_PAGE, GROUP_PAGE = "configuration/trunks_form.html", "configuration/trunks_group.html"


@bp.get("")
def index():
    filters, notes = list_filters(routes.TRUNK_KINDS)
    trunks, groups, sizes = queries.list_routes(VOICE, **filters)
    return render("configuration/trunks.html", "trunk_table", trunks=trunks, groups=groups, sizes=sizes,
                  counts=queries.number_counts(VOICE), filters=filters, notes=notes,
                  group_names={g.id: g.name for g in groups})


@bp.get("/sdes-hint")
def sdes_hint():
    """The SDES hint for the chosen transport and media encryption (the form asks on change)."""
    if not wants_fragment():
        return redirect(url_for(".index"), 303)
    show = routes.sdes_in_clear(request.args.get("transport"), request.args.get("media_encryption"))
    return render(TRUNK_PAGE, "sdes_hint", show_sdes_hint=show)


# ---- trunks ----

def _trunk_form(kind: str, **kwargs):
    if kind not in forms.TRUNK_FORMS:
        abort(404)
    form = forms.TRUNK_FORMS[kind](**kwargs)
    form.group_id.choices = [("", "No group"), *queries.group_choices(VOICE)]
    return form


def _trunk_or_404(trunk_id: int):
    return queries.get_route(VOICE, trunk_id, "trunk") or abort(404)


def _trunk_page(form, *, trunk=None, kind=None, refusal=None, status=200, blocks=()):
    kind = trunk.trunk_kind if trunk is not None else kind
    counts = queries.number_counts(VOICE, [trunk.id, trunk.group_id]) if trunk is not None else {}
    group = queries.get_route(VOICE, trunk.group_id, "group") if trunk is not None and trunk.group_id else None
    transport = getattr(form, "transport", None)
    media = getattr(form, "media_encryption", None)
    return render(TRUNK_PAGE, *blocks, form=form, trunk=trunk, kind=kind, group=group,
                  counts=counts, refusal=refusal, routes=routes, moved=request.form.get("move"),
                  history=queries.history("trunk", trunk.id) if trunk is not None else [],
                  show_sdes_hint=bool(transport and routes.sdes_in_clear(transport.data, media.data))), status


@bp.get("/new/<kind>")
@role_required("operator")
def new(kind: str):
    return _trunk_page(_trunk_form(kind), kind=kind)


@bp.post("/new/<kind>")
@role_required("operator")
def create(kind: str):
    form = _trunk_form(kind)
    if request.form.get("move") and hasattr(form, "codecs"):
        form.codecs.move(request.form["move"])
        return _trunk_page(form, kind=kind, blocks=("codecs",))
    if form.validate_on_submit():
        try:
            trunk, notices = service.create_voice_trunk(audit.Actor.current(), kind, form.values())
        except DomainError as err:
            form.attach_all(err)
        else:
            flash_notices(f"Trunk {trunk.name} created.", notices)
            return redirect(url_for(".show", trunk_id=trunk.id), 303)
    else:
        form.attach_more(lambda: routes.clean_voice_trunk(kind, form.values()))
    return _trunk_page(form, kind=kind, status=422)


@bp.get("/<int:trunk_id>")
def show(trunk_id: int):
    trunk = _trunk_or_404(trunk_id)
    return _trunk_page(_trunk_form(trunk.trunk_kind, data=forms.voice_trunk_data(trunk)), trunk=trunk)


@bp.post("/<int:trunk_id>")
@role_required("operator")
def update(trunk_id: int):
    trunk = _trunk_or_404(trunk_id)
    form = _trunk_form(trunk.trunk_kind)
    if request.form.get("move") and hasattr(form, "codecs"):
        form.codecs.move(request.form["move"])
        return _trunk_page(form, trunk=trunk, blocks=("codecs",))
    if form.validate_on_submit():
        try:
            trunk, notices = service.update_voice_trunk(audit.Actor.current(), trunk_id, form.values(),
                                                        form.version_number())
        except Conflict as err:
            trunk = _trunk_or_404(trunk_id)
            fresh = _trunk_form(trunk.trunk_kind, formdata=None, data=forms.voice_trunk_data(trunk))
            fresh.form_errors.append(err.message)
            return _trunk_page(fresh, trunk=trunk, status=409)
        except DomainError as err:
            form.attach_all(err)
        else:
            flash_notices(f"Trunk {trunk.name} saved.", notices)
            return redirect(url_for(".show", trunk_id=trunk_id), 303)
    else:
        form.attach_more(lambda: routes.clean_voice_trunk(trunk.trunk_kind, form.values(), trunk))
    return _trunk_page(form, trunk=_trunk_or_404(trunk_id), status=422)


@bp.post("/<int:trunk_id>/delete")
@role_required("operator")
def remove(trunk_id: int):
    trunk = _trunk_or_404(trunk_id)
    try:
        name = service.delete_voice_trunk(audit.Actor.current(), trunk_id)
    except DomainError as err:
        form = _trunk_form(trunk.trunk_kind, formdata=None, data=forms.voice_trunk_data(trunk))
        return refused(err, TRUNK_PAGE, lambda refusal: _trunk_page(form, trunk=trunk, refusal=refusal, status=422))
    flash(f"Trunk {name} deleted.", "success")
    return redirect_to(url_for(".index"))


# ---- trunk groups ----

def _group_form(**kwargs):
    return forms.TrunkGroupForm(**kwargs)


def _group_or_404(group_id: int):
    return queries.get_route(VOICE, group_id, "group") or abort(404)


def _group_page(form, *, group=None, refusal=None, order_errors=None, order_values=None, status=200):
    members = queries.members_of(VOICE, group.id) if group is not None else []
    return render(GROUP_PAGE, form=form, group=group, refusal=refusal,
                  rows=routes.try_order(VOICE, members), candidates=queries.member_candidates(VOICE, group.id if group is not None else None),
                  counts=queries.number_counts(VOICE, [group.id]) if group is not None else {},
                  order_errors=order_errors or {}, order_values=order_values or {}, routes=routes,
                  history=queries.history("trunk_group", group.id) if group is not None else []), status


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
            group, notices = service.create_trunk_group(audit.Actor.current(), form.values(), form.members.data)
        except DomainError as err:
            form.attach_all(err)
        else:
            flash_notices(f"Trunk group {group.name} created.", notices)
            return redirect(url_for(".show_group", group_id=group.id), 303)
    else:
        form.attach_more(lambda: routes.clean_group(VOICE, form.values(), form.members.data))
    return _group_page(form, status=422)


@bp.get("/groups/<int:group_id>")
def show_group(group_id: int):
    group = _group_or_404(group_id)
    members = [t.id for t in queries.members_of(VOICE, group_id)]
    return _group_page(_group_form(data=forms.group_data(group, members)), group=group)


@bp.post("/groups/<int:group_id>")
@role_required("operator")
def update_group(group_id: int):
    group = _group_or_404(group_id)
    form = _group_form()
    if form.validate_on_submit():
        try:
            group, notices = service.update_trunk_group(audit.Actor.current(), group_id, form.values(),
                                                        form.members.data, form.version_number())
        except Conflict as err:
            return _group_conflict(group_id, err)
        except DomainError as err:
            form.attach_all(err)
        else:
            flash_notices(f"Trunk group {group.name} saved.", notices)
            return redirect(url_for(".show_group", group_id=group_id), 303)
    else:
        form.attach_more(lambda: routes.clean_group(VOICE, form.values(), form.members.data))
    return _group_page(form, group=_group_or_404(group_id), status=422)


def _group_conflict(group_id: int, err):
    group = _group_or_404(group_id)
    members = [t.id for t in queries.members_of(VOICE, group_id)]
    form = _group_form(formdata=None, data=forms.group_data(group, members))
    form.form_errors.append(err.message)
    return _group_page(form, group=group, status=409)


def posted_versions(ids) -> dict:
    """The `version-<id>` of each posted member (None where missing or unreadable)."""
    return {tid: parsing.form_version(request.form.get(f"version-{tid}")) for tid in ids}


@bp.post("/groups/<int:group_id>/order")
@role_required("operator")
def order_members(group_id: int):
    """Priority and weight of each member, edited in the group page's members table."""
    group = _group_or_404(group_id)
    orders = {tid: (posted_int(f"priority-{tid}"), posted_int(f"weight-{tid}")) for tid in posted_ids("priority-")}
    try:
        service.set_trunk_order(audit.Actor.current(), group_id, orders, versions=posted_versions(orders))
    except Conflict as err:
        return _group_conflict(group_id, err)
    except DomainError as err:
        members = [t.id for t in queries.members_of(VOICE, group_id)]
        form = _group_form(formdata=None, data=forms.group_data(group, members))
        return _group_page(form, group=_group_or_404(group_id), status=422, order_values=request.form,
                           order_errors=dict((f, m) for f, m in getattr(err, "problems", [(None, err.message)])))
    flash("Priorities and weights saved.", "success")
    return redirect(url_for(".show_group", group_id=group_id, _anchor="members"), 303)


@bp.post("/groups/<int:group_id>/delete")
@role_required("operator")
def remove_group(group_id: int):
    group = _group_or_404(group_id)
    try:
        name = service.delete_trunk_group(audit.Actor.current(), group_id)
    except DomainError as err:
        members = [t.id for t in queries.members_of(VOICE, group_id)]
        form = _group_form(formdata=None, data=forms.group_data(group, members))
        return refused(err, GROUP_PAGE, lambda refusal: _group_page(form, group=group, refusal=refusal, status=422))
    flash(f"Trunk group {name} deleted.", "success")
    return redirect_to(url_for(".index"))


# ---- helpers shared with the SMS pages ----

def flash_notices(message: str, notices) -> None:
    flash(message, "success")
    for notice in notices:
        flash(notice, "info")


def list_filters(kinds) -> tuple[dict, list[str]]:
    """A list page's name, kind and group ("none" or an id) filters, and the notes naming the
    values that were ignored."""
    query = parsing.QueryArgs(request.args)
    group = query.text("group")
    if group != "none":
        group_id = query.id("group")
        group = str(group_id) if group_id is not None else ""
    return {"name": query.text("name", 100), "kind": query.choice("kind", kinds), "group": group}, query.notes()


def posted_ids(prefix: str) -> list[int]:
    """Member ids named by posted fields such as "priority-12" (others are ignored)."""
    ids = (parsing.query_id(k[len(prefix):]) for k in request.form if k.startswith(prefix))
    return [i for i in ids if i is not None]


def posted_int(key: str):
    """A posted whole number, or the raw text (which the service refuses with the field's message)."""
    text = request.form.get(key, "").strip()
    value = parsing.query_int(text, 0, parsing.MAX_ID)
    return text if value is None else value


def refused(err: DomainError, template: str, page):
    """A refused delete: 422 with the message and a link to the numbers concerned. htmx gets only
    the template's `delete_result` block; a classic post gets `page(refusal)`, the whole page."""
    numbers_filter = getattr(err, "numbers_filter", None)
    refusal = {"message": err.message,
               "url": url_for("numbers.index", **numbers_filter) if numbers_filter else None}
    if wants_fragment():
        return make_response(render_block(template, "delete_result", refusal=refusal), 422)
    return page(refusal)
