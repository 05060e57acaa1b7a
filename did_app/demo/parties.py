"""The demo's identities and addresses, port-in requests, verification requests and orders."""
import bisect
from datetime import datetime, timedelta

import sqlalchemy as sa

from did_app.demo.data import (
    CAPITAL,
    CARRIERS,
    COMPANY_STEMS,
    COMPANY_SUFFIX,
    COMPANY_TRADES,
    COUNTRIES,
    DAY,
    FIRST,
    HOUR,
    HOUSE_FIRST,
    LAST,
    LOCALE,
    POOLS,
    POSTAL,
    STREETS,
)
from did_app.demo.rows import _insert_returning, _set_by_id, _slug
from did_app.models import Address, Identity, Order, PortInRequest, RejectReason, VerificationRequest


class _Parties:
    """Part of _Seeder (demo/seeder.py): who the numbers belong to and the requests they came in by."""

    # ---- identities and addresses ---------------------------------------------------------

    def _identities(self):
        rng, s = self.rng, self.session
        countries = [c for c in COUNTRIES if c != "001"]
        weights = [self.country_weight[c] for c in countries]
        reg_countries = sorted({t.country for t in self.templates if t.registration})
        chosen = [c for c in reg_countries for _ in range(8)] + ["US"] * 20 + ["GB"] * 10
        chosen += rng.choices(countries, weights=weights, k=500 - len(chosen))
        rows, plans = [], []
        for i, country in enumerate(chosen):
            loc = LOCALE.get(country, "en")
            first, last = rng.choice(FIRST[loc]), rng.choice(LAST[loc])
            business = rng.random() < 0.45 or (country == "BR")
            company = None
            if business:
                company = f"{rng.choice(COMPANY_STEMS)} {rng.choice(COMPANY_TRADES)} {COMPANY_SUFFIX.get(country, 'Ltd')}"
            created = self.between(self.year_ago - 90 * DAY, self.year_ago + 20 * DAY)  # before any request
            domain = _slug(company.rsplit(" ", 1)[0]) + ".example.com" if company else "mail.example.net"
            rows.append(dict(
                identity_type="business" if business else "personal", first_name=first, last_name=last,
                phone_number=self.phone_for(country), country=country, company_name=company,
                company_reg_number=self.digits("HRB ######") if business and country in ("DE", "AT") else
                (self.digits("########") if business else None),
                vat_id=f"{country}{self.digits('#########')}" if business and country in POOLS[0][1] else None,
                birth_date=None if business else (self.now - timedelta(days=rng.randrange(22 * 365, 70 * 365))).date(),
                birth_country=None if business else country,
                id_number=None if business else self.digits("@@#######"),
                personal_tax_id=None if business else self.digits("###########"),
                contact_email=f"{_slug(first)}.{_slug(last)}@{domain}".replace("-", ""),
                description=rng.choice((None, None, "Key account", "Reseller", "Imported from CRM")),
                external_reference=f"CRM-{10000 + i}" if rng.random() < 0.3 else None,
                created_at=created, updated_at=None, version=1))
            plans.append((country, created))
        ids = _insert_returning(s, Identity, rows)
        self.identities = [dict(id=i, type=r["identity_type"], country=r["country"], created=r["created_at"],
                                name=r["company_name"] or f"{r['first_name']} {r['last_name']}")
                           for i, r in zip(ids, rows)]
        addr_rows = []
        for ident, (country, created) in zip(self.identities, plans):
            for n in range(2 if rng.random() < 0.3 else 1):
                region, city = (rng.choice(self.cities[country]) if self.cities.get(country)
                                else (None, CAPITAL.get(country) or country))
                loc = LOCALE.get(country, "en")
                street = rng.choice(STREETS[loc])
                house = rng.randrange(1, 240)
                addr_rows.append(dict(
                    identity_id=ident["id"], street=f"{house} {street}" if loc in HOUSE_FIRST else f"{street} {house}",
                    city=city, postal_code=self.digits(POSTAL.get(country, "#####")), region=region,
                    country=country, description="Head office" if n == 0 and ident["type"] == "business" else None,
                    created_at=created, updated_at=None, version=1))
        addr_ids = _insert_returning(s, Address, addr_rows)
        self.address_rows = dict(zip(addr_ids, addr_rows))  # what the demo's proofs of address print
        self.addresses_by_country: dict[str, list] = {}
        self.address_of: dict[tuple, int] = {}
        for aid, a in zip(addr_ids, addr_rows):
            self.addresses_by_country.setdefault(a["country"], []).append((a["identity_id"], aid))
            self.address_of.setdefault((a["identity_id"], a["country"]), aid)
        self.identity_by_id = {i["id"]: i for i in self.identities}
        for ident, row in zip(self.identities, rows):
            self.audit(row["created_at"], "identity.created", "identity", ident["id"], ident["name"])

    # ---- port-in requests, verification requests, orders ----------------------------------

    def _port_ins(self):
        rng, s = self.rng, self.session
        now = self.now
        specs = (  # status, created days ago, share of the porting numbers
            ("completed", 75, 0.0), ("in_progress", 12, 0.5), ("changes_required", 9, 0.2), ("pending", 4, 0.3))
        rows = []
        for status, days, _ in specs:
            created = now - timedelta(days=days, hours=rng.randrange(1, 20))
            rows.append(dict(
                reference=None, status=status,
                status_comment=("Losing carrier reports a name mismatch on the account; upload the latest invoice."
                                if status == "changes_required" else None),
                losing_carrier=rng.choice(CARRIERS), account_number=self.digits("ACC-#######"),
                requested_date=(created + timedelta(days=21)).date(), identity_id=None,
                notes=rng.choice(("Keep the existing routing until the port date.", None)),
                # what the port-in form stores, so numbers can be added to the request later
                common_fields={"monthly_price_minor": 120, "setup_price_minor": 0, "features": ["voice_in"],
                               "allow_additional_channels": True},
                created_at=created, updated_at=created + 2 * DAY if status != "pending" else None, version=1))
        ids = _insert_returning(s, PortInRequest, rows)
        _set_by_id(s, PortInRequest, "reference", {i: f"PI-{i:06d}" for i in ids})
        self.port_ins = [dict(id=i, status=r["status"], created=r["created_at"], share=sp[2])
                         for i, r, sp in zip(ids, rows, specs)]
        self.completed_port = self.port_ins[0]
        self.completed_port["completed"] = self.completed_port["created"] + 16 * DAY
        self.open_ports = self.port_ins[1:]

    def _verification_requests(self):
        rng, s = self.rng, self.session
        now = self.now
        reasons = [r.text for r in s.scalars(sa.select(RejectReason).order_by(RejectReason.position))]
        combos: dict[tuple, float] = {}
        for t in self.templates:
            if t.registration:
                combos[(t.country, t.ntype)] = combos.get((t.country, t.ntype), 0.0) + t.weight
        all_weight = sum(t.weight for t in self.templates)
        reg_weight = sum(combos.values()) or 1.0
        self.vr_pools: dict[tuple, list] = {}
        self.vr_counter: dict[tuple, int] = {}
        rows = []
        for (country, ntype), w in sorted(combos.items()):
            approved_n = self.count * 0.85 * w / all_weight
            awaiting_n = self.count * 0.05 * w / reg_weight
            plan = (("approved", max(1, int(approved_n / 12))), ("pending", max(1, int(awaiting_n * 0.35 / 6))),
                    ("rejected", max(1, int(awaiting_n * 0.25 / 5))))
            candidates = [(i, a) for i, a in self.addresses_by_country.get(country, [])
                          if not (country == "BR" and self.identity_by_id[i]["type"] != "business")]
            for status, n in plan:
                for _ in range(n):
                    identity_id, address_id = rng.choice(candidates)
                    if status == "approved":
                        submitted = self.between(self.year_ago + 25 * DAY, now - 3 * DAY)
                        decided = min(submitted + timedelta(hours=rng.randrange(4, 96)), now - HOUR)
                    elif status == "pending":
                        submitted, decided = self.between(now - 14 * DAY, now - 2 * HOUR), None
                    else:
                        submitted = self.between(now - 12 * DAY, now - 2 * DAY)
                        decided = submitted + timedelta(hours=rng.randrange(2, 24))
                    chosen = rng.sample(reasons, rng.choice((1, 1, 2))) if status == "rejected" else []
                    rows.append(dict(
                        reference=None, identity_id=identity_id, address_id=address_id, country=country,
                        number_type=ntype, status=status, reject_reasons=chosen,
                        reject_comment=("The utility bill is older than three months."
                                        if any(c.startswith("Other") for c in chosen) else None),
                        service_description=("Customer service lines for our retail stores."
                                             if country == "ZA" else None),
                        submitted_at=submitted, submitted_by=None, decided_at=decided, decided_by=None,
                        submission_count=2 if status != "approved" and rng.random() < 0.3 else 1, version=1))
        rows.sort(key=lambda r: r["submitted_at"])
        ids = _insert_returning(s, VerificationRequest, rows)
        self.vr_rows = dict(zip(ids, rows))
        for vid, r in zip(ids, rows):
            self.vr_pools.setdefault((r["country"], r["number_type"], r["status"]), []).append(vid)

    def next_vr(self, country, ntype, status):
        """Round robin over the requests of one (country, type, status), so each gets numbers."""
        key = (country, ntype, status)
        pool = self.vr_pools.get(key)
        if not pool:
            return None
        n = self.vr_counter.get(key, 0)
        self.vr_counter[key] = n + 1
        return pool[n % len(pool)]

    def _orders(self):
        rng, s = self.rng, self.session
        now = self.now
        n = max(12, self.count // 40)
        times = [now - timedelta(seconds=int(365 * 86400 * rng.random() ** 1.2)) for _ in range(n)]
        times += [now - timedelta(days=d, hours=rng.randrange(1, 20)) for d in range(0, 30, 2)]
        times = sorted(t for t in times if t < now - HOUR)
        rows = [dict(reference=None, kind="import" if rng.random() < 0.25 else "add", status="completed",
                     external_reference=(f"PO-{rng.randrange(10000, 99999)}" if rng.random() < 0.3 else None),
                     created_at=t, created_by=None, number_count=0, port_in_request_id=None) for t in times]
        for p in self.port_ins:
            rows.append(dict(reference=None, kind="port_in",
                             status="completed" if p["status"] == "completed" else "pending",
                             external_reference=None, created_at=p["created"], created_by=None,
                             number_count=0, port_in_request_id=p["id"]))
        rows.sort(key=lambda r: r["created_at"])
        ids = _insert_returning(s, Order, rows)
        _set_by_id(s, Order, "reference", {i: f"ORD-{i:06d}" for i in ids})
        self.order_refs = {i: f"ORD-{i:06d}" for i in ids}
        plain = [(r["created_at"], i) for i, r in zip(ids, rows) if r["kind"] != "port_in"]
        self.order_times = [t for t, _ in plain]
        self.order_ids = [i for _, i in plain]
        for i, r in zip(ids, rows):
            if r["port_in_request_id"]:
                for p in self.port_ins:
                    if p["id"] == r["port_in_request_id"]:
                        p["order_id"] = i

    def order_between(self, lo: datetime, hi: datetime) -> tuple[int, datetime]:
        """A random order created in [lo, hi]; the nearest one before hi when none is."""
        a = bisect.bisect_left(self.order_times, lo)
        b = bisect.bisect_right(self.order_times, hi)
        if b > a:
            k = self.rng.randrange(a, b)
        elif b > 0:
            k = b - 1
        else:
            k = 0
        return self.order_ids[k], self.order_times[k]
