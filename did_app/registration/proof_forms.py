"""Input shapes for the proof pages (registration.md §4): the upload form and the admin's proof types.
The files themselves are read from `request.files` by the view; the service checks every rule."""
import re

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField

from did_app.form_fields import AttachMixin, BoundedIntegerField, CleanText, IdField, SafeDateField

ENTITY_CHOICES = [("personal", "Personal identity"), ("business", "Business identity"), ("address", "Address")]
FORM_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,39}")
DEFAULT_FORM_ID = "proof-upload"
MAX_ID = 2**31 - 1


class ProofUploadForm(CleanText, FlaskForm):
    """The upload form's fields besides the files. Its field names are the agreed interface of
    registration.upload_proof (entity, entity_id, proof_type_id, expires_on, files, next)."""
    entity = HiddenField()
    entity_id = BoundedIntegerField("Entity", lo=1, hi=MAX_ID, message="Choose an identity or an address.")
    proof_type_id = IdField("Proof type", message="Choose a proof type.")
    expires_on = SafeDateField("Expires on")
    next = HiddenField()
    form_id = HiddenField()

    def field_errors(self) -> dict:
        """{field name: message} of the typing errors, as the upload form shows them."""
        return {name: " ".join(errors) for name, errors in self.errors.items() if name != "csrf_token"}

    def shown_values(self) -> dict:
        """What the re-rendered form shows again (files can never be refilled)."""
        raw = self.expires_on.raw_data[0] if self.expires_on.raw_data else ""
        return {"proof_type_id": self.proof_type_id.data, "expires_on": raw[:40]}

    def html_id(self) -> str:
        """The id the page gave its form (it swaps itself by it); a safe default otherwise."""
        value = self.form_id.data or ""
        return value if FORM_ID.fullmatch(value) else DEFAULT_FORM_ID


class ProofTypeForm(AttachMixin, CleanText, FlaskForm):
    entity = SelectField("Proves", choices=ENTITY_CHOICES, validate_choice=False)
    name = StringField("Name")


class ProofTypeNameForm(AttachMixin, CleanText, FlaskForm):
    name = StringField("Name")
