"""Absolute links for what leaves the app (email, webhook): built from BASE_URL, never from a request,
since the jobs that send them run without one."""
from urllib.parse import urlsplit

from flask import current_app


def base_host() -> str:
    """BASE_URL's host name: the right-hand side of Message-IDs."""
    return urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"


def absolute_url(endpoint: str, **values) -> str:
    """`endpoint`'s URL under BASE_URL (its scheme, host, port and any sub-path)."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path.rstrip("/") or "/",
                                       url_scheme=base.scheme or "http")
    return adapter.build(endpoint, values, force_external=True)


def notification_url(note) -> str:
    """Where a notification leads: its payload's "link" endpoint when it names one (the forecast), else
    exactly its numbers, as the saved list."""
    link = (note.payload or {}).get("link")
    if link and link in current_app.view_functions:
        return absolute_url(link)
    if note.list_token:
        return absolute_url("numbers.index", list=note.list_token)
    return absolute_url("numbers.index")
