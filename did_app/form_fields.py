"""WTForms fields for numbers, ids, versions and dates, on the parsers of `did_app.parsing`.

Each field refuses text it can't read with a message under the field (so the view answers 422)
instead of letting `int()` or the database raise. Use them instead of IntegerField, DateField
and `coerce=int` selects:

    quantity = BoundedIntegerField("Channels", lo=1, hi=100_000, message="Enter 1–100,000 channels.")
    pool_id = IdField("Pool")                         # a select of ids; blank reads as None
    members = IdListField("Members")                  # a multi-select of ids
    renew_date = SafeDateField("Next renewal")
    version = VersionField()                          # then version_of(form) in the edit view

and `CleanText` as a form mixin strips NUL and other control characters from every text field.
"""
from wtforms import DateField, HiddenField, IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import StopValidation

from did_app import parsing
from did_app.errors import DomainError

CHOOSE_MESSAGE = "Choose one from the list."
DATE_MESSAGE = "Enter a date as YYYY-MM-DD between 1900 and 9000."


def coerce_id(value) -> int | None:
    """SelectField coerce for ids: blank (or the "None" a rendered None gives) is None, a valid id
    its int; anything else raises ValueError."""
    if value is None or value == "" or value == "None":
        return None
    number = parsing.query_id(value)
    if number is None:
        raise ValueError(CHOOSE_MESSAGE)
    return number


class BoundedIntegerField(IntegerField):
    """A whole number from `lo` to `hi`, or None when blank; other text gets `message`.

    Add InputRequired(message) to make it required. ASCII digits only (no "²", "١٢" or "1_000").
    """

    def __init__(self, label=None, validators=None, *, lo: int, hi: int, message: str, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.lo, self.hi, self.message = lo, hi, message

    def process_formdata(self, valuelist):
        text = (valuelist[0] if valuelist else "").strip()
        if not text:
            self.data = None
            self.raw_data = []  # whitespace alone is blank, for InputRequired too
            return
        self.data = parsing.query_int(text, self.lo, self.hi)
        if self.data is None:
            raise ValueError(self.message)


class IdField(SelectField):
    """A select of database ids (not validated against its choices: the service checks that the
    row exists). Blank is None; text that is no id gets `message`."""

    def __init__(self, label=None, validators=None, *, message: str = CHOOSE_MESSAGE, **kwargs):
        kwargs.setdefault("validate_choice", False)
        super().__init__(label, validators, coerce=coerce_id, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(self.message) from None


class IdListField(SelectMultipleField):
    """A multi-select of database ids; any value that is no id gets `message`."""

    def __init__(self, label=None, validators=None, *, message: str = CHOOSE_MESSAGE, **kwargs):
        kwargs.setdefault("validate_choice", False)
        kwargs.setdefault("choices", [])
        super().__init__(label, validators, coerce=coerce_id, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        ids = [parsing.query_id(v) for v in valuelist if (v or "").strip()]
        self.data = [i for i in ids if i is not None]
        if len(ids) != len(self.data):
            raise ValueError(self.message)


class SafeDateField(DateField):
    """An ISO date (YYYY-MM-DD, ASCII digits) between 1900-01-01 and 9000-12-31, or None when blank."""

    def __init__(self, label=None, validators=None, *, message: str = DATE_MESSAGE, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        text = " ".join(valuelist).strip()
        if not text:
            self.data = None
            self.raw_data = []  # whitespace alone is blank, for InputRequired too
            return
        self.data = parsing.query_date(text)
        if self.data is None:
            raise ValueError(self.message)


class VersionField(HiddenField):
    """The `version` an edit form was rendered with: an int, or None when missing or invalid.
    It never fails validation by itself (a create form has none); the edit view calls
    `version_of(form)`, which refuses a missing one."""

    def process_formdata(self, valuelist):
        self.data = parsing.form_version(valuelist[0]) if valuelist else None


def _clean(value):
    if isinstance(value, str):
        return parsing.clean_text(value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


class AttachMixin:
    """`form.attach(err)`: a DomainError from a service shown under its field (or on the form when it
    names none), so a refused write reads like any other field error (engineering.md §8)."""

    def attach(self, err) -> None:
        field = getattr(self, err.field, None) if err.field else None
        if field is not None:
            field.errors = [*field.errors, err.message]
        else:
            self.form_errors.append(err.message)


class CleanText:
    """Form mixin: every text field (StringField and its kinds: text areas, passwords, hidden)
    drops NUL and the other control characters but tab and newline, which PostgreSQL refuses
    or nobody means to store. List values (lines, key=value pairs) are cleaned item by item."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            if issubclass(unbound_field.field_class, StringField):
                options["filters"] = (*unbound_field.kwargs.get("filters", ()), _clean)
            return unbound_field.bind(form=form, **options)


PASTE_LIMIT_BYTES = 1024 * 1024  # 10,000 numbers in any format fit in a tenth of this
PASTE_TOO_LARGE = "The pasted text is larger than 1 MB. Paste at most 10,000 numbers."


def paste_limit(form, field) -> None:
    """Validator for a pasted list of numbers: at most 1 MB in UTF-8 (it is echoed back in previews)."""
    text = field.data or ""
    if len(text) > PASTE_LIMIT_BYTES or len(text.encode()) > PASTE_LIMIT_BYTES:
        field.data = ""  # never echo it back
        raise StopValidation(PASTE_TOO_LARGE)  # and no "paste at least one number" after it


def version_of(form) -> int:
    """The form's version for an edit's stale check.

    Raises DomainError(VERSION_MESSAGE) without a field, so `form.attach()` shows it above the
    form, when the form posted no valid `version`: an edit without one would overwrite a
    newer change unseen.
    """
    field = getattr(form, "version", None)
    value = parsing.form_version(field.data) if field is not None else None
    if value is None:
        raise DomainError(parsing.VERSION_MESSAGE)
    return value
