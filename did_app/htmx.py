"""Page-or-fragment rendering for htmx (engineering.md §2)."""
from flask import get_flashed_messages, make_response, redirect, request
from jinja2_fragments.flask import render_block, render_blocks


def wants_fragment() -> bool:
    """True when htmx asks for part of the page: not a boosted link, not a history restore."""
    h = request.headers
    return (h.get("HX-Request") == "true" and h.get("HX-Boosted") != "true"
            and h.get("HX-History-Restore-Request") != "true")


def render(template: str, *blocks: str, flash_oob: bool = False, **context):
    """The full page, or only `blocks` of it when htmx asks for a fragment.

    With `flash_oob` (writes) the base template's flash block is appended out of band, so a
    flash() is shown at once instead of on the next full page.
    """
    from flask import render_template

    if not blocks or not wants_fragment():
        return render_template(template, **context)
    html = render_blocks(template, list(blocks), **context)
    if flash_oob:
        html += render_block("base.html", "flash", oob=True,
                             messages=get_flashed_messages(with_categories=True))
    return html


def redirect_to(url: str, htmx_status: int = 200):
    """Leave the page for `url`: a 303 (PRG), or for htmx a client-side redirect (`HX-Redirect`),
    so the whole page changes instead of a fragment being swapped into it. htmx acts on the
    header whatever the status; `htmx_status` only keeps the status each caller answered with."""
    if wants_fragment():
        response = make_response("", htmx_status)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, 303)


def add_vary(response):
    """Neither a cache nor the back button may serve a bare fragment for a page URL."""
    response.vary.add("HX-Request")
    return response
