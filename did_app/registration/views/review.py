"""Review (registration.md §5): the Verification requests page, a request's page, approve, reject, withdraw."""
from did_app.registration.views import bp  # noqa: F401 (the area's one blueprint)
