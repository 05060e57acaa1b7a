"""Write side of the numbers area that this issue needs: saved number lists."""
import secrets
from datetime import timedelta

import sqlalchemy as sa

from did_app import clock
from did_app.db import write_transaction
from did_app.errors import DomainError
from did_app.models import SavedList
from did_app.numbers import search

LIST_TTL = timedelta(days=30)


def save_search_list(text: str, default_country: str) -> str:
    """Store a long pasted search as a saved list; returns its 16-character token.

    Raises DomainError "Paste at most 10,000 numbers." above the limit.
    """
    items = search.split_items(text, default_country)
    if len(items) > search.MAX_ITEMS:
        raise DomainError("Paste at most 10,000 numbers.", "q")
    with write_transaction() as session:
        now = clock.now()
        token = secrets.token_urlsafe(12)[:16]
        session.add(SavedList(token=token, items=items, source="search", created_at=now, last_used_at=now))
    return token


def load_saved_list(token: str) -> list[str] | None:
    """The items of a live saved list, or None when it expired or never existed.

    Reading a list keeps it alive: it is kept 30 days after it was last used.
    """
    with write_transaction() as session:
        now = clock.now()
        saved = session.scalar(sa.select(SavedList).where(SavedList.token == token))
        if saved is None or (not saved.keep and saved.last_used_at < now - LIST_TTL):
            return None
        if now - saved.last_used_at > timedelta(hours=1):  # avoid a write on every page view
            saved.last_used_at = now
        return list(saved.items)
