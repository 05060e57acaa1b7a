"""Route rules: the field checks of voice and SMS trunks and groups, each with its message, and the
try order of a group's members (configuration.md §1–§4). Pure rules: no writes, no area imports.

A broken field rule raises `RouteInvalid` (all problems at once, each under its field); a refused
delete raises `DeleteRefused`, which names the /numbers filter for the numbers concerned. Voice
trunks and trunk groups share `VoiceRoute`; SMS trunks and groups share `SmsRoute`; a `Space`
describes one of them.
"""
import ipaddress
import re
import secrets
import string
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from email.utils import getaddresses

from did_app import parsing, phone
from did_app.errors import DomainError
from did_app.models import Number, SmsRoute, VoiceRoute

# ---- choices -----------------------------------------------------------------------------------

TRUNK_KINDS = {"sip": "SIP", "pstn": "PSTN"}
CLI_FORMATS = {"e164": "E.164", "raw": "Raw", "local": "Local"}
TRANSPORTS = {"udp": "UDP", "tcp": "TCP", "tls": "TLS"}
MEDIA_ENCRYPTION = {"disabled": "Disabled", "srtp_sdes": "SRTP (SDES)", "srtp_dtls": "SRTP (DTLS)",
                    "zrtp": "ZRTP"}
CODECS = ("PCMU", "PCMA", "G729", "G723", "G722", "GSM", "speex", "G726-32", "L16", "telephone-event")
DEFAULT_CODECS = ["PCMU", "PCMA", "G729", "G723", "telephone-event"]
SMS_KINDS = {"sms_to_email": "SMS to email", "http_in": "HTTP in",
             "smpp_esme": "SMPP (you connect as ESME)", "smpp_smsc": "SMPP (provider connects to your SMSC)"}
HTTP_METHODS = ("GET", "POST", "PUT")
BODY_TYPES = {"json": "JSON", "multipart": "Multipart form", "urlencoded": "URL-encoded form", "raw": "Raw"}
PLACEHOLDERS = ("SMS_TEXT", "SMS_TEXT_BASE64_ENCODED", "SMS_SRC_ADDR", "SMS_DST_ADDR", "SMS_TIME", "SMS_UUID")
PLACEHOLDER_HINT = "Placeholders: " + ", ".join("{" + p + "}" for p in PLACEHOLDERS) + "."
MAX_MEMBERS = 10

# ---- messages (verbatim from the spec where it gives one) --------------------------------------

VOICE_NAME_TAKEN = "Name is already used by a trunk or trunk group."
SMS_NAME_TAKEN = "Name is already used by an SMS trunk or SMS trunk group."
VOICE_GROUP_FULL = "A trunk group holds at most 10 trunks."
SMS_GROUP_FULL = "An SMS trunk group holds at most 10 trunks."
MOVED = "Moved {trunk} from {group}."
NAME_REQUIRED = "Enter a name."
NAME_LENGTH = "Name must be 1–100 characters."
DESCRIPTION_LENGTH = "Description must be at most 255 characters."
CAPACITY_LIMIT = "Enter a whole number from 1 to 32,767, or leave blank for no limit."
CAPACITY_HINT = "Limits simultaneous inbound calls; it does not add capacity."
VOICE_PRIORITY = "Priority must be 0–65,535."
WEIGHT = "Weight must be 0–65,535."
SMS_PRIORITY = "Priority must be 0–32,767."
CLI_PREFIX = "CLI prefix may hold up to 7 letters, digits, + or #."
RINGING_TIMEOUT = "Ringing timeout must be 1–120 seconds."
HOST = "Enter a host name or IP address."
PORT = "Port must be 1–65,535, or blank."
USERNAME = "Username can't contain spaces or @."
CODECS_REQUIRED = "Choose at least one codec."
AUTH_PAIR = "Enter a user and password, or turn authentication off."
DESTINATION = "Enter a valid phone number in international format."
RATE = "Enter a rate of 0 or more, with up to 6 decimal places."
SDES_HINT = "SDES keys travel in clear SIP; prefer TLS."
SEND_TO = "Enter one email address, optionally as Name <address>."
URL = "Enter an http or https URL of at most 2,000 characters."
GET_BODY = "GET requests carry no body."
BODY_TYPE_REQUIRED = "Choose a body type for POST and PUT requests."
UNKNOWN_PLACEHOLDER = "Unknown placeholder {token}."
CHOOSE = "Choose an option from the list."
MEMBERS_CHANGED = "The members of this group changed. Reload the page and try again."

_CLI_PREFIX_RE = re.compile(r"[0-9A-Za-z+#]{0,7}")
_HOST_LABEL_RE = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_PLACEHOLDER_RE = re.compile(r"\{(\w+)\}")
_EMAIL_RE = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
_CREDENTIAL_ALPHABET = string.ascii_letters + string.digits


class RouteInvalid(DomainError):
    """One or more field rules are broken; `problems` lists every (field, message) pair."""

    def __init__(self, problems: list[tuple[str | None, str]]):
        super().__init__(problems[0][1], problems[0][0])
        self.problems = problems


class DeleteRefused(DomainError):
    """A delete refused by configuration.md §7. `numbers_filter` is the /numbers query naming the
    numbers concerned (e.g. {"voice_route": 7}), or None when no numbers are involved."""

    def __init__(self, message: str, numbers_filter: dict | None = None):
        super().__init__(message)
        self.numbers_filter = numbers_filter


@dataclass(frozen=True)
class Space:
    """One route space: voice (trunks + trunk groups) or SMS (SMS trunks + SMS trunk groups)."""
    model: type
    number_column: object
    filter_key: str
    trunk_type: str
    group_type: str
    trunk_label: str
    group_label: str
    name_taken: str
    group_full: str
    priority_max: int
    priority_message: str
    priority_default: int
    weighted: bool   # members share by weight (voice); SMS members of equal priority share equally
    blockable: bool  # trunks can be blocked, and a blocked member is skipped (SMS)


VOICE = Space(VoiceRoute, Number.voice_route_id, "voice_route", "trunk", "trunk_group", "Trunk",
              "Trunk group", VOICE_NAME_TAKEN, VOICE_GROUP_FULL, 65535, VOICE_PRIORITY, 1,
              weighted=True, blockable=False)
SMS = Space(SmsRoute, Number.sms_route_id, "sms_route", "sms_trunk", "sms_trunk_group", "SMS trunk",
            "SMS trunk group", SMS_NAME_TAKEN, SMS_GROUP_FULL, 32767, SMS_PRIORITY, 100,
            weighted=False, blockable=True)


class _Check:
    """Collects field problems; the first problem per field wins."""

    def __init__(self):
        self.problems: list[tuple[str | None, str]] = []

    def add(self, field: str | None, message: str) -> None:
        if field is None or all(f != field for f, _ in self.problems):
            self.problems.append((field, message))

    def done(self) -> None:
        if self.problems:
            raise RouteInvalid(self.problems)


# ---- field rules ---------------------------------------------------------------------------------

def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(check, values, key, max_len, message, *, required_message=None):
    """Trimmed text or None; `message` when longer than `max_len`, `required_message` when blank."""
    value = values.get(key)
    value = value.strip() if isinstance(value, str) else value
    if _blank(value):
        if required_message:
            check.add(key, required_message)
        return None
    if len(value) > max_len:
        check.add(key, message)
    return value


def _int(check, values, key, lo, hi, message, *, default=None, blank_ok=False):
    value = values.get(key, default)
    if _blank(value):
        if not blank_ok:
            check.add(key, message)
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        check.add(key, message)
        return None
    return value


def _choice(check, values, key, choices, default=None):
    value = values.get(key) or default
    if value not in choices:
        check.add(key, CHOOSE)
    return value


def _name(check, values):
    return _text(check, values, "name", 100, NAME_LENGTH, required_message=NAME_REQUIRED)


def _host_ok(host: str) -> bool:
    candidate = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(candidate)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return len(host) <= 255 and all(_HOST_LABEL_RE.fullmatch(label) for label in labels) \
        and not labels[-1].isdigit()


def _host(check, values, key="host"):
    host = _text(check, values, key, 255, HOST, required_message=HOST)
    if host is not None and not _host_ok(host):
        check.add(key, HOST)
    return host


def _placeholders(check, key, *texts) -> None:
    for text in texts:
        for token in _PLACEHOLDER_RE.findall(text or ""):
            if token not in PLACEHOLDERS:
                check.add(key, UNKNOWN_PLACEHOLDER.format(token="{" + token + "}"))
                return


def _bool(values, key, default=False) -> bool:
    value = values.get(key, default)
    return default if value is None else bool(value)


def _common_trunk(check, values, space: Space) -> dict:
    raw_group = values.get("group_id") or None
    group_id = parsing.query_id(raw_group) if raw_group is not None else None
    if raw_group is not None and group_id is None:
        check.add("group_id", CHOOSE)
    return {"name": _name(check, values),
            "description": _text(check, values, "description", 255, DESCRIPTION_LENGTH),
            "group_id": group_id,
            "priority": _int(check, values, "priority", 0, space.priority_max, space.priority_message,
                             default=space.priority_default)}


def clean_trunk(space: Space, kind: str, values: dict, current=None) -> dict:
    """The column values of a trunk of `kind` in `space` (an SMS trunk's kind fields under
    "settings"), or RouteInvalid with every problem."""
    if space is VOICE:
        return clean_voice_trunk(kind, values, current)
    columns, settings = clean_sms_trunk(kind, values, current)
    return {**columns, "settings": settings}


def clean_voice_trunk(kind: str, values: dict, current: VoiceRoute | None = None) -> dict:
    """The column values of a voice trunk of `kind`, or RouteInvalid with every problem.

    `auth_password` None means "keep the stored one" (`current`); it is write-only.
    """
    check = _Check()
    row = _common_trunk(check, values, VOICE)
    row.update(
        capacity_limit=_int(check, values, "capacity_limit", 1, 32767, CAPACITY_LIMIT, blank_ok=True),
        weight=_int(check, values, "weight", 0, 65535, WEIGHT, default=100),
        cli_format=_choice(check, values, "cli_format", CLI_FORMATS, "e164"),
        cli_prefix=_text(check, values, "cli_prefix", 7, CLI_PREFIX),
        ringing_timeout=_int(check, values, "ringing_timeout", 1, 120, RINGING_TIMEOUT, blank_ok=True))
    if row["cli_prefix"] and not _CLI_PREFIX_RE.fullmatch(row["cli_prefix"]):
        check.add("cli_prefix", CLI_PREFIX)
    if kind == "sip":
        row.update(_clean_sip(check, values, current))
    elif kind == "pstn":
        row.update(_clean_pstn(check, values))
    else:
        check.add(None, "Choose SIP or PSTN.")
    check.done()
    return row


def _clean_sip(check, values, current) -> dict:
    username = values.get("username", "{DID}")
    username = username.strip() if isinstance(username, str) else username
    if username and (len(username) > 64):
        check.add("username", "Username must be at most 64 characters.")
    elif username and (re.search(r"\s|@", username)):
        check.add("username", USERNAME)
    codecs = values.get("codecs")
    codecs = list(DEFAULT_CODECS) if codecs is None else list(codecs)
    if not codecs:
        check.add("codecs", CODECS_REQUIRED)
    elif any(c not in CODECS for c in codecs) or len(set(codecs)) != len(codecs):
        check.add("codecs", "Choose each codec once, from the list.")
    auth_enabled = _bool(values, "auth_enabled")
    auth_user = _text(check, values, "auth_user", 64, "Authentication user must be at most 64 characters.")
    new_password = values.get("auth_password") or None
    if new_password is not None and len(new_password) > 64:
        check.add("auth_password", "Password must be at most 64 characters.")
    stored = current.auth_password if current is not None else None
    if auth_enabled and not (auth_user and (new_password or stored)):
        check.add("auth_user", AUTH_PAIR)
    if not auth_enabled and (auth_user or new_password):
        check.add("auth_user", AUTH_PAIR)
    return dict(
        host=_host(check, values),
        port=_int(check, values, "port", 1, 65535, PORT, default=5060, blank_ok=True),
        username=username or None,
        transport=_choice(check, values, "transport", TRANSPORTS, "udp"),
        codecs=codecs, auth_enabled=auth_enabled,
        auth_user=auth_user if auth_enabled else None,
        auth_password=(new_password or stored) if auth_enabled else None,
        auth_from_user=_text(check, values, "auth_from_user", 64, "From user must be at most 64 characters."),
        auth_from_domain=_text(check, values, "auth_from_domain", 255,
                               "From domain must be at most 255 characters."),
        media_encryption=_choice(check, values, "media_encryption", MEDIA_ENCRYPTION, "disabled"))


def _clean_pstn(check, values) -> dict:
    raw = values.get("destination")
    parsed = phone.parse(raw.strip()) if isinstance(raw, str) and raw.strip() else None
    if parsed is None:
        check.add("destination", DESTINATION)
    rate = values.get("per_minute_rate")
    if _blank(rate):
        rate = None
    else:
        try:
            rate = Decimal(str(rate))
        except InvalidOperation:
            rate = None
            check.add("per_minute_rate", RATE)
        else:
            if not rate.is_finite() or rate < 0 or rate >= Decimal("1000000") \
                    or rate.normalize().as_tuple().exponent < -6:
                check.add("per_minute_rate", RATE)
    return dict(destination=phone.e164(parsed) if parsed else None, per_minute_rate=rate)


def sdes_in_clear(transport: str | None, media_encryption: str | None) -> bool:
    """True when the SDES hint applies: SDES keys would travel over a non-TLS transport."""
    return media_encryption == "srtp_sdes" and transport != "tls"


def clean_sms_trunk(kind: str, values: dict, current: SmsRoute | None = None) -> tuple[dict, dict]:
    """(column values, settings) of an SMS trunk of `kind`, or RouteInvalid with every problem.

    The SMPP SMSC `password` is write-only: None keeps the stored one. SMPP ESME credentials are
    generated, never taken from `values`.
    """
    check = _Check()
    row = _common_trunk(check, values, SMS)
    row["blocked"] = _bool(values, "blocked")
    stored = dict(current.settings or {}) if current is not None else {}
    cleaner = {"sms_to_email": _clean_email, "http_in": _clean_http, "smpp_esme": _clean_esme,
               "smpp_smsc": _clean_smsc}.get(kind)
    if cleaner is None:
        check.add(None, "Choose an SMS trunk kind.")
        check.done()
    settings = cleaner(check, values, stored)
    check.done()
    return row, settings


def _clean_email(check, values, stored) -> dict:
    send_to = _text(check, values, "send_to", 255, SEND_TO, required_message=SEND_TO)
    if send_to is not None:
        found = getaddresses([send_to])
        if len(found) != 1 or not _EMAIL_RE.fullmatch(found[0][1] or ""):
            check.add("send_to", SEND_TO)
    subject = _text(check, values, "subject", 255, "Subject must be at most 255 characters.",
                    required_message="Enter a subject.")
    message = _text(check, values, "message", 2000, "Message must be at most 2,000 characters.",
                    required_message="Enter a message.")
    _placeholders(check, "subject", subject)
    _placeholders(check, "message", message)
    return dict(send_to=send_to, subject=subject, message=message)


def _pairs(check, values, key, noun) -> list[dict]:
    pairs = [dict(key=str(p.get("key", "")).strip(), value=str(p.get("value", "")))
             for p in (values.get(key) or [])]
    if len(pairs) > 20:
        check.add(key, f"Enter at most 20 {noun}.")
    if any(not p["key"] for p in pairs):
        check.add(key, f"Every one of the {noun} needs a name.")
    _placeholders(check, key, *(p["value"] for p in pairs))
    return pairs


def _clean_http(check, values, stored) -> dict:
    url = _text(check, values, "url", 2000, URL, required_message=URL)
    if url is not None and not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", url, re.IGNORECASE):
        check.add("url", URL)
    _placeholders(check, "url", url)
    method = _choice(check, values, "method", HTTP_METHODS, "GET")
    body_type = values.get("body_type") or None
    body = values.get("body") or None
    if method == "GET":
        if body_type is not None:
            check.add("body_type", GET_BODY)
        if body is not None:
            check.add("body", GET_BODY)
    elif body_type is None:
        check.add("body_type", BODY_TYPE_REQUIRED)
    elif body_type not in BODY_TYPES:
        check.add("body_type", CHOOSE)
    if body is not None and len(body) > 10000:
        check.add("body", "Body must be at most 10,000 characters.")
    _placeholders(check, "body", body)
    return dict(url=url, method=method,
                query_parameters=_pairs(check, values, "query_parameters", "query parameters"),
                headers=_pairs(check, values, "headers", "headers"), body_type=body_type, body=body,
                follow_redirects=_bool(values, "follow_redirects"),
                verify_tls=_bool(values, "verify_tls", True))


def _server_location(check, values):
    return _text(check, values, "server_location", 20, "Server location must be at most 20 characters.",
                 required_message="Enter a server location.")


def _clean_esme(check, values, stored) -> dict:
    ips = [str(ip).strip() for ip in (values.get("allowed_ips") or []) if str(ip).strip()]
    if len(ips) > 10:
        check.add("allowed_ips", "Enter at most 10 IP addresses or CIDR ranges.")
    for ip in ips:
        try:
            ipaddress.ip_network(ip, strict=False)
        except ValueError:
            check.add("allowed_ips", f"{ip} is not an IP address or CIDR range.")
            break
    return dict(system_type=_text(check, values, "system_type", 12, "System type must be at most 12 characters."),
                allowed_ips=ips, server_location=_server_location(check, values),
                system_id=stored.get("system_id") or generate_credential(16),
                password=stored.get("password") or generate_credential(8))


def _clean_smsc(check, values, stored) -> dict:
    new_password = values.get("password") or None
    password = new_password or stored.get("password")
    if new_password is not None and len(new_password) > 8:
        check.add("password", "Password must be at most 8 characters.")
    elif password is None:
        check.add("password", "Enter a password.")
    return dict(host=_host(check, values),
                tx_port=_int(check, values, "tx_port", 1, 65535, "TX port must be 1–65,535.", default=2775),
                rx_port=_int(check, values, "rx_port", 1, 65535, "RX port must be 1–65,535.", default=2776),
                transceiver_mode=_bool(values, "transceiver_mode"),
                connection_timeout=_int(check, values, "connection_timeout", 1, 120,
                                        "Connection timeout must be 1–120 seconds.", default=30),
                use_tls=_bool(values, "use_tls"),
                system_id=_text(check, values, "system_id", 15, "System ID must be at most 15 characters.",
                                required_message="Enter a system ID."),
                system_type=_text(check, values, "system_type", 12, "System type must be at most 12 characters."),
                password=password, server_location=_server_location(check, values))


def generate_credential(length: int) -> str:
    """Random letters and digits for an SMPP ESME system ID or password."""
    return "".join(secrets.choice(_CREDENTIAL_ALPHABET) for _ in range(length))


def clean_group(space: Space, values: dict, member_ids) -> tuple[dict, list[int]]:
    """(column values, member ids) of a trunk group, or RouteInvalid."""
    check = _Check()
    row = {"name": _name(check, values),
           "description": _text(check, values, "description", 255, DESCRIPTION_LENGTH)}
    if space is VOICE:
        row["capacity_limit"] = _int(check, values, "capacity_limit", 1, 32767, CAPACITY_LIMIT, blank_ok=True)
    members = list(dict.fromkeys(parsing.query_id(m) for m in (member_ids or [])))
    if None in members:
        check.add("members", "Choose trunks from the list.")
        members.remove(None)
    if len(members) > MAX_MEMBERS:
        check.add("members", space.group_full)
    check.done()
    return row, members


def clean_order(space: Space, orders: dict) -> dict[int, tuple[int, int | None]]:
    """Priorities (and, where members are weighted, weights) posted from a group's members table.

    `orders` maps trunk id → (priority, weight), or → priority where the space has no weights.
    Returns trunk id → (priority, weight or None), or raises RouteInvalid with fields
    "priority-<id>" / "weight-<id>"; DomainError when an id is not a trunk id at all.
    """
    check, clean = _Check(), {}
    for trunk_id, value in orders.items():
        tid = parsing.query_id(trunk_id)
        if tid is None:
            raise DomainError(MEMBERS_CHANGED)
        priority, weight = value if isinstance(value, tuple) else (value, None)
        p_key, w_key = f"priority-{tid}", f"weight-{tid}"
        clean[tid] = (_int(check, {p_key: priority}, p_key, 0, space.priority_max, space.priority_message),
                      _int(check, {w_key: weight}, w_key, 0, 65535, WEIGHT) if space.weighted else None)
    check.done()
    return clean


def try_order(space: Space, members) -> list[dict]:
    """Members in try order (§3): ascending priority; at equal priority the share follows weight.

    Each entry: trunk, order (1, 2, 2, 3 … by priority; None for a blocked SMS trunk, which is
    skipped), share (percent within its priority) and an audit label. Weight 0 gets a share only
    when every weight at that priority is 0; then they share equally. SMS trunks have no weight:
    equal priorities share equally.
    """
    def weight(t):
        return t.weight if space.weighted else 1

    def live(t):
        return not getattr(t, "blocked", False)

    ordered = sorted(members, key=lambda t: (not live(t), t.priority, -weight(t), t.name.lower()))
    totals, counts = {}, {}
    for t in filter(live, ordered):
        totals[t.priority] = totals.get(t.priority, 0) + weight(t)
        counts[t.priority] = counts.get(t.priority, 0) + 1
    rows, rank, last = [], 0, None
    for t in ordered:
        entry = {"trunk": t, "order": None, "share": None}
        if live(t):
            if t.priority != last:
                rank, last = rank + 1, t.priority
            total = totals[t.priority]
            entry.update(order=rank, share=(100 * weight(t) / total) if total else 100 / counts[t.priority])
        parts = [t.name, f"priority {t.priority}"]
        if space.weighted:
            parts.append(f"weight {t.weight}")
        if not live(t):
            parts.append("blocked")
        entry["label"] = " · ".join(parts)
        rows.append(entry)
    return rows
