"""Assign end-user details (registration.md §5): eligibility, requirement, identity and address, checklist, submit and resubmit."""
from did_app.registration.views import bp  # noqa: F401 (the area's one blueprint)
