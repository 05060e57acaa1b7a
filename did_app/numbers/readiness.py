"""The readiness checklist of a number (numbers.md §6): the setup flow as checks with messages."""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from did_app import filters
from did_app.db import db
from did_app.models import CapacityGroup, CapacityPoolCountry, Number, SmsRoute, VoiceRoute
from did_app.numbers import display

PASS, WAIT, FAIL, NA = "pass", "wait", "fail", "na"


@dataclass
class Check:
    key: str
    title: str
    state: str
    message: str = ""
    fixes: list[str] = field(default_factory=list)


@dataclass
class Readiness:
    checks: list[Check]
    attention: list[Check]

    def get(self, key: str) -> Check:
        return next(c for c in self.checks if c.key == key)


def _member_counts(n) -> tuple[int, int]:
    """(voice group members, unblocked SMS group members) for the number's routes."""
    voice = sms = 0
    if n.voice_route is not None and n.voice_route.kind == "group":
        voice = db.session.scalar(sa.select(sa.func.count()).where(VoiceRoute.group_id == n.voice_route_id))
    if n.sms_route is not None and n.sms_route.kind == "group":
        sms = db.session.scalar(sa.select(sa.func.count()).where(
            SmsRoute.group_id == n.sms_route_id, SmsRoute.blocked.is_(False)))
    return voice, sms


def _live_check(n, ws) -> Check:
    if n.porting:
        pi = n.port_in_request
        ref = f"{pi.reference}, {pi.status_label}" if pi else "no request"
        return Check("L1", "Number is live", WAIT,
                     f"Porting in progress ({ref}). Traffic starts when the port completes.",
                     ["Open port-in request"])
    if n.cancelled_at is not None:
        restore_by = n.cancelled_at + timedelta(days=ws.restore_window_days)
        return Check("L1", "Number is live", FAIL,
                     f"Cancelled on {filters.fmt_date(n.cancelled_at)}. Traffic is blocked. "
                     f"Restore by {filters.fmt_date(restore_by)}.", ["Restore"])
    if n.expired_at is not None:
        renew_by = n.expired_at + timedelta(days=ws.aging_pool_days)
        return Check("L1", "Number is live", FAIL,
                     f"Expired on {filters.fmt_date(n.expired_at)}. Renew by {filters.fmt_date(renew_by)} "
                     "or the number is removed.", ["Renew…"])
    return Check("L1", "Number is live", PASS)


def _registration_check(n) -> Check:
    title = "Registration"
    if not n.needs_registration or not n.awaiting_registration:
        return Check("R1", title, PASS, "" if n.needs_registration else "Not required.")
    deadline = filters.fmt_date(n.registration_deadline_at)
    vr = n.verification_request
    if vr is None:
        return Check("R1", title, FAIL, "End-user registration required. Assign end-user details by "
                     f"{deadline} or the number is removed and refunded.", ["Assign end-user details"])
    if vr.status == "pending":
        return Check("R1", title, WAIT, f"Registration in review ({vr.reference}, submitted "
                     f"{filters.fmt_date(vr.submitted_at)}).", ["Review request"])
    reasons = "; ".join(vr.reject_reasons or []) or "no reason given"
    return Check("R1", title, FAIL, f"Registration rejected ({vr.reference}): {reasons}. "
                 f"Resubmit by {deadline}.", ["Fix and resubmit"])


def _voice_checks(n, ready_for_config: bool, voice_members: int) -> list[Check]:
    if not n.has_feature("voice_in"):
        na = "Not applicable — this number does not support inbound voice."
        return [Check(k, t, NA, na) for k, t in (("V1", "Voice trunk"), ("V2", "Sufficient capacity"),
                                                 ("VR", "Inbound calling ready"))]
    route = n.voice_route
    if route is None:
        v1 = Check("V1", "Voice trunk", FAIL, "No voice trunk. Inbound calls go nowhere.",
                   ["Assign voice trunk", "Apply profile…"])
    elif route.kind == "group" and voice_members == 0:
        v1 = Check("V1", "Voice trunk", FAIL, f"Trunk group {route.name} has no trunks.", ["Edit trunk group"])
    else:
        v1 = Check("V1", "Voice trunk", PASS, f"Routed to {route.name}.")
    total, breakdown = display.effective_capacity(n)
    if total is None or total > 0:
        v2 = Check("V2", "Sufficient capacity", PASS, breakdown if total is None else f"{total} channels.")
    else:
        msg = "No inbound capacity: 0 channels included, no dedicated channels, no capacity group."
        if not n.allow_additional_channels:
            msg += " This number cannot take additional channels."
        if n.next_capacity_mode == "two_included" and n.expires_at:
            msg += f" 2 included starts at the renewal on {filters.fmt_date(n.expires_at)}."
        v2 = Check("V2", "Sufficient capacity", FAIL, msg, _capacity_fixes(n))
    first_failing = _first_failing(ready_for_config, v1, v2)
    vr = Check("VR", "Inbound calling ready", PASS if first_failing is None else FAIL,
               "" if first_failing is None else f"Not ready: {first_failing}.")
    return [v1, v2, vr]


def _capacity_fixes(n) -> list[str]:
    fixes = []
    if n.allow_additional_channels:
        fixes += ["Add to capacity group…", "Assign dedicated channels…"]
    if n.mode_can_switch and n.next_capacity_mode != "two_included":
        fixes.append("Switch to 2 included")
    if n.next_capacity_mode == "two_included":
        fixes.append("Renew now")
    return fixes[:2]


def _first_failing(ready_for_config: bool, *checks: Check) -> str | None:
    if not ready_for_config:
        return "Ready for configuration"
    for check in checks:
        if check.state != PASS:
            return check.title
    return None


def _sms_checks(n, ready_for_config: bool, sms_members: int) -> list[Check]:
    if not n.has_feature("sms_in"):
        na = "Not applicable — this number does not support inbound SMS."
        return [Check(k, t, NA, na) for k, t in (("S1", "SMS trunk"), ("SR", "Inbound SMS ready"))]
    route = n.sms_route
    if route is None:
        s1 = Check("S1", "SMS trunk", FAIL, "No SMS trunk. Inbound SMS is off.", ["Assign SMS trunk"])
    elif route.kind == "trunk" and route.blocked:
        s1 = Check("S1", "SMS trunk", FAIL, f"SMS trunk {route.name} is blocked.", ["Open trunk"])
    elif route.kind == "group" and sms_members == 0:
        s1 = Check("S1", "SMS trunk", FAIL, f"SMS trunk group {route.name} has no active trunks.",
                   ["Open trunk"])
    else:
        s1 = Check("S1", "SMS trunk", PASS, f"Routed to {route.name}.")
    first_failing = _first_failing(ready_for_config, s1)
    sr = Check("SR", "Inbound SMS ready", PASS if first_failing is None else FAIL,
               "" if first_failing is None else f"Not ready: {first_failing}.")
    return [s1, sr]


def _attention(n, ws, now: datetime) -> list[Check]:
    items = []
    for s in n.services:
        if s.status == "pending":
            items.append(Check("A1", "Service approval", WAIT,
                               f"{'CNAM OUT' if s.kind == 'cnam_out' else 'Emergency'} pending approval "
                               f"(requested {filters.fmt_date(s.requested_at)}).", ["Review"]))
        elif s.status == "rejected":
            label = "CNAM OUT" if s.kind == "cnam_out" else "Emergency"
            items.append(Check("A1", "Service approval", FAIL, f"{label} rejected: {s.reject_reason or '—'}.",
                               ["Edit and resubmit"]))
    if n.billing_cycles_count == 0 and not n.terminated and n.expires_at:
        left = display.time_left(n, ws, now).text.split(" · ")[0]
        items.append(Check("A2", "Renewal", FAIL, "Won't renew: billing cycles are 0. Expires on "
                           f"{filters.fmt_date(n.expires_at)} ({left}).", ["Turn on auto-renew", "Renew…"]))
    if display.renewal_at_risk(n, ws):
        items.append(Check("A3", "Balance", FAIL, f"Balance {filters.fmt_money(ws.balance_minor)} won't cover "
                           f"this renewal on {filters.fmt_date(n.expires_at)}.", ["Open forecast"]))
    return items


def readiness(n, ws, now: datetime) -> Readiness:
    """Every check of numbers.md §6 for one loaded number (routes, group, requests loaded)."""
    voice_members, sms_members = _member_counts(n)
    l1, r1 = _live_check(n, ws), _registration_check(n)
    ready = l1.state == PASS and r1.state == PASS
    d = Check("D", "Ready for configuration", PASS if ready else FAIL,
              "" if ready else "Finish the steps above first.")
    checks = [l1, r1, d, *_voice_checks(n, ready, voice_members), *_sms_checks(n, ready, sms_members)]
    return Readiness(checks=checks, attention=_attention(n, ws, now))


# ---------------------------------------------------------------- what the one-click fixes offer

@dataclass
class FixSelect:
    """One fix's select: (value, label) options and the value to preselect ("" = "Choose…")."""
    options: list[tuple[int, str]]
    selected: int | str = ""


# the columns whose most common value among a country's numbers a fix preselects
_HABIT_COLUMNS = ("voice_route_id", "sms_route_id", "capacity_group_id", "capacity_pool_id")


def _country_habits(n) -> dict[str, int]:
    """For each column, the value more than half of the country's other numbers that have one use.

    One grouped query over the combinations in use (a handful per country), summed per column here.
    """
    cols = [getattr(Number, c) for c in _HABIT_COLUMNS]
    rows = db.session.execute(sa.select(*cols, sa.func.count()).where(
        Number.country == n.country, Number.id != n.id).group_by(*cols)).all()
    habits = {}
    for i, name in enumerate(_HABIT_COLUMNS):
        counts: dict[int, int] = {}
        for row in rows:
            if row[i] is not None:
                counts[row[i]] = counts.get(row[i], 0) + row[-1]
        if counts:
            value, used = max(counts.items(), key=lambda kv: kv[1])
            if used * 2 > sum(counts.values()):
                habits[name] = value
    return habits


def _route_options(model, member_ok) -> list[tuple[int, str]]:
    """Trunks, then groups with at least one member that can carry traffic; by name."""
    member = aliased(model)
    usable_member = sa.exists().where(member.group_id == model.id, member_ok(member))
    rows = db.session.execute(sa.select(model.id, model.name, model.kind).where(sa.or_(
        sa.and_(model.kind == "trunk", member_ok(model)), sa.and_(model.kind == "group", usable_member)))
        .order_by(sa.case((model.kind == "trunk", 0), else_=1), model.name)).all()
    return [(r.id, r.name if r.kind == "trunk" else f"{r.name} (group)") for r in rows]


def _group_options(n) -> list[tuple[int, str]]:
    """Capacity groups the number may join (configuration.md §5.2) that add at least one channel."""
    rows = db.session.execute(sa.select(CapacityGroup.id, CapacityGroup.name).join(
        CapacityPoolCountry, CapacityPoolCountry.pool_id == CapacityGroup.pool_id).where(
        CapacityPoolCountry.country == n.country,
        CapacityGroup.shared_channels + CapacityGroup.metered_channels > 0).order_by(CapacityGroup.name)).all()
    return [(r.id, r.name) for r in rows]


def _preselect(n, options, habit) -> FixSelect:
    """Preselect the country's habit when it is on offer, labelled so; else nothing."""
    if habit is None or habit not in {value for value, _ in options}:
        return FixSelect(options)
    suffix = f" (used by most {n.country} numbers)"
    return FixSelect([(v, label + suffix if v == habit else label) for v, label in options], habit)


def fix_selects(n, checklist: Readiness, free_pools) -> dict[str, FixSelect]:
    """The selects of the failing checks' fixes, offering only choices that resolve the check.

    `free_pools` are (pool, unassigned) pairs of pools covering the country with free channels.
    """
    failing = {c.key for c in checklist.checks if c.state == FAIL}
    wanted = {"voice": "V1" in failing and n.voice_route is None,
              "sms": "S1" in failing and n.sms_route is None,
              "group": "V2" in failing and n.allow_additional_channels}
    if not any(wanted.values()):
        return {}
    habits = _country_habits(n)
    selects = {}
    if wanted["voice"]:  # voice trunks have no blocked flag: a trunk serves, a group needs a member
        selects["voice"] = _preselect(n, _route_options(VoiceRoute, lambda m: sa.true()),
                                      habits.get("voice_route_id"))
    if wanted["sms"]:
        selects["sms"] = _preselect(n, _route_options(SmsRoute, lambda m: m.blocked.is_(False)),
                                    habits.get("sms_route_id"))
    if wanted["group"]:
        selects["group"] = _preselect(n, _group_options(n), habits.get("capacity_group_id"))
        selects["pool"] = _preselect(n, [(p.id, f"{p.name} ({free} free)") for p, free in free_pools],
                                     habits.get("capacity_pool_id"))
    return selects
