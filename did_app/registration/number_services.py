"""Services that need approval (registration.md §6): CNAM OUT and emergency calling, one row per
number and kind. Editors request, change and remove them; admins approve or reject.

One transaction per use case; every write is audited on the number, so its History shows each
step. A new or changed request is pending: changing an active service (a new CNAM value, another
emergency address) sends it back to pending, and the value it had is kept in that history row.
"""
import re

import sqlalchemy as sa

from did_app import audit, clock
from did_app.db import write_transaction
from did_app.errors import DomainError
from did_app.models import Address, Identity, Number, NumberService
from did_app.object_checks import check_version, existing
from did_app.reference_lists import COUNTRY_CHOICES

KINDS = {"cnam_out": "CNAM OUT", "emergency": "Emergency"}
FEATURE_MISSING = {"cnam_out": "This number does not support CNAM OUT.",
                   "emergency": "This number does not support emergency calling."}
CNAM_RE = re.compile(r"[A-Za-z0-9 .,\-'&]{1,15}")
CNAM_MESSAGE = "CNAM must be 1–15 letters, digits, spaces or . , - ' &."
KIND_MESSAGE = "Choose CNAM OUT or emergency calling."
IDENTITY_REQUIRED = "Choose an identity."
ADDRESS_REQUIRED = "Choose a service address."
REASON_REQUIRED = "Enter a reason."
REASON_MAX = 1000
REASON_TOO_LONG = "Reason must be at most 1,000 characters."
NUMBER_MISSING = "That number does not exist."
SERVICE_MISSING = "That service request does not exist."
NOT_PENDING = "This request is {status} already; only a pending request can be decided."
COUNTRY_NAMES = dict(COUNTRY_CHOICES)


def country_name(code: str) -> str:
    return COUNTRY_NAMES.get(code, code)


# ---- the rules of §6 (pure) ------------------------------------------------------------------

def clean_cnam(value: str | None) -> str:
    """The caller name trimmed; raises DomainError on "value" unless it is 1–15 of the allowed
    characters (letters, digits, space and . , - ' &)."""
    text = (value or "").strip()
    if not CNAM_RE.fullmatch(text):
        raise DomainError(CNAM_MESSAGE, "value")
    return text


def clean_reason(reason: str | None) -> str:
    """A reject reason: required, at most 1,000 characters (raises DomainError on "reason")."""
    text = (reason or "").strip()
    if not text:
        raise DomainError(REASON_REQUIRED, "reason")
    if len(text) > REASON_MAX:
        raise DomainError(REASON_TOO_LONG, "reason")
    return text


def identity_rule_message(name: str) -> str:
    return f"This number's services must use its registration identity {name}."


# ---- helpers (inside the caller's transaction) ---------------------------------------------

def _identity(session, number: Number, identity_id: int | None) -> Identity:
    """The chosen identity; a number with a registration identity takes only that one (§6)."""
    identity = session.get(Identity, identity_id) if identity_id else None
    if identity is None:
        raise DomainError(IDENTITY_REQUIRED, "identity_id")
    if number.identity_id is not None and identity.id != number.identity_id:
        registered = session.get(Identity, number.identity_id)
        raise DomainError(identity_rule_message(registered.display_name), "identity_id")
    return identity


def _emergency_address(session, number: Number, identity: Identity, address_id: int | None) -> Address:
    """A service address of the identity, in the number's country."""
    address = session.get(Address, address_id) if address_id else None
    if address is None:
        raise DomainError(ADDRESS_REQUIRED, "address_id")
    if address.identity_id != identity.id:
        raise DomainError(f"Choose an address of {identity.display_name}.", "address_id")
    if address.country != number.country:
        raise DomainError(f"The emergency address must be in {country_name(number.country)}.", "address_id")
    return address


def _details(session, number: Number, kind: str, value, identity_id, address_id) -> dict:
    """The row's requested fields, each rule of §6 checked in the form's order."""
    if kind not in KINDS:
        raise DomainError(KIND_MESSAGE, "kind")
    if not number.has_feature(kind):
        raise DomainError(FEATURE_MISSING[kind], "kind")
    cnam = clean_cnam(value) if kind == "cnam_out" else None
    identity = _identity(session, number, identity_id)
    address = _emergency_address(session, number, identity, address_id) if kind == "emergency" else None
    return {"value": cnam, "identity_id": identity.id, "address_id": address.id if address else None}


def _shown(session, kind: str, service: NumberService | None) -> dict:
    """A service as the number's History shows it: "CNAM OUT value", "… status", identity and
    address by name (rows outlive the objects they name)."""
    if service is None:
        return {}
    label = KINDS[kind]
    identity = session.get(Identity, service.identity_id) if service.identity_id else None
    address = session.get(Address, service.address_id) if service.address_id else None
    out = {f"{label} status": service.status, f"{label} identity": identity.display_name if identity else None}
    if kind == "cnam_out":
        out[f"{label} value"] = service.value
    else:
        out[f"{label} address"] = address.one_line if address else None
    if service.reject_reason:
        out[f"{label} reject reason"] = service.reject_reason
    return out


def _touch(number: Number, actor) -> None:
    """A service is an edit of the number (access.md §2): its version moves, so an older form of
    the number answers 409, and its "changed by" names who did it."""
    number.updated_at = clock.now()
    number.updated_by = actor.user_id


def _record(session, actor, action: str, number: Number, kind: str, before: dict, after: dict,
            note: str | None = None) -> None:
    b, a = audit.diff(before, after)
    for key in before:
        if key not in after:
            b[key] = before[key]
    audit.record(actor, action, "number", number.id, number.number, before=b or None, after=a or None, note=note)


def _service(session, service_id: int) -> tuple[NumberService, Number]:
    service = session.get(NumberService, service_id, with_for_update=True)
    if service is None:
        raise DomainError(SERVICE_MISSING)
    return service, session.get(Number, service.number_id)


# ---- the use cases ---------------------------------------------------------------------------

def request_service(actor, number_id: int, kind: str, *, value: str | None = None, identity_id: int | None = None,
                    address_id: int | None = None, version: int | None = None) -> NumberService:
    """Request CNAM OUT or emergency calling for a number, or change the request (admins and
    operators). The result is pending: a new request, a change of an active one (the old value
    stays in the history row) or a resubmitted rejected one. The same details again on a pending
    or active service change nothing.

    Raises DomainError when the number lacks the feature, for the CNAM rule, a missing identity,
    the identity rule ("This number's services must use its registration identity {name}."), a
    missing address, an address of another identity or outside the number's country ("The
    emergency address must be in {country}."); Conflict when `version` is not the number's.
    """
    with write_transaction() as session:
        number = existing(session, Number, number_id, NUMBER_MISSING)
        check_version(number, version)
        details = _details(session, number, kind, value, identity_id, address_id)
        service = session.scalar(sa.select(NumberService).where(NumberService.number_id == number.id,
                                                                NumberService.kind == kind).with_for_update())
        if service is not None and service.status != "rejected" and all(
                getattr(service, k) == v for k, v in details.items()):
            return service
        before = _shown(session, kind, service)
        if service is None:
            service = NumberService(number_id=number.id, kind=kind)
            session.add(service)
        for key, field_value in details.items():
            setattr(service, key, field_value)
        service.status, service.requested_at, service.requested_by = "pending", clock.now(), actor.user_id
        service.decided_at = service.decided_by = service.reject_reason = None
        session.flush()
        _touch(number, actor)
        action = "number.service_requested" if not before else "number.service_changed"
        _record(session, actor, action, number, kind, before, _shown(session, kind, service))
    return service


def approve_service(actor, service_id: int) -> NumberService:
    """Approve a pending service request (admins): it becomes active. Raises DomainError when the
    request is gone or no longer pending."""
    with write_transaction() as session:
        service, number = _service(session, service_id)
        _pending(service)
        before = _shown(session, service.kind, service)
        service.status, service.decided_at, service.decided_by = "active", clock.now(), actor.user_id
        _record(session, actor, "number.service_approved", number, service.kind, before,
                _shown(session, service.kind, service))
    return service


def reject_service(actor, service_id: int, reason: str | None) -> NumberService:
    """Reject a pending service request with a reason (admins; required, ≤ 1,000 characters).
    Raises DomainError on the reason, or when the request is gone or no longer pending."""
    reason = clean_reason(reason)
    with write_transaction() as session:
        service, number = _service(session, service_id)
        _pending(service)
        before = _shown(session, service.kind, service)
        service.status, service.decided_at, service.decided_by = "rejected", clock.now(), actor.user_id
        service.reject_reason = reason
        _record(session, actor, "number.service_rejected", number, service.kind, before,
                _shown(session, service.kind, service), note=reason)
    return service


def remove_service(actor, service_id: int, *, version: int | None = None) -> Number:
    """Remove a number's service (admins and operators): the row is deleted and the history keeps
    what it was. Returns the number. Raises DomainError when it is gone, Conflict when `version`
    is not the number's."""
    with write_transaction() as session:
        service, number = _service(session, service_id)
        check_version(number, version)
        before = _shown(session, service.kind, service)
        session.delete(service)
        _touch(number, actor)
        _record(session, actor, "number.service_removed", number, service.kind, before, {})
    return number


def _pending(service: NumberService) -> None:
    if service.status != "pending":
        raise DomainError(NOT_PENDING.format(status=service.status))
