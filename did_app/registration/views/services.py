"""Services needing approval (registration.md §6): CNAM OUT and emergency per number, the Service requests page."""
from did_app.registration.views import bp  # noqa: F401 (the area's one blueprint)
