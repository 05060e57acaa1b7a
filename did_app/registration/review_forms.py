"""Input shapes for review (registration.md §5): the requests list's filters, the decision forms
and the reject reasons. The service checks every value again."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from did_app.form_fields import AttachMixin, BoundedIntegerField, CleanText, IdListField, VersionField
from did_app.reference_lists import COUNTRY_CHOICES, COUNTRY_CODES
from did_app.registration.reviews import COMMENT_TOO_LONG, STATUS_WORDS

STATUS_CHOICES = [("", "Any status"), *STATUS_WORDS.items()]


class RequestFilterForm(FlaskForm):
    """The Verification requests list's filters: a GET form, so no CSRF token."""
    class Meta:
        csrf = False

    status = SelectField("Status", choices=STATUS_CHOICES, validate_choice=False)
    reference = StringField("Reference", validators=[Optional(), Length(max=20, message="Reference is at most 20 characters.")])
    identity = StringField("Identity", validators=[Optional(), Length(max=100, message="Search at most 100 characters.")])
    country = SelectField("Country", choices=[("", "Any country"), *COUNTRY_CHOICES], validate_choice=False)
    page = BoundedIntegerField("Page", [Optional()], lo=1, hi=100000, message="Enter a page number.")

    def clean(self) -> dict:
        """The filters to apply: what is invalid is dropped."""
        self.validate()
        text = lambda f: (f.data or "").strip() if not f.errors else None  # noqa: E731
        return dict(status=self.status.data if self.status.data in STATUS_WORDS else None,
                    reference=text(self.reference), identity=text(self.identity),
                    country=self.country.data if self.country.data in COUNTRY_CODES else None)

    @property
    def page_number(self) -> int:
        return self.page.data if not self.page.errors and self.page.data else 1

    def args(self) -> dict:
        """The filters as query arguments, for the pager."""
        return {k: v for k, v in (("status", self.status.data), ("reference", self.reference.data),
                                  ("identity", self.identity.data), ("country", self.country.data)) if v}


class DecisionForm(AttachMixin, FlaskForm):
    """Approve or withdraw: only the version the page was rendered with."""
    version = VersionField()


class ReasonsField(IdListField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RejectForm(AttachMixin, CleanText, FlaskForm):
    reasons = ReasonsField("Reasons")
    comment = TextAreaField("Comment", validators=[Optional(), Length(max=2000, message=COMMENT_TOO_LONG)])
    version = VersionField()


class ReasonForm(AttachMixin, CleanText, FlaskForm):
    text = StringField("Reason")
    needs_comment = BooleanField("Needs a comment")
    retired = BooleanField("Retired")

    def values(self) -> dict:
        return dict(text=self.text.data, needs_comment=self.needs_comment.data)
