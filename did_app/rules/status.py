"""Status and the expiring-soon flag: defined once as SQL, stored in indexed columns.

numbers.md §4: `status` and `expiring_soon` are stored copies of these expressions. Services
recompute them set-based in the same transaction as any change that can move them.
"""
import sqlalchemy as sa
from sqlalchemy.orm import aliased

from did_app.db import db
from did_app.models import CapacityGroup, Number, SmsRoute, VoiceRoute
from did_app.models.numbers import SMS_IN, VOICE_IN
from did_app.rules import attention

_member = aliased(VoiceRoute)
_sms_member = aliased(SmsRoute)


def voice_ok_expr():
    has_member = sa.exists().where(_member.group_id == VoiceRoute.id)
    return sa.exists().where(VoiceRoute.id == Number.voice_route_id,
                             sa.or_(VoiceRoute.kind == "trunk", has_member))


def capacity_ok_expr():
    group_channels = (sa.select(CapacityGroup.shared_channels + CapacityGroup.metered_channels)
                      .where(CapacityGroup.id == Number.capacity_group_id).scalar_subquery())
    return sa.or_(Number.capacity_mode == "metered",
                  Number.channels_included + Number.dedicated_channels
                  + sa.func.coalesce(group_channels, 0) > 0)


def sms_ok_expr():
    active_member = sa.exists().where(_sms_member.group_id == SmsRoute.id,
                                      _sms_member.blocked.is_(False))
    return sa.exists().where(SmsRoute.id == Number.sms_route_id, sa.or_(
        sa.and_(SmsRoute.kind == "trunk", SmsRoute.blocked.is_(False)),
        sa.and_(SmsRoute.kind == "group", active_member)))


def _has(bit):
    return Number.features.op("&")(bit) != 0


def status_expr():
    """The status of numbers.md §4.2, first match wins."""
    return sa.case(
        (Number.porting.is_(True), "porting"),
        (Number.awaiting_registration.is_(True), "awaiting_registration"),
        (sa.or_(Number.cancelled_at.is_not(None), Number.expired_at.is_not(None)), "terminated"),
        (sa.and_(_has(VOICE_IN), sa.not_(sa.and_(voice_ok_expr(), capacity_ok_expr()))), "not_configured"),
        (sa.and_(sa.not_(_has(VOICE_IN)), _has(SMS_IN), sa.not_(sms_ok_expr())), "not_configured"),
        else_="active")


def expiring_soon_expr():
    return sa.and_(Number.billing_cycles_count == 0, Number.cancelled_at.is_(None),
                   Number.expired_at.is_(None))


_ONE = {}


def recompute_one(number_id: int) -> None:
    """recompute() for one number, with a statement built once: an inline edit runs it each time."""
    if "stmt" not in _ONE:
        _ONE["stmt"] = (sa.update(Number).where(Number.id == sa.bindparam("one_id")).values(_stored_values())
                        .execution_options(synchronize_session=False))
    db.session.execute(_ONE["stmt"], {"one_id": number_id})


def _stored_values() -> dict:
    return dict(status=status_expr(), expiring_soon=sa.case((expiring_soon_expr(), True), else_=False),
                attention_static=sa.case((attention.static_expr(status_expr()), True), else_=False))


def recompute(*where) -> int:
    """Set stored status, expiring_soon and attention_static from their expressions for `where`.

    Runs inside the caller's transaction. It is not an edit: no version bump, no history.
    """
    values = _stored_values()
    # only rows whose stored values differ are written: an unchanged row would still rewrite its
    # entries in every status index (renewals recompute 500 rows a chunk and change few)
    changed = sa.or_(*(column != expr for column, expr in (
        (Number.status, values["status"]), (Number.expiring_soon, values["expiring_soon"]),
        (Number.attention_static, values["attention_static"]))))
    stmt = (sa.update(Number).where(*where, changed).values(values)
            .execution_options(synchronize_session=False))
    return db.session.execute(stmt).rowcount


# ---- the same rules in Python, for one loaded number (tests prove they agree with the SQL) ----

def python_voice_ok(number, route, member_count: int) -> bool:
    return route is not None and (route.kind == "trunk" or member_count > 0)


def python_status(number, *, voice_ok: bool, capacity_ok: bool, sms_ok: bool) -> str:
    if number.porting:
        return "porting"
    if number.awaiting_registration:
        return "awaiting_registration"
    if number.cancelled_at is not None or number.expired_at is not None:
        return "terminated"
    if number.features & VOICE_IN:
        return "active" if voice_ok and capacity_ok else "not_configured"
    if number.features & SMS_IN:
        return "active" if sms_ok else "not_configured"
    return "active"


def python_expiring_soon(number) -> bool:
    return (number.billing_cycles_count == 0 and number.cancelled_at is None
            and number.expired_at is None)
