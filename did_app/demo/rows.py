"""Small helpers of the demo seeder: text slugs, calendar months and set-based writes."""
import calendar
import re
import unicodedata
from datetime import datetime

import sqlalchemy as sa


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", _ascii(text).lower()).strip("-")


def add_months(start: datetime, months: int, anchor: int) -> datetime:
    """`start` moved on by calendar months, on day min(anchor, days in month), same time of day."""
    y, m = divmod(start.month - 1 + months, 12)
    y += start.year
    return start.replace(year=y, month=m + 1, day=min(anchor, calendar.monthrange(y, m + 1)[1]))


def _first_anniversary_after(start: datetime, moment: datetime) -> datetime:
    """The first monthly anniversary of `start` (at least one month on) that is after `moment`."""
    months = max(1, (moment.year - start.year) * 12 + moment.month - start.month)
    t = add_months(start, months, start.day)
    while t <= moment:
        months += 1
        t = add_months(start, months, start.day)
    return t



def _insert(session, model, rows):
    """One set-based INSERT (executemany) of `rows`, which all carry the same keys.

    It goes through the model's Core table: the ORM bulk path would split rows by their None
    values and emit one statement per row.
    """
    if rows:
        session.execute(sa.insert(model.__table__), rows)


def _insert_returning(session, model, rows) -> list[int]:
    """The same, returning the new ids in the order of `rows`."""
    if not rows:
        return []
    table = model.__table__
    stmt = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.execute(stmt, rows).scalars())


def _set_by_id(session, model, column: str, values: dict) -> None:
    """UPDATE model SET column = value WHERE id = key, as one executemany (no version bump)."""
    if values:
        table = model.__table__
        stmt = (sa.update(table).where(table.c.id == sa.bindparam("_id"))
                .values({column: sa.bindparam("_value")}))
        session.execute(stmt, [{"_id": k, "_value": v} for k, v in values.items()])
