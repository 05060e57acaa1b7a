"""The view side of the one CRUD pattern for configuration objects (capacity pools and groups,
profiles, rules; next identities, addresses, proof types, reject reasons and requirements).

`ObjectViews(...).register(bp)` adds an object's five views (new, create, show, update, delete)
to a blueprint; the area gives its form, its page and its three service calls. A view it does
not cover (a list with filters, channels of a pool) uses the same pieces by hand: load the
object (`db.get_or_404`), build its form, then

    done, status = crud.save(form, lambda: service.update_x(crud.actor(), x_id,
                                                              version=crud.version_of(form), **form.values()),
                             lambda x: ("X saved.", url_for(".show_x", x_id=x_id)))
    return done or _x_page(x, form, status=status)

    return crud.delete(lambda: service.delete_x(crud.actor(), x_id), f"X {x.name} deleted.",
                       url_for(".index"), lambda err: _x_page(x, refusal=err.message, status=422),
                       url_for(".show_x", x_id=x_id))

The write runs inside the try, so a DomainError from `version_of()` lands on the form like any
other refusal. Pages show the object's History from `history()`.

The trunk and group pages (configuration/routes.py) use the same steps with their variations as
keywords: `save(..., rules=, notices=, stale=)` shows the pure rules' problems next to the typing
errors, flashes the service's notices after the message and answers a stale edit with the stored
page; `delete(..., refused_block=)` answers an htmx delete with the refusal block only.
"""
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import flash, make_response, render_template, url_for
from jinja2_fragments.flask import render_block

from did_app import audit
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.form_fields import version_of
from did_app.htmx import redirect_to, wants_fragment
from did_app.models import AuditEvent
from did_app.security import role_required

__all__ = ["ObjectViews", "actor", "choices", "delete", "failed", "history", "numbers_link", "refusal",
           "refused_delete", "save", "version_of"]
HISTORY_ROWS = 100


def actor() -> audit.Actor:
    """Who is acting in this request, for the service call."""
    return audit.Actor.current()


def history(object_type: str, object_id: int, limit: int = HISTORY_ROWS) -> list[audit.Shown]:
    """The newest `limit` audit rows of one configuration object, for its History section, with
    secrets shown as "changed" (also in rows written before a field was known to be secret)."""
    return audit.for_display(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.object_type == object_type, AuditEvent.object_id == object_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)))


def choices(model, blank: tuple[str, str]) -> list[tuple]:
    """A select's choices: `blank` first, then every row of `model` as (id, name), by name."""
    rows = db.session.execute(sa.select(model.id, model.name).order_by(model.name)).all()
    return [blank] + [(row_id, name) for row_id, name in rows]


def _problems(err: DomainError) -> list[tuple[str | None, str]]:
    """Every (field, message) of a refusal: a rule that checks all fields at once (RouteInvalid)
    lists them in `problems`; any other refusal is its one message."""
    return getattr(err, "problems", [(err.field, err.message)])


def failed(form, err: DomainError) -> int:
    """Attach a refused write to its form, each problem under its field; the status to answer
    with (409 for a stale edit)."""
    for field, message in _problems(err):
        form.attach(DomainError(message, field))
    return 409 if isinstance(err, Conflict) else 422


def _attach_rules(form, rules: Callable[[], Any]) -> None:
    """When typing errors stopped the form, show the service's rules for the other fields too:
    run the pure `rules()` and attach its problems to fields that have no error yet."""
    try:
        rules()
    except DomainError as err:
        for field, message in _problems(err):
            target = getattr(form, field, None) if field else None
            if target is not None and not target.errors:
                target.errors = [*target.errors, message]


def save(form, write: Callable[[], Any], done: Callable[[Any], tuple[str, str]], *,
         rules: Callable[[], Any] | None = None, notices: Callable[[Any], Iterable[str]] | None = None,
         stale: Callable[[Conflict], tuple] | None = None):
    """Validate `form` and run `write` (one service call) with what it returns.

    On success: flash the message of `done(result)`, then each of `notices(result)` as info, and
    leave for its URL (303, or HX-Redirect for htmx); returns (that response, 200). Otherwise
    returns (None, 422), or (None, 409) for a stale edit, with the refusal attached to the form for
    the view to render it again. With `rules`, typing errors also show the pure rules' problems on
    the other fields; with `stale`, a stale edit answers `stale(err)` (the stored page) instead.
    """
    if not form.validate_on_submit():
        if rules is not None:
            _attach_rules(form, rules)
        return None, 422
    try:
        result = write()
    except Conflict as err:
        return (stale(err), 409) if stale is not None else (None, failed(form, err))
    except DomainError as err:
        return None, failed(form, err)
    message, url = done(result)
    flash(message, "success")
    for notice in notices(result) if notices is not None else ():
        flash(notice, "info")
    return redirect_to(url), 200


def numbers_link(err: DomainError) -> str | None:
    """The numbers page filtered to the numbers that refused a delete, when a filter can say so."""
    numbers_filter = getattr(err, "numbers_filter", None)
    return url_for("numbers.index", **numbers_filter) if numbers_filter else None


def refusal(err: DomainError) -> dict:
    """A refused delete as a page shows it: its message and the link to the numbers concerned."""
    return {"message": err.message, "url": numbers_link(err)}


def refused_delete(page: tuple, show_url: str | None):
    """A refused delete shows the object's page again. A boosted delete form would otherwise keep
    the /delete URL in the address bar, which a reload would GET (405): `show_url` replaces it.
    None where the form is not boosted (the htmx delete of the route pages)."""
    response = make_response(*page)
    if show_url is not None:
        response.headers["HX-Push-Url"] = show_url
    return response


def delete(remove: Callable[[], Any], message: str, done_url: str,
           refused_page: Callable[[DomainError], tuple], show_url: str | None, *,
           refused_block: tuple[str, str] | None = None):
    """Run `remove` (one service call): flash `message` and leave for `done_url`; or, when a rule
    refuses the delete, the object's page from `refused_page(err)` with the refusal on it (422).
    With `refused_block` (template, block), an htmx delete gets only that block, given the
    `refusal()`, where its confirm button swaps the answer (#delete-result)."""
    try:
        remove()
    except DomainError as err:
        if refused_block is not None and wants_fragment():
            template, block = refused_block
            return make_response(render_block(template, block, refusal=refusal(err)), 422)
        return refused_delete(refused_page(err), show_url)
    flash(message, "success")
    return redirect_to(done_url)


@dataclass(frozen=True)
class ObjectViews:
    """The five views of one configuration object, registered on a blueprint under `path`:

    GET  path/new            new<_name>     the empty form        (role)
    POST path                create<_name>  create, then created(obj) = (flash, URL)   (role)
    GET  path/<id_arg>       show<_name>    page(obj)
    POST path/<id_arg>       update<_name>  update with the form's version, then `saved`   (role)
    POST path/<id_arg>/delete delete<_name> delete, then `deleted` and the list; a refusal shows the page

    `form(obj, formdata)` builds the form bound to the request (formdata) or filled from `obj`
    (None: the create form); `page(obj, form=None, *, refusal=None, status=200)` the show page.
    The service calls get the form (`create`), the id, version and form (`update`), the id (`remove`).
    """
    model: type
    name: str  # the endpoints' suffix: "pool" gives new_pool, create_pool…; "" gives new, create…
    path: str
    id_arg: str
    role: str
    new_template: str
    list_endpoint: str
    form: Callable[..., Any]
    page: Callable[..., tuple]
    create: Callable[[Any], Any]
    update: Callable[[int, int, Any], Any]
    remove: Callable[[int], Any]
    created: Callable[[Any], tuple[str, str]]
    saved: str
    deleted: Callable[[Any], str]

    def endpoint(self, verb: str) -> str:
        return f"{verb}_{self.name}" if self.name else verb

    def register(self, bp) -> None:
        one, guarded = f"{self.path}/<int:{self.id_arg}>", role_required(self.role)
        bp.add_url_rule(f"{self.path}/new", self.endpoint("new"), guarded(self.new), methods=["GET"])
        bp.add_url_rule(self.path, self.endpoint("create"), guarded(self.create_view), methods=["POST"])
        bp.add_url_rule(one, self.endpoint("show"), self.show, methods=["GET"])
        bp.add_url_rule(one, self.endpoint("update"), guarded(self.update_view), methods=["POST"])
        bp.add_url_rule(f"{one}/delete", self.endpoint("delete"), guarded(self.delete_view), methods=["POST"])

    def _show_url(self, obj_id: int) -> str:
        return url_for("." + self.endpoint("show"), **{self.id_arg: obj_id})

    def new(self):
        return render_template(self.new_template, form=self.form(None, formdata=False))

    def create_view(self):
        form = self.form(None)
        done, status = save(form, lambda: self.create(form), self.created)
        return done or (render_template(self.new_template, form=form), status)

    def show(self, **ids):
        return self.page(db.get_or_404(self.model, ids[self.id_arg]))

    def update_view(self, **ids):
        obj_id = ids[self.id_arg]
        obj = db.get_or_404(self.model, obj_id)
        form = self.form(obj)
        done, status = save(form, lambda: self.update(obj_id, version_of(form), form),
                            lambda _: (self.saved, self._show_url(obj_id)))
        return done or self.page(obj, form, status=status)

    def delete_view(self, **ids):
        obj_id = ids[self.id_arg]
        obj = db.get_or_404(self.model, obj_id)
        return delete(lambda: self.remove(obj_id), self.deleted(obj), url_for(self.list_endpoint),
                      lambda err: self.page(obj, refusal=err, status=422), self._show_url(obj_id))
