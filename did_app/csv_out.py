"""The one CSV writer: every CSV the app sends or stores is written here, formula-safe.

numbers.md §7.8: a cell that starts with `=`, `+`, `-`, `@`, tab or carriage return gets a leading
`'`, except a whole E.164 number (`+14155552671`) and a plain decimal (`-1.50`). The import parser
strips that `'` again (`imports/parser.py`, `cell()`), so an exported file imports back unchanged.
Every cell of every row is guarded: no caller decides which of its columns are free text.
"""
import csv
import io
import re
from decimal import Decimal

TRIGGERS = "=+-@\t\r"
_E164 = re.compile(r"\+[0-9]{6,15}")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_NUMERIC = (int, float, Decimal)  # written by csv as digits (bool as True/False): never a formula


def safe_cell(value):
    """The cell as written: '' for None, numbers as they are, text with a ' before a formula."""
    if value is None:
        return ""
    if not isinstance(value, str):
        if isinstance(value, _NUMERIC):
            return value
        value = str(value)
    elif type(value) is not str:
        value = str(value)  # a str subclass (Markup …) is written as plain text
    if value and value[0] in TRIGGERS and not _E164.fullmatch(value) and not _DECIMAL.fullmatch(value):
        return "'" + value
    return value


def safe_row(cells) -> list:
    # the common cell, plain text that starts with no trigger, skips the function call
    # (an export of 100,000 numbers writes 2.3 million cells)
    return [c if type(c) is str and (not c or c[0] not in TRIGGERS) else safe_cell(c) for c in cells]


class Writer:
    """CSV text built row by row (CRLF line ends); `take()` returns what was written since the last take."""

    def __init__(self):
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")

    def row(self, cells) -> None:
        self._writer.writerow(safe_row(cells))

    def take(self) -> str:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text


def stream(header, rows, every: int = 500):
    """Yield the CSV text in pieces: the header, then about `every` rows per piece (for a streamed
    response that never holds the whole file); `rows` yields sequences of cells."""
    out = Writer()
    out.row(header)
    for i, cells in enumerate(rows, 1):
        out.row(cells)
        if i % every == 0:
            yield out.take()
    yield out.take()


def text(header, rows) -> str:
    """The whole CSV as one string (small files: the import report)."""
    return "".join(stream(header, rows))
