"""What a batch action is (batch.md §2–§4), and the set-based classify, apply and undo that most
actions share.

An action declares the Number columns it `writes` and the ones it only `reads` (its eligibility):
together they are its `fields`, what "changed since the preview" compares per item (batch.md §5,
"Decided"). Its `plan()` says, as SQL over `number`, the value each written column should get and
the ordered skip/error rules; `classify()` turns that into ONE `INSERT INTO batch_item … SELECT …
FROM number` with CASE expressions. Each item stores, for every field, the value before and after
(ids with the names beside them), so apply, the re-check, undo and history all read the item,
never Python objects. Paid actions override `apply()` to add their ledger rows and set `cost`.

`apply()` and everything it writes select their items with `change_items(batch_id)`, never with
their own condition: a large apply on SQLite runs a chunk of items per transaction (batch.md §5),
and the engine narrows `change_items` to the current chunk with `within_chunk()`.
"""
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_wtf import FlaskForm
from wtforms import HiddenField

from did_app import audit
from did_app.batches.sql import differs, json_get, json_object, json_pick, typed
from did_app.db import UTCDateTime, db
from did_app.errors import DomainError
from did_app.form_fields import AttachMixin, CleanText
from did_app.models import AuditEvent, BatchItem, CapacityGroup, CapacityPool, Number, SmsRoute, VoiceRoute
from did_app.rules import status

# columns that hold an id: history shows the name under the key without "_id" (as numbers/edits.py)
NAMED = {"voice_route_id": VoiceRoute, "sms_route_id": SmsRoute, "capacity_group_id": CapacityGroup,
         "capacity_pool_id": CapacityPool}
EXCLUDED = "Excluded after error"
# the (first, last) batch_item ids of the chunk being applied, or None for every item
_CHUNK: ContextVar = ContextVar("batch_chunk", default=None)


def change_items(batch_id: int):
    """The change items of a batch that the apply in progress writes: all, or the current chunk."""
    mine = sa.and_(BatchItem.batch_id == batch_id, BatchItem.outcome == "change")
    bounds = _CHUNK.get()
    return mine if bounds is None else sa.and_(mine, BatchItem.id.between(*bounds))


@contextmanager
def within_chunk(bounds):
    """Narrow change_items() to the items with ids in `bounds` (first, last) for the block."""
    token = _CHUNK.set(bounds)
    try:
        yield
    finally:
        _CHUNK.reset(token)


def history_key(column: str) -> str:
    return column.removesuffix("_id") if column in NAMED else column


def column_type(column: str):
    """How a column's value reads back from an item's JSON: a whole number, a flag or text."""
    kind = Number.__table__.c[column].type
    if isinstance(kind, sa.Boolean):
        return sa.Boolean()
    if isinstance(kind, UTCDateTime):
        return sa.DateTime(timezone=True)  # ISO text in the JSON; PostgreSQL casts it back
    return sa.BigInteger() if isinstance(kind, sa.Integer) else sa.String()


def name_of(column: str, id_expr):
    """The name of the route or group `id_expr` points at, as a scalar subquery."""
    model = NAMED[column]
    return sa.select(model.name).where(model.id == id_expr).scalar_subquery()


def stored(json_column, column: str):
    """The raw value of `column` as stored in an item's before or after."""
    return json_get(json_column, column, column_type(column))


@dataclass
class Rule:
    """Numbers matching `when` get `outcome` ("skip" or "error") with `reason` (text or SQL);
    the first matching rule wins, and a number no rule matches changes."""
    when: object
    outcome: str
    reason: object


@dataclass
class Plan:
    targets: dict            # written column -> SQL value it takes (may be the column itself)
    rules: list = field(default_factory=list)
    change_reason: object = None   # detail on a change item (e.g. a profile's skipped fields)
    cost: object = 0               # per-item cost in minor units (SQL or int); paid actions only


class Action:
    """One batch action. Subclasses set the class attributes and implement `plan`, `params_from`,
    `confirmation` and `inputs`; paid ones also override `apply` (ledger) and `balance_error`."""
    code: str = ""
    label: str = ""
    paid: bool = False
    undoable: bool = True
    writes: tuple = ()
    reads: tuple = ()
    form = None              # the FlaskForm class of the action's inputs

    @property
    def fields(self) -> tuple:
        return self.writes + tuple(c for c in self.reads if c not in self.writes)

    # ---- inputs --------------------------------------------------------------------------------

    def prepare_form(self, form) -> None:
        """Fill the form's choices (routes, profiles) before rendering or validating it."""

    def params_from(self, form) -> dict:
        """The action's inputs as JSON-ready params from a validated form; DomainError(field)."""
        raise NotImplementedError

    def clean(self, params: dict) -> dict:
        """Check params as the service would, in the caller's transaction (a chosen route still
        exists...); returns them cleaned. Raises DomainError with the single-number edit's message."""
        return params

    def plan(self, params: dict) -> Plan:
        raise NotImplementedError

    def confirmation(self, count: int, params: dict) -> str:
        raise NotImplementedError

    def confirmation_for(self, batch) -> str:
        """The confirmation text of a previewed batch (paid actions add its total cost)."""
        return self.confirmation(batch.change_count, batch.params)

    def needs_typing(self, count: int) -> bool:
        """Destructive actions ask the user to type the number of changes first (batch.md §2)."""
        return False

    def inputs(self, params: dict) -> str:
        """The inputs in words, for the summary and the Batches page."""
        raise NotImplementedError

    def moves(self, batch, item) -> list[tuple[str, object, object]]:
        """(label, before, after) of what the action moves beyond its written columns, shown on the
        preview and summary beside them (renew's expiry; its columns are written in Python)."""
        return []

    def note(self, params: dict) -> str | None:
        """The history note of each changed number (the single-number edit's, if it writes one)."""
        return None

    def balance_error(self, total_cost: int) -> str | None:
        """A batch-level error of paid actions ("Balance {b} is short of {total}.")."""
        return None

    def batch_error(self, batch) -> str | None:
        """The preview's batch-level error, read after its items are written: a short balance by
        default; an action with another whole-batch limit (a pool's free channels) overrides it."""
        return self.balance_error(batch.total_cost_minor)

    def undo_refusal(self, batch) -> str | None:
        """Today's constraints an undo of `batch` must also meet (a pool's free channels), or None."""
        return None

    # ---- set-based work ------------------------------------------------------------------------

    def outcome_columns(self, plan: Plan, excluded=None):
        """(outcome, reason) CASE expressions over `number` for `plan`, first rule first."""
        rules = ([Rule(excluded, "skip", EXCLUDED)] if excluded is not None else []) + plan.rules
        if not rules:
            return typed("change", sa.String()), _sql(plan.change_reason)
        outcome = sa.case(*((r.when, typed(r.outcome, sa.String())) for r in rules),
                          else_=typed("change", sa.String()))
        reason = sa.case(*((r.when, _sql(r.reason)) for r in rules), else_=_sql(plan.change_reason))
        return outcome, reason

    def snapshot(self, values: dict):
        """before/after JSON: every field's raw value, and the name beside each id."""
        pairs = []
        for column in self.fields:
            value = values.get(column, getattr(Number, column))
            pairs.append((column, value))
            if column in NAMED:
                pairs.append((history_key(column), name_of(column, value)))
        return json_object(pairs)

    def classify(self, batch_id: int, where, params: dict, excluded=None) -> None:
        """Write the batch's items for the numbers matching `where`: one INSERT … SELECT."""
        plan = self.plan(params)
        outcome, reason = self.outcome_columns(plan, excluded)
        cost = plan.cost if isinstance(plan.cost, sa.ColumnElement) else typed(plan.cost, sa.BigInteger())
        select = sa.select(typed(batch_id, sa.Integer()), Number.id, Number.number, outcome, reason,
                           self.snapshot({}), self.snapshot(plan.targets), cost, Number.version).where(where)
        db.session.execute(sa.insert(BatchItem).from_select(
            ["batch_id", "number_id", "number", "outcome", "reason", "before", "after", "cost_minor",
             "version_before"], select))

    def stale_condition(self, params: dict):
        """An item (joined with its number) that no longer holds: gone, a field moved since the
        preview, or no longer eligible (confirm's re-check, batch.md §2 step 1)."""
        outcome, _ = self.outcome_columns(self.plan(params))
        return sa.or_(Number.id.is_(None), outcome != "change",
                      *(differs(getattr(Number, c), stored(BatchItem.before, c)) for c in self.fields))

    def changed_since(self):
        """A changed item whose number moved since the batch applied it (undo, batch.md §4)."""
        return sa.or_(Number.id.is_(None),
                      *(differs(getattr(Number, c), stored(BatchItem.after, c)) for c in self.writes))

    def apply(self, batch_id: int, actor, now, note: str | None) -> None:
        """Write each change item's `after` onto its number (UPDATE … FROM batch_item), bump the
        version, recompute status set-based, write history and the items' version_after."""
        mine = change_items(batch_id)
        values = {c: stored(BatchItem.after, c) for c in self.writes}
        db.session.execute(sa.update(Number).where(Number.id == BatchItem.number_id, mine).values(
            **values, version=Number.version + 1, updated_at=now, updated_by=actor.user_id)
            .execution_options(synchronize_session=False))
        changed_ids = sa.select(BatchItem.number_id).where(mine)
        status.recompute(Number.id.in_(changed_ids))
        self.write_history(batch_id, actor, now, note)
        db.session.execute(sa.update(BatchItem).where(mine).values(version_after=sa.select(Number.version).where(
            Number.id == BatchItem.number_id).scalar_subquery()).execution_options(synchronize_session=False))

    def write_history(self, batch_id: int, actor, now, note: str | None) -> None:
        """One "number.updated" row per change item, with only the fields that changed (by name),
        as the single-number edit writes it, plus the batch id: INSERT … SELECT."""
        before, after = [], []
        for column in self.writes:
            moved = differs(stored(BatchItem.before, column), stored(BatchItem.after, column))
            key = history_key(column)
            kind = sa.String() if column in NAMED else column_type(column)
            before.append((key, json_get(BatchItem.before, key, kind), moved))
            after.append((key, json_get(BatchItem.after, key, kind), moved))
        ip, request_id = _request_meta()
        select = sa.select(
            typed(now, AuditEvent.__table__.c.at.type), typed(actor.user_id, sa.Integer()),
            typed(actor.label, sa.String()), typed(actor.source, sa.String()),
            typed("number.updated", sa.String()), typed("number", sa.String()), BatchItem.number_id,
            BatchItem.number, json_pick(before), json_pick(after), typed(batch_id, sa.Integer()),
            typed(note, sa.String()), typed(ip, sa.String()), typed(request_id, sa.String()),
        ).where(change_items(batch_id)).order_by(BatchItem.id)
        db.session.execute(sa.insert(AuditEvent).from_select(
            ["at", "actor_id", "actor_label", "source", "action", "object_type", "object_id", "object_label",
             "before", "after", "batch_id", "note", "ip", "request_id"], select))


def _sql(value):
    if value is None or isinstance(value, str):
        return typed(value, sa.String())
    return value


def _request_meta():
    # the audit module's own reading of the request, so batch rows carry the same ip and id
    return audit._ip(), audit._request_id()  # noqa: SLF001


class InputForm(CleanText, AttachMixin, FlaskForm):
    """An action's inputs; the selection travels beside them (hidden `ids` or `filter`)."""

    class Meta(CleanText.Meta):
        csrf = False  # CSRFProtect has checked every post (form field or htmx header) before the view

    action = HiddenField()
    ids = HiddenField()
    filter = HiddenField()

    def read(self) -> None:
        """Raise DomainError(message, field) for the first field that can't be read."""
        if not self.validate():
            for item in self:
                if item.errors:
                    raise DomainError(item.errors[0], item.name)
