"""_Seeder: one demo workspace, written in one run; its parts are mixins by concern.

The order of the steps in run() is the order of the random draws, so it is what keeps the seeded
rows of a given seed unchanged (tests/services/test_demo.py pins them by hash).
"""
import random
from datetime import datetime, timedelta

import phonenumbers
import sqlalchemy as sa

from did_app import clock
from did_app.demo.configuration import _Configuration
from did_app.demo.data import CALLING_CODES, COUNTRIES, DEMO_REQUIREMENTS
from did_app.demo.ledger import _Finishing
from did_app.demo.numbers import _Numbers
from did_app.demo.parties import _Parties
from did_app.demo.proofs import _Proofs
from did_app.demo.rows import _insert
from did_app.demo.templates import _Picker, _Template
from did_app.models import AuditEvent, Number, Requirement
from did_app.money import exponent
from did_app.reference import seed_reference_data
from did_app.registration.requirements import registration_required, requirement_table
from did_app.rules import status as number_status
from did_app.workspace import ensure_workspace


class _Seeder(_Parties, _Configuration, _Numbers, _Finishing, _Proofs):
    def __init__(self, session, count: int, seed: int):
        self.session, self.count, self.seed = session, count, seed
        self.rng = random.Random(seed)
        self.now = clock.now().replace(microsecond=0)
        self.audit_rows: list[dict] = []
        self.ledger_events: list[tuple] = []
        self.dedicated_by_pool: dict[int, int] = {}
        self.renewal_sum = 0  # monthly price of every number that renews in the next month

    # ---- helpers --------------------------------------------------------------------------

    def between(self, lo: datetime, hi: datetime) -> datetime:
        if hi <= lo:
            return lo
        return lo + timedelta(seconds=self.rng.randrange(int((hi - lo).total_seconds())))

    def audit(self, at, action, object_type, object_id, label, before=None, after=None, note=None):
        self.audit_rows.append(dict(
            at=at, actor_id=None, actor_label="cli", source="cli", action=action, object_type=object_type,
            object_id=object_id, object_label=label[:255], before=before, after=after, batch_id=None,
            note=note, ip=None, request_id=None))

    def digits(self, pattern: str) -> str:
        rng = self.rng
        return "".join(str(rng.randrange(10)) if c == "#" else
                       chr(65 + rng.randrange(26)) if c == "@" else c for c in pattern)

    def secret(self, n: int) -> str:
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    # ---- the run --------------------------------------------------------------------------

    def run(self) -> dict:
        s = self.session
        seed_reference_data(s)  # no-op when the migrations seeded it
        self.ws = ensure_workspace(s)
        self.exponent = exponent(self.ws.currency)
        self.year_ago = self.now - timedelta(days=365)
        self._requirements()
        self._templates()
        self._identities()
        self._voice_routes()
        self._sms_routes()
        self._capacity()
        self._profiles_and_rules()
        self._port_ins()
        self._verification_requests()
        self._orders()
        self._numbers()
        self._finish_orders_and_requests()
        self._finish_pools()
        self._ledger()
        self._proofs()  # last, from its own random stream: the rows above are as they were
        _insert(s, AuditEvent, sorted(self.audit_rows, key=lambda r: r["at"]))
        number_status.recompute()
        if s.get_bind().dialect.name == "postgresql":
            for table in ("number",):
                s.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                  f"(SELECT max(id) FROM \"{table}\"))"))
        counts = dict(s.execute(sa.select(Number.status, sa.func.count()).group_by(Number.status)).all())
        counts["expiring_soon"] = s.scalar(sa.select(sa.func.count()).where(Number.expiring_soon.is_(True)))
        return counts

    # ---- reference and templates ----------------------------------------------------------

    def _requirements(self):
        existing = {(r.country, r.number_type) for r in self.session.scalars(sa.select(Requirement))}
        for row in DEMO_REQUIREMENTS:
            if (row["country"], row["number_type"]) not in existing:
                self.session.add(Requirement(registration_required=True, personal_proofs=1,
                                             business_proofs=1, address_proofs=1, **row))
        self.session.flush()
        self.requirements = requirement_table()

    def _templates(self):
        rng = self.rng
        self.templates, self.country_weight = [], {}
        for country, (weight, lines) in COUNTRIES.items():
            cc = CALLING_CODES.get(country) or phonenumbers.country_code_for_region(country)
            rows = [line.strip().split("|") for line in lines.strip().splitlines()]
            total = sum(float(r[3]) for r in rows)
            self.country_weight[country] = weight
            for ntype, prefix, length, w, region, city in rows:
                tpl = _Template(rng, country, cc, ntype, prefix, int(length), weight * float(w) / total,
                                region, city, self.exponent)
                tpl.registration = registration_required(self.requirements, country, ntype)
                self.templates.append(tpl)
        self.all_tpl = _Picker(self.templates)
        self.plain_tpl = _Picker(t for t in self.templates if not t.registration)
        self.reg_tpl = _Picker(t for t in self.templates if t.registration)
        self.port_tpl = _Picker(t for t in self.templates if not t.registration
                                and t.ntype in ("local", "mobile") and t.country in ("US", "CA", "GB", "FR", "NL", "SE"))
        self.by_country: dict[str, list] = {}
        for t in self.templates:
            self.by_country.setdefault(t.country, []).append(t)
        self.cities = {c: sorted({(t.region, t.city) for t in ts if t.city}, key=lambda rc: (rc[0] or "", rc[1]))
                       for c, ts in self.by_country.items()}
        self.pool_countries: dict[str, int] = {}  # filled by _capacity

    def phone_for(self, country: str) -> str:
        """A valid number for an identity or a PSTN destination (drawn from the same unique stream)."""
        options = [t for t in self.by_country.get(country, []) if t.ntype == "mobile"] or \
                  [t for t in self.by_country.get(country, []) if t.ntype == "local"]
        return _Picker(options).draw(self.rng)[1]
