"""Input shapes for the registration pages (requirements, identities, addresses). The choices of the selects are the service's lists,
set by the views; the service checks every value again (registration.md §2)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from did_app.form_fields import AttachMixin, BoundedIntegerField, CleanText, IdListField, SafeDateField, VersionField
from did_app.models.numbers import NUMBER_TYPES
from did_app.reference_lists import COUNTRY_CHOICES, COUNTRY_CODES
from did_app.registration.identities import ADDRESS_FIELDS, IDENTITY_FIELDS, IDENTITY_KINDS

PROOFS_MESSAGE = "Enter 0–5 proofs."
RESTRICTION_MESSAGE = "Restriction message must be at most 1,000 characters."
TYPE_CHOICES = [("*", "* (any type)"), *NUMBER_TYPES.items()]
PROOF_ENTITIES = ("personal", "business", "address")


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ProofTypesField(IdListField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _proofs(label: str) -> BoundedIntegerField:
    return BoundedIntegerField(label, [InputRequired(PROOFS_MESSAGE)], lo=0, hi=5, message=PROOFS_MESSAGE)


class RequirementForm(AttachMixin, CleanText, FlaskForm):
    """The rules of a requirement; its country and type are fixed once created."""
    registration_required = BooleanField("Registration required")
    identity_type = SelectField("Identity type", validate_choice=False)
    address_area = SelectField("Address must be", validate_choice=False)
    personal_proofs = _proofs("Personal proofs")
    business_proofs = _proofs("Business proofs")
    address_proofs = _proofs("Address proofs")
    personal_proof_types = ProofTypesField("Accepted personal proof types")
    business_proof_types = ProofTypesField("Accepted business proof types")
    address_proof_types = ProofTypesField("Accepted address proof types")
    personal_mandatory_fields = CheckboxesField("Mandatory on a personal identity", validate_choice=False)
    business_mandatory_fields = CheckboxesField("Mandatory on a business identity", validate_choice=False)
    service_description_required = BooleanField("Service description required")
    restriction_message = TextAreaField("Restriction message", validators=[
        Optional(), Length(max=1000, message=RESTRICTION_MESSAGE)])
    version = VersionField()

    def values(self) -> dict:
        return dict(
            registration_required=self.registration_required.data, identity_type=self.identity_type.data,
            address_area=self.address_area.data, personal_proofs=self.personal_proofs.data,
            business_proofs=self.business_proofs.data, address_proofs=self.address_proofs.data,
            accepted_proof_types={e: getattr(self, f"{e}_proof_types").data or [] for e in PROOF_ENTITIES},
            personal_mandatory_fields=self.personal_mandatory_fields.data or [],
            business_mandatory_fields=self.business_mandatory_fields.data or [],
            service_description_required=self.service_description_required.data,
            restriction_message=self.restriction_message.data)


class NewRequirementForm(RequirementForm):
    country = StringField("Country", validators=[
        InputRequired("Enter an ISO country code such as DE, or * for any country.")])
    number_type = SelectField("Number type", choices=TYPE_CHOICES, validate_choice=False)

    def values(self) -> dict:
        return dict(super().values(), country=self.country.data, number_type=self.number_type.data)


class RequirementFilterForm(FlaskForm):
    """The list's filters: a GET form, so no CSRF token."""
    class Meta:
        csrf = False

    country = StringField("Country", validators=[Optional(), Length(1, 3, "Enter an ISO code such as DE, or *.")])
    type = SelectField("Number type", choices=[("", "Any row"), *TYPE_CHOICES], validate_choice=False)


# ---- identities and addresses (registration.md §3) -------------------------------------------

def _country_field(label: str, blank: str = "Choose a country") -> SelectField:
    return SelectField(label, choices=[("", blank), *COUNTRY_CHOICES], validate_choice=False)


class IdentityForm(AttachMixin, CleanText, FlaskForm):
    """An identity's fields; its type is fixed once created. The service checks every rule, so
    the fields only shape the input."""
    first_name = StringField("First name")
    last_name = StringField("Last name")
    phone_number = StringField("Phone number")
    country = _country_field("Country")
    company_name = StringField("Company name")
    company_reg_number = StringField("Company registration number")
    vat_id = StringField("VAT ID")
    birth_date = SafeDateField("Birth date")
    birth_country = StringField("Birth country")
    id_number = StringField("ID number")
    personal_tax_id = StringField("Personal tax ID")
    contact_email = StringField("Contact email")
    description = StringField("Description")
    external_reference = StringField("External reference")
    version = VersionField()

    def values(self) -> dict:
        return {name: getattr(self, name).data for name in IDENTITY_FIELDS}


class NewIdentityForm(IdentityForm):
    identity_type = SelectField("Type", choices=list(IDENTITY_KINDS.items()), validate_choice=False)

    def values(self) -> dict:
        return dict(super().values(), identity_type=self.identity_type.data)


class AddressForm(AttachMixin, CleanText, FlaskForm):
    street = StringField("Street")
    city = StringField("City")
    postal_code = StringField("Postal code")
    region = StringField("Region")
    country = _country_field("Country")
    description = StringField("Description")
    version = VersionField()

    def values(self) -> dict:
        return {name: getattr(self, name).data for name in ADDRESS_FIELDS}


class IdentityFilterForm(FlaskForm):
    """The identities list's filters and search: a GET form, so no CSRF token."""
    class Meta:
        csrf = False

    q = StringField("Search", validators=[Optional(), Length(max=100, message="Search at most 100 characters.")])
    type = SelectField("Type", choices=[("", "Any type"), *IDENTITY_KINDS.items()], validate_choice=False)
    country = _country_field("Country", "Any country")
    verified = SelectField("Verified", choices=[("", "Any"), ("yes", "Verified"), ("no", "Not verified")],
                           validate_choice=False)
    page = BoundedIntegerField("Page", [Optional()], lo=1, hi=100000, message="Enter a page number.")

    def clean(self) -> dict:
        """The filters to apply: what is invalid is dropped."""
        self.validate()
        return dict(kind=self.type.data if self.type.data in IDENTITY_KINDS else None,
                    country=self.country.data if self.country.data in COUNTRY_CODES else None,
                    verified=self.verified.data if self.verified.data in ("yes", "no") else None,
                    q=(self.q.data or "").strip() if not self.q.errors else None)

    @property
    def page_number(self) -> int:
        return self.page.data if not self.page.errors and self.page.data else 1

    def args(self) -> dict:
        """The filters as query arguments, for the pager."""
        return {k: v for k, v in (("q", self.q.data), ("type", self.type.data), ("country", self.country.data),
                                  ("verified", self.verified.data)) if v}
