"""The demo's numbers: each number's row, its services, history and charges; released numbers."""
import re
from datetime import timedelta

import sqlalchemy as sa

from did_app.demo.data import (
    CHUNK,
    CNAM_OUT,
    COMPANY_STEMS,
    COMPANY_TRADES,
    DAY,
    DESCRIPTIONS,
    EMERGENCY,
    EMERGENCY_COUNTRIES,
    EXPIRING_SOON_SHARE,
    HOUR,
    INTENTS,
    SMS_IN,
    SMS_OUT,
    T38,
    VOICE_IN,
    VOICE_OUT,
)
from did_app.demo.rows import _ascii, _first_anniversary_after, _insert, add_months
from did_app.models import Number, NumberService, ReleasedNumber


class _Numbers:
    """Part of _Seeder (demo/seeder.py): the inventory, generated and inserted chunk by chunk."""

    # ---- numbers --------------------------------------------------------------------------

    def _numbers(self):
        rng, s = self.rng, self.session
        base = (s.scalar(sa.select(sa.func.max(ReleasedNumber.old_number_id))) or 0) + 1
        released = max(1, self.count * 15 // 1000)
        total = self.count + released
        released_at = set(rng.sample(range(total - 1), released)) if total > 1 else set()
        self.released_rows: list[dict] = []
        thresholds, acc = [], 0.0
        for name, share in INTENTS:
            acc += share
            thresholds.append((acc, name))
        self.p_added = min(1.0, 2500 / max(1.0, self.count * 10 / 365))
        self.p_updated = min(0.2, 2500 / self.count)
        self.p_event = min(1.0, 800 / max(1.0, self.count * 0.04))
        self.p_renewed = min(1.0, 1000 / max(1.0, self.count * 0.1))
        # the ledger holds every charge of the last month up to ~100k numbers, a sample beyond
        self.p_charge_row = min(1.0, 15000 / max(1.0, self.count * 0.13))
        self.p_renewal_row = min(1.0, 10000 / max(1.0, self.count * 0.1))
        rows, services = [], []
        for pos in range(total):
            nid = base + pos
            if pos in released_at:
                self.released_rows.append(self._released(nid))
                continue
            r = rng.random()
            intent = next((name for limit, name in thresholds if r < limit), "active")
            row = self._number(nid, intent, services)
            rows.append(row)
            if len(rows) >= CHUNK:
                _insert(s, Number, rows)
                _insert(s, NumberService, services)
                rows, services = [], []
        _insert(s, Number, rows)
        _insert(s, NumberService, services)
        _insert(s, ReleasedNumber, self.released_rows)

    def description(self, tpl, created) -> str | None:
        rng = self.rng
        if rng.random() < 0.3:
            return None
        company = f"{rng.choice(COMPANY_STEMS)} {rng.choice(COMPANY_TRADES)}"
        text = rng.choice(DESCRIPTIONS).format(
            city=tpl.city or tpl.country, where=tpl.region or tpl.city or tpl.country, q=rng.randint(1, 4),
            year=created.year, company=company, n=rng.randrange(100, 99999), v=rng.choice("ABC"))
        return text

    def _number(self, nid: int, intent: str, services: list) -> dict:
        rng, now = self.rng, self.now
        if intent == "awaiting" and self.reg_tpl:
            tpl, number = self.reg_tpl.draw(rng)
        elif intent == "porting" and self.port_tpl:
            tpl, number = self.port_tpl.draw(rng)
        elif intent in ("porting", "cancelled", "expired", "awaiting"):
            tpl, number = self.plain_tpl.draw(rng)
            if intent == "awaiting":
                intent = "active"
        else:
            tpl, number = self.all_tpl.draw(rng)
        ntype, country = tpl.ntype, tpl.country

        # ---- origin, registration, dates ----
        needs = tpl.registration
        awaiting, deadline, identity_id, vr_id, pi_id = False, None, None, None, None
        start = None
        if intent == "porting":
            p = rng.choices(self.open_ports, weights=[x["share"] for x in self.open_ports])[0]
            order_id, created, pi_id = p["order_id"], p["created"], p["id"]
            needs = False
        elif intent == "awaiting":
            awaiting = True
            r = rng.random()
            state = "missing" if r < 0.4 else "pending" if r < 0.75 else "rejected"
            vr_id = self.next_vr(country, ntype, state) if state != "missing" else None
            if vr_id is None:
                order_id, created = self.order_between(now - 27 * DAY, now - 2 * HOUR)
            else:
                vr = self.vr_rows[vr_id]
                identity_id = vr["identity_id"]
                order_id, created = self.order_between(vr["submitted_at"] - 12 * DAY, vr["submitted_at"] - HOUR)
            deadline = created + timedelta(days=self.ws.registration_deadline_days or 30)
            if vr_id is not None and self.vr_rows[vr_id]["status"] == "rejected":
                deadline = max(deadline, self.vr_rows[vr_id]["decided_at"] + timedelta(days=self.ws.resubmit_grace_days or 7))
        elif needs and (vr_id := self.next_vr(country, ntype, "approved")) is not None:
            vr = self.vr_rows[vr_id]
            identity_id = vr["identity_id"]
            order_id, created = self.order_between(vr["submitted_at"] - 20 * DAY, vr["submitted_at"] - HOUR)
        elif intent in ("cancelled", "expired"):
            order_id, created = self.order_between(self.year_ago, now - 40 * DAY)
        elif intent == "active" and ntype in ("local", "mobile") and rng.random() < 0.02:
            p = self.completed_port
            order_id, created, pi_id, start = p["order_id"], p["created"], p["id"], p["completed"]
        else:
            order_id, created = self.order_between(self.year_ago, now - HOUR)
        created = created + timedelta(seconds=rng.randrange(0, 90))
        start = start or created
        anchor_day = start.day

        expires_at = expired_at = cancelled_at = None
        if intent == "porting":
            cycles = None
        else:
            r = rng.random()
            cycles = 0 if r < EXPIRING_SOON_SHARE else (rng.randint(1, 12) if r < 0.2 else None)
            if intent == "cancelled":
                cancelled_at = self.between(max(created + DAY, now - 34 * DAY), now - HOUR)
                expires_at = _first_anniversary_after(start, cancelled_at)
                cycles = None if rng.random() < 0.85 else rng.randint(1, 6)
            elif intent == "expired":
                next_due = _first_anniversary_after(start, now - 2 * HOUR)
                months = (next_due.year - start.year) * 12 + next_due.month - start.month - 1
                expires_at = add_months(start, max(1, months), anchor_day)
                expired_at = expires_at + timedelta(minutes=rng.randrange(1, 50))
                cycles = 0 if rng.random() < 0.7 else None
            else:
                expires_at = _first_anniversary_after(start, now)

        # ---- features ----
        sms_only = (ntype == "mobile" and rng.random() < 0.12) or (ntype == "local" and country in ("US", "CA")
                                                                    and rng.random() < 0.02)
        if sms_only:
            features = SMS_IN | (SMS_OUT if rng.random() < 0.8 else 0)
        else:
            features = VOICE_IN
            if ntype in ("local", "mobile", "national") and rng.random() < 0.7:
                features |= VOICE_OUT
            if ntype == "local" and rng.random() < 0.2:
                features |= T38
            p_sms = {"mobile": 0.85, "toll_free": 0.15 if country == "US" else 0.0}.get(
                ntype, 0.35 if ntype == "local" and country in ("US", "CA") else 0.05 if ntype == "local" else 0.0)
            if rng.random() < p_sms:
                features |= SMS_IN | (SMS_OUT if rng.random() < 0.8 else 0)
            if ntype == "local" and country in EMERGENCY_COUNTRIES and rng.random() < 0.2:
                features |= EMERGENCY
            if ntype == "local" and country == "US" and rng.random() < 0.3:
                features |= CNAM_OUT

        # ---- capacity mode ----
        pool_id = self.pool_countries.get(country)
        if ntype in ("toll_free", "global"):
            mode, included, allow = "fixed", 300, False
        elif ntype == "shared_cost":
            mode, included, allow = "two_included", 2, True
        else:
            r = rng.random()
            if r < 0.07:
                mode, included, allow = "metered", 0, False
            elif r < 0.42 and pool_id is not None:
                mode, included, allow = "zero_included", 0, True
            else:
                mode, included, allow = "two_included", 2, True

        # ---- configuration ----
        voice_route = sms_route = group_id = None
        dedicated, ded_pool = 0, None
        broken = intent == "not_configured" or (intent not in ("active",) and rng.random() < 0.12)
        if features & VOICE_IN:
            voice_route = self.pick_trunk() if rng.random() < 0.7 else rng.choice(self.good_groups)
            if allow and pool_id is not None:
                r = rng.random()
                if mode == "zero_included":
                    if r < 0.6:
                        group_id = rng.choice(self.groups_by_pool[pool_id])
                    else:
                        dedicated, ded_pool = rng.choice((1, 1, 2, 2, 4)), pool_id
                elif r < 0.12:
                    group_id = rng.choice(self.groups_by_pool[pool_id])
                elif r < 0.18:
                    dedicated, ded_pool = rng.choice((1, 2)), pool_id
            if broken:
                r = rng.random()
                if r < 0.55:
                    voice_route = None
                elif r < 0.72:
                    voice_route = self.empty_group
                elif mode in ("two_included", "zero_included") and ntype != "shared_cost":
                    mode, included, group_id, dedicated, ded_pool = "zero_included", 0, None, 0, None
                else:
                    voice_route = None
        if features & SMS_IN:
            if sms_only:
                if not broken:
                    sms_route = rng.choice(self.sms_open) if rng.random() < 0.65 else rng.choice(self.sms_good_groups)
                else:
                    r = rng.random()
                    sms_route = None if r < 0.5 else rng.choice(self.sms_blocked) if r < 0.75 else self.sms_dead_group
            else:
                r = rng.random()
                if r < 0.55:
                    sms_route = rng.choice(self.sms_open)
                elif r < 0.6:
                    sms_route = rng.choice(self.sms_blocked)
                elif r < 0.85:
                    sms_route = rng.choice([*self.sms_good_groups, self.sms_dead_group])
        if dedicated:
            self.dedicated_by_pool[ded_pool] = self.dedicated_by_pool.get(ded_pool, 0) + dedicated

        # ---- price, next mode, limit, description ----
        price = rng.choice(tpl.prices)
        setup = tpl.setup or (price if ntype in ("local", "mobile") and rng.random() < 0.3 else 0)
        next_mode = next_price = None
        if (ntype in ("local", "mobile", "national") and mode in ("two_included", "zero_included")
                and rng.random() < 0.03 and intent != "porting"):
            next_mode = "zero_included" if mode == "two_included" else "two_included"
            step = int(round(0.5 * 10 ** self.exponent))
            next_price = max(0, price - step) if next_mode == "zero_included" else price + step
        capacity_limit = rng.choice((2, 4, 5, 10, 20, 30, 50)) if rng.random() < 0.08 and features & VOICE_IN else None
        description = self.description(tpl, created)

        terminated = intent in ("cancelled", "expired")
        if not terminated and intent != "porting" and cycles != 0:
            self.renewal_sum += next_price if next_mode else price

        # ---- history and ledger ----
        version, updated_at = 1, None
        if created >= now - 10 * DAY and rng.random() < self.p_added:
            self.audit(created, "number.added", "number", nid, number,
                       after={"number_type": ntype, "monthly_price_minor": price, "order": self.order_refs.get(order_id)},
                       note=f"Order {self.order_refs.get(order_id)}")
        if intent != "porting" and rng.random() < self.p_updated:
            at = self.between(max(created + HOUR, now - 14 * DAY), now - timedelta(minutes=10))
            r = rng.random()
            if cycles is not None and r < 0.4:
                before, after = {"billing_cycles_count": None}, {"billing_cycles_count": cycles}
            elif r < 0.7 or not features & VOICE_IN:
                before, after = {"description": self.description(tpl, created)}, {"description": description}
            else:
                before = {"voice_route": self.voice_names[self.pick_trunk()]}
                after = {"voice_route": self.voice_names.get(voice_route)}
            self.audit(at, "number.updated", "number", nid, number, before=before, after=after)
            version, updated_at = 2, at
        if intent == "cancelled" and rng.random() < self.p_event:
            self.audit(cancelled_at, "number.cancelled", "number", nid, number, after={"cancelled_at": cancelled_at.isoformat()})
        if intent == "expired" and rng.random() < self.p_event:
            self.audit(expired_at, "number.expired", "number", nid, number, note="cycles_zero" if cycles == 0 else "balance")
        if intent != "porting" and created >= now - 30 * DAY and rng.random() < self.p_charge_row:
            self.ledger_events.append((created, "add_charge", -(price + setup), nid, number, order_id, None, None))
        if expires_at is not None and not terminated:
            previous = add_months(start, (expires_at.year - start.year) * 12 + expires_at.month - start.month - 1,
                                  anchor_day)
            if previous > start and previous >= now - 3 * DAY and price and rng.random() < self.p_renewal_row:
                self.ledger_events.append((previous, "renewal", -price, nid, number, None, None, None))
                if rng.random() < self.p_renewed / self.p_renewal_row:
                    self.audit(previous, "number.renewed", "number", nid, number,
                               before={"expires_at": previous.isoformat()}, after={"expires_at": expires_at.isoformat()},
                               note=None)

        # ---- services ----
        for kind, bit, share in (("cnam_out", CNAM_OUT, 0.35), ("emergency", EMERGENCY, 0.3)):
            if features & bit and rng.random() < share:
                service = self._service(nid, kind, created, identity_id, country)
                if service is not None:
                    services.append(service)

        return dict(
            id=nid, number=number, country=country, region=tpl.region, city=tpl.city, number_type=ntype,
            features=features, needs_registration=needs, awaiting_registration=awaiting,
            registration_deadline_at=deadline, capacity_mode=mode, channels_included=included,
            allow_additional_channels=allow, next_capacity_mode=next_mode, next_monthly_price_minor=next_price,
            dedicated_channels=dedicated, capacity_pool_id=ded_pool, capacity_group_id=group_id,
            capacity_limit=capacity_limit, voice_route_id=voice_route, sms_route_id=sms_route,
            description=description, billing_cycles_count=cycles, monthly_price_minor=price,
            setup_price_minor=setup, billing_anchor_day=anchor_day, created_at=created, created_by=None,
            expires_at=expires_at, expired_at=expired_at, cancelled_at=cancelled_at, porting=intent == "porting",
            port_in_request_id=pi_id, order_id=order_id, identity_id=identity_id, verification_request_id=vr_id,
            version=version, updated_at=updated_at, updated_by=None,
            status=self.expected_status(intent, features, voice_route, mode, included + dedicated, group_id, sms_route),
            expiring_soon=cycles == 0 and not terminated)

    def expected_status(self, intent, features, voice_route, mode, channels, group_id, sms_route) -> str:
        """The status the SQL expression will give (stored up front; recompute() has the last word)."""
        if intent == "porting":
            return "porting"
        if intent == "awaiting":
            return "awaiting_registration"
        if intent in ("cancelled", "expired"):
            return "terminated"
        if features & VOICE_IN:
            voice_ok = voice_route is not None and voice_route != self.empty_group
            capacity_ok = mode == "metered" or channels > 0 or group_id is not None
            return "active" if voice_ok and capacity_ok else "not_configured"
        if features & SMS_IN:
            return "active" if sms_route in self.sms_ok_routes else "not_configured"
        return "active"

    def _service(self, nid, kind, created, identity_id, country) -> dict | None:
        rng, now = self.rng, self.now
        if identity_id is not None:
            address_id = self.address_of.get((identity_id, country))
        else:
            options = self.addresses_by_country.get(country) or []
            if not options:
                return None
            identity_id, address_id = rng.choice(options)
        if kind == "emergency" and address_id is None:
            return None
        r = rng.random()
        status = "active" if r < 0.7 else "pending" if r < 0.9 else "rejected"
        requested = self.between(created + HOUR, min(now - HOUR, created + 10 * DAY))
        decided = None if status == "pending" else min(now - timedelta(minutes=5),
                                                        requested + timedelta(hours=rng.randrange(2, 72)))
        value = None
        if kind == "cnam_out":
            name = _ascii(self.identity_by_id[identity_id]["name"]).upper()
            value = re.sub(r"[^A-Z0-9 .,'&-]", "", name)[:15].strip() or "NORTHWIND"
        reason = None
        if status == "rejected":
            reason = ("Caller name does not match the registered business name." if kind == "cnam_out"
                      else "The service address could not be validated.")
        return dict(number_id=nid, kind=kind, status=status, value=value, identity_id=identity_id,
                    address_id=address_id if kind == "emergency" else None, requested_at=requested,
                    requested_by=None, decided_at=decided, decided_by=None, reject_reason=reason)

    def _released(self, old_id: int) -> dict:
        rng, now = self.rng, self.now
        tpl, number = self.all_tpl.draw(rng)
        r = rng.random()
        reason = ("expired" if r < 0.35 else "cancelled" if r < 0.65 else "registration_deadline" if r < 0.8
                  else "removed_unregistered" if r < 0.9 else "port_in_cancelled")
        released_at = self.between(self.year_ago + 20 * DAY, now - DAY)
        if reason in ("registration_deadline", "removed_unregistered"):
            added_at = released_at - timedelta(days=30 if reason == "registration_deadline" else rng.randint(2, 25),
                                               hours=rng.randrange(24))
        elif reason == "port_in_cancelled":
            added_at = released_at - timedelta(days=rng.randint(3, 20))
        else:
            added_at = released_at - timedelta(days=rng.randint(70, 300))
        price = rng.choice(tpl.prices)
        months = max(1, (released_at - added_at).days // 30) if reason in ("expired", "cancelled") else 1
        charged = 0 if reason == "port_in_cancelled" else price * months + tpl.setup
        refunded = charged if reason in ("registration_deadline", "removed_unregistered") else 0
        order_id, _ = self.order_between(added_at - 30 * DAY, added_at)
        if refunded:
            if added_at >= self.year_ago:
                self.ledger_events.append((added_at, "add_charge", -charged, old_id, number, order_id, None, None))
                self.ledger_events.append((released_at, "refund", refunded, old_id, number, None, None,
                                           f"Refund: {reason.replace('_', ' ')}"))
        identity = rng.choice(self.identities)["name"] if tpl.registration or reason in (
            "registration_deadline", "removed_unregistered") and rng.random() < 0.5 else None
        if len(self.released_rows) < 500:
            self.audit(released_at, "number.released", "number", old_id, number, note=reason)
        return dict(
            number=number, country=tpl.country, region=tpl.region, city=tpl.city, number_type=tpl.ntype,
            description=self.description(tpl, added_at), added_at=added_at, released_at=released_at, reason=reason,
            voice_route_name=self.voice_names[self.pick_trunk()] if rng.random() < 0.8 else None,
            sms_route_name=None, identity_name=identity, order_reference=self.order_refs.get(order_id),
            total_charged_minor=charged, total_refunded_minor=refunded, old_number_id=old_id)
