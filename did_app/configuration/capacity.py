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

def _pool_form(pool=None, formdata=True) -> PoolForm:
    """The pool form bound to the request (formdata) or filled from `pool`; without a pool, the
    create form, which also buys the first channels."""
    currency = g.workspace.currency
    if pool is None:
        return NewPoolForm(currency=currency) if formdata else NewPoolForm(formdata=None, currency=currency)
    if formdata:
        return PoolForm(currency=currency)
    return PoolForm(formdata=None, currency=currency, data=_pool_data(pool, currency))


def _pool_page(pool, form=None, *, add_form=None, remove_form=None, refusal=None, status=200):
    ws = g.workspace
    unassigned = capacity_rules.unassigned_channels(pool)
    quote = capacity_rules.quote_channels(pool, 1, capacity_service.local_today(ws))
    return render_template("configuration/capacity_pool.html", pool=pool, form=form or _pool_form(pool, formdata=False),
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


crud.ObjectViews(
    model=CapacityPool, name="pool", path="/pools", id_arg="pool_id", role="admin",
    new_template="configuration/capacity_pool_new.html", list_endpoint=".index", form=_pool_form, page=_pool_page,
    create=lambda form: capacity_service.create_pool(crud.actor(), **form.values(), channels=form.quantity.data),
    update=lambda pool_id, version, form: capacity_service.update_pool(crud.actor(), pool_id, version=version,
                                                                       **form.values()),
    remove=lambda pool_id: capacity_service.delete_pool(crud.actor(), pool_id),
    created=lambda pool: (f"Pool {pool.name} created.", url_for(".show_pool", pool_id=pool.id)),
    saved="Pool saved.", deleted=lambda pool: f"Pool {pool.name} deleted.",
).register(bp)


@bp.post("/pools/<int:pool_id>/channels/add")
@role_required("admin")
def add_channels(pool_id: int):
    return _change_channels(pool_id, "add", capacity_service.add_channels,
                            lambda quantity, entry: f"Added {quantity} channels; "
                                                    f"charged {fmt_money(-entry.amount_minor)}.")


@bp.post("/pools/<int:pool_id>/channels/remove")
@role_required("admin")
def remove_channels(pool_id: int):
    return _change_channels(pool_id, "remove", capacity_service.remove_channels,
                            lambda quantity, _: f"Removed {quantity} channels.")


def _change_channels(pool_id: int, prefix: str, write, message):
    """Adding and removing channels post alike: `write(actor, pool_id, quantity)` makes the change
    and `message(quantity, result)` is its flash; a refusal shows the pool page again with the
    form (`prefix`: "add" or "remove") holding its errors."""
    pool = db.get_or_404(CapacityPool, pool_id)
    form = ChannelsForm(prefix=prefix)
    done, _ = crud.save(
        form, lambda: write(crud.actor(), pool_id, form.quantity.data),
        lambda result: (message(form.quantity.data, result), url_for(".show_pool", pool_id=pool_id)))
    return done or _pool_page(pool, **{f"{prefix}_form": form}, status=422)


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


crud.ObjectViews(
    model=CapacityGroup, name="group", path="/groups", id_arg="group_id", role="operator",
    new_template="configuration/capacity_group_new.html", list_endpoint=".index", form=_group_form,
    page=_group_page, create=lambda form: capacity_service.create_group(crud.actor(), **form.values()),
    update=lambda group_id, version, form: capacity_service.update_group(crud.actor(), group_id, version=version,
                                                                         **form.values()),
    remove=lambda group_id: capacity_service.delete_group(crud.actor(), group_id),
    created=lambda group: (f"Capacity group {group.name} created.", url_for(".index")),
    saved="Capacity group saved.", deleted=lambda group: f"Capacity group {group.name} deleted.",
).register(bp)
