"""The demo workspace of `flask seed-demo` (interfaces.md; quality-bars.md "The benchmark workload").

`seed_demo(count, seed)` fills an empty inventory with a realistic, reproducible workspace in one
write transaction: about 40 countries and all six number types, trunks and groups, SMS trunks and
groups, capacity pools and groups, identities, verification requests with their proofs (small
generated PDF and PNG files under instance/proofs/), profiles and rules, orders, port-in requests,
services, released numbers, a consistent ledger and recent history rows.

The numbers go in with set-based INSERTs in chunks of 10,000 and are generated chunk by chunk, so
memory stays flat up to millions of numbers. Every number is valid E.164 (phonenumbers) and
unique by construction: each template walks its own national prefix with an affine permutation of
the trailing digits, so no set of seen numbers is kept. The status mix comes from how routes,
capacity and flags are set; the stored status is then recomputed from the one SQL expression.

The package: data.py (countries, ranges, names, constants), templates.py (number streams),
seeder.py (_Seeder, the run) with its parts by concern: parties.py (identities, requests, orders),
configuration.py (routes, capacity, profiles and rules), numbers.py (the inventory), ledger.py
(the finishing pass and the ledger) and proofs.py (proof rows and files, built by documents.py);
rows.py holds the shared write and date helpers. A seed that fails writes nothing: its proof files
are removed with the rollback (proof_store).
"""
import contextlib
import time

import sqlalchemy as sa

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
from did_app.demo.rows import add_months  # noqa: F401  (re-exported)
from did_app.demo.seeder import _Seeder
from did_app.errors import DomainError
from did_app.models import Number
from did_app.models.numbers import STATUSES


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
