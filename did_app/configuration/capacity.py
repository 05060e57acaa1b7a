"""Capacity pools and shared capacity groups (configuration.md §5, §7)."""
import sqlalchemy as sa
from flask import Blueprint, g, render_template, url_for

from did_app import crud, money
from did_app.configuration import capacity_service
from did_app.configuration.capacity_forms import ChannelsForm, GroupForm, NewPoolForm, PoolForm
from did_app.db import db
from did_app.filters import fmt_money
from did_app.models import CapacityGroup, CapacityPool
from did_app.rules import capacity as capacity_rules
from did_app.security import role_required

bp = Blueprint("capacity", __name__, url_prefix="/capacity")


@bp.get("")
def index():
    pools = db.session.scalars(sa.select(CapacityPool).order_by(CapacityPool.name)).all()
    groups = db.session.scalars(sa.select(CapacityGroup).order_by(CapacityGroup.name)).all()
    return render_template("configuration/capacity.html", pools=pools, groups=groups,
                           assigned=capacity_rules.assigned_by_pool(), members=capacity_service.member_counts(),
                           pool_names={p.id: p.name for p in pools})


# ---- pools ---------------------------------------------------------------------------------

def _pool_page(pool, *, form=None, add_form=None, remove_form=None, refusal=None, status=200):
    ws = g.workspace
    unassigned = capacity_rules.unassigned_channels(pool)
    form = form or PoolForm(formdata=None, currency=ws.currency, data=_pool_data(pool, ws.currency))
    quote = capacity_rules.quote_channels(pool, 1, capacity_service.local_today(ws))
    return render_template("configuration/capacity_pool.html", pool=pool, form=form,
                           add_form=add_form or ChannelsForm(formdata=None, prefix="add"),
                           remove_form=remove_form or ChannelsForm(formdata=None, prefix="remove"),
                           unassigned=unassigned, assigned=pool.total_channels - unassigned, quote=quote,
                           refusal=refusal and refusal.message, numbers_url=refusal and crud.numbers_link(refusal),
                           history=crud.history("capacity_pool", pool.id)), status


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
    done, status = crud.save(
        form, lambda: capacity_service.create_pool(crud.actor(), **form.values(), channels=form.quantity.data),
        lambda pool: (f"Pool {pool.name} created.", url_for(".show_pool", pool_id=pool.id)))
    return done or (render_template("configuration/capacity_pool_new.html", form=form), status)


@bp.get("/pools/<int:pool_id>")
def show_pool(pool_id: int):
    return _pool_page(db.get_or_404(CapacityPool, pool_id))


@bp.post("/pools/<int:pool_id>")
@role_required("admin")
def update_pool(pool_id: int):
    pool = db.get_or_404(CapacityPool, pool_id)
    form = PoolForm(currency=g.workspace.currency)
    done, status = crud.save(
        form, lambda: capacity_service.update_pool(crud.actor(), pool_id, version=crud.version_of(form),
                                                   **form.values()),
        lambda _: ("Pool saved.", url_for(".show_pool", pool_id=pool_id)))
    return done or _pool_page(pool, form=form, status=status)


@bp.post("/pools/<int:pool_id>/channels/add")
@role_required("admin")
def add_channels(pool_id: int):
    pool = db.get_or_404(CapacityPool, pool_id)
    form = ChannelsForm(prefix="add")
    done, _ = crud.save(
        form, lambda: capacity_service.add_channels(crud.actor(), pool_id, form.quantity.data),
        lambda entry: (f"Added {form.quantity.data} channels; charged {fmt_money(-entry.amount_minor)}.",
                       url_for(".show_pool", pool_id=pool_id)))
    return done or _pool_page(pool, add_form=form, status=422)


@bp.post("/pools/<int:pool_id>/channels/remove")
@role_required("admin")
def remove_channels(pool_id: int):
    pool = db.get_or_404(CapacityPool, pool_id)
    form = ChannelsForm(prefix="remove")
    done, _ = crud.save(
        form, lambda: capacity_service.remove_channels(crud.actor(), pool_id, form.quantity.data),
        lambda _: (f"Removed {form.quantity.data} channels.", url_for(".show_pool", pool_id=pool_id)))
    return done or _pool_page(pool, remove_form=form, status=422)


@bp.post("/pools/<int:pool_id>/delete")
@role_required("admin")
def delete_pool(pool_id: int):
    pool = db.get_or_404(CapacityPool, pool_id)
    return crud.delete(lambda: capacity_service.delete_pool(crud.actor(), pool_id), f"Pool {pool.name} deleted.",
                       url_for(".index"), lambda err: _pool_page(pool, refusal=err, status=422),
                       url_for(".show_pool", pool_id=pool_id))


# ---- capacity groups -----------------------------------------------------------------------

def _group_form(group=None, formdata=True) -> GroupForm:
    """The group form bound to the request (formdata) or filled from `group`, with pool choices."""
    form = GroupForm() if formdata else GroupForm(formdata=None, obj=group)
    pools = db.session.scalars(sa.select(CapacityPool).order_by(CapacityPool.name)).all()
    form.pool_id.choices = [("", "Choose a pool")] + [(p.id, p.name) for p in pools]
    form.pool_notes = {p.id: capacity_rules.unassigned_channels(p) for p in pools}
    return form


def _group_page(group, form=None, *, refusal=None, status=200):
    members = capacity_service.member_counts().get(group.id, 0)
    return render_template("configuration/capacity_group.html", group=group,
                           form=form or _group_form(group, formdata=False), members=members,
                           pool=db.session.get(CapacityPool, group.pool_id), refusal=refusal and refusal.message,
                           numbers_url=refusal and crud.numbers_link(refusal),
                           history=crud.history("capacity_group", group.id)), status


@bp.get("/groups/new")
@role_required("operator")
def new_group():
    return render_template("configuration/capacity_group_new.html", form=_group_form(formdata=False))


@bp.post("/groups")
@role_required("operator")
def create_group():
    form = _group_form()
    done, status = crud.save(form, lambda: capacity_service.create_group(crud.actor(), **form.values()),
                             lambda group: (f"Capacity group {group.name} created.", url_for(".index")))
    return done or (render_template("configuration/capacity_group_new.html", form=form), status)


@bp.get("/groups/<int:group_id>")
def show_group(group_id: int):
    return _group_page(db.get_or_404(CapacityGroup, group_id))


@bp.post("/groups/<int:group_id>")
@role_required("operator")
def update_group(group_id: int):
    group = db.get_or_404(CapacityGroup, group_id)
    form = _group_form()
    done, status = crud.save(
        form, lambda: capacity_service.update_group(crud.actor(), group_id, version=crud.version_of(form),
                                                    **form.values()),
        lambda _: ("Capacity group saved.", url_for(".show_group", group_id=group_id)))
    return done or _group_page(group, form, status=status)


@bp.post("/groups/<int:group_id>/delete")
@role_required("operator")
def delete_group(group_id: int):
    group = db.get_or_404(CapacityGroup, group_id)
    return crud.delete(lambda: capacity_service.delete_group(crud.actor(), group_id),
                       f"Capacity group {group.name} deleted.", url_for(".index"),
                       lambda err: _group_page(group, refusal=err, status=422),
                       url_for(".show_group", group_id=group_id))
