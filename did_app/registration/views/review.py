"""Review (registration.md §5): the Verification requests page, a request's page, approve and
reject (admins), withdraw (admins and operators), the reject reasons (admins edit, everyone
reads), and the count of requests and services waiting for review in the navigation."""
from flask import flash, make_response, request, url_for

from did_app import crud
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.htmx import redirect_to, render, wants_fragment
from did_app.models import RejectReason, VerificationRequest
from did_app.registration import request_queries, reviews
from did_app.registration.review_forms import DecisionForm, ReasonForm, RejectForm, RequestFilterForm
from did_app.registration.views import bp
from did_app.security import role_required

CHECK_TITLES = {"identity": "Identity", "identity_type": "Identity type", "field": "Mandatory field",
                "address": "Address", "address_area": "Address area", "service_description": "Service description"}


def check_title(key: str) -> str:
    """A checklist item's title from its key: "proofs:address" is "Address proofs"."""
    kind, _, entity = key.partition(":")
    return f"{entity.capitalize()} proofs" if kind == "proofs" else CHECK_TITLES.get(kind, kind)
# the status colours of numbers.md §4, reused: in review blue, approved green, rejected red
BADGES = {"pending": "badge-porting", "approved": "badge-active", "rejected": "badge-terminated"}


@bp.app_context_processor
def _review_count():
    # a function, so only pages that show it (an admin's navigation) run its one query
    return {"review_waiting": request_queries.waiting_for_review, "request_badges": BADGES}


@bp.get("/requests")
def requests():
    filters = RequestFilterForm(request.args)
    rows, count = request_queries.requests(**filters.clean(), page=filters.page_number)
    return render("registration/requests.html", "request_list", rows=rows, count=count, filters=filters,
                  per_page=request_queries.REQUESTS_PER_PAGE, statuses=reviews.STATUS_WORDS)


# ---- one request ----------------------------------------------------------------------------

def _reject_form(vr: VerificationRequest, formdata=None) -> RejectForm:
    form = RejectForm() if formdata else RejectForm(formdata=None, data={"version": vr.version})
    form.reasons.choices = [(r.id, r.text) for r in request_queries.reject_reasons(live_only=True)]
    return form


def _request_page(vr: VerificationRequest, *, reject_form=None, decision_form=None, message=None,
                  status=200, wrote=False):
    """The request's page, or its main block for htmx; after a write the flash and the
    navigation's count come along out of band."""
    fresh = DecisionForm(formdata=None, data={"version": vr.version})
    html = render("registration/request.html", "request_main", flash_oob=wrote, vr=vr,
                  detail=request_queries.request_detail(vr), statuses=reviews.STATUS_WORDS,
                  reject_form=reject_form or _reject_form(vr), decision_form=decision_form or fresh,
                  message=message, check_title=check_title, count_oob=wrote and wants_fragment())
    return make_response(html, status)


@bp.get("/requests/<int:request_id>")
def request_page(request_id: int):
    return _request_page(db.get_or_404(VerificationRequest, request_id))


def _refused(request_id: int, form, err: DomainError | None = None):
    """A refused decision: the request as it is now with `form` and its errors (422), or with
    the stale message (409); when it was withdrawn meanwhile, the list with the message."""
    vr = db.session.get(VerificationRequest, request_id)
    if vr is None:
        flash(reviews.REQUEST_MISSING, "error")
        return redirect_to(url_for(".requests"))
    if isinstance(err, Conflict):
        return _request_page(vr, message=err.message, status=409)
    if err is not None:
        crud.failed(form, err)
    return _request_page(vr, reject_form=form if isinstance(form, RejectForm) else None,
                         decision_form=form if isinstance(form, DecisionForm) else None, status=422)


def _decide(request_id: int, form, write, done: str):
    """Run one decision from `form`: on success the page again (htmx: its main block) with
    `done` flashed; a refusal under its field (422); a stale version shows the request as it is
    now with the message (409)."""
    if not form.validate_on_submit():
        return _refused(request_id, form)
    try:
        write(crud.version_of(form))
    except DomainError as err:
        return _refused(request_id, form, err)
    flash(done, "success")
    if not wants_fragment():
        return redirect_to(url_for(".request_page", request_id=request_id))
    return _request_page(db.session.get(VerificationRequest, request_id), wrote=True)


@bp.post("/requests/<int:request_id>/approve")
@role_required("admin")
def approve_request(request_id: int):
    db.get_or_404(VerificationRequest, request_id)
    return _decide(request_id, DecisionForm(),
                   lambda version: reviews.approve(crud.actor(), request_id, version=version), "Request approved.")


@bp.post("/requests/<int:request_id>/reject")
@role_required("admin")
def reject_request(request_id: int):
    vr = db.get_or_404(VerificationRequest, request_id)
    form = _reject_form(vr, formdata=True)
    return _decide(request_id, form, lambda version: reviews.reject(
        crud.actor(), request_id, version=version, reason_ids=form.reasons.data, comment=form.comment.data),
        "Request rejected.")


@bp.post("/requests/<int:request_id>/withdraw")
@role_required("operator")
def withdraw_request(request_id: int):
    db.get_or_404(VerificationRequest, request_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _refused(request_id, form)
    try:
        reference = reviews.withdraw(crud.actor(), request_id, version=crud.version_of(form))
    except DomainError as err:
        return _refused(request_id, form, err)
    flash(f"Request {reference} withdrawn: its numbers need end-user details again.", "success")
    return redirect_to(url_for(".requests"))


# ---- reject reasons (admins edit) ------------------------------------------------------------

def _reasons_page(new_form=None, *, editing=None, status=200):
    """The list with a form per reason (admins) and the add form; `editing` (id, form) keeps a
    refused edit's values and errors on its row."""
    rows = request_queries.reject_reasons()
    forms = {r.id: ReasonForm(formdata=None, obj=r, prefix=f"r{r.id}") for r in rows}
    if editing is not None:
        forms[editing[0]] = editing[1]
    return make_response(render("registration/reject_reasons.html", "reason_list", rows=rows, forms=forms,
                                new_form=new_form or ReasonForm(formdata=None, prefix="new")), status)


@bp.get("/reject-reasons")
def reject_reasons():
    return _reasons_page()


@bp.post("/reject-reasons")
@role_required("admin")
def create_reject_reason():
    form = ReasonForm(prefix="new")
    done, status = crud.save(form, lambda: reviews.create_reason(crud.actor(), **form.values()),
                             lambda r: (f"Reason \u201c{r.text}\u201d added.", url_for(".reject_reasons")))
    return done or _reasons_page(form, status=status)


@bp.post("/reject-reasons/<int:reason_id>")
@role_required("admin")
def update_reject_reason(reason_id: int):
    db.get_or_404(RejectReason, reason_id)
    form = ReasonForm(prefix=f"r{reason_id}")
    done, status = crud.save(form, lambda: reviews.update_reason(
        crud.actor(), reason_id, retired=form.retired.data, **form.values()),
        lambda r: (f"Reason \u201c{r.text}\u201d saved.", url_for(".reject_reasons")))
    return done or _reasons_page(editing=(reason_id, form), status=status)
