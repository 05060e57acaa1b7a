"""Voice trunks and trunk groups, SMS trunks and SMS trunk groups (configuration.md §1–§4, §7).

One set of views serves both route spaces. `_blueprint()` registers them twice, as the child
blueprints `trunks` (/configuration/trunks) and `sms` (/configuration/sms-trunks), so endpoints
read `configuration.trunks.show` and `configuration.sms.show`. A `RoutePages` holds what differs:
the space, its forms, its words and the template part with its own fields; the templates get it
as `pages`. Pages are classic forms (PRG, 422 with the errors in place); htmx adds the filtered
table, the codec up/down buttons, the SDES hint, the new ESME credentials and the confirmed delete.
"""
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial, update_wrapper
from operator import attrgetter

from flask import Blueprint, abort, flash, redirect, request, url_for

from did_app import crud, parsing
from did_app.configuration import routes_forms as forms
from did_app.configuration import routes_queries as queries
from did_app.configuration import routes_service as service
from did_app.errors import Conflict, DomainError
from did_app.filters import sms_summary
from did_app.htmx import render, wants_fragment
from did_app.rules import routes
from did_app.rules.routes import SMS, VOICE, Space
from did_app.security import role_required

LIST_PAGE = "configuration/trunks.html"
TRUNK_PAGE = "configuration/trunks_form.html"
GROUP_PAGE = "configuration/trunks_group.html"
HISTORY_ROWS = 50  # a route page's History (the other configuration pages show crud.HISTORY_ROWS)


@dataclass(frozen=True)
class Column:
    """A column of a list table: which cell (`key`, see macros/routes.html), its header, and the
    classes of the header and of the cells."""
    key: str
    label: str
    head_css: str | None = None
    cell_css: str | None = None


@dataclass(frozen=True)
class RoutePages:
    """What the pages of one route space do differently."""
    name: str                 # the child blueprint: endpoints configuration.<name>.*
    url_prefix: str
    space: Space
    trunk_forms: dict         # trunk kind → form class
    group_form: type
    trunk_data: Callable      # trunk → form data for editing it
    kinds: dict               # trunk kind → label, in filters and tables
    kind_labels: dict         # trunk kind → what such a trunk is called ("SIP trunk")
    new_links: tuple          # (label, trunk kind) of the list page's "New …" buttons
    new_trunk_title: str      # a new trunk page's heading; {kind} is its kind label
    trunk_noun: str           # "trunk" in running text
    group_noun: str
    trunks_heading: str       # the list page's trunk section
    summary_label: str        # the column with where a trunk delivers
    summary: Callable         # trunk → where it delivers, in one line
    trunk_columns: tuple
    group_columns: tuple
    trunk_delete_note: str
    members_note: str
    no_members: str
    order_noun: str           # what the members table saves
    part: str                 # the template of this space's own fields, facts and fragments
    part_context: Callable    # (form, trunk) → what `part` needs besides the shared context

    @property
    def endpoint(self) -> str:
        return f"configuration.{self.name}"

    @staticmethod
    def heads(columns) -> list:
        """The header cells of macros/table.html's list_table: a label, or (label, class)."""
        return [(c.label, c.head_css) if c.head_css else c.label for c in columns]


def _voice_context(form, trunk) -> dict:
    transport, media = getattr(form, "transport", None), getattr(form, "media_encryption", None)
    return {"moved": request.form.get("move"),
            "show_sdes_hint": bool(transport and routes.sdes_in_clear(transport.data, media.data))}


def _sms_context(form, trunk) -> dict:
    return {"settings": dict(trunk.settings or {}) if trunk is not None else {}}


_NAME, _GROUP, _ROUTED, _CREATED = (Column("name", "Name"), Column("group", "Group"),
                                    Column("routed", "Numbers routed"), Column("created", "Created"))
_DESCRIPTION, _NUMBERS = Column("description", "Description"), Column("numbers", "Numbers routed")
_CAPACITY = Column("capacity", "Capacity limit", "num", "num")

VOICE_PAGES = RoutePages(
    name="trunks", url_prefix="/trunks", space=VOICE, trunk_forms=forms.TRUNK_FORMS,
    group_form=forms.TrunkGroupForm, trunk_data=forms.voice_trunk_data, kinds=routes.TRUNK_KINDS,
    kind_labels={k: f"{label} trunk" for k, label in routes.TRUNK_KINDS.items()},
    new_links=(("New SIP trunk", "sip"), ("New PSTN trunk", "pstn")), new_trunk_title="New {kind}",
    trunk_noun="trunk", group_noun="trunk group", trunks_heading="Voice trunks", summary_label="Destination",
    summary=attrgetter("summary"),
    trunk_columns=(_NAME, Column("kind", "Kind"), Column("summary", "Destination"), _GROUP, _CAPACITY,
                   _ROUTED, _CREATED),
    group_columns=(_NAME, _DESCRIPTION, Column("members", "Members", "num", "num"), _CAPACITY, _NUMBERS, _CREATED),
    trunk_delete_note="A trunk that routes numbers, or is the last trunk of a group that does, can't be deleted.",
    members_note="Lower priority is tried first. Trunks with the same priority share calls in proportion to "
                 "their weight; a weight of 0 gets calls only when every weight at that priority is 0.",
    no_members="No members. Numbers routed to this group are Not configured.",
    order_noun="priorities and weights", part="configuration/trunks_voice.html", part_context=_voice_context)

SMS_PAGES = RoutePages(
    name="sms", url_prefix="/sms-trunks", space=SMS, trunk_forms=forms.SMS_FORMS,
    group_form=forms.GroupForm, trunk_data=forms.sms_trunk_data, kinds=routes.SMS_KINDS,
    kind_labels=routes.SMS_KINDS, new_links=(("New SMS trunk", "sms_to_email"),),
    new_trunk_title="New SMS trunk", trunk_noun="SMS trunk", group_noun="SMS trunk group",
    trunks_heading="SMS trunks", summary_label="Delivers to", summary=sms_summary,
    trunk_columns=(_NAME, Column("kind", "Kind", cell_css="nowrap"), Column("summary", "Delivers to"),
                   Column("state", "State"), _GROUP, Column("priority", "Priority", "num", "num"), _ROUTED, _CREATED),
    group_columns=(_NAME, _DESCRIPTION, Column("members", "Members", cell_css="nowrap"), _NUMBERS, _CREATED),
    trunk_delete_note="An SMS trunk that routes numbers, or is the last unblocked trunk of a group that does, "
                      "can't be deleted.",
    members_note="Lower priority is tried first. Trunks with the same priority share messages equally. "
                 "Blocked trunks are skipped.",
    no_members="No members. Numbers routed to this group are not ready for SMS.",
    order_noun="priorities", part="configuration/trunks_sms.html", part_context=_sms_context)


def index(pages: RoutePages):
    filters, notes = list_filters(pages.kinds)
    trunks, groups, sizes = queries.list_routes(pages.space, **filters)
    return render(LIST_PAGE, "trunk_table", pages=pages, trunks=trunks, groups=groups, sizes=sizes,
                  blocked=queries.blocked_member_counts(pages.space), counts=queries.number_counts(pages.space),
                  filters=filters, notes=notes, group_names={g.id: g.name for g in groups})


def sdes_hint():
    """The SDES hint for the chosen transport and media encryption (the voice form asks on change)."""
    if not wants_fragment():
        return redirect(url_for(".index"), 303)
    show = routes.sdes_in_clear(request.args.get("transport"), request.args.get("media_encryption"))
    return render(VOICE_PAGES.part, "sdes_hint", show_sdes_hint=show, routes=routes)


# ---- trunks ----

def _trunk_form(pages: RoutePages, kind: str, **kwargs):
    if kind not in pages.trunk_forms:
        abort(404)
    form = pages.trunk_forms[kind](**kwargs)
    form.group_id.choices = [("", "No group"), *queries.group_choices(pages.space)]
    return form


def _stored_trunk_form(pages: RoutePages, trunk):
    return _trunk_form(pages, trunk.trunk_kind, formdata=None, data=pages.trunk_data(trunk))


def _trunk_or_404(pages: RoutePages, trunk_id: int):
    return queries.get_route(pages.space, trunk_id, "trunk") or abort(404)


def _trunk_page(pages: RoutePages, form, *, trunk=None, kind=None, refusal=None, status=200, blocks=()):
    space, kind = pages.space, trunk.trunk_kind if trunk is not None else kind
    group = queries.get_route(space, trunk.group_id, "group") if trunk is not None and trunk.group_id else None
    template = pages.part if blocks and wants_fragment() else TRUNK_PAGE  # the part holds the fragments
    return render(template, *blocks, pages=pages, form=form, trunk=trunk, kind=kind, group=group,
                  refusal=refusal, routes=routes,
                  counts=queries.number_counts(space, [trunk.id, trunk.group_id]) if trunk is not None else {},
                  history=crud.history(space.trunk_type, trunk.id, HISTORY_ROWS) if trunk is not None else [],
                  **pages.part_context(form, trunk)), status


def _stored_trunk_page(pages: RoutePages, trunk, *, error: str | None = None, **kwargs):
    """The trunk's page with its form as stored; `error` over the form (a stale edit's 409)."""
    form = _stored_trunk_form(pages, trunk)
    if error:
        form.form_errors.append(error)
    return _trunk_page(pages, form, trunk=trunk, **kwargs)


def _moved_codec(form) -> bool:
    """A codec up/down button was pressed: reorder the list in the form, save nothing."""
    if request.form.get("move") and hasattr(form, "codecs"):
        form.codecs.move(request.form["move"])
        return True
    return False


def new(pages: RoutePages, kind: str):
    return _trunk_page(pages, _trunk_form(pages, kind), kind=kind)


def create(pages: RoutePages, kind: str):
    form = _trunk_form(pages, kind)
    if _moved_codec(form):
        return _trunk_page(pages, form, kind=kind, blocks=("codecs",))
    done, status = crud.save(form, lambda: service.create_trunk(pages.space, crud.actor(), kind, form.values()),
                             _saved(pages.space.trunk_label, "created", ".show", "trunk_id"), notices=_notices,
                             rules=lambda: routes.clean_trunk(pages.space, kind, form.values()))
    return done or _trunk_page(pages, form, kind=kind, status=status)


def show(pages: RoutePages, trunk_id: int):
    return _stored_trunk_page(pages, _trunk_or_404(pages, trunk_id))


def update(pages: RoutePages, trunk_id: int):
    trunk = _trunk_or_404(pages, trunk_id)
    form = _trunk_form(pages, trunk.trunk_kind)
    if _moved_codec(form):
        return _trunk_page(pages, form, trunk=trunk, blocks=("codecs",))
    done, status = crud.save(
        form, lambda: service.update_trunk(pages.space, crud.actor(), trunk_id, form.values(), crud.version_of(form)),
        _saved(pages.space.trunk_label, "saved", ".show", "trunk_id"), notices=_notices,
        rules=lambda: routes.clean_trunk(pages.space, trunk.trunk_kind, form.values(), trunk),
        stale=lambda err: _stored_trunk_page(pages, _trunk_or_404(pages, trunk_id), error=err.message, status=409))
    return done or _trunk_page(pages, form, trunk=_trunk_or_404(pages, trunk_id), status=status)


def regenerate(trunk_id: int):
    """New SMPP ESME system ID and password (the button asks for confirmation first)."""
    if _trunk_or_404(SMS_PAGES, trunk_id).trunk_kind != "smpp_esme":
        abort(404)
    trunk = service.regenerate_sms_credentials(crud.actor(), trunk_id)
    flash("New credentials generated. The old system ID and password no longer work.", "success")
    if wants_fragment():
        return render(SMS_PAGES.part, "credentials", flash_oob=True, trunk=trunk,
                      **SMS_PAGES.part_context(None, trunk))
    return redirect(url_for(".show", trunk_id=trunk_id), 303)


def remove(pages: RoutePages, trunk_id: int):
    trunk = _trunk_or_404(pages, trunk_id)
    return _delete(pages, service.delete_trunk, trunk, pages.space.trunk_label, TRUNK_PAGE,
                   lambda err: _stored_trunk_page(pages, trunk, refusal=crud.refusal(err), status=422))


# ---- groups ----

def _group_or_404(pages: RoutePages, group_id: int):
    return queries.get_route(pages.space, group_id, "group") or abort(404)


def _stored_group_form(pages: RoutePages, group):
    members = [t.id for t in queries.members_of(pages.space, group.id)]
    return pages.group_form(formdata=None, data=forms.group_data(group, members))


def _group_page(pages: RoutePages, form, *, group=None, refusal=None, order_errors=None, order_values=None,
                status=200):
    space, group_id = pages.space, group.id if group is not None else None
    members = queries.members_of(space, group_id) if group is not None else []
    return render(GROUP_PAGE, pages=pages, form=form, group=group, refusal=refusal, routes=routes,
                  rows=routes.try_order(space, members), candidates=queries.member_candidates(space, group_id),
                  counts=queries.number_counts(space, [group_id]) if group is not None else {},
                  order_errors=order_errors or {}, order_values=order_values or {},
                  history=crud.history(space.group_type, group_id, HISTORY_ROWS) if group is not None else []), status


def _stored_group_page(pages: RoutePages, group, *, error: str | None = None, **kwargs):
    """The group's page with its form as stored; `error` over the form (a stale edit's 409)."""
    form = _stored_group_form(pages, group)
    if error:
        form.form_errors.append(error)
    return _group_page(pages, form, group=group, **kwargs)


def new_group(pages: RoutePages):
    return _group_page(pages, pages.group_form())


def create_group(pages: RoutePages):
    form = pages.group_form()
    done, status = crud.save(
        form, lambda: service.create_group(pages.space, crud.actor(), form.values(), form.members.data),
        _saved(pages.space.group_label, "created", ".show_group", "group_id"), notices=_notices,
        rules=lambda: routes.clean_group(pages.space, form.values(), form.members.data))
    return done or _group_page(pages, form, status=status)


def show_group(pages: RoutePages, group_id: int):
    return _stored_group_page(pages, _group_or_404(pages, group_id))


def update_group(pages: RoutePages, group_id: int):
    _group_or_404(pages, group_id)
    form = pages.group_form()
    done, status = crud.save(
        form, lambda: service.update_group(pages.space, crud.actor(), group_id, form.values(), form.members.data,
                                           crud.version_of(form)),
        _saved(pages.space.group_label, "saved", ".show_group", "group_id"), notices=_notices,
        rules=lambda: routes.clean_group(pages.space, form.values(), form.members.data),
        stale=lambda err: _stored_group_page(pages, _group_or_404(pages, group_id), error=err.message, status=409))
    return done or _group_page(pages, form, group=_group_or_404(pages, group_id), status=status)


def order_members(pages: RoutePages, group_id: int):
    """Priority (and weight) of each member, edited in the group page's members table."""
    _group_or_404(pages, group_id)
    weighted = pages.space.weighted
    orders = {tid: (posted_int(f"priority-{tid}"), posted_int(f"weight-{tid}") if weighted else None)
              for tid in posted_ids("priority-")}
    try:
        service.set_order(pages.space, crud.actor(), group_id, orders, versions=posted_versions(orders))
    except Conflict as err:
        return _stored_group_page(pages, _group_or_404(pages, group_id), error=err.message, status=409)
    except DomainError as err:
        return _stored_group_page(pages, _group_or_404(pages, group_id), status=422, order_values=request.form,
                                  order_errors=dict(getattr(err, "problems", [(None, err.message)])))
    flash(f"{pages.order_noun.capitalize()} saved.", "success")
    return redirect(url_for(".show_group", group_id=group_id, _anchor="members"), 303)


def remove_group(pages: RoutePages, group_id: int):
    group = _group_or_404(pages, group_id)
    return _delete(pages, service.delete_group, group, pages.space.group_label, GROUP_PAGE,
                   lambda err: _stored_group_page(pages, group, refusal=crud.refusal(err), status=422))


# ---- what a trunk and a group edit add to crud's steps ----

def _saved(label: str, verb: str, show: str, id_arg: str) -> Callable:
    """After a create or update: "<label> <name> <verb>." and the route's page (endpoint `show`,
    its id as `id_arg`), from the service's (route, notices)."""
    def done(saved) -> tuple[str, str]:
        route, _ = saved
        return f"{label} {route.name} {verb}.", url_for(show, **{id_arg: route.id})
    return done


def _notices(saved) -> list[str]:
    """The rules' notices of a create or update (flashed after its message)."""
    return saved[1]


def _delete(pages: RoutePages, delete: Callable, route, label: str, template: str, page: Callable):
    """Delete a trunk or group and go back to the list; a refusal is 422 with its message and a link
    to the numbers concerned: htmx gets only the template's `delete_result` block (the confirm
    button's target), a classic post `page(err)`, the whole page."""
    return crud.delete(lambda: delete(pages.space, crud.actor(), route.id), f"{label} {route.name} deleted.",
                       url_for(".index"), page, None, refused_block=(template, "delete_result"))


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


def posted_versions(ids) -> dict:
    """The `version-<id>` of each posted member (None where missing or unreadable)."""
    return {tid: parsing.form_version(request.form.get(f"version-{tid}")) for tid in ids}


# ---- the two blueprints ----

_VIEWS = (  # rule, endpoint, view, method, for operators only
    ("", "index", index, "GET", False),
    ("/new/<kind>", "new", new, "GET", True),
    ("/new/<kind>", "create", create, "POST", True),
    ("/<int:trunk_id>", "show", show, "GET", False),
    ("/<int:trunk_id>", "update", update, "POST", True),
    ("/<int:trunk_id>/delete", "remove", remove, "POST", True),
    ("/groups/new", "new_group", new_group, "GET", True),
    ("/groups/new", "create_group", create_group, "POST", True),
    ("/groups/<int:group_id>", "show_group", show_group, "GET", False),
    ("/groups/<int:group_id>", "update_group", update_group, "POST", True),
    ("/groups/<int:group_id>/order", "order_members", order_members, "POST", True),
    ("/groups/<int:group_id>/delete", "remove_group", remove_group, "POST", True),
)


def _blueprint(pages: RoutePages) -> Blueprint:
    """The child blueprint of one route space: every view of `_VIEWS`, bound to `pages`."""
    bp = Blueprint(pages.name, __name__, url_prefix=pages.url_prefix)
    for rule, endpoint, view, method, operator_only in _VIEWS:
        bound = update_wrapper(partial(view, pages), view)
        bp.add_url_rule(rule, endpoint, role_required("operator")(bound) if operator_only else bound,
                        methods=[method])
    return bp


trunks_bp = _blueprint(VOICE_PAGES)
trunks_bp.add_url_rule("/sdes-hint", "sdes_hint", sdes_hint, methods=["GET"])
sms_bp = _blueprint(SMS_PAGES)
sms_bp.add_url_rule("/<int:trunk_id>/credentials", "regenerate", role_required("operator")(regenerate),
                    methods=["POST"])
