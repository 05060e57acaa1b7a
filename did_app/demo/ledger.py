"""The demo's finishing pass: order counts and request references, pool sizes, the ledger."""
from datetime import datetime, timedelta

import sqlalchemy as sa

from did_app.demo.data import CHUNK, DAY, HOUR
from did_app.demo.rows import _insert, _set_by_id, add_months
from did_app.lifecycle import forecast
from did_app.models import CapacityPool, LedgerEntry, Number, Order, VerificationRequest

EARLIER_REJECTION = "Missing mandatory information"  # why a resubmitted request was first turned down


class _Finishing:
    """Part of _Seeder (demo/seeder.py): what can only be written once every number is in."""

    # ---- finishing ------------------------------------------------------------------------

    def _finish_orders_and_requests(self):
        s = self.session
        counted = (sa.select(sa.func.count(Number.id)).where(Number.order_id == Order.id)
                   .correlate(Order).scalar_subquery())
        s.execute(sa.update(Order).values(number_count=counted).execution_options(synchronize_session=False))
        # requests no number ended up on are dropped; the rest get their VR- references in order
        used = set(s.scalars(sa.select(Number.verification_request_id).distinct()
                             .where(Number.verification_request_id.is_not(None))))
        unused = [i for i in self.vr_rows if i not in used]
        for chunk in (unused[i:i + 900] for i in range(0, len(unused), 900)):
            s.execute(sa.delete(VerificationRequest).where(VerificationRequest.id.in_(chunk)))
        kept = sorted(used)
        self.kept_vr_ids = kept  # the demo's proofs are linked to these
        first = (s.scalar(sa.select(sa.func.count()).select_from(VerificationRequest)
                          .where(VerificationRequest.reference.is_not(None))) or 0) + 1
        _set_by_id(s, VerificationRequest, "reference", {vid: f"VR-{first + k:06d}" for k, vid in enumerate(kept)})
        for k, vid in enumerate(kept):
            vr = self.vr_rows[vid]
            label = f"VR-{first + k:06d}"
            if vr["submission_count"] > 1:  # the earlier round stays in the request's history (§5 Resubmit)
                earlier = vr["submitted_at"] - DAY
                self.audit(earlier, "verification.submitted", "verification_request", vid, label)
                self.audit(earlier + 4 * HOUR, "verification.rejected", "verification_request", vid, label,
                           note=EARLIER_REJECTION)
                self.audit(vr["submitted_at"], "verification.resubmitted", "verification_request", vid, label)
            else:
                self.audit(vr["submitted_at"], "verification.submitted", "verification_request", vid, label)
            if vr["status"] != "pending":
                self.audit(vr["decided_at"], f"verification.{vr['status']}", "verification_request", vid, label,
                           note=", ".join(vr["reject_reasons"]) or None)

    def _finish_pools(self):
        rng = self.rng
        self.pool_totals = {}
        for pid in self.pool_ids:
            assigned = self.dedicated_by_pool.get(pid, 0) + self.shared_by_pool.get(pid, 0)
            total = int(assigned * 1.15) + rng.randint(10, 40)
            self.pool_totals[pid] = total
        _set_by_id(self.session, CapacityPool, "total_channels", self.pool_totals)

    def _ledger(self):
        """Charges from the numbers, pool renewals and refunds, paid by fortnightly top-ups."""
        rng, now, s = self.rng, self.now, self.session
        scale = 10 ** self.exponent
        events = self.ledger_events
        pool_monthly = 0
        for pid, row in zip(self.pool_ids, self.pool_rows):
            monthly = self.pool_totals[pid] * row["monthly_price_minor"]
            pool_monthly += monthly
            renew = datetime.combine(row["renew_date"], datetime.min.time(), tzinfo=now.tzinfo)
            for m in range(1, 13):
                at = add_months(renew, -m, renew.day)
                if at < now:
                    events.append((at, "pool_charge", -monthly, None, None, None, pid, "Monthly pool renewal"))
        start = self.year_ago
        period = timedelta(days=14)
        n_periods = int((now - start) / period) + 1
        spend = [0] * n_periods
        for e in events:
            k = min(n_periods - 1, max(0, int((e[0] - start) / period)))
            spend[k] += -e[2] if e[2] < 0 else 0
        step = 100 * scale
        for k, amount in enumerate(spend):
            if amount <= 0:
                continue
            top = -(-int(amount * 1.15) // step) * step
            events.append((start + k * period - timedelta(minutes=5), "top_up", top, None, None, None, None,
                           rng.choice(("Bank transfer", "Card payment", "Wire transfer, invoice paid", None))))
        events.sort(key=lambda e: (e[0], 0 if e[2] > 0 else 1))
        net = lowest = 0
        for e in events:
            net += e[2]
            lowest = min(lowest, net)
        # the balance ends well above the next month of renewals, so no renewal is at risk
        target = int(1.5 * self.renewal_sum + 2 * pool_monthly) + 500 * scale
        opening = max(-(-(target - net) // step) * step, -(-(-lowest) // step) * step, 0)
        if opening:
            events.insert(0, (min(start, events[0][0] if events else start) - DAY, "adjustment", opening, None,
                              None, None, None, "Opening balance carried over from the previous provider account"))
        balance = 0
        rows = []
        for at, kind, amount, nid, number, order_id, pool_id, note in events:
            balance += amount
            rows.append(dict(at=at, kind=kind, amount_minor=amount, balance_after_minor=balance, number_id=nid,
                             number=number, pool_id=pool_id, order_id=order_id, batch_id=None, actor_id=None,
                             actor_label="cli" if kind in ("top_up", "adjustment") else None, note=note,
                             detail=None, idempotency_key=None))
            if kind in ("top_up", "adjustment"):
                self.audit(at, f"balance.{kind}", "workspace", self.ws.id, self.ws.name,
                           after={"amount_minor": amount, "balance_after_minor": balance}, note=note)
            if len(rows) >= CHUNK:
                _insert(s, LedgerEntry, rows)
                rows = []
        _insert(s, LedgerEntry, rows)
        events.clear()
        self.ws.balance_minor = balance
        s.flush()
        forecast.recompute_cutoff(s)  # the demo balance covers the horizon; computed, not assumed
