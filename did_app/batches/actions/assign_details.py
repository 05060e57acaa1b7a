"""Assign end-user details (batch.md §3, registration.md §5): the registration flow as a batch.
Numbers awaiting registration with no pending request change; the others are skipped. The
selection's eligible numbers must share one country and number type, and the checklist must pass:
each failure is a batch error. Applying is registration/assignments.py's submit, in the batch's
transaction and with its batch id: one request for all the numbers. It can't be undone."""
import sqlalchemy as sa
from wtforms import TextAreaField

from did_app.batches.actions.base import Action, InputForm, Plan, Rule
from did_app.batches.sql import typed
from did_app.db import db
from did_app.errors import DomainError
from did_app.form_fields import IdField
from did_app.models import Address, Batch, BatchItem, Identity, Number, VerificationRequest
from did_app.registration import assignments
from did_app.registration.requirements import requirement_for

IDENTITY_CHOICES = 500  # as the assign page's picker: the newest identities


class AssignDetailsForm(InputForm):
    identity_id = IdField("Identity", message="Choose an identity.")
    address_id = IdField("Address", message="Choose an address.")
    service_description = TextAreaField("Service description")


def _linked(column):
    """A column of the number's verification request, as a scalar subquery over `number`."""
    return sa.select(column).where(VerificationRequest.id == Number.verification_request_id).scalar_subquery()


class AssignDetailsAction(Action):
    code, label = "assign_details", "Assign end-user details"
    form = AssignDetailsForm
    undoable = False
    writes = ("identity_id",)
    reads = ("verification_request_id", "awaiting_registration", "country", "number_type")

    def prepare_form(self, form) -> None:
        identities = db.session.scalars(sa.select(Identity).order_by(Identity.id.desc()).limit(IDENTITY_CHOICES)).all()
        names = {i.id: i.display_name for i in identities}
        addresses = db.session.scalars(sa.select(Address).where(Address.identity_id.in_(list(names)))).all() \
            if names else []
        form.identity_id.choices = [("", "Choose an identity…")] + sorted(
            ((str(i), n) for i, n in names.items()), key=lambda c: c[1].lower())
        form.address_id.choices = [("", "Choose an address…")] + sorted(
            ((str(a.id), f"{names[a.identity_id]}: {a.one_line}") for a in addresses), key=lambda c: c[1].lower())

    def params_from(self, form) -> dict:
        form.read()
        return {"identity_id": form.identity_id.data, "address_id": form.address_id.data,
                "service_description": form.service_description.data}

    def clean(self, params: dict) -> dict:
        _, _, description = assignments.checked_inputs(db.session, params.get("identity_id"),
                                                       params.get("address_id"), params.get("service_description"))
        return {"identity_id": params["identity_id"], "address_id": params["address_id"],
                "service_description": description}

    def plan(self, params: dict) -> Plan:
        in_review = typed("Already in review (", sa.String()) + _linked(VerificationRequest.reference) + typed(
            ")", sa.String())
        return Plan(targets={"identity_id": typed(params["identity_id"], sa.Integer())}, rules=[
            Rule(Number.awaiting_registration.is_(False), "skip", assignments.NOT_AWAITING.rstrip(".")),
            Rule(_linked(VerificationRequest.status).in_(("pending", "approved")), "skip", in_review),
        ])

    def batch_error(self, batch) -> str | None:
        """One country and type among the numbers that change, and every failing checklist item."""
        if batch.status != "previewed":
            return None
        changing = sa.select(BatchItem.number_id).where(BatchItem.batch_id == batch.id, BatchItem.outcome == "change")
        kinds = db.session.execute(sa.select(Number.country, Number.number_type).where(Number.id.in_(changing))
                                   .distinct().limit(50)).all()
        if len(kinds) != 1:
            return assignments.ONE_KIND.format(k=len(kinds)) if kinds else None
        (country, number_type), = kinds
        places = db.session.execute(sa.select(Number.region, Number.city).where(Number.id.in_(changing)).distinct()).all()
        try:
            identity, address, description = assignments.checked_inputs(
                db.session, batch.params["identity_id"], batch.params["address_id"], batch.params["service_description"])
        except DomainError as err:
            return err.message
        place = assignments.checks.Place(country, frozenset(r for r, _ in places), frozenset(c for _, c in places))
        items = assignments.current_checklist(db.session, requirement_for(country, number_type), identity, address,
                                              place, description)
        return " ".join(i.message for i in items if not i.ok) or None

    def apply(self, batch_id: int, actor, now, note: str | None) -> None:
        params = db.session.get(Batch, batch_id).params
        mine = sa.and_(BatchItem.batch_id == batch_id, BatchItem.outcome == "change")
        numbers = db.session.scalars(sa.select(BatchItem.number).where(mine)).all()
        assignments.submit_in(db.session, actor, list(numbers), identity_id=params["identity_id"],
                              address_id=params["address_id"], service_description=params["service_description"],
                              batch_id=batch_id)
        db.session.execute(sa.update(BatchItem).where(mine).values(version_after=sa.select(Number.version).where(
            Number.id == BatchItem.number_id).scalar_subquery()).execution_options(synchronize_session=False))

    def _names(self, params) -> tuple[str, str]:
        identity = db.session.get(Identity, params["identity_id"]) if params["identity_id"] else None
        address = db.session.get(Address, params["address_id"]) if params["address_id"] else None
        return (identity.display_name if identity else f"#{params['identity_id']}",
                address.one_line if address else f"#{params['address_id']}")

    def confirmation(self, count: int, params: dict) -> str:
        identity, address = self._names(params)
        return f"Submit {count:,} numbers for verification with {identity}, {address}?"

    def inputs(self, params: dict) -> str:
        return ", ".join(self._names(params))


ASSIGN_DETAILS = AssignDetailsAction()
