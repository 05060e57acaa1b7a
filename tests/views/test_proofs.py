"""The proof pages over HTTP (registration.md §4, §7; access.md §2): admins and operators upload,
download and delete, viewers see the metadata only (403 on upload and download); downloads are
attachments with nosniff and the sniffed type; a guessed path finds nothing; a refused upload shows
its message under the field (422), also for a body over the size limit; proof types are the admin's."""
import io
import re

import pytest
import sqlalchemy as sa

from did_app.audit import Actor
from did_app.db import db, write_transaction
from did_app.models import Proof, ProofFile, ProofType, VerificationRequest, VerificationRequestProof
from did_app.registration import identities, proof_store
from did_app.registration import proofs as svc
from tests.conftest import HX, csrf_from, login

CLI = Actor(None, "cli", "cli")
PERSON = dict(first_name="Ada", last_name="Lovelace", phone_number="+49 30 1234567", country="DE")
ADDRESS = dict(street="Hauptstr. 1", city="Berlin", postal_code="10115", country="DE")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
UPLOAD = "/registration/proofs"


@pytest.fixture
def data(app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path / "instance"))
    with app.app_context():
        ada = identities.create_identity(CLI, identity_type="personal", **PERSON)
        address = identities.create_address(CLI, ada.id, **ADDRESS)
        types = dict(db.session.execute(sa.select(ProofType.name, ProofType.id)).all())
        proof = svc.add_proof(CLI, "identity", ada.id, types["Passport"], None, [("pass port.pdf", PDF)])
        return dict(ada=ada.id, address=address.id, types=types, proof=proof.id, file=proof.files[0].id)


def _page(client, data) -> str:
    return f"/registration/identities/{data['ada']}"


def _form(token, data, files, **extra):
    body = {"csrf_token": token, "entity": "identity", "entity_id": str(data["ada"]),
            "proof_type_id": str(data["types"]["Driving licence"]), "expires_on": "",
            "next": f"/registration/identities/{data['ada']}",
            "files": [(io.BytesIO(content), name) for name, content in files]}
    body.update(extra)
    return body


def _counts(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(sa.select(sa.func.count()).select_from(Proof)),
                db.session.scalar(sa.select(sa.func.count()).select_from(ProofFile)))


def _stored(app) -> int:
    with app.app_context():
        root = proof_store.root()
        return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def test_identity_page_lists_proofs_with_download_links_for_operators(app, client, data):
    login(client, "operator")
    html = client.get(_page(client, data)).get_data(as_text=True)
    assert 'id="proofs"' in html and "Passport" in html
    assert f'href="/registration/proof-files/{data["file"]}"' in html
    assert 'enctype="multipart/form-data"' in html and 'hx-encoding="multipart/form-data"' in html
    assert 'accept=".pdf,.png,.jpg,.jpeg"' in html and 'name="files" multiple' in html


def test_viewers_see_names_but_cannot_download_or_upload(app, client, data):
    login(client, "viewer")
    html = client.get(_page(client, data)).get_data(as_text=True)
    assert "pass port.pdf" in html and "/registration/proof-files/" not in html
    assert "Upload proof" not in html and "/delete" not in html.split('id="proofs"')[1].split("</section>")[0]
    assert client.get(f"/registration/proof-files/{data['file']}").status_code == 403
    token = csrf_from(client.get("/numbers").get_data(as_text=True))
    assert client.post(UPLOAD, data=_form(token, data, [("a.png", PNG)])).status_code == 403
    assert client.post(f"/registration/proofs/{data['proof']}/delete", data={"csrf_token": token}).status_code == 403
    assert _counts(app) == (1, 1)


def test_signed_out_download_goes_to_login(app, client, data):
    login(app.test_client(), "admin")  # a user exists: this is no first run
    response = client.get(f"/registration/proof-files/{data['file']}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_download_is_an_attachment_with_nosniff_and_the_sniffed_type(app, client, data):
    login(client, "operator")
    response = client.get(f"/registration/proof-files/{data['file']}")
    assert response.status_code == 200 and response.data == PDF
    assert response.mimetype == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "pass port.pdf" in disposition
    assert response.headers["Cache-Control"] == "no-store"


def test_a_guessed_id_or_path_finds_nothing(app, client, data):
    login(client, "admin")
    with app.app_context():
        path = db.session.get(ProofFile, data["file"]).path
    assert client.get("/registration/proof-files/999").status_code == 404
    assert client.get(f"/registration/proof-files/{path}").status_code == 404
    assert client.get(f"/instance/proofs/{path}").status_code == 404
    assert client.get(f"/static/../instance/proofs/{path}").status_code == 404
    assert client.get(f"/static/proofs/{path}").status_code == 404
    with app.app_context():  # a row whose file is gone (or points outside the folder) is a 404 too
        db.session.get(ProofFile, data["file"]).path = "../../secret_key"
        db.session.commit()
    assert client.get(f"/registration/proof-files/{data['file']}").status_code == 404


def test_htmx_upload_redirects_to_next_and_lists_the_proof(app, client, data):
    login(client, "operator")
    hx = HX(client)
    hx.load_token(_page(client, data))
    response = hx.post(UPLOAD, data=_form(hx.token, data, [("licence.png", PNG)]))
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/registration/identities/{data['ada']}"
    html = client.get(_page(client, data)).get_data(as_text=True)
    assert "Driving licence added." in html and "licence.png" in html
    assert _counts(app) == (2, 2) and _stored(app) == 2


def test_classic_upload_answers_303_and_a_foreign_next_goes_to_the_entity(app, client, data):
    login(client, "admin")
    token = csrf_from(client.get(_page(client, data)).get_data(as_text=True))
    response = client.post(UPLOAD, data=_form(token, data, [("a.png", PNG)], next="https://evil.example/x"))
    assert response.status_code == 303 and response.headers["Location"] == f"/registration/identities/{data['ada']}"
    response = client.post(UPLOAD, data=_form(token, data, [("b.pdf", PDF)], entity="address",
                                              entity_id=str(data["address"]), next="//evil.example",
                                              proof_type_id=str(data["types"]["Utility bill"])))
    assert response.headers["Location"] == f"/registration/addresses/{data['address']}"


@pytest.mark.parametrize("files, extra, field, message", [
    ([("notes.pdf", b"plain text pretending")], {}, "files", "Files must be PDF, PNG or JPEG."),
    ([], {}, "files", "A proof holds 1–5 files."),
    ([("a.png", PNG)], {"proof_type_id": ""}, "type", "Choose a proof type."),
    ([("a.png", PNG)], {"expires_on": "2026-02-30"}, "expires_on", "Enter a date as YYYY-MM-DD between 1900 and 9000."),
    ([("big.pdf", PDF + b"\0" * (10 * 1024 * 1024))], {}, "files", "Each file must be 10 MB or smaller."),
])
def test_htmx_refusal_swaps_the_form_with_the_message_under_its_field(app, client, data, files, extra, field, message):
    login(client, "operator")
    hx = HX(client)
    hx.load_token(_page(client, data))
    response = hx.post(UPLOAD, data=_form(hx.token, data, files, form_id="checklist-proof", **extra))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in html
    assert html.lstrip().startswith('<form id="checklist-proof"')
    assert re.search(rf'id="checklist-proof-{field}-error" class="field-error">{re.escape(message)}<', html), html
    assert _counts(app) == (1, 1) and _stored(app) == 1


def test_classic_refusal_shows_the_page_with_the_message(app, client, data):
    login(client, "operator")
    token = csrf_from(client.get(_page(client, data)).get_data(as_text=True))
    response = client.post(UPLOAD, data=_form(token, data, [("a.png", PNG)],
                                              proof_type_id=str(data["types"]["Utility bill"])))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" in html and 'id="history"' in html
    assert "A Utility bill proves an address; choose a personal type." in html


def test_a_body_over_the_limit_gets_the_message_not_a_bare_413(app, client, data):
    login(client, "operator")
    hx = HX(client)
    hx.load_token(_page(client, data))
    app.config["MAX_CONTENT_LENGTH"] = 1000  # stands in for 30 MB
    action = (f"{UPLOAD}?entity=identity&entity_id={data['ada']}&form_id=proof-upload"
              f"&next=/registration/identities/{data['ada']}")
    response = hx.post(action, data=_form(hx.token, data, [("a.pdf", PDF + b"\0" * 2000)]))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="proof-upload"' in html
    assert "A proof&#39;s files must be 25 MB or smaller together." in html
    classic = client.post(action, data=_form(hx.token, data, [("a.pdf", PDF + b"\0" * 2000)]))
    assert classic.status_code == 422 and "<html" in classic.get_data(as_text=True)
    assert "25 MB or smaller together" in classic.get_data(as_text=True)
    bare = client.post(f"/registration/proofs/{data['proof']}/delete", data={"x": "y" * 2000})
    assert bare.status_code == 413
    assert _counts(app) == (1, 1) and _stored(app) == 1
    viewer = app.test_client()
    login(viewer, "viewer")
    assert viewer.post(action, data={"x": "y" * 2000}).status_code == 403
    signed_out = app.test_client().post(action, data={"x": "y" * 2000})
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
    gone = action.replace(f"entity_id={data['ada']}", "entity_id=999")
    assert client.post(gone, data={"x": "y" * 2000}).status_code == 404


def test_the_default_limit_leaves_room_for_25_mb_and_the_form(app):
    assert 25 * 1024 * 1024 + 64 * 1024 < app.config["MAX_CONTENT_LENGTH"] <= 32 * 1024 * 1024


def test_delete_removes_the_proof_and_a_backing_proof_shows_the_refusal(app, client, data):
    login(client, "operator")
    token = csrf_from(client.get(_page(client, data)).get_data(as_text=True))
    with app.app_context():
        with write_transaction() as session:
            vr = VerificationRequest(identity_id=data["ada"], address_id=data["address"], country="DE",
                                     number_type="local", status="approved", reference="VR-000007")
            session.add(vr)
            session.flush()
            session.add(VerificationRequestProof(request_id=vr.id, proof_id=data["proof"]))
    refused = client.post(f"/registration/proofs/{data['proof']}/delete", data={"csrf_token": token})
    assert refused.status_code == 422
    assert "This proof backs verification VR-000007." in refused.get_data(as_text=True)
    assert _counts(app) == (1, 1)
    with app.app_context():
        db.session.execute(sa.delete(VerificationRequestProof))
        db.session.commit()
    done = client.post(f"/registration/proofs/{data['proof']}/delete", data={"csrf_token": token})
    assert done.status_code == 303 and done.headers["Location"] == f"/registration/identities/{data['ada']}#proofs"
    assert _counts(app) == (0, 0) and _stored(app) == 0


def test_address_page_has_its_proofs_section(app, client, data):
    login(client, "operator")
    html = client.get(f"/registration/addresses/{data['address']}").get_data(as_text=True)
    assert 'id="proofs"' in html and "Utility bill" in html and "Passport" not in html


def test_proof_types_admin_edits_others_read(app, client, data):
    login(client, "operator")
    html = client.get("/registration/proof-types").get_data(as_text=True)
    assert "Certificate of incorporation" in html and "Add proof type" not in html and "Retire" not in html
    token = csrf_from(html)
    assert client.post("/registration/proof-types", data={"csrf_token": token, "entity": "address",
                                                          "name": "Tax bill"}).status_code == 403
    admin = app.test_client()
    login(admin, "admin")
    token = csrf_from(admin.get("/registration/proof-types").get_data(as_text=True))
    added = admin.post("/registration/proof-types", data={"csrf_token": token, "entity": "address", "name": "Tax bill"})
    assert added.status_code == 303
    taken = admin.post("/registration/proof-types", data={"csrf_token": token, "entity": "address", "name": "tax BILL"})
    assert taken.status_code == 422 and "Address proofs have a type named tax BILL already." in taken.get_data(as_text=True)
    passport = data["types"]["Passport"]
    renamed = admin.post(f"/registration/proof-types/{passport}", data={"csrf_token": token, "name": ""})
    assert renamed.status_code == 422 and 'id="name-%d-error"' % passport in renamed.get_data(as_text=True)
    assert admin.post(f"/registration/proof-types/{passport}", data={"csrf_token": token,
                                                                     "name": "Passport (any country)"}).status_code == 303
    assert admin.post(f"/registration/proof-types/{passport}/retire", data={"csrf_token": token}).status_code == 303
    page = admin.get(_page(admin, data)).get_data(as_text=True)
    assert "Passport (any country)" in page  # the proof on file keeps its type, under the new name
    assert f'<option value="{passport}"' not in page  # a retired type takes no new proofs
    assert admin.post(f"/registration/proof-types/{passport}/unretire", data={"csrf_token": token}).status_code == 303
    assert admin.post("/registration/proof-types/999/retire", data={"csrf_token": token}).status_code == 404


def test_settings_links_the_proof_types(app, client):
    login(client, "admin")
    assert 'href="/registration/proof-types"' in client.get("/settings").get_data(as_text=True)
