"""Dedicated channels (batch.md §3, configuration.md §6): a pool and a count 0–32,767 per number.
A number takes the channels when it may (rules/capacity.py's SQL form of dedicated_refusal) and
its count or pool differs; 0 releases them and clears the pool, as the single-number edit. The
pool pays: when the net increase over all the numbers exceeds its unassigned channels, that is a
batch error, checked again (pools locked) when the batch or its undo applies."""
import sqlalchemy as sa

from did_app.batches.actions.base import Action, InputForm, Plan, Rule, stored
from did_app.batches.actions.capacity_group import CANNOT_TAKE, not_covered
from did_app.batches.sql import differs, typed
from did_app.db import db
from did_app.errors import DomainError
from did_app.form_fields import BoundedIntegerField, IdField
from did_app.models import Batch, BatchItem, CapacityPool, Number
from did_app.rules import capacity as capacity_rules

COUNT_MESSAGE = "Enter a whole number of channels from 0 to 32,767."
CHOOSE = "Choose the pool the channels come from."
GONE = "That capacity pool no longer exists."
SHORT = "Pool {pool} has {u} unassigned channels; this change needs {k}."
UNDO_SHORT = "Pool {pool} has {u} unassigned channels; undo needs {k}."


class DedicatedForm(InputForm):
    pool_id = IdField("Pool", message=CHOOSE)
    count = BoundedIntegerField("Dedicated channels per number", lo=0, hi=32767, message=COUNT_MESSAGE)


def net_by_pool(batch_id: int, *, reverse: bool = False) -> dict[int, int]:
    """Channels each pool gives (positive) or gets back (negative) when the batch's change items
    go from before to after (after to before with `reverse`): one grouped query."""
    taken, given = ("before", "after") if reverse else ("after", "before")
    mine = sa.and_(BatchItem.batch_id == batch_id, BatchItem.outcome == "change")

    def side(column, sign):
        return sa.select(stored(column, "capacity_pool_id").label("pool_id"),
                         (sign * stored(column, "dedicated_channels")).label("n")).where(mine)
    moves = sa.union_all(side(getattr(BatchItem, taken), 1), side(getattr(BatchItem, given), -1)).subquery()
    rows = db.session.execute(sa.select(moves.c.pool_id, sa.func.sum(moves.c.n)).where(moves.c.pool_id.is_not(None))
                              .group_by(moves.c.pool_id)).all()
    return {int(pool_id): int(n) for pool_id, n in rows}


def shortfall(batch_id: int, message: str, *, reverse: bool = False, lock: bool = False) -> str | None:
    """The first pool whose unassigned channels don't cover what the batch takes from it."""
    for pool_id, needed in sorted(net_by_pool(batch_id, reverse=reverse).items()):
        if needed <= 0:
            continue
        # locked when applying, so two batches can't both take the pool's last free channels (PostgreSQL)
        pool = db.session.get(CapacityPool, pool_id, with_for_update=lock)
        free = capacity_rules.unassigned_channels(pool) if pool is not None else 0
        if needed > free:
            return message.format(pool=pool.name if pool else f"#{pool_id}", u=f"{free:,}", k=f"{needed:,}")
    return None


class DedicatedAction(Action):
    code, label = "dedicated", "Dedicated channels"
    form = DedicatedForm
    writes = ("dedicated_channels", "capacity_pool_id")
    reads = ("allow_additional_channels", "country")

    def prepare_form(self, form) -> None:
        pools = db.session.execute(sa.select(CapacityPool.id, CapacityPool.name).order_by(CapacityPool.name)).all()
        form.pool_id.choices = [("", "Choose…")] + [(str(p.id), p.name) for p in pools]

    def params_from(self, form) -> dict:
        form.read()
        if form.count.data is None:
            raise DomainError(COUNT_MESSAGE, "count")
        return {"pool_id": form.pool_id.data, "count": form.count.data}

    def clean(self, params: dict) -> dict:
        count, pool_id = params.get("count"), params.get("pool_id")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 32767:
            raise DomainError(COUNT_MESSAGE, "count")
        if count == 0:
            return {"pool_id": None, "count": 0}  # releasing the channels clears the pool
        if pool_id is None:
            raise DomainError(CHOOSE, "pool_id")
        if db.session.get(CapacityPool, pool_id) is None:
            raise DomainError(GONE, "pool_id")
        return {"pool_id": pool_id, "count": count}

    def _pool(self, params) -> CapacityPool | None:
        return db.session.get(CapacityPool, params["pool_id"]) if params["pool_id"] is not None else None

    def plan(self, params: dict) -> Plan:
        count = typed(params["count"], sa.Integer())
        if params["count"] == 0:
            return Plan(targets={"dedicated_channels": count, "capacity_pool_id": typed(None, sa.Integer())},
                        rules=[Rule(Number.dedicated_channels == 0, "skip", "Already 0")])
        pool = self._pool(params)
        if pool is None:  # deleted since the preview
            return Plan(targets={}, rules=[Rule(sa.true(), "error", GONE)])
        target_pool = typed(pool.id, sa.Integer())
        same = sa.and_(Number.dedicated_channels == count, sa.not_(differs(Number.capacity_pool_id, target_pool)))
        (cannot_take, _), (uncovered, _) = capacity_rules.dedicated_refusals_sql(pool)
        return Plan(targets={"dedicated_channels": count, "capacity_pool_id": target_pool}, rules=[
            Rule(same, "skip", f"Already {params['count']:,}"),
            Rule(cannot_take, "skip", CANNOT_TAKE),
            Rule(uncovered, "skip", not_covered(pool)),
        ])

    def stale_condition(self, params: dict):
        if params["count"] and self._pool(params) is None:
            return sa.true()
        return super().stale_condition(params)

    def batch_error(self, batch) -> str | None:
        if batch.status != "previewed":  # an undo batch was checked before it applied
            return None
        # the confirmation's net figure, kept beside the inputs (it is the batch's, not the number's)
        batch.params = {**batch.params, "net": sum(net_by_pool(batch.id).values())}
        return shortfall(batch.id, SHORT)

    def apply(self, batch_id: int, actor, now, note: str | None) -> None:
        undoing = db.session.get(Batch, batch_id).action != self.code
        refusal = shortfall(batch_id, UNDO_SHORT if undoing else SHORT, lock=True)
        if refusal:
            raise DomainError(refusal)
        super().apply(batch_id, actor, now, note)

    def undo_refusal(self, batch) -> str | None:
        return shortfall(batch.id, UNDO_SHORT, reverse=True)

    def confirmation(self, count: int, params: dict) -> str:
        net = params.get("net", 0)
        if params["count"] == 0:
            return f"Release the dedicated channels of {count:,} numbers (net {net:,} channels)?"
        return (f"Give {count:,} numbers {params['count']:,} dedicated channels each from pool "
                f"{self._name(params)} (net {net:,} channels)?")

    def _name(self, params) -> str:
        pool = self._pool(params)
        return pool.name if pool is not None else f"#{params['pool_id']}"

    def inputs(self, params: dict) -> str:
        if params["count"] == 0:
            return "0 (release)"
        return f"{params['count']:,} from pool {self._name(params)}"


DEDICATED = DedicatedAction()
