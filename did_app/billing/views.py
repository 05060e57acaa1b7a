"""Billing area: balance, ledger, forecast, released numbers (lifecycle.md §6, §8, §10)."""
import json

import sqlalchemy as sa
from flask import Blueprint, Response, flash, g, redirect, request, stream_with_context, url_for

from did_app import audit, clock, csv_out, money, parsing
from did_app.billing import outlook, queries, service
from did_app.billing.forms import AdjustmentForm, TopUpForm
from did_app.db import db
from did_app.errors import DomainError
from did_app.htmx import render
from did_app.lifecycle import forecast as forecast_lib
from did_app.models import CapacityPool
from did_app.security import role_required

bp = Blueprint("billing", __name__, url_prefix="/billing")
LEDGER_COLUMNS = ("at", "kind", "amount", "balance_after", "number", "pool", "order_id", "batch_id", "actor",
                  "note", "detail")
FORECAST_COLUMNS = ("date", "kind", "number or pool", "amount", "cumulative", "covered")
RELEASED_COLUMNS = ("number", "country", "region", "city", "number_type", "description", "added_at",
                    "released_at", "reason", "voice_route", "sms_route", "identity", "order_reference",
                    "total_charged", "total_refunded", "old_number_id")


def _iso(dt) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt else ""


def _csv_response(header, rows, stem: str) -> Response:
    """`rows` (sequences of cells) streamed through the one formula-safe writer."""
    name = f"{stem}-{clock.now().strftime('%Y%m%d-%H%M%S')}.csv"
    return Response(stream_with_context(csv_out.stream(header, rows)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# ---- balance and ledger ---------------------------------------------------------------------

def _index_page(top_up_form=None, adjust_form=None, status: int = 200):
    ws = g.workspace
    f = queries.LedgerFilter.from_args(request.args)
    rows, has_more = queries.ledger_page(f.conditions(ws.time_zone), f.page)
    body = render("billing/index.html", "ledger", filters=f, rows=rows, has_more=has_more,
                  kinds=queries.KIND_LABELS, pools=queries.pool_names(),
                  top_up_form=top_up_form or TopUpForm(formdata=None, prefix="top_up", currency=ws.currency),
                  adjust_form=adjust_form or AdjustmentForm(formdata=None, prefix="adjust", currency=ws.currency))
    return body, status


@bp.get("")
def index():
    return _index_page()


@bp.post("/top-up")
@role_required("admin")
def top_up():
    return _balance_change(TopUpForm, "top_up", service.top_up, "Added", "top_up_form")


@bp.post("/adjustments")
@role_required("admin")
def adjust():
    return _balance_change(AdjustmentForm, "adjust", service.adjust, "Adjusted by", "adjust_form")


def _balance_change(form_class, prefix: str, write, done: str, form_slot: str):
    """A top-up and an adjustment post alike: `write(actor, amount, note)` changes the balance and
    the flash says `done` with the amount and the new balance; a refusal shows the ledger page
    again with the form, under `form_slot`, holding its errors."""
    currency = g.workspace.currency
    form = form_class(prefix=prefix, currency=currency)
    if form.validate_on_submit():
        try:
            row = write(audit.Actor.current(), form.amount.minor, form.note.data)
        except DomainError as err:
            form.attach(err)
        else:
            flash(f"{done} {money.format_money(row['amount_minor'], currency)}. Balance "
                  f"{money.format_money(row['balance_after_minor'], currency)}.", "success")
            return redirect(url_for(".index"), 303)
    return _index_page(**{form_slot: form}, status=422)


@bp.get("/ledger.csv")
def ledger_csv():
    ws = g.workspace
    currency, conds = ws.currency, queries.LedgerFilter.from_args(request.args).conditions(ws.time_zone)
    pools = queries.pool_names()
    rows = ([_iso(e.at), e.kind, money.plain(e.amount_minor, currency), money.plain(e.balance_after_minor, currency),
             e.number, pools.get(e.pool_id), e.order_id, e.batch_id, e.actor_label, e.note,
             json.dumps(e.detail) if e.detail else ""]
            for e in queries.ledger_stream(conds))
    return _csv_response(LEDGER_COLUMNS, rows, "ledger")


@bp.get("/numbers")
def number_totals():
    f = queries.TotalsFilter.from_args(request.args)
    rows, count = queries.number_totals(f, g.workspace.time_zone)
    return render("billing/number_totals.html", "totals", filters=f, rows=rows, count=count,
                  per_page=queries.PER_PAGE)


# ---- forecast ---------------------------------------------------------------------------------

@bp.get("/forecast")
def forecast():
    ws = g.workspace
    failed = db.session.scalars(sa.select(CapacityPool).where(CapacityPool.renewal_failed_on.is_not(None))
                                .order_by(CapacityPool.name)).all()
    figures = outlook.build(db.session, clock.now(), ws.time_zone, ws.balance_minor, ws.currency)
    return render("billing/forecast.html", o=figures, failed_pools=failed)


@bp.get("/forecast.csv")
def forecast_csv():
    days = parsing.query_int(request.args.get("days"), 1, 365) or outlook.HORIZON
    items, balance = forecast_lib.timeline(db.session, days)
    return _csv_response(FORECAST_COLUMNS, _forecast_rows(items, balance, g.workspace.currency), "forecast")


def _forecast_rows(items, balance: int, currency: str):
    cumulative = 0
    for at, rank, _, label, amount in items:
        cumulative += amount
        yield [_iso(at), "pool" if rank == forecast_lib.POOL else "number", label,
               money.plain(amount, currency), money.plain(cumulative, currency),
               "true" if cumulative <= balance else "false"]


# ---- released numbers -------------------------------------------------------------------------

@bp.get("/released")
def released():
    f = queries.ReleasedFilter.from_args(request.args)
    rows, count = queries.released_page(f.conditions(g.workspace.time_zone), f.page)
    return render("billing/released.html", "results", filters=f, rows=rows, count=count,
                  per_page=queries.PER_PAGE, reasons=queries.RELEASE_REASONS,
                  countries=queries.released_countries())


@bp.get("/released.csv")
def released_csv():
    ws = g.workspace
    currency, conds = ws.currency, queries.ReleasedFilter.from_args(request.args).conditions(ws.time_zone)
    rows = ([r.number, r.country, r.region, r.city, r.number_type, r.description, _iso(r.added_at),
             _iso(r.released_at), r.reason, r.voice_route_name, r.sms_route_name, r.identity_name, r.order_reference,
             money.plain(r.total_charged_minor, currency), money.plain(r.total_refunded_minor, currency),
             r.old_number_id] for r in queries.released_stream(conds))
    return _csv_response(RELEASED_COLUMNS, rows, "released")

