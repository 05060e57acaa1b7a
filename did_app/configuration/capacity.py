"""Capacity pools and shared capacity groups (configuration.md §5, §7)."""
import sqlalchemy as sa
from flask import Blueprint, flash, g, make_response, redirect, render_template, url_for

from did_app import audit, money
from did_app.configuration import capacity_service
from did_app.configuration.capacity_forms import ChannelsForm, GroupForm, NewPoolForm, PoolForm, version_of
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.filters import fmt_money
from did_app.models import AuditEvent, CapacityGroup, CapacityPool
from did_app.rules import capacity as capacity_rules
from did_app.security import role_required

bp = Blueprint("capacity", __name__, url_prefix="/capacity")


def history(object_type: str, object_id: int) -> list[AuditEvent]:
    """The newest 100 audit rows of one configuration object, for its History section."""
    return list(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.object_type == object_type, AuditEvent.object_id == object_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(100)))


def failed(form, err: DomainError) -> int:
    """Attach a refused write to its form; the status to answer with (409 for a stale edit)."""
    form.attach(err)
    return 409 if isinstance(err, Conflict) else 422


def numbers_link(err: DomainError) -> str | None:
    numbers_filter = getattr(err, "numbers_filter", None)
    return url_for("numbers.index", **numbers_filter) if numbers_filter else None


def refused_delete(page: tuple, show_url: str):
    """A refused delete shows the object's page again. Its form is boosted, so the address bar
    would otherwise keep the /delete URL, which a reload would GET (405)."""
    response = make_response(*page)
    response.headers["HX-Push-Url"] = show_url
    return response


@bp.get("")
def index():
    pools = db.session.scalars(sa.select(CapacityPool).order_by(CapacityPool.name)).all()
    groups = db.session.scalars(sa.select(CapacityGroup).order_by(CapacityGroup.name)).all()
    return render_template("configuration/capacity.html", pools=pools, groups=groups,
                           assigned=capacity_rules.assigned_by_pool(), members=capacity_service.member_counts(),
                           pool_names={p.id: p.name for p in pools})


# ---- pools ---------------------------------------------------------------------------------

def _pool_page(pool, *, form=None, add_form=None, remove_form=None, refusal=None, numbers_url=None, status=200):
    ws = g.workspace
    unassigned = capacity_rules.unassigned_channels(pool)
    form = form or PoolForm(formdata=None, currency=ws.currency, data=_pool_data(pool, ws.currency))
    quote = capacity_rules.quote_channels(pool, 1, capacity_service.local_today(ws))
    return render_template("configuration/capacity_pool.html", pool=pool, form=form,
                           add_form=add_form or ChannelsForm(formdata=None, prefix="add"),
                           remove_form=remove_form or ChannelsForm(formdata=None, prefix="remove"),
                           unassigned=unassigned, assigned=pool.total_channels - unassigned, quote=quote,
                           refusal=refusal, numbers_url=numbers_url, history=history("capacity_pool", pool.id)), status


def _pool_data(pool, currency: str) -> dict:
    return {"name": pool.name, "renew_date": pool.renew_date, "countries": ", ".join(pool.country_codes),
            "setup_price": money.plain(pool.setup_price_minor, currency),
            "monthly_price": money.plain(pool.monthly_price_minor, currency),
            "metered_rate": "" if pool.metered_rate is None else f"{pool.metered_rate.normalize():f}",
            "version": pool.version}


@bp.get("/pools/new")
@role_required("admin")
def new_pool():
    form = NewPoolForm(currency=g.workspace.currency)
    return render_template("configuration/capacity_pool_new.html", form=form)


@bp.post("/pools")
@role_required("admin")
def create_pool():
    form = NewPoolForm(currency=g.workspace.currency)
    status = 422
    if form.validate_on_submit():
        try:
            pool = capacity_service.create_pool(audit.Actor.current(), **form.values(), channels=form.quantity.data)
        except DomainError as err:
            status = failed(form, err)
        else:
            flash(f"Pool {pool.name} created.", "success")
            return redirect(url_for(".show_pool", pool_id=pool.id), 303)
    return render_template("configuration/capacity_pool_new.html", form=form), status


@bp.get("/pools/<int:pool_id>")
def show_pool(pool_id: int):
    return _pool_page(db.get_or_404(CapacityPool, pool_id))


@bp.post("/pools/<int:pool_id>")
@role_required("admin")
def update_pool(pool_id: int):
    pool = db.get_or_404(CapacityPool, pool_id)
    form = PoolForm(currency=g.workspace.currency)
    status = 422
    if form.validate_on_submit():
        try:
            capacity_service.update_pool(audit.Actor.current(), pool_id, version=version_of(form), **form.values())
        except DomainError as err:
            status = failed(form, err)
        else:
            flash("Pool saved.", "success")
            return redirect(url_for(".show_pool", pool_id=pool_id), 303)
    return _pool_page(pool, form=form, status=status)


@bp.post("/pools/<int:pool_id>/channels/add")
@role_required("admin")
def add_channels(pool_id: int):
    pool = db.get_or_404(CapacityPool, pool_id)
    form = ChannelsForm(prefix="add")
    if form.validate_on_submit():
        try:
            entry = capacity_service.add_channels(audit.Actor.current(), pool_id, form.quantity.data)
        except DomainError as err:
            form.attach(err)
        else:
            flash(f"Added {form.quantity.data} channels; charged {fmt_money(-entry.amount_minor)}.", "success")
            return redirect(url_for(".show_pool", pool_id=pool_id), 303)
    return _pool_page(pool, add_form=form, status=422)


@bp.post("/pools/<int:pool_id>/channels/remove")
@role_required("admin")
def remove_channels(pool_id: int):
    pool = db.get_or_404(CapacityPool, pool_id)
    form = ChannelsForm(prefix="remove")
    if form.validate_on_submit():
        try:
            capacity_service.remove_channels(audit.Actor.current(), pool_id, form.quantity.data)
        except DomainError as err:
            form.attach(err)
        else:
            flash(f"Removed {form.quantity.data} channels.", "success")
            return redirect(url_for(".show_pool", pool_id=pool_id), 303)
    return _pool_page(pool, remove_form=form, status=422)


@bp.post("/pools/<int:pool_id>/delete")
@role_required("admin")
def delete_pool(pool_id: int):
    pool = db.get_or_404(CapacityPool, pool_id)
    name = pool.name
    try:
        capacity_service.delete_pool(audit.Actor.current(), pool_id)
    except DomainError as err:
        return refused_delete(_pool_page(pool, refusal=err.message, numbers_url=numbers_link(err), status=422),
                              url_for(".show_pool", pool_id=pool_id))
    flash(f"Pool {name} deleted.", "success")
    return redirect(url_for(".index"), 303)


# ---- capacity groups -----------------------------------------------------------------------

def _group_form(group=None, formdata=True) -> GroupForm:
    """The group form bound to the request (formdata) or filled from `group`, with pool choices."""
    form = GroupForm() if formdata else GroupForm(formdata=None, obj=group)
    pools = db.session.scalars(sa.select(CapacityPool).order_by(CapacityPool.name)).all()
    form.pool_id.choices = [("", "Choose a pool")] + [(p.id, p.name) for p in pools]
    form.pool_notes = {p.id: capacity_rules.unassigned_channels(p) for p in pools}
    return form


def _group_page(group, form, *, refusal=None, numbers_url=None, status=200):
    members = capacity_service.member_counts().get(group.id, 0)
    return render_template("configuration/capacity_group.html", group=group, form=form, members=members,
                           pool=db.session.get(CapacityPool, group.pool_id), refusal=refusal, numbers_url=numbers_url,
                           history=history("capacity_group", group.id)), status


@bp.get("/groups/new")
@role_required("operator")
def new_group():
    return render_template("configuration/capacity_group_new.html", form=_group_form(formdata=False))


@bp.post("/groups")
@role_required("operator")
def create_group():
    form = _group_form()
    status = 422
    if form.validate_on_submit():
        try:
            group = capacity_service.create_group(audit.Actor.current(), **form.values())
        except DomainError as err:
            status = failed(form, err)
        else:
            flash(f"Capacity group {group.name} created.", "success")
            return redirect(url_for(".index"), 303)
    return render_template("configuration/capacity_group_new.html", form=form), status


@bp.get("/groups/<int:group_id>")
def show_group(group_id: int):
    group = db.get_or_404(CapacityGroup, group_id)
    return _group_page(group, _group_form(group, formdata=False))


@bp.post("/groups/<int:group_id>")
@role_required("operator")
def update_group(group_id: int):
    group = db.get_or_404(CapacityGroup, group_id)
    form = _group_form()
    status = 422
    if form.validate_on_submit():
        try:
            capacity_service.update_group(audit.Actor.current(), group_id, version=version_of(form), **form.values())
        except DomainError as err:
            status = failed(form, err)
        else:
            flash("Capacity group saved.", "success")
            return redirect(url_for(".show_group", group_id=group_id), 303)
    return _group_page(group, form, status=status)


@bp.post("/groups/<int:group_id>/delete")
@role_required("operator")
def delete_group(group_id: int):
    group = db.get_or_404(CapacityGroup, group_id)
    name = group.name
    try:
        capacity_service.delete_group(audit.Actor.current(), group_id)
    except DomainError as err:
        page = _group_page(group, _group_form(group, formdata=False), refusal=err.message,
                           numbers_url=numbers_link(err), status=422)
        return refused_delete(page, url_for(".show_group", group_id=group_id))
    flash(f"Capacity group {name} deleted.", "success")
    return redirect(url_for(".index"), 303)
