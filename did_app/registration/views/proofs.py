"""Proof files and proof types (registration.md §4): upload, download, delete; the admin's type list."""
from did_app.registration.views import bp  # noqa: F401 (the area's one blueprint)
