"""Proof files and proof types (registration.md §4): upload, download, delete; the admin's type list.

Admins and operators upload, download and delete; viewers see the proofs' type, dates and file
names only (access.md §2). Files are answered only by `download_proof_file`, as attachments.
"""
from urllib.parse import urlsplit

from flask import abort, flash, make_response, render_template, request, send_file, url_for
from flask_login import current_user
from werkzeug.exceptions import NotFound, RequestEntityTooLarge

from did_app import crud
from did_app.db import db
from did_app.errors import DomainError, error_response
from did_app.extensions import login_manager
from did_app.htmx import redirect_to, wants_fragment
from did_app.models import Address, Identity, Proof, ProofFile, ProofType
from did_app.registration import proof_queries, proof_store, queries
from did_app.registration import proofs as proofs_svc
from did_app.registration.proof_forms import ProofTypeForm, ProofTypeNameForm, ProofUploadForm
from did_app.registration.views import _address_page, _identity_page, bp
from did_app.security import ROLE_RANK, role_required

# ---- the identity or address a proof belongs to -------------------------------------------

def _owner_or_404(entity: str | None, entity_id) -> Identity | Address:
    model = {"identity": Identity, "address": Address}.get(entity or "")
    if model is None or not isinstance(entity_id, int):
        abort(404)
    return db.get_or_404(model, entity_id)


def _kind(owner) -> str:
    return owner.identity_type if isinstance(owner, Identity) else "address"


def _entity(owner) -> str:
    return "identity" if isinstance(owner, Identity) else "address"


def _owner_url(owner) -> str:
    if isinstance(owner, Identity):
        return url_for(".show_identity", identity_id=owner.id)
    return url_for(".show_address", address_id=owner.id)


def _owner_page(owner, state: dict, status: int):
    """The identity or address page with the Proofs section in `state` (a refused upload or delete)."""
    if isinstance(owner, Identity):
        return _identity_page(owner, proof_state=state, status=status)
    return _address_page(owner, proof_state=state, status=status)


def _local(target: str | None) -> str | None:
    """`next` only when it is a same-site path (browsers read a backslash as a slash)."""
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and target.isprintable() and len(target) <= 2000 and not urlsplit(target).netloc):
        return target
    return None


# ---- upload ------------------------------------------------------------------------------------

def _uploads() -> list[proofs_svc.Upload]:
    """The chosen files; a file input left empty sends a part without a name, which is no file."""
    return [proofs_svc.Upload(f.filename, f.read()) for f in request.files.getlist("files") if f.filename]


def _refused_upload(owner, errors: dict, values: dict, form_id: str, next_url: str):
    """htmx: the form alone (it swaps itself), with each message under its field; otherwise the page."""
    if wants_fragment():
        return make_response(render_template(
            "registration/proof_upload.html", entity=_entity(owner), entity_id=owner.id,
            types=queries.proof_type_choices(_kind(owner)), next_url=next_url, errors=errors, values=values,
            form_id=form_id), 422)
    return _owner_page(owner, {"errors": errors, "values": values}, 422)


@bp.post("/proofs")
@role_required("operator")
def upload_proof():
    form = ProofUploadForm(formdata=request.form)  # the files are read apart (a field sent as a file is no value)
    owner = _owner_or_404(form.entity.data, form.entity_id.data)
    next_url = _local(form.next.data) or _owner_url(owner)
    if not form.validate_on_submit():
        return _refused_upload(owner, form.field_errors(), form.shown_values(), form.html_id(), next_url)
    try:
        proof = proofs_svc.add_proof(crud.actor(), _entity(owner), owner.id, form.proof_type_id.data,
                                     form.expires_on.data, _uploads())
    except DomainError as err:
        return _refused_upload(owner, {err.field or "": err.message}, form.shown_values(), form.html_id(), next_url)
    flash(f"{db.session.get(ProofType, proof.proof_type_id).name} added.", "success")
    return redirect_to(next_url)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(err):
    """A body over MAX_CONTENT_LENGTH is refused before the form is read, CSRF token included: an
    upload gets the size message under its file field (the form's identity is in its URL), any
    other page of the area the plain 413."""
    if request.endpoint != "registration.upload_proof":
        return error_response(413, err.description)
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if ROLE_RANK[current_user.role] < ROLE_RANK["operator"]:
        return error_response(403)
    form = ProofUploadForm(formdata=request.args, meta={"csrf": False})
    try:
        owner = _owner_or_404(form.entity.data, form.entity_id.data)
    except NotFound:
        return error_response(404)
    next_url = _local(form.next.data) or _owner_url(owner)
    return _refused_upload(owner, {"files": proof_store.TOTAL_MESSAGE}, {}, form.html_id(), next_url)


# ---- download and delete ---------------------------------------------------------------------

@bp.get("/proof-files/<int:file_id>")
@role_required("operator")
def download_proof_file(file_id: int):
    """The file as an attachment under its original name, with the content type its first bytes
    gave; a path is never taken from the request, so a guessed one finds nothing (404)."""
    stored = db.get_or_404(ProofFile, file_id)
    path = proof_store.resolve(stored.path)
    if path is None:
        abort(404)
    response = send_file(path, mimetype=stored.content_type, as_attachment=True,
                         download_name=stored.original_name, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/proofs/<int:proof_id>/delete")
@role_required("operator")
def delete_proof(proof_id: int):
    proof = db.get_or_404(Proof, proof_id)
    owner = (db.get_or_404(Identity, proof.identity_id) if proof.identity_id is not None
             else db.get_or_404(Address, proof.address_id))
    name = proof.proof_type.name
    return crud.delete(lambda: proofs_svc.delete_proof(crud.actor(), proof_id), f"{name} deleted.",
                       _owner_url(owner) + "#proofs",
                       lambda err: _owner_page(owner, {"refusal": (proof_id, err.message)}, 422),
                       _owner_url(owner))


# ---- proof types (admins edit, everyone reads) -------------------------------------------------

def _types_page(*, add_form=None, renaming: tuple[int, ProofTypeNameForm] | None = None, status=200):
    return render_template("registration/proof_types.html", types=proof_queries.all_types(),
                           entities=dict(proofs_svc.ENTITY_LABELS),
                           add_form=add_form or ProofTypeForm(formdata=None), renaming=renaming), status


@bp.get("/proof-types")
def proof_types():
    return _types_page()


@bp.post("/proof-types")
@role_required("admin")
def create_proof_type():
    form = ProofTypeForm()
    done, status = crud.save(form, lambda: proofs_svc.create_proof_type(crud.actor(), form.entity.data, form.name.data),
                             lambda t: (f"Proof type {t.name} added.", url_for(".proof_types")))
    return done or _types_page(add_form=form, status=status)


@bp.post("/proof-types/<int:type_id>")
@role_required("admin")
def rename_proof_type(type_id: int):
    db.get_or_404(ProofType, type_id)
    form = ProofTypeNameForm()
    done, status = crud.save(form, lambda: proofs_svc.rename_proof_type(crud.actor(), type_id, form.name.data),
                             lambda t: (f"Proof type renamed to {t.name}.", url_for(".proof_types")))
    return done or _types_page(renaming=(type_id, form), status=status)


def _set_retired(type_id: int, retired: bool):
    db.get_or_404(ProofType, type_id)
    try:
        proof_type = proofs_svc.set_proof_type_retired(crud.actor(), type_id, retired)
    except DomainError:  # deleted since the check above
        abort(404)
    flash(f"Proof type {proof_type.name} {'retired' if retired else 'is in use again'}.", "success")
    return redirect_to(url_for(".proof_types"))


@bp.post("/proof-types/<int:type_id>/retire")
@role_required("admin")
def retire_proof_type(type_id: int):
    return _set_retired(type_id, True)


@bp.post("/proof-types/<int:type_id>/unretire")
@role_required("admin")
def unretire_proof_type(type_id: int):
    return _set_retired(type_id, False)
