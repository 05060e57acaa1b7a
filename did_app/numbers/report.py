"""The paste-a-list report banner (numbers.md §7.6 step 4)."""
from dataclasses import dataclass, field

import sqlalchemy as sa

from did_app.db import chunked, db
from did_app.models import Number, ReleasedNumber


@dataclass
class SearchReport:
    searched: int
    found: list[str]
    missing: list[tuple[str, object]] = field(default_factory=list)  # (number, released_at or None)
    hidden: list[str] = field(default_factory=list)
    unrecognised: list[str] = field(default_factory=list)


def _present(numbers: list[str], conds: list) -> set[str]:
    found = set()
    for part in chunked(numbers):
        found.update(db.session.scalars(sa.select(Number.number).where(Number.number.in_(part), *conds)))
    return found


def _released(numbers: list[str]) -> dict[str, object]:
    latest = {}
    for part in chunked(numbers):
        rows = db.session.execute(sa.select(ReleasedNumber.number, sa.func.max(ReleasedNumber.released_at))
                                  .where(ReleasedNumber.number.in_(part)).group_by(ReleasedNumber.number))
        latest.update(dict(rows.all()))
    return latest


def build(plan, other_conds: list) -> SearchReport:
    """Sort every searched number into found / not in the inventory / hidden by other filters."""
    in_inventory = _present(plan.numbers, [])
    matching = _present(plan.numbers, other_conds) if other_conds else in_inventory
    missing = [n for n in plan.numbers if n not in in_inventory]
    released = _released(missing) if missing else {}
    return SearchReport(
        searched=plan.item_count,
        found=[n for n in plan.numbers if n in matching],
        missing=[(n, released.get(n)) for n in missing],
        hidden=[n for n in plan.numbers if n in in_inventory and n not in matching],
        unrecognised=list(plan.unrecognised))
