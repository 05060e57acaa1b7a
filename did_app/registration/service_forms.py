"""Input shapes for the services that need approval (registration.md §6). The selects' choices are
set by the views; the service checks every value again."""
import re

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from did_app.form_fields import AttachMixin, BoundedIntegerField, CleanText, IdField, VersionField
from did_app.registration.number_services import KINDS

PUNCTUATION = re.compile(r"[\s+\-().]")
STATUSES = {"pending": "Pending", "active": "Active", "rejected": "Rejected"}


class ServiceForm(AttachMixin, CleanText, FlaskForm):
    """One kind's request for one number; the page shows one per kind, each with its own prefix
    (so "cnam_out-value" and "emergency-identity_id" never share an id)."""
    value = StringField("Caller name (CNAM)")
    identity_id = IdField("Identity", message="Choose an identity from the list.")
    address_id = IdField("Service address", message="Choose an address from the list.")
    version = VersionField()

    def values(self) -> dict:
        return dict(value=self.value.data, identity_id=self.identity_id.data, address_id=self.address_id.data)


class RejectForm(AttachMixin, CleanText, FlaskForm):
    reason = TextAreaField("Reason")


class ServiceFilterForm(FlaskForm):
    """The Service requests page's filters: a GET form, so no CSRF token."""
    class Meta:
        csrf = False

    status = SelectField("Status", choices=[("", "Any status"), *STATUSES.items()], validate_choice=False)
    kind = SelectField("Service", choices=[("", "Any service"), *KINDS.items()], validate_choice=False)
    number = StringField("Number", validators=[Optional()])
    page = BoundedIntegerField("Page", [Optional()], lo=1, hi=100000, message="Enter a page number.")

    def clean(self) -> dict:
        """The filters to apply: what is invalid is dropped."""
        self.validate()
        digits = PUNCTUATION.sub("", self.number.data or "")  # "+1 415-555-0142" as it is shown
        return dict(status=self.status.data if self.status.data in STATUSES else None,
                    kind=self.kind.data if self.kind.data in KINDS else None,
                    digits=digits if digits.isascii() and digits.isdigit() and len(digits) <= 15 else None)

    @property
    def page_number(self) -> int:
        return self.page.data if not self.page.errors and self.page.data else 1

    def args(self) -> dict:
        return {k: v for k, v in (("status", self.status.data), ("kind", self.kind.data),
                                  ("number", self.number.data)) if v}
