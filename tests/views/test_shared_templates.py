"""The shared template pieces of issue 9: one error template, one redirect helper, the table and
CRUD macros (macros/table.html, macros/crud.html) and URLs built by url_for only."""
from pathlib import Path

from flask import render_template_string
from wtforms import Form, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget

from did_app.htmx import redirect_to
from tests.conftest import login

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_every_error_page_comes_from_one_template(client):
    assert sorted(p.name for p in (TEMPLATES / "errors").iterdir()) == ["error.html"]
    login(client)
    missing = client.get("/numbers/no-such-page/at-all")
    assert missing.status_code == 404
    html = missing.get_data(as_text=True)
    assert "<title>Error 404" in html and "That page does not exist." in html
    wrong_method = client.delete("/numbers")  # 405 had no page of its own (errors/generic.html)
    assert wrong_method.status_code == 405
    assert "<title>Error 405" in wrong_method.get_data(as_text=True)


def test_redirect_to_is_a_303_or_for_htmx_an_hx_redirect(app):
    with app.test_request_context("/x"):
        classic = redirect_to("/numbers")
    assert classic.status_code == 303 and classic.headers["Location"] == "/numbers"
    with app.test_request_context("/x", headers={"HX-Request": "true"}):
        hx = redirect_to("/numbers?order=ORD-1")
        hx_204 = redirect_to("/numbers", htmx_status=204)
    assert hx.status_code == 200 and hx.headers["HX-Redirect"] == "/numbers?order=ORD-1" and hx.get_data() == b""
    assert hx_204.status_code == 204 and hx_204.headers["HX-Redirect"] == "/numbers"


def _render(app, source, **context):
    with app.test_request_context("/"):
        return render_template_string(source, **context)


def test_pager_newer_older_and_counted(app):
    newer_older = _render(app, '{% from "macros/table.html" import pager %}'
                               "{{ pager(2, 'activity.index', {'q': 'x'}, 'results', has_more=True) }}")
    assert 'href="/activity?page=1&amp;q=x" hx-get="/activity?page=1&amp;q=x" hx-target="#results"' in newer_older
    assert "‹ Newer" in newer_older and "Older ›" in newer_older and "Page 2" in newer_older
    last_plain = _render(app, '{% from "macros/table.html" import pager %}'
                              "{{ pager(3, 'intake.orders', {}, has_more=False) }}")
    assert "Older" not in last_plain and "hx-get" not in last_plain and 'href="/orders?page=2"' in last_plain
    counted = _render(app, '{% from "macros/table.html" import pager %}'
                           "{{ pager(1, 'billing.released', {}, 'results', count=1234, per_page=50) }}")
    assert "1–50 of 1,234" in counted
    assert '<span class="page-btn" aria-disabled="true">« First</span>' in counted
    assert 'href="/billing/released?page=25"' in counted and "Last »" in counted
    empty = _render(app, '{% from "macros/table.html" import pager %}'
                         "{{ pager(1, 'billing.released', {}, 'results', count=0, per_page=50) }}")
    assert "0 of 0" in empty and "<a " not in empty


def test_pairs_url_and_sort_header(app):
    html = _render(app, '{% from "macros/table.html" import pairs_url, sort_header %}'
                        "{{ sort_header('Number', pairs_url('numbers.index', pairs), 'desc', 'workspace', 'col-number') }}",
                   pairs=[("status", "active"), ("status", "aging"), ("sort", "number")])
    assert 'class="col-number" aria-sort="descending"' in html
    assert 'href="/numbers?status=active&amp;status=aging&amp;sort=number"' in html and "Number ▼" in html
    unsorted = _render(app, '{% from "macros/table.html" import sort_header %}{{ sort_header("A", "/a", none, "w") }}')
    assert 'aria-sort="none"' in unsorted and "▲" not in unsorted and "▼" not in unsorted


def test_delete_refusal(app):
    source = '{% from "macros/crud.html" import delete_refusal %}{{ delete_refusal(message, url) }}'
    assert _render(app, source, message=None, url=None).strip() == ""
    html = _render(app, source, message="Pool P is used by 3 numbers.", url="/numbers?capacity_pool=1")
    assert 'class="form-errors refusal" role="alert"' in html
    assert 'Pool P is used by 3 numbers. <a href="/numbers?capacity_pool=1">Show the numbers</a>' in html


def test_owned_list_templates_build_no_url_by_concatenation():
    owned = ["numbers/index.html", "billing/index.html", "billing/number_totals.html", "billing/released.html",
             "activity/index.html", "intake/orders.html", "intake/port_ins.html"]
    for name in owned:
        text = (TEMPLATES / name).read_text()
        assert "url_query(" not in text, name
        assert "~ '?'" not in text, name


def test_checks_field_and_filter_field(app):
    class Checks(SelectMultipleField):
        widget, option_widget = ListWidget(prefix_label=False), CheckboxInput()

    class Sample(Form):
        kinds = Checks("Kinds", choices=[("a", "Alpha"), ("b", "Beta")])
        q = StringField("Contains")

    form = Sample()
    form.kinds.errors = ["Choose from the list."]
    html = _render(app, '{% from "macros/forms.html" import checks_field, filter_field %}'
                        '{{ checks_field(form.kinds, "none ticked: all") }}{{ filter_field(form.q, placeholder="x") }}',
                   form=form)
    assert 'aria-describedby="kinds-error"' in html and "<legend>Kinds <small" in html
    assert '<label for="kinds-0"><input id="kinds-0"' in html
    assert '<small id="kinds-error" class="field-error">Choose from the list.</small>' in html
    assert '<label for="q">Contains <input id="q" name="q" placeholder="x"' in html


def test_show_head_puts_the_refusal_under_the_delete_button(app):
    source = ('{% from "macros/crud.html" import show_head %}'
              '{{ show_head("/back", "Back", "P", "pool", may, "/p/1/delete", "Delete pool", "Delete?", message) }}')
    html = _render(app, source, may=True, message="Pool P is in use.")
    assert '<a href="/back">← Back</a>' in html and '<h1>P <small class="muted">pool</small></h1>' in html
    assert 'action="/p/1/delete"' in html and html.index("Delete pool") < html.index("Pool P is in use.")
    assert "Delete pool" not in _render(app, source, may=False, message=None)
