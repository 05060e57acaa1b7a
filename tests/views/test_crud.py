"""The pieces of did_app/crud.py the trunk and group pages use besides the other configuration
objects: every problem of a refusal on its field, the pure rules next to typing errors, notices
after the message, the stored page for a stale edit, the refused-delete block for htmx, and a
History with secrets hidden."""
from flask import get_flashed_messages
from wtforms import Form, StringField

from did_app import clock, crud
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.form_fields import AttachMixin
from did_app.models import AuditEvent
from did_app.rules.routes import DeleteRefused, RouteInvalid

TRUNK_PAGE = "configuration/trunks_form.html"


class NameForm(AttachMixin, Form):
    """A form whose validity the test decides (no request data, no CSRF)."""
    name = StringField("Name")
    port = StringField("Port")

    def __init__(self, valid: bool):
        super().__init__()
        self.valid = valid

    def validate_on_submit(self) -> bool:
        return self.valid


def _broken(err: DomainError):
    def write():
        raise err
    return write


def test_failed_puts_every_problem_of_a_refusal_under_its_field(app):
    with app.test_request_context("/"):
        form = NameForm(True)
        status = crud.failed(form, RouteInvalid([("name", "Enter a name."), ("port", "Bad port."),
                                                 (None, "Something else.")]))
        assert status == 422
        assert (form.name.errors, form.port.errors, form.form_errors) == (
            ["Enter a name."], ["Bad port."], ["Something else."])
        assert crud.failed(NameForm(True), Conflict("Changed meanwhile.")) == 409


def test_save_shows_the_rules_problems_on_fields_typing_left_alone(app):
    with app.test_request_context("/"):
        form = NameForm(False)
        form.port.errors = ["Enter a whole number."]
        done, status = crud.save(form, lambda: None, lambda _: ("unused", "/"),
                                 rules=_broken(RouteInvalid([("name", "Enter a name."), ("port", "Rule says no.")])))
        assert (done, status) == (None, 422)
        assert form.name.errors == ["Enter a name."] and form.port.errors == ["Enter a whole number."]


def test_save_flashes_the_message_then_the_notices_and_leaves(app):
    with app.test_request_context("/"):
        done, status = crud.save(NameForm(True), lambda: ("route", ["Group now has no members."]),
                                 lambda saved: (f"Trunk {saved[0]} saved.", "/configuration/trunks/1"),
                                 notices=lambda saved: saved[1])
        assert status == 200 and done.status_code == 303 and done.headers["Location"] == "/configuration/trunks/1"
        assert get_flashed_messages(with_categories=True) == [("success", "Trunk route saved."),
                                                              ("info", "Group now has no members.")]


def test_save_answers_a_stale_edit_with_the_stale_page_when_given(app):
    with app.test_request_context("/"):
        form = NameForm(True)
        done, status = crud.save(form, _broken(Conflict("Changed meanwhile.")), lambda _: ("unused", "/"),
                                 stale=lambda err: (f"stored page: {err.message}", 409))
        assert (done, status) == (("stored page: Changed meanwhile.", 409), 409)
        assert form.form_errors == []  # the stored page shows the message, not the posted form
        done, status = crud.save(form, _broken(Conflict("Changed meanwhile.")), lambda _: ("unused", "/"))
        assert (done, status) == (None, 409) and form.form_errors == ["Changed meanwhile."]


def test_a_refused_htmx_delete_gets_only_the_refusal_block(app):
    refused = DeleteRefused("Numbers route to this trunk.", {"trunk": 7})
    with app.test_request_context("/", headers={"HX-Request": "true"}):
        answer = crud.delete(_broken(refused), "unused", "/", lambda err: ("whole page", 422), None,
                             refused_block=(TRUNK_PAGE, "delete_result"))
        html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "HX-Push-Url" not in answer.headers
    assert html.strip().startswith('<div id="delete-result">') and "Numbers route to this trunk." in html
    assert "/numbers?trunk=7" in html and "<html" not in html


def test_a_refused_classic_delete_gets_the_page_and_pushes_the_show_url_only_when_given(app):
    refused = DomainError("In use.")
    with app.test_request_context("/"):
        in_place = crud.delete(_broken(refused), "unused", "/", lambda err: (f"page: {err.message}", 422), None,
                               refused_block=(TRUNK_PAGE, "delete_result"))
        boosted = crud.delete(_broken(refused), "unused", "/", lambda err: ("page", 422), "/things/1")
        refusals = crud.refusal(DeleteRefused("x", {"group": 3})), crud.refusal(DomainError("y"))
    assert refusals == ({"message": "x", "url": "/numbers?group=3"}, {"message": "y", "url": None})
    assert in_place.status_code == 422 and in_place.get_data(as_text=True) == "page: In use."
    assert "HX-Push-Url" not in in_place.headers
    assert boosted.status_code == 422 and boosted.headers["HX-Push-Url"] == "/things/1"


def test_history_is_newest_first_limited_and_hides_secrets(app):
    with app.app_context():
        for n in range(3):
            db.session.add(AuditEvent(at=clock.now(), actor_label="a", source="web", action=f"trunk.{n}",
                                      object_type="voice_trunk", object_id=9, object_label="T",
                                      after={"password": "plain", "name": f"T{n}"}))
        db.session.commit()
        rows = crud.history("voice_trunk", 9, limit=2)
        assert [r.action for r in rows] == ["trunk.2", "trunk.1"]
        assert rows[0].after == {"password": "changed", "name": "T2"}
        assert crud.history("voice_trunk", 8) == []
