"""Write side of the numbers area that this issue needs: saved number lists."""
import secrets
from datetime import timedelta

import sqlalchemy as sa

from did_app import clock
from did_app.db import db, write_transaction
from did_app.errors import DomainError
from did_app.form_fields import PASTE_LIMIT_BYTES, PASTE_TOO_LARGE
from did_app.models import SavedList
from did_app.numbers import search

LIST_TTL = timedelta(days=30)
MAX_LIST_BYTES, TOO_LARGE = PASTE_LIMIT_BYTES, PASTE_TOO_LARGE  # one limit for every pasted list


def save_search_list(text: str, default_country: str) -> str:
    """Store a long pasted search as a saved list; returns its 16-character token.

    Raises DomainError "Paste at most 10,000 numbers." above the limit, and TOO_LARGE for a
    paste over 1 MB (in UTF-8), before reading it.
    """
    if len(text) > MAX_LIST_BYTES or len(text.encode()) > MAX_LIST_BYTES:
        raise DomainError(TOO_LARGE, "q")
    items = search.split_items(text, default_country, limit=search.MAX_ITEMS + 1)
    if len(items) > search.MAX_ITEMS:
        raise DomainError("Paste at most 10,000 numbers.", "q")
    plan = search.resolve_items(items, default_country)  # parsed once; the list stores the result
    with write_transaction() as session:
        now = clock.now()
        token = secrets.token_urlsafe(12)[:16]
        session.add(SavedList(token=token, items=plan.numbers, raw_unrecognised=plan.unrecognised,
                              source="search", created_at=now, last_used_at=now))
    return token


def load_saved_list(token: str) -> search.SearchPlan | None:
    """The numbers of a live saved list as a search plan, or None when it expired or never existed.

    Reading a list keeps it alive: it is kept 30 days after it was last used. The touch is a
    separate, rare write (at most hourly), so viewing a list never takes the write lock.
    """
    now = clock.now()
    saved = db.session.scalar(sa.select(SavedList).where(SavedList.token == token))
    if saved is None or (not saved.keep and saved.last_used_at < now - LIST_TTL):
        return None
    plan = search.SearchPlan(kind="numbers", numbers=list(saved.items),
                             unrecognised=list(saved.raw_unrecognised or []))
    if now - saved.last_used_at > timedelta(hours=1):
        with write_transaction() as session:
            session.execute(sa.update(SavedList).where(SavedList.id == saved.id).values(last_used_at=now))
    return plan
