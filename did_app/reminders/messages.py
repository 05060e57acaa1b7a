"""The texts of the reminder notifications (lifecycle.md §12), with the house date ("5 Dec 2026")
and money formats. One subject reads in the singular ("1 number expires …")."""
from datetime import date

from did_app import money
from did_app.filters import fmt_date

MAX_NAMES = 10  # identities named in a proof_expiring message; the rest are counted


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def expiring_no_renewal(n: int, due_on: date) -> str:
    verb = "expires" if n == 1 else "expire"
    return f"{_count(n, 'number', 'numbers')} {verb} on {fmt_date(due_on)} and will not renew."


def renewal_balance_short(n: int, due_on: date, amount_minor: int, currency: str) -> str:
    verb, them = ("renews", "it") if n == 1 else ("renew", "them")
    return (f"{_count(n, 'number', 'numbers')} {verb} on {fmt_date(due_on)} for "
            f"{money.format_money(amount_minor, currency)}; the balance won't cover {them}.")


def aging_removal(n: int, due_on: date) -> str:
    return f"{_count(n, 'number', 'numbers')} will be removed on {fmt_date(due_on)} unless renewed."


def restore_window_end(n: int, due_on: date) -> str:
    return f"{_count(n, 'cancelled number', 'cancelled numbers')} can be restored until {fmt_date(due_on)}."


def registration_deadline(n: int, due_on: date) -> str:
    verb, they = ("needs", "it is") if n == 1 else ("need", "they are")
    return (f"{_count(n, 'number', 'numbers')} {verb} end-user details by {fmt_date(due_on)} "
            f"or {they} removed and refunded.")


def low_balance_forecast(due_on: date, amount_minor: int, currency: str) -> str:
    return (f"Balance runs out on {fmt_date(due_on)}: {money.format_money(amount_minor, currency)} "
            f"of renewals can't be paid.")


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_NAMES])
    more = len(names) - MAX_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def proof_expiring(n: int, due_on: date, identities: list[str]) -> str:
    if n == 1:
        return (f"1 end-user proof expires on {fmt_date(due_on)}: {_names(identities)}. "
                f"Upload a new one to keep the registrations valid.")
    return (f"{n} end-user proofs expire on {fmt_date(due_on)}: {_names(identities)}. "
            f"Upload new ones to keep the registrations valid.")


NUMBER_MESSAGES = {
    "expiring_no_renewal": expiring_no_renewal,
    "aging_removal": aging_removal,
    "restore_window_end": restore_window_end,
    "registration_deadline": registration_deadline,
}
