"""The app's request class (not `request.py`: that name would shadow `flask.request` in the package): query
and form values never carry a NUL character.

No field means anything by NUL, a browser cannot type one, and PostgreSQL refuses it in any text
column, so it is dropped where Werkzeug builds `request.args` and `request.form`, once for every route,
the way the CSV import drops it from every cell (issue 8 §3).
"""
from flask import Request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.routing import IntegerConverter


def _clean(value):
    return value.replace("\x00", "") if isinstance(value, str) else value


def _pairs(mapping):
    if isinstance(mapping, MultiDict):
        return mapping.items(multi=True)
    if isinstance(mapping, dict):
        return ((k, v) for k, values in mapping.items()
                for v in (values if isinstance(values, (list, tuple)) else [values]))
    return mapping


class NulFreeMultiDict(ImmutableMultiDict):
    def __init__(self, mapping=None):
        super().__init__(None if mapping is None else [(_clean(k), _clean(v)) for k, v in _pairs(mapping)])


class AppRequest(Request):
    parameter_storage_class = NulFreeMultiDict


class IdConverter(IntegerConverter):
    """`<int:…>` in the URL map: ASCII digits only, 1…2³¹−1 (the ids are INTEGER columns), so an id
    past the database's integer (or "١") is a 404, never an overflow (issue 8 §3)."""

    regex = r"[0-9]{1,19}"

    def __init__(self, map, fixed_digits=0, min=1, max=2**31 - 1, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
