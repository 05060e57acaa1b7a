"""Readiness blockers (numbers.md §6; the `blocker` filter key of interfaces.md): where a number's
readiness checklist stops.

- `registration`: the number is live (L1 passes) and its registration does not pass (R1);
- `voice_route`: ready for configuration (D), supports inbound voice, and has no usable voice
  trunk (V1);
- `capacity`: the same with a usable voice trunk (V1 passes) but no inbound capacity (V2);
- `sms_route`: ready for configuration, supports inbound SMS, and has no usable SMS route (S1).

A number can stop on both paths (voice and SMS) at once. Each condition is built from the rules
layer's predicates (rules/status.py), the ones that decide the stored status, and reads the stored
status first: "ready for configuration" is exactly the status `active` or `not_configured`, and an
inbound-voice number that is `not_configured` lacks a voice trunk or capacity. Tests hold the
conditions in agreement with the details page's checklist (numbers/readiness.py) for every state.
"""
import sqlalchemy as sa
from sqlalchemy.orm import aliased

from did_app.db import db
from did_app.models import Number, SmsRoute, VoiceRoute
from did_app.models.numbers import FEATURES, SMS_IN, VOICE_IN
from did_app.rules import status as rules

BLOCKERS = {
    "registration": "Registration",
    "voice_route": "Voice route",
    "capacity": "Capacity",
    "sms_route": "SMS route",
}
# the statuses whose checklist passes L1 and R1 ("ready for configuration")
_READY_FOR_CONFIGURATION = ("active", "not_configured")


def _has(bit):
    return Number.features.op("&")(bit) != 0


def _awaiting_while_live():
    # awaiting comes before terminated in status precedence, so the flags are checked too
    return sa.and_(Number.status == "awaiting_registration", Number.needs_registration.is_(True),
                   Number.expired_at.is_(None), Number.cancelled_at.is_(None))


def _voice_unready():
    # not configured with inbound voice: no usable voice trunk or no capacity (status_expr)
    return sa.and_(Number.status == "not_configured", _has(VOICE_IN))


def condition(key: str):
    """The SQL condition of one blocker."""
    if key == "registration":
        return _awaiting_while_live()
    if key == "voice_route":
        return sa.and_(_voice_unready(), sa.not_(rules.voice_ok_expr()))
    if key == "capacity":
        return sa.and_(_voice_unready(), rules.voice_ok_expr(), sa.not_(rules.capacity_ok_expr()))
    if key == "sms_route":
        return sa.and_(Number.status.in_(_READY_FOR_CONFIGURATION), _has(SMS_IN), sa.not_(rules.sms_ok_expr()))
    raise KeyError(key)


def _count(*where):
    return sa.select(sa.func.count()).select_from(Number).where(*where).scalar_subquery()


# ---- counts: the same conditions, written as index seeks ------------------------------------------
# rules.status's voice_ok_expr/sms_ok_expr are correlated (per number they look its route up) and a
# bit test on `features` can only be checked entry by entry: over the 85,000 ready numbers of 100k
# the SMS count read every one of them (~5 ms). Here every part is a list of exact index keys:
# - "has the bit" is the list of feature sets that have it (64 values of 7 bits): the covering
#   indexes (status, features, voice_route_id, …) and (status, sms_route_id, features) seek each one;
# - "no usable route" is "no route, or one of the unusable routes" (a few rows): a route id always
#   names a route (foreign keys are enforced, a route in use can't be deleted), so being in the
#   unusable ones is the same as not being in the usable ones;
# - a feature set beyond the known bits (never written: features_mask) is still counted, by a range
#   guard that costs one seek.
# Tests hold counts() equal to the counts of the filter's conditions for every state.

_KNOWN = 2 ** len(FEATURES)  # every feature set features_mask writes is below this


def _features_with(bit):
    # constants in the SQL text, not 64 bound parameters to expand on every run
    return Number.features.in_([sa.literal_column(str(value)) for value in range(1, _KNOWN) if value & bit])


def _beyond_known(bit):
    return sa.and_(Number.features >= _KNOWN, _has(bit))


def _usable_voice_route():
    member = aliased(VoiceRoute)
    return sa.or_(VoiceRoute.kind == "trunk", sa.exists().where(member.group_id == VoiceRoute.id))


def _usable_sms_route():
    member = aliased(SmsRoute)
    return sa.or_(sa.and_(SmsRoute.kind == "trunk", SmsRoute.blocked.is_(False)),
                  sa.and_(SmsRoute.kind == "group", sa.exists().where(member.group_id == SmsRoute.id,
                                                                      member.blocked.is_(False))))


def _no_usable(column, route_id, usable):
    """Parts (each an index seek) of "the number has no route, or an unusable one"."""
    return (column.is_(None), column.in_(sa.select(route_id).where(sa.not_(usable))))


def _parts(where, bit, column, route_id, usable) -> list:
    """Counts adding up to: `where`, the feature `bit`, and no usable route on `column`."""
    parts = [_count(where, _features_with(bit), part) for part in _no_usable(column, route_id, usable)]
    # the guard: a number beyond the known bits, with the route condition as the filter writes it
    return parts + [_count(where, _beyond_known(bit), sa.or_(*_no_usable(column, route_id, usable)))]


def _sum(parts):
    return sum(parts[1:], parts[0])


_STATEMENT = {}


def _counts_statement():
    """Built once: building the selects costs about as much as running them."""
    if "stmt" not in _STATEMENT:
        not_configured = Number.status == "not_configured"
        voice_unready = [_count(not_configured, _features_with(VOICE_IN)),
                         _count(not_configured, _beyond_known(VOICE_IN))]
        _STATEMENT["stmt"] = sa.select(
            _count(condition("registration")).label("registration"),
            _sum(_parts(not_configured, VOICE_IN, Number.voice_route_id, VoiceRoute.id, _usable_voice_route()))
            .label("voice_route"),
            # the rest of the not-configured voice numbers: their trunk is usable, capacity is not
            _sum(voice_unready).label("voice_unready"),
            _sum(_parts(Number.status.in_(_READY_FOR_CONFIGURATION), SMS_IN, Number.sms_route_id, SmsRoute.id,
                        _usable_sms_route())).label("sms_route"))
    return _STATEMENT["stmt"]


def counts() -> dict[str, int]:
    """How many numbers stop at each blocker, in one query of index seeks."""
    row = db.session.execute(_counts_statement()).one()._mapping
    return {"registration": row["registration"], "voice_route": row["voice_route"],
            "capacity": row["voice_unready"] - row["voice_route"], "sms_route": row["sms_route"]}
