"""The demo workspace of `flask seed-demo` (interfaces.md; quality-bars.md "The benchmark workload").

`seed_demo(count, seed)` fills an empty inventory with a realistic, reproducible workspace in one
write transaction: about 40 countries and all six number types, trunks and groups, SMS trunks and
groups, capacity pools and groups, identities, verification requests, profiles and rules, orders,
port-in requests, services, released numbers, a consistent ledger and recent history rows.

The numbers go in with set-based INSERTs in chunks of 10,000 and are generated chunk by chunk, so
memory stays flat up to millions of numbers. Every number is valid E.164 (phonenumbers) and
unique by construction: each template walks its own national prefix with an affine permutation of
the trailing digits, so no set of seen numbers is kept. The status mix comes from how routes,
capacity and flags are set; the stored status is then recomputed from the one SQL expression.
"""
import bisect
import calendar
import contextlib
import random
import re
import time
import unicodedata
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate

import phonenumbers
import sqlalchemy as sa

from did_app import clock
from did_app.db import write_transaction
from did_app.demo.data import (  # noqa: F401  (re-exported: the package's public names)
    ACCEPTED_TYPES,
    CALLING_CODES,
    CAPACITY_GROUPS,
    CAPITAL,
    CARRIERS,
    CHUNK,
    CNAM_OUT,
    COMPANY_STEMS,
    COMPANY_SUFFIX,
    COMPANY_TRADES,
    COUNTRIES,
    DAY,
    DEMO_REQUIREMENTS,
    DESCRIPTIONS,
    EMERGENCY,
    EMERGENCY_COUNTRIES,
    EXPIRING_SOON_SHARE,
    FIRST,
    HOUR,
    HOUSE_FIRST,
    INTENTS,
    LAST,
    LOCALE,
    POOLS,
    POSTAL,
    PRICE_FACTOR,
    PRICES,
    PSTN_LABELS,
    SETUP,
    SIP_SITES,
    SIP_SYSTEMS,
    SMS_IN,
    SMS_OUT,
    STREETS,
    T38,
    VOICE_GROUPS,
    VOICE_IN,
    VOICE_OUT,
)
from did_app.demo.templates import _Picker, _Template
from did_app.errors import DomainError
from did_app.models import (
    Address,
    AuditEvent,
    CapacityGroup,
    CapacityPool,
    CapacityPoolCountry,
    ConfigurationProfile,
    Identity,
    LedgerEntry,
    Number,
    NumberService,
    Order,
    PortInRequest,
    RejectReason,
    ReleasedNumber,
    Requirement,
    Rule,
    SmsRoute,
    VerificationRequest,
    VoiceRoute,
)
from did_app.models.numbers import STATUSES
from did_app.reference import seed_reference_data
from did_app.registration.requirements import registration_required, requirement_table
from did_app.rules import status as number_status
from did_app.workspace import ensure_workspace


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", _ascii(text).lower()).strip("-")


def add_months(start: datetime, months: int, anchor: int) -> datetime:
    """`start` moved on by calendar months, on day min(anchor, days in month), same time of day."""
    y, m = divmod(start.month - 1 + months, 12)
    y += start.year
    return start.replace(year=y, month=m + 1, day=min(anchor, calendar.monthrange(y, m + 1)[1]))


def _first_anniversary_after(start: datetime, moment: datetime) -> datetime:
    """The first monthly anniversary of `start` (at least one month on) that is after `moment`."""
    months = max(1, (moment.year - start.year) * 12 + moment.month - start.month)
    t = add_months(start, months, start.day)
    while t <= moment:
        months += 1
        t = add_months(start, months, start.day)
    return t



def _insert(session, model, rows):
    """One set-based INSERT (executemany) of `rows`, which all carry the same keys.

    It goes through the model's Core table: the ORM bulk path would split rows by their None
    values and emit one statement per row.
    """
    if rows:
        session.execute(sa.insert(model.__table__), rows)


def _insert_returning(session, model, rows) -> list[int]:
    """The same, returning the new ids in the order of `rows`."""
    if not rows:
        return []
    table = model.__table__
    stmt = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.execute(stmt, rows).scalars())


def _set_by_id(session, model, column: str, values: dict) -> None:
    """UPDATE model SET column = value WHERE id = key, as one executemany (no version bump)."""
    if values:
        table = model.__table__
        stmt = (sa.update(table).where(table.c.id == sa.bindparam("_id"))
                .values({column: sa.bindparam("_value")}))
        session.execute(stmt, [{"_id": k, "_value": v} for k, v in values.items()])


class NotEmpty(DomainError):
    """seed_demo refused: the inventory already holds numbers."""


NAME_TAKEN = ("The demo data uses names that your own trunks, groups, pools or profiles already have. "
              "Nothing was loaded.")
_SEED_LOCK = 0x6469645F64656D6F  # "did_demo": PostgreSQL advisory lock, held until the commit


def seed_demo(count: int, seed: int) -> str:
    """Fill an empty inventory with `count` demo numbers (reproducible for `seed`); a summary line.

    The emptiness check runs inside the seeding transaction, under a lock that concurrent seeders
    wait for (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL), so of two at once the
    second is refused, not failed. Raises NotEmpty when numbers exist, DomainError (NAME_TAKEN)
    when a demo name is already in use; nothing is written then.
    """
    started = time.perf_counter()
    try:
        with write_transaction() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SEED_LOCK})
            if session.scalar(sa.select(sa.exists().where(Number.id.is_not(None)))):
                raise NotEmpty("The database already holds numbers; seed-demo only fills an empty inventory.")
            counts = _seed(session, count, seed)
    except sa.exc.IntegrityError as exc:  # a unique name (or, racing a real add, a number) is taken
        raise DomainError(NAME_TAKEN) from exc
    elapsed = time.perf_counter() - started
    order = ("active", "not_configured", "awaiting_registration", "terminated", "porting")
    parts = ", ".join(f"{STATUSES[s].lower()} {counts.get(s, 0):,}" for s in order)
    expiring = counts.get("expiring_soon", 0)
    return (f"Seeded {count:,} number{'' if count == 1 else 's'} ({parts}; expiring soon {expiring:,}) "
            f"in {elapsed:.1f} s.")


def _seed(session, count: int, seed: int) -> dict:
    if session.get_bind().dialect.name != "sqlite":
        return _Seeder(session, count, seed).run()
    # a bigger page cache for this connection keeps the number indexes in memory while the rows
    # go in; the previous size is put back afterwards
    previous = session.execute(sa.text("PRAGMA cache_size")).scalar()
    session.execute(sa.text("PRAGMA cache_size = -131072"))  # 128 MB
    try:
        return _Seeder(session, count, seed).run()
    finally:
        with contextlib.suppress(Exception):  # never hide the error that got us here
            session.execute(sa.text(f"PRAGMA cache_size = {int(previous)}"))


class _Seeder:
    def __init__(self, session, count: int, seed: int):
        self.session, self.count = session, count
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
        from did_app.money import exponent
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
        self.identities = [dict(id=i, type=r["identity_type"], country=r["country"],
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
        self.addresses_by_country: dict[str, list] = {}
        self.address_of: dict[tuple, int] = {}
        for aid, a in zip(addr_ids, addr_rows):
            self.addresses_by_country.setdefault(a["country"], []).append((a["identity_id"], aid))
            self.address_of.setdefault((a["identity_id"], a["country"]), aid)
        self.identity_by_id = {i["id"]: i for i in self.identities}
        for ident, row in zip(self.identities, rows):
            self.audit(row["created_at"], "identity.created", "identity", ident["id"], ident["name"])

    # ---- voice routes ---------------------------------------------------------------------

    def _voice_routes(self):
        rng, s = self.rng, self.session
        created = lambda: self.between(self.year_ago - 60 * DAY, self.year_ago)  # noqa: E731
        group_rows = [dict(kind="group", name=name, name_key=name.lower(), description=desc,
                           capacity_limit=rng.choice((None, None, None, 60, 120)), trunk_kind=None,
                           group_id=None, priority=1, weight=100, cli_format="e164", created_at=created(),
                           version=1)
                      for name, desc in VOICE_GROUPS]
        group_ids = _insert_returning(s, VoiceRoute, group_rows)
        trunk_rows, used = [], set()
        for i in range(40):
            site, code = SIP_SITES[i % len(SIP_SITES)]
            system, host_prefix, domain = SIP_SYSTEMS[(i * 3 + i // len(SIP_SITES)) % len(SIP_SYSTEMS)]
            name = f"{system} {site}"
            if name in used:
                name = f"{name} 2"
            used.add(name)
            transport = rng.choice(("udp", "udp", "tcp", "tls"))
            host = (f"{host_prefix}-{code}{rng.randrange(1, 4)}.{domain}" if rng.random() < 0.7 else
                    f"{rng.choice(('203.0.113', '198.51.100', '192.0.2'))}.{rng.randrange(2, 250)}")
            auth = rng.random() < 0.3
            trunk_rows.append(dict(
                kind="trunk", name=name, name_key=name.lower(),
                description=rng.choice((None, None, f"Primary PBX in {site}", "Managed by the IT team")),
                capacity_limit=rng.choice((None, None, None, 30, 60, 100)), trunk_kind="sip", group_id=None,
                priority=1, weight=100, cli_format=rng.choice(("e164", "e164", "raw", "local")),
                cli_prefix=rng.choice((None, None, None, "+", "#31#")), ringing_timeout=rng.choice((None, None, 30, 45, 60)),
                host=host, port=5061 if transport == "tls" else rng.choice((5060, 5060, None)),
                username=rng.choice(("{DID}", "{DID}", "+{DID}", "inbound")), transport=transport,
                codecs=rng.choice((["PCMU", "PCMA", "G729", "G723", "telephone-event"],
                                   ["PCMA", "PCMU", "telephone-event"], ["G722", "PCMU", "PCMA", "telephone-event"],
                                   ["PCMU", "telephone-event"])),
                auth_enabled=auth, auth_user=f"did{rng.randrange(1000, 9999)}" if auth else None,
                auth_password=self.secret(16) if auth else None, auth_from_user=None,
                auth_from_domain=None, media_encryption="srtp_sdes" if transport == "tls" and rng.random() < 0.5 else "disabled",
                destination=None, per_minute_rate=None, created_at=created(), version=1))
        for i in range(20):
            country = rng.choice(("US", "GB", "DE", "FR", "NL", "US", "GB"))
            label = PSTN_LABELS[i % len(PSTN_LABELS)]
            name = f"{label} ({country})" if i < len(PSTN_LABELS) else f"{label} {i // len(PSTN_LABELS) + 1} ({country})"
            trunk_rows.append(dict(
                kind="trunk", name=name, name_key=name.lower(), description=None,
                capacity_limit=rng.choice((None, 2, 4, 10)), trunk_kind="pstn", group_id=None, priority=1,
                weight=100, cli_format="e164", cli_prefix=None, ringing_timeout=rng.choice((None, 20, 30)),
                host=None, port=None, username=None, transport=None, codecs=None, auth_enabled=False,
                auth_user=None, auth_password=None, auth_from_user=None, auth_from_domain=None,
                media_encryption=None, destination=self.phone_for(country),
                per_minute_rate=rng.choice((Decimal("0.012000"), Decimal("0.018500"), Decimal("0.035000"), None)),
                created_at=created(), version=1))
        # group membership: 9 groups with 2-5 trunks, the last group stays empty
        order = list(range(len(trunk_rows)))
        rng.shuffle(order)
        pos = 0
        self.group_members: dict[int, list[int]] = {}
        for g in range(len(group_ids) - 1):
            size = rng.randint(2, 5)
            for j, t in enumerate(order[pos:pos + size]):
                trunk_rows[t]["group_id"] = group_ids[g]
                trunk_rows[t]["priority"] = 1 if j < 2 else j
                trunk_rows[t]["weight"] = rng.choice((100, 100, 50, 200))
                self.group_members.setdefault(group_ids[g], []).append(t)
            pos += size
        trunk_ids = _insert_returning(s, VoiceRoute, trunk_rows)
        self.trunk_ids = trunk_ids
        self.trunk_cum = list(accumulate(rng.choice((1, 1, 2, 4, 8)) for _ in trunk_ids))
        self.good_groups = group_ids[:-1]
        self.empty_group = group_ids[-1]
        self.voice_names = {i: r["name"] for i, r in zip(group_ids, group_rows)}
        self.voice_names.update({i: r["name"] for i, r in zip(trunk_ids, trunk_rows)})
        for rid, row in [*zip(group_ids, group_rows), *zip(trunk_ids, trunk_rows)]:
            self.audit(row["created_at"], "trunk_group.created" if row["kind"] == "group" else "trunk.created",
                       "trunk_group" if row["kind"] == "group" else "trunk", rid, row["name"])

    def pick_trunk(self) -> int:
        return self.rng.choices(self.trunk_ids, cum_weights=self.trunk_cum)[0]

    # ---- SMS routes -----------------------------------------------------------------------

    def _sms_routes(self):
        s = self.session
        created = lambda: self.between(self.year_ago - 60 * DAY, self.year_ago + 60 * DAY)  # noqa: E731
        groups = (("SMS primary", "CRM first, then the helpdesk"), ("SMS EU failover", None),
                  ("Legacy SMPP (all blocked)", "Every member is blocked; kept for reference"))
        group_rows = [dict(kind="group", name=n, name_key=n.lower(), description=d, trunk_kind=None,
                           blocked=False, priority=100, group_id=None, settings=None, created_at=created(),
                           version=1) for n, d in groups]
        gids = _insert_returning(s, SmsRoute, group_rows)

        def email(to, subject="SMS from {SMS_SRC_ADDR}"):
            return dict(send_to=to, subject=subject, message="{SMS_TEXT}\n\nReceived {SMS_TIME} on {SMS_DST_ADDR}")

        def http(url, method="POST"):
            return dict(url=url, method=method, query_parameters=[], headers=[{"key": "Authorization", "value": "Bearer demo-token"}],
                        body_type="json" if method != "GET" else None,
                        body='{"from": "{SMS_SRC_ADDR}", "to": "{SMS_DST_ADDR}", "text": "{SMS_TEXT}", "id": "{SMS_UUID}"}' if method != "GET" else None,
                        follow_redirects=False, verify_tls=True)

        def esme(location):
            return dict(system_type="", allowed_ips=["203.0.113.10", "198.51.100.0/28"], server_location=location,
                        system_id=self.secret(16), password=self.secret(8))

        def smsc(host, location):
            return dict(host=host, tx_port=2775, rx_port=2776, transceiver_mode=False, connection_timeout=30,
                        use_tls=True, system_id="northwind", system_type="", password=self.secret(8),
                        server_location=location)

        # (name, kind, settings, blocked, group index or None, priority)
        trunks = (
            ("Support inbox", "sms_to_email", email("Support <support@northwind.example.com>"), False, None, 100),
            ("Sales inbox", "sms_to_email", email("sales@northwind.example.com"), False, None, 100),
            ("Ops alerts mailbox", "sms_to_email", email("ops-alerts@contoso.example.com", "[SMS] {SMS_SRC_ADDR}"), False, None, 100),
            ("Helpdesk email", "sms_to_email", email("Helpdesk <helpdesk@fabrikam.example.org>"), False, 0, 30),
            ("CRM webhook", "http_in", http("https://crm.northwind.example.com/hooks/sms"), False, 0, 10),
            ("Zendesk SMS webhook", "http_in", http("https://northwind.zendesk.example.com/api/sms"), False, 0, 20),
            ("OTP service", "http_in", http("https://otp.contoso.example.com/inbound", "GET"), False, None, 100),
            ("Chatbot gateway", "http_in", http("https://bot.tailspin.example.com/sms"), False, None, 100),
            ("Marketing API (staging)", "http_in", http("https://staging.globex.example.net/sms"), True, 2, 10),
            ("SMPP bind Frankfurt", "smpp_esme", esme("Frankfurt"), False, 1, 10),
            ("SMPP bind Ashburn", "smpp_esme", esme("Ashburn"), False, None, 100),
            ("SMPP bind Singapore", "smpp_esme", esme("Singapore"), True, 1, 20),
            ("Own SMSC London", "smpp_smsc", smsc("smsc1.lon.northwind.example.com", "London"), False, None, 100),
            ("Own SMSC Amsterdam", "smpp_smsc", smsc("smsc.ams.wingtip.example.org", "Amsterdam"), False, None, 100),
            ("Legacy SMSC (retired)", "smpp_smsc", smsc("192.0.2.44", "London"), True, 2, 20),
        )
        rows = [dict(kind="trunk", name=n, name_key=n.lower(), description=None, trunk_kind=k, blocked=b,
                     priority=p, group_id=gids[g] if g is not None else None, settings=st, created_at=created(),
                     version=1) for n, k, st, b, g, p in trunks]
        tids = _insert_returning(s, SmsRoute, rows)
        self.sms_open = [t for t, r in zip(tids, rows) if not r["blocked"]]
        self.sms_blocked = [t for t, r in zip(tids, rows) if r["blocked"]]
        self.sms_good_groups = gids[:2]
        self.sms_dead_group = gids[2]
        self.sms_ok_routes = {*self.sms_open, *self.sms_good_groups}
        self.sms_names = {i: r["name"] for i, r in zip([*gids, *tids], [*group_rows, *rows])}
        for rid, row in zip([*gids, *tids], [*group_rows, *rows]):
            self.audit(row["created_at"], "sms_trunk_group.created" if row["kind"] == "group" else "sms_trunk.created",
                       "sms_trunk_group" if row["kind"] == "group" else "sms_trunk", rid, row["name"])

    # ---- capacity -------------------------------------------------------------------------

    def _capacity(self):
        rng, s = self.rng, self.session
        scale = self.exponent
        pool_rows = [dict(name=name, total_channels=0, setup_price_minor=int(round(1.0 * 10 ** scale)),
                          monthly_price_minor=int(round(price * 10 ** scale)), metered_rate=rate,
                          renew_date=(self.now + timedelta(days=rng.randint(5, 25))).date(),
                          renewal_failed_on=None, created_at=self.year_ago - 20 * DAY, version=1)
                     for name, _, price, rate in POOLS]
        self.pool_ids = _insert_returning(s, CapacityPool, pool_rows)
        self.pool_rows = pool_rows
        _insert(s, CapacityPoolCountry, [dict(pool_id=pid, country=c)
                                         for pid, (_, countries, _, _) in zip(self.pool_ids, POOLS) for c in countries])
        for pid, (_, countries, _, _) in zip(self.pool_ids, POOLS):
            for c in countries:
                self.pool_countries[c] = pid
        factor = max(1.0, (self.count / 2000) ** 0.5)
        group_rows = [dict(name=name, description=desc, pool_id=self.pool_ids[p],
                           shared_channels=int(round(shared * factor)), metered_channels=metered,
                           created_at=self.between(self.year_ago, self.year_ago + 90 * DAY), version=1)
                      for name, p, shared, metered, desc in CAPACITY_GROUPS]
        gids = _insert_returning(s, CapacityGroup, group_rows)
        self.groups_by_pool: dict[int, list[int]] = {}
        self.shared_by_pool: dict[int, int] = {}
        for gid, row in zip(gids, group_rows):
            self.groups_by_pool.setdefault(row["pool_id"], []).append(gid)
            self.shared_by_pool[row["pool_id"]] = self.shared_by_pool.get(row["pool_id"], 0) + row["shared_channels"]
            self.audit(row["created_at"], "capacity_group.created", "capacity_group", gid, row["name"])
        self.capacity_group_ids = gids
        for pid, row in zip(self.pool_ids, pool_rows):
            self.audit(row["created_at"], "capacity_pool.created", "capacity_pool", pid, row["name"])

    # ---- profiles and rules ---------------------------------------------------------------

    def _profiles_and_rules(self):
        s = self.session
        g = self.good_groups
        t = self.trunk_ids
        cg = self.capacity_group_ids
        profiles = (
            ("Standard routing", dict(voice_route_id=t[0])),
            ("US support", dict(voice_route_id=g[1], capacity_group_id=cg[5], description="Support line")),
            ("US sales", dict(voice_route_id=t[10], capacity_group_id=cg[6], sms_route_id=self.sms_open[0])),
            ("UK contact centre", dict(voice_route_id=g[0], capacity_group_id=cg[1])),
            ("UK sales", dict(voice_route_id=g[2], capacity_limit=10)),
            ("DACH sales", dict(voice_route_id=g[3], capacity_group_id=cg[2])),
            ("France support", dict(voice_route_id=t[4], capacity_group_id=cg[0])),
            ("Iberia", dict(voice_route_id=t[5], capacity_group_id=cg[3])),
            ("Toll-free IVR", dict(voice_route_id=g[7], description="Toll-free IVR entry point")),
            ("Mobile SMS to CRM", dict(sms_route_id=self.sms_good_groups[0])),
            ("SMS failover EU", dict(sms_route_id=self.sms_good_groups[1])),
            ("APAC follow-the-sun", dict(voice_route_id=g[4])),
            ("LATAM sales", dict(voice_route_id=g[5], capacity_limit=20)),
            ("Canada", dict(voice_route_id=t[14], capacity_group_id=cg[7])),
            ("Nordics", dict(voice_route_id=g[8])),
            ("San Francisco office", dict(voice_route_id=t[12], description="Main line — San Francisco")),
            ("New York office", dict(voice_route_id=t[10], capacity_limit=30)),
            ("London office", dict(voice_route_id=t[0], capacity_group_id=cg[1], description="Main line — London")),
            ("Berlin office", dict(voice_route_id=t[3], description="Main line — Berlin")),
            ("Paris office", dict(voice_route_id=t[4], description="Standard — Paris")),
        )
        rows = []
        for name, fields in profiles:
            row = dict(name=name, voice_route_id=None, sms_route_id=None, capacity_group_id=None,
                       capacity_limit=None, description=None,
                       created_at=self.between(self.year_ago, self.year_ago + 120 * DAY), version=1)
            row.update(fields)
            rows.append(row)
        pids = _insert_returning(s, ConfigurationProfile, rows)
        by_name = dict(zip((p[0] for p in profiles), pids))
        # 20 rules over every level: global, country, number type, region, city
        rules = (
            ("Everything else", "Standard routing", [], [], [], []),
            ("United States", "US support", ["US"], [], [], []),
            ("United Kingdom", "UK contact centre", ["GB"], [], [], []),
            ("Germany, Austria, Switzerland", "DACH sales", ["DE", "AT", "CH"], [], [], []),
            ("France and Belgium", "France support", ["FR", "BE"], [], [], []),
            ("Canada", "Canada", ["CA"], [], [], []),
            ("Toll-free everywhere", "Toll-free IVR", [], ["toll_free", "global"], [], []),
            ("Mobile numbers", "Mobile SMS to CRM", [], ["mobile"], [], []),
            ("EU mobiles", "SMS failover EU", ["DE", "FR", "NL", "ES", "IT"], ["mobile"], [], []),
            ("UK national numbers", "UK sales", ["GB"], ["national"], [], []),
            ("California", "US sales", ["US"], [], ["CA"], []),
            ("New York State", "New York office", ["US"], [], ["NY"], []),
            ("Scotland", "UK sales", ["GB"], [], ["Scotland"], []),
            ("Bavaria", "DACH sales", ["DE"], [], ["Bavaria"], []),
            ("San Francisco", "San Francisco office", ["US"], [], [], ["San Francisco"]),
            ("New York City", "New York office", ["US"], [], [], ["New York", "Brooklyn"]),
            ("London", "London office", ["GB"], [], [], ["London"]),
            ("Berlin", "Berlin office", ["DE"], [], [], ["Berlin"]),
            ("Paris", "Paris office", ["FR"], [], [], ["Paris"]),
            ("Madrid (paused)", "Iberia", ["ES"], [], [], ["Madrid"]),
        )
        rule_rows = [dict(name=name, profile_id=by_name[profile], countries=c, number_types=nt, regions=r,
                          cities=ci, enabled=not name.endswith("(paused)"),
                          created_at=self.between(self.year_ago + 30 * DAY, self.year_ago + 200 * DAY), version=1)
                     for name, profile, c, nt, r, ci in rules]
        rids = _insert_returning(s, Rule, rule_rows)
        for pid, row in zip(pids, rows):
            self.audit(row["created_at"], "profile.created", "profile", pid, row["name"])
        for rid, row in zip(rids, rule_rows):
            self.audit(row["created_at"], "rule.created", "rule", rid, row["name"])

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
                        reject_comment=("The utility bill is older than three months." if chosen and
                                        chosen[-1].startswith("Other") else None),
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
        first = (s.scalar(sa.select(sa.func.count()).select_from(VerificationRequest)
                          .where(VerificationRequest.reference.is_not(None))) or 0) + 1
        _set_by_id(s, VerificationRequest, "reference", {vid: f"VR-{first + k:06d}" for k, vid in enumerate(kept)})
        for k, vid in enumerate(kept):
            vr = self.vr_rows[vid]
            label = f"VR-{first + k:06d}"
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
        from did_app.lifecycle import forecast
        forecast.recompute_cutoff(s)  # the demo balance covers the horizon; computed, not assumed
