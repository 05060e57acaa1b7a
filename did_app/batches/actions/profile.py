"""Apply configuration profile (batch.md §3, configuration.md §8): each field the profile defines is
set separately: the voice route only on `voice_in` numbers, the SMS route only on `sms_in` ones,
the capacity group only where the number may join it. A number changes when at least one field
does; otherwise it is skipped with "Already matches profile" or the fields' reasons, the messages
of the single-number apply (configuration/profiles_service.py)."""
import sqlalchemy as sa

from did_app.batches.actions.base import Action, InputForm, Plan, Rule
from did_app.batches.sql import differs, typed
from did_app.db import db
from did_app.errors import DomainError
from did_app.form_fields import IdField
from did_app.models import CapacityGroup, CapacityPool, ConfigurationProfile, Number
from did_app.models.numbers import SMS_IN, VOICE_IN
from did_app.rules import capacity as capacity_rules
from did_app.rules.profiles import PROFILE_FIELDS

CHOOSE = "Choose a profile."
NO_VOICE, NO_SMS = "This number does not support inbound voice.", "This number does not support inbound SMS."


class ProfileForm(InputForm):
    profile_id = IdField("Profile", message=CHOOSE)


def _has(bit):
    return Number.features.op("&")(bit) != 0


def _refusal(column: str, value):
    """(condition the field may be set, reason when not) for one profile field."""
    if column == "voice_route_id":
        return _has(VOICE_IN), NO_VOICE
    if column == "sms_route_id":
        return _has(SMS_IN), NO_SMS
    if column == "capacity_group_id":
        group = db.session.get(CapacityGroup, value)
        refusals = capacity_rules.join_group_refusals_sql(group, db.session.get(CapacityPool, group.pool_id))
        return sa.not_(sa.or_(*(cond for cond, _ in refusals))), sa.case(
            *((cond, typed(msg, sa.String()) if isinstance(msg, str) else msg) for cond, msg in refusals),
            else_=typed("", sa.String()))
    return sa.true(), ""


class ProfileAction(Action):
    code, label = "apply_profile", "Apply configuration profile"
    form = ProfileForm
    writes = tuple(column for column, *_ in PROFILE_FIELDS)
    reads = ("features", "allow_additional_channels", "country")

    def prepare_form(self, form) -> None:
        profiles = db.session.execute(sa.select(ConfigurationProfile.id, ConfigurationProfile.name)
                                      .order_by(ConfigurationProfile.name)).all()
        form.profile_id.choices = [("", "Choose…")] + [(str(p.id), p.name) for p in profiles]

    def params_from(self, form) -> dict:
        form.read()
        if form.profile_id.data is None:
            raise DomainError(CHOOSE, "profile_id")
        return {"profile_id": form.profile_id.data}

    def clean(self, params: dict) -> dict:
        profile_id = params.get("profile_id")
        if profile_id is None or db.session.get(ConfigurationProfile, profile_id) is None:
            raise DomainError("That profile does not exist.", "profile_id")
        return {"profile_id": profile_id}

    def _profile(self, params) -> ConfigurationProfile | None:
        return db.session.get(ConfigurationProfile, params["profile_id"])

    def plan(self, params: dict) -> Plan:
        profile = self._profile(params)
        if profile is None:  # deleted since the preview: every number is an error
            return Plan(targets={}, rules=[Rule(sa.true(), "error", "That profile does not exist.")])
        targets, changes, reasons = {}, [], []
        for column, *_ in PROFILE_FIELDS:
            wanted = getattr(profile, column)
            if wanted is None:
                continue
            current, target = getattr(Number, column), typed(wanted, Number.__table__.c[column].type)
            may, reason = _refusal(column, wanted)
            targets[column] = sa.case((may, target), else_=current)
            changes.append(sa.and_(may, differs(current, target)))
            if isinstance(reason, str) and not reason:
                continue
            reason = typed(reason + " ", sa.String()) if isinstance(reason, str) else reason + " "
            reasons.append(sa.case((sa.and_(sa.not_(may), differs(current, target)), reason),
                                   else_=typed("", sa.String())))
        detail = sa.func.rtrim(_concat(reasons)) if reasons else typed("", sa.String())
        skip_reason = sa.case((detail == "", typed("Already matches profile", sa.String())), else_=detail)
        return Plan(targets=targets, rules=[Rule(sa.not_(sa.or_(*changes)), "skip", skip_reason)],
                    change_reason=sa.func.nullif(detail, ""))

    def stale_condition(self, params: dict):
        if self._profile(params) is None:
            return sa.true()
        return super().stale_condition(params)

    def note(self, params: dict) -> str | None:
        profile = self._profile(params)
        return f"Profile {profile.name} applied" if profile is not None else None

    def confirmation(self, count: int, params: dict) -> str:
        return f"Apply profile {self.inputs(params)} to {count:,} numbers?"

    def inputs(self, params: dict) -> str:
        profile = self._profile(params)
        return profile.name if profile is not None else f"#{params['profile_id']}"


def _concat(parts):
    out = parts[0]
    for part in parts[1:]:
        out = out + part
    return out


PROFILE = ProfileAction()
