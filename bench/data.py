"""Reading the seeded database directly: the workload's inputs, and the raw SQL baseline."""
import random
import re
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberFormat

from bench.server import BenchError

_WORD = re.compile(r"[A-Za-z]{4,}")


def connect(path) -> sqlite3.Connection:
    con = sqlite3.connect(str(path))
    con.execute("PRAGMA busy_timeout=15000")
    return con


@dataclass
class FilterPick:
    country: str
    word: str
    expected_rows: int


def pick_b2_filter(con) -> FilterPick:
    """A country that has not-configured numbers (US when it has some) and a word of their descriptions."""
    rows = con.execute("SELECT country, count(*) FROM number WHERE status = 'not_configured' "
                       "GROUP BY country ORDER BY count(*) DESC").fetchall()
    if not rows:
        raise BenchError("the seeded inventory has no not-configured numbers (B2 needs some)")
    counts = dict(rows)
    country = "US" if counts.get("US", 0) >= 10 else rows[0][0]
    words = Counter()
    for (text,) in con.execute("SELECT description FROM number WHERE status = 'not_configured' "
                               "AND country = ? AND description IS NOT NULL", (country,)):
        words.update({w.lower() for w in _WORD.findall(text)})
    if not words:
        raise BenchError(f"no descriptions among not-configured numbers of {country}")
    word = words.most_common(1)[0][0]
    expected = con.execute("SELECT count(*) FROM number WHERE status = 'not_configured' AND country = ? "
                           "AND lower(description) LIKE ?", (country, f"%{word}%")).fetchone()[0]
    return FilterPick(country, word, expected)


def default_country(con) -> str:
    row = con.execute("SELECT default_country FROM workspace ORDER BY id LIMIT 1").fetchone()
    return row[0] if row and row[0] else "US"


def _formats(e164: str, country: str, home: str, i: int) -> str:
    """One way people paste a number: E.164, international, 00-prefix, national (home country)."""
    num = phonenumbers.parse(e164)
    intl = phonenumbers.format_number(num, PhoneNumberFormat.INTERNATIONAL)  # +1 415-555-2671
    national = phonenumbers.format_number(num, PhoneNumberFormat.NATIONAL)  # (415) 555-2671
    kind = i % 6
    if kind == 0:
        return e164
    if kind == 1:
        return intl
    if kind == 2:
        return "00" + intl[1:].replace("-", " ")
    if kind == 3:
        return "00" + e164[1:]
    if country != home:
        return intl.replace(" ", "-") if kind == 4 else "+" + e164[1:3] + " (" + e164[3:6] + ") " + e164[6:]
    if kind == 4:
        return national
    return national.replace("(", "").replace(") ", "-").replace(" ", "-")  # 415-555-2671


def _unknown_numbers(rng, inventory: set[str], count: int) -> list[str]:
    """Valid numbers that are not in the inventory: existing ones with other last digits."""
    out, pool = [], sorted(inventory)
    for _ in range(count * 200):
        if len(out) == count:
            break
        base = rng.choice(pool)
        candidate = base[:-4] + f"{rng.randrange(10_000):04d}"
        if candidate in inventory or candidate in out:
            continue
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
                out.append(candidate)
        except phonenumbers.NumberParseException:
            continue
    if len(out) < count:
        raise BenchError(f"could not make {count} valid numbers outside the inventory")
    return out


@dataclass
class PasteList:
    text: str
    searched: int
    found: int
    sample: list[str]


def paste_list(con, rng: random.Random, total: int = 500, unknown: int = 20) -> PasteList:
    """`total` numbers in mixed formats, `unknown` of them absent, one per line (some comma-joined)."""
    home = default_country(con)
    rows = con.execute("SELECT number, country FROM number ORDER BY id").fetchall()
    if len(rows) < total - unknown:
        raise BenchError(f"B3 needs at least {total - unknown} numbers, the inventory has {len(rows)}")
    inventory = {n for n, _ in rows}
    chosen = rng.sample(rows, total - unknown)
    items = [_formats(n, c, home, i) for i, (n, c) in enumerate(chosen)]
    items += [_formats(n, "??", home, i) for i, n in enumerate(_unknown_numbers(rng, inventory, unknown))]
    rng.shuffle(items)
    lines, i = [], 0
    while i < len(items):  # mostly one per line, now and then two on a line with a comma
        if i % 25 == 0 and i + 1 < len(items):
            lines.append(items[i] + ", " + items[i + 1])
            i += 2
        else:
            lines.append(items[i])
            i += 1
    text = "\n".join(lines)
    return PasteList(text, total, total - unknown, items[:6])


def details_sample(con, rng: random.Random, size: int) -> list[str]:
    """Numbers for the details page, spread over every status."""
    statuses = [s for (s,) in con.execute("SELECT DISTINCT status FROM number")]
    per = max(1, size // max(1, len(statuses)))
    picked = []
    for status in statuses:
        ids = [r[0] for r in con.execute("SELECT number FROM number WHERE status = ?", (status,))]
        picked += rng.sample(ids, min(per, len(ids)))
    rng.shuffle(picked)
    return [n.lstrip("+") for n in picked[:size]]


# ---------------------------------------------------------------- raw SQL baseline of B1

RAW_B1 = (
    "SELECT id FROM number WHERE expires_at IS NOT NULL ORDER BY expires_at, number LIMIT 50",
    "SELECT * FROM number WHERE id IN ({ids})",
    "SELECT status, expiring_soon, count(*) FROM number GROUP BY status, expiring_soon",
)


def raw_b1_once(con) -> float:
    start = time.perf_counter()
    ids = [r[0] for r in con.execute(RAW_B1[0])]
    con.execute(RAW_B1[1].format(ids=",".join("?" * len(ids))), ids).fetchall()
    con.execute(RAW_B1[2]).fetchall()
    return time.perf_counter() - start


def inline_edit_target(con) -> dict:
    """A live voice number and two trunks to switch it between (B4)."""
    number_id = con.execute("SELECT id FROM number WHERE status = 'active' AND features % 2 = 1 "
                            "AND porting = 0 ORDER BY id LIMIT 1").fetchone()[0]
    trunks = [r[0] for r in con.execute("SELECT id FROM voice_route WHERE kind = 'trunk' ORDER BY id LIMIT 2")]
    return {"number_id": number_id, "trunks": trunks}
