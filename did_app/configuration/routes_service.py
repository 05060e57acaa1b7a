"""Voice and SMS routes: trunks, trunk groups, membership and delete protection.

configuration.md §1–§4 and §7. Every public write function is one use case in one
`write_transaction()`, with an audit row per changed object. A broken field rule raises
`RouteInvalid` (all problems at once, each under its field); a refused delete raises
`DeleteRefused`, which names the /numbers filter for the numbers concerned.

Voice trunks and trunk groups share `VoiceRoute`; SMS trunks and groups share `SmsRoute`. The two
spaces behave alike, so the group and delete helpers take a `Space` describing one of them.
"""
import hashlib
import ipaddress
import re
import secrets
import string
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from email.utils import getaddresses

import sqlalchemy as sa

from did_app import audit, clock, parsing, phone
from did_app.db import db, write_transaction
from did_app.errors import Conflict, DomainError
from did_app.models import AuditEvent, ConfigurationProfile, Number, SmsRoute, VoiceRoute
from did_app.rules import status

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
    weighted: bool


VOICE = Space(VoiceRoute, Number.voice_route_id, "voice_route", "trunk", "trunk_group", "Trunk",
              "Trunk group", VOICE_NAME_TAKEN, VOICE_GROUP_FULL, 65535, VOICE_PRIORITY, True)
SMS = Space(SmsRoute, Number.sms_route_id, "sms_route", "sms_trunk", "sms_trunk_group", "SMS trunk",
            "SMS trunk group", SMS_NAME_TAKEN, SMS_GROUP_FULL, 32767, SMS_PRIORITY, False)


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
                             default=1 if space is VOICE else 100)}


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
                system_id=stored.get("system_id") or _generate(16),
                password=stored.get("password") or _generate(8))


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


def _generate(length: int) -> str:
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


# ---- private helpers inside a transaction --------------------------------------------------------

def _fingerprint(secret: str | None) -> str | None:
    # audit rows show a secret as "changed"; the fingerprint only lets diff() notice a replacement
    return hashlib.sha256(secret.encode()).hexdigest()[:16] if secret else None


def _load(session, space: Space, route_id: int, kind: str, version: int | None = None):
    route = session.scalar(sa.select(space.model).where(space.model.id == route_id, space.model.kind == kind)
                           .with_for_update())
    if route is None:
        noun = (space.trunk_label if kind == "trunk" else space.group_label).replace("Trunk", "trunk")
        raise DomainError(f"This {noun} no longer exists.")
    if version is not None and route.version != version:
        raise Conflict("This record was changed by someone else. Your edit was not saved.")
    return route


def _name_taken(session, space: Space, name, own_id: int | None) -> bool:
    if not isinstance(name, str) or not name.strip():
        return False
    return session.scalar(sa.select(space.model.id).where(space.model.name_key == name.strip().lower(),
                                                          space.model.id != (own_id or 0))) is not None


def _check_name_free(session, space: Space, name: str, own_id: int | None) -> None:
    if _name_taken(session, space, name, own_id):
        raise RouteInvalid([("name", space.name_taken)])


def _cleaned(session, space: Space, own_id, values: dict, clean):
    """`clean()`, with a taken name reported together with the other problems."""
    try:
        return clean()
    except RouteInvalid as err:
        if "name" not in dict(err.problems) and _name_taken(session, space, values.get("name"), own_id):
            err.problems.insert(0, ("name", space.name_taken))
            err.message, err.field = space.name_taken, "name"
        raise


def _names(session, space: Space, ids) -> dict[int, str]:
    ids = [i for i in ids if i]
    if not ids:
        return {}
    return dict(session.execute(sa.select(space.model.id, space.model.name).where(space.model.id.in_(ids))).all())


def _member_lines(session, space: Space, group_id: int) -> list[str]:
    """The group's members in try order, as audit text ("Name · priority 1 · weight 100")."""
    m = space.model
    rows = session.scalars(sa.select(m).where(m.group_id == group_id, m.kind == "trunk")).all()
    return [line["label"] for line in try_order(space, rows)]


def _count_numbers(session, space: Space, route_id: int) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Number).where(space.number_column == route_id))


def _recompute(space: Space, route_ids) -> None:
    ids = sorted({i for i in route_ids if i})
    if ids:
        status.recompute(space.number_column.in_(ids))


def _group_for_member(session, space: Space, group_id: int, trunk_id: int | None):
    """Lock the target group and refuse when it already holds the maximum number of trunks."""
    m = space.model
    group = session.scalar(sa.select(m).where(m.id == group_id, m.kind == "group").with_for_update())
    if group is None:
        raise RouteInvalid([("group_id", CHOOSE)])
    members = session.scalar(sa.select(sa.func.count()).select_from(m).where(
        m.group_id == group_id, m.id != (trunk_id or 0)))
    if members >= MAX_MEMBERS:
        raise RouteInvalid([("group_id", space.group_full)])
    return group


def _status_key(session, space: Space, group_id: int) -> tuple:
    """What a group's numbers' status depends on: its members (and, for SMS, which are blocked)."""
    m = space.model
    cols = (m.id, m.blocked) if space is SMS else (m.id,)
    return tuple(session.execute(sa.select(*cols).where(m.group_id == group_id).order_by(m.id)).all())


class _GroupWatch:
    """Audits the groups a change touches (their member lines before and after) and recomputes the
    status of numbers on each group whose membership or blocked members changed."""

    def __init__(self, session, space: Space, actor, group_ids):
        self.session, self.space, self.actor = session, space, actor
        self.before = {}
        for gid in {g for g in group_ids if g}:
            self.before[gid] = (_member_lines(session, space, gid), _status_key(session, space, gid))

    def finish(self, skip_audit=()) -> None:
        self.session.flush()
        names = _names(self.session, self.space, self.before)
        moved = []
        for gid, (lines, key) in self.before.items():
            after = _member_lines(self.session, self.space, gid)
            if gid not in skip_audit and gid in names and after != lines:
                audit.record(self.actor, f"{self.space.group_type}.updated", self.space.group_type, gid,
                             names[gid], before={"members": lines}, after={"members": after})
            if _status_key(self.session, self.space, gid) != key:
                moved.append(gid)
        _recompute(self.space, moved)


def _compact(snapshot: dict) -> dict:
    """A created or deleted object's values without the blank ones."""
    return {k: v for k, v in snapshot.items() if v not in (None, "", [])}


def _flush_named(session, space: Space) -> None:
    try:
        session.flush()
    except sa.exc.IntegrityError as exc:  # a concurrent save took the name after our check
        raise RouteInvalid([("name", space.name_taken)]) from exc


def _trunk_snapshot(session, space: Space, route) -> dict:
    group = _names(session, space, [route.group_id]).get(route.group_id)
    if space is SMS:
        settings = dict(route.settings or {})
        settings["password"] = _fingerprint(settings.get("password"))
        for key in audit.SECRET_PAIR_FIELDS & settings.keys():  # header and query values hold tokens
            settings[key] = [{**p, "value": _fingerprint(p.get("value")) or ""} for p in settings[key] or []]
        return {"name": route.name, "description": route.description, "kind": route.trunk_kind,
                "blocked": route.blocked, "priority": route.priority, "group": group, **settings}
    snap = {c: getattr(route, c) for c in _VOICE_COLUMNS}
    snap.update(group=group, auth_password=_fingerprint(route.auth_password), kind=route.trunk_kind,
                per_minute_rate=str(route.per_minute_rate) if route.per_minute_rate is not None else None)
    return {k: v for k, v in snap.items() if route.trunk_kind == "sip" or k not in _SIP_ONLY}


_VOICE_COLUMNS = ("name", "description", "capacity_limit", "priority", "weight", "cli_format", "cli_prefix",
                  "ringing_timeout", "host", "port", "username", "transport", "codecs", "auth_enabled",
                  "auth_user", "auth_from_user", "auth_from_domain", "media_encryption", "destination")
_SIP_ONLY = {"host", "port", "username", "transport", "codecs", "auth_enabled", "auth_user", "auth_password",
             "auth_from_user", "auth_from_domain", "media_encryption"}


def _group_snapshot(session, space: Space, group) -> dict:
    snap = {"name": group.name, "description": group.description,
            "members": _member_lines(session, space, group.id)}
    if space is VOICE:
        snap["capacity_limit"] = group.capacity_limit
    return snap


def _save_trunk(session, space: Space, actor, trunk, columns: dict, creating: bool) -> list[str]:
    """Apply cleaned columns to a trunk (new or locked), move it between groups, audit, recompute."""
    new_group = columns.pop("group_id")
    _check_name_free(session, space, columns["name"], trunk.id)
    if new_group and new_group != trunk.group_id:
        _group_for_member(session, space, new_group, trunk.id)
    old_group = trunk.group_id
    watch = _GroupWatch(session, space, actor, [old_group, new_group])
    before = None if creating else _trunk_snapshot(session, space, trunk)
    notices = []
    if old_group and new_group and old_group != new_group:
        notices.append(MOVED.format(trunk=columns["name"], group=_names(session, space, [old_group])[old_group]))
    blocked_changed = space is SMS and not creating and trunk.blocked != columns.get("blocked")
    for key, value in columns.items():
        setattr(trunk, key, value)
    trunk.name_key = columns["name"].lower()
    trunk.group_id = new_group
    if creating:
        session.add(trunk)
    else:
        trunk.updated_at = clock.now()
    _flush_named(session, space)
    after = _trunk_snapshot(session, space, trunk)
    if creating:
        audit.record(actor, f"{space.trunk_type}.created", space.trunk_type, trunk.id, trunk.name,
                     after=_compact(after))
    else:
        b, a = audit.diff(before, after)
        if a:
            audit.record(actor, f"{space.trunk_type}.updated", space.trunk_type, trunk.id, trunk.name,
                         before=b, after=a)
    watch.finish()
    if blocked_changed:
        _recompute(space, [trunk.id])
    return notices


def _save_group(session, space: Space, actor, group, columns: dict, member_ids: list[int],
                creating: bool) -> list[str]:
    """Apply a group's columns and its exact member set; moved trunks leave their old groups."""
    m = space.model
    _check_name_free(session, space, columns["name"], group.id)
    trunks = session.scalars(sa.select(m).where(m.id.in_(member_ids or [0])).with_for_update()).all()
    if len(trunks) != len(member_ids) or any(t.kind != "trunk" for t in trunks):
        raise RouteInvalid([("members", "Choose trunks from the list.")])
    current = [] if creating else session.scalars(
        sa.select(m).where(m.group_id == group.id, m.kind == "trunk").with_for_update()).all()
    before = None if creating else _group_snapshot(session, space, group)
    for key, value in columns.items():
        setattr(group, key, value)
    group.name_key = columns["name"].lower()
    if creating:
        session.add(group)
    else:
        group.updated_at = clock.now()
    _flush_named(session, space)
    watch = _GroupWatch(session, space, actor, [group.id, *(t.group_id for t in trunks)])
    old_names = _names(session, space, watch.before)
    notices, chosen = [], {t.id for t in trunks}
    for trunk in [*trunks, *(t for t in current if t.id not in chosen)]:
        target = group.id if trunk.id in chosen else None
        if trunk.group_id == target:
            continue
        if trunk.group_id and target:
            notices.append(MOVED.format(trunk=trunk.name, group=old_names[trunk.group_id]))
        _set_trunk_group(session, space, actor, trunk, target, {**old_names, group.id: group.name})
    session.flush()
    after = _group_snapshot(session, space, group)
    if creating:
        audit.record(actor, f"{space.group_type}.created", space.group_type, group.id, group.name,
                     after=_compact(after))
    else:
        b, a = audit.diff(before, after)
        if a:
            audit.record(actor, f"{space.group_type}.updated", space.group_type, group.id, group.name,
                         before=b, after=a)
    watch.finish(skip_audit={group.id})  # the group's own row carries its members
    return notices


def _set_trunk_group(session, space: Space, actor, trunk, group_id, group_names: dict) -> None:
    old = trunk.group_id
    trunk.group_id = group_id
    trunk.updated_at = clock.now()
    audit.record(actor, f"{space.trunk_type}.updated", space.trunk_type, trunk.id, trunk.name,
                 before={"group": group_names.get(old)}, after={"group": group_names.get(group_id)})


def _refuse_trunk_delete(session, space: Space, trunk) -> None:
    n = _count_numbers(session, space, trunk.id)
    if n:
        raise DeleteRefused(f"{space.trunk_label} {trunk.name} routes {n} numbers. Move them first.",
                            {space.filter_key: trunk.id})
    if trunk.group_id is None or (space is SMS and trunk.blocked):
        return
    m = space.model
    others = sa.select(sa.func.count()).select_from(m).where(m.group_id == trunk.group_id, m.id != trunk.id)
    others_total = session.scalar(others)
    others_open = session.scalar(others.where(m.blocked.is_(False))) if space is SMS else others_total
    n = _count_numbers(session, space, trunk.group_id)
    if others_open == 0 and n:
        group = session.get(m, trunk.group_id)
        last = "last unblocked trunk" if others_total else "last trunk"
        raise DeleteRefused(f"{space.trunk_label} {trunk.name} is the {last} in group {group.name}, "
                            f"which routes {n} numbers.", {space.filter_key: group.id})


def _refuse_profiles(session, space: Space, route, label: str) -> None:
    # not in §7, but a profile's foreign key would otherwise make the delete fail
    column = (ConfigurationProfile.voice_route_id if space is VOICE else ConfigurationProfile.sms_route_id)
    names = session.scalars(sa.select(ConfigurationProfile.name).where(column == route.id)
                            .order_by(ConfigurationProfile.name)).all()
    if names:
        raise DeleteRefused(f"{label} {route.name} is used by profiles: {', '.join(names)}.")


# ---- voice trunks ----------------------------------------------------------------------------------

def create_voice_trunk(actor, kind: str, values: dict) -> tuple[VoiceRoute, list[str]]:
    """Create a SIP or PSTN trunk (§2), optionally in a group (≤ 10 members).

    Returns (trunk, notices). Raises RouteInvalid for any broken field rule, including a name
    already used by a trunk or trunk group.
    """
    with write_transaction() as session:
        columns = _cleaned(session, VOICE, None, values, lambda: clean_voice_trunk(kind, values))
        trunk = VoiceRoute(kind="trunk", trunk_kind=kind)
        notices = _save_trunk(session, VOICE, actor, trunk, columns, creating=True)
    return trunk, notices


def update_voice_trunk(actor, trunk_id: int, values: dict, version: int | None = None) -> tuple[VoiceRoute, list[str]]:
    """Edit a voice trunk; its kind is fixed. Choosing another group moves it ("Moved … from …").

    A blank `auth_password` keeps the stored one. Membership changes recompute the status of
    numbers on both groups. Raises RouteInvalid, Conflict (stale `version`) or DomainError.
    """
    with write_transaction() as session:
        trunk = _load(session, VOICE, trunk_id, "trunk", version)
        columns = _cleaned(session, VOICE, trunk.id, values,
                           lambda: clean_voice_trunk(trunk.trunk_kind, values, trunk))
        notices = _save_trunk(session, VOICE, actor, trunk, columns, creating=False)
    return trunk, notices


def delete_voice_trunk(actor, trunk_id: int) -> str:
    """Delete a voice trunk unless numbers route to it, or it is the last member of a group that
    numbers route to (§7). Returns the deleted name; raises DeleteRefused and changes nothing."""
    with write_transaction() as session:
        trunk = _load(session, VOICE, trunk_id, "trunk")
        if trunk.group_id:
            session.scalar(sa.select(VoiceRoute.id).where(VoiceRoute.id == trunk.group_id).with_for_update())
        _refuse_trunk_delete(session, VOICE, trunk)
        _refuse_profiles(session, VOICE, trunk, "Trunk")
        watch = _GroupWatch(session, VOICE, actor, [trunk.group_id])
        audit.record(actor, "trunk.deleted", "trunk", trunk.id, trunk.name,
                     before=_trunk_snapshot(session, VOICE, trunk))
        name = trunk.name
        session.delete(trunk)
        watch.finish()
    return name


# ---- voice trunk groups -----------------------------------------------------------------------------

def create_trunk_group(actor, values: dict, member_ids) -> tuple[VoiceRoute, list[str]]:
    """Create a trunk group with 0–10 member trunks (§3). A member taken from another group is
    moved, with a notice. Returns (group, notices); raises RouteInvalid."""
    with write_transaction() as session:
        columns, members = _cleaned(session, VOICE, None, values, lambda: clean_group(VOICE, values, member_ids))
        group = VoiceRoute(kind="group")
        notices = _save_group(session, VOICE, actor, group, columns, members, creating=True)
    return group, notices


def update_trunk_group(actor, group_id: int, values: dict, member_ids,
                       version: int | None = None) -> tuple[VoiceRoute, list[str]]:
    """Edit a trunk group and set its exact member set (≤ 10). Trunks left out are detached;
    numbers routed to this group and to groups that lost a trunk get their status recomputed.
    Raises RouteInvalid, Conflict or DomainError."""
    with write_transaction() as session:
        group = _load(session, VOICE, group_id, "group", version)
        columns, members = _cleaned(session, VOICE, group_id, values, lambda: clean_group(VOICE, values, member_ids))
        notices = _save_group(session, VOICE, actor, group, columns, members, creating=False)
    return group, notices


def set_trunk_order(actor, group_id: int, orders: dict, versions: dict | None = None) -> VoiceRoute:
    """Write priority and weight of the group's members from the group page.

    `orders` maps trunk id → (priority, weight), `versions` trunk id → the version the page showed.
    Raises RouteInvalid with fields "priority-<id>" / "weight-<id>", DomainError for a trunk that is
    not a member or a missing version, Conflict when a member changed since the page was rendered.
    """
    return _set_order(VOICE, actor, group_id, orders, versions)


def delete_trunk_group(actor, group_id: int) -> str:
    """Delete a trunk group unless numbers route to it (§7); its members are detached, not deleted."""
    return _delete_group(VOICE, actor, group_id)


def _set_order(space: Space, actor, group_id: int, orders: dict, versions: dict | None):
    check, clean = _Check(), {}
    for trunk_id, (priority, weight) in orders.items():
        tid = parsing.query_id(trunk_id)
        if tid is None:
            raise DomainError("The members of this group changed. Reload the page and try again.")
        p_key, w_key = f"priority-{tid}", f"weight-{tid}"
        clean[tid] = (_int(check, {p_key: priority}, p_key, 0, space.priority_max, space.priority_message),
                      _int(check, {w_key: weight}, w_key, 0, 65535, WEIGHT) if space.weighted else None)
    check.done()
    m = space.model
    with write_transaction() as session:
        group = _load(session, space, group_id, "group")
        members = {t.id: t for t in session.scalars(
            sa.select(m).where(m.group_id == group_id).with_for_update())}
        if set(clean) - set(members):
            raise DomainError("The members of this group changed. Reload the page and try again.")
        if versions is not None:  # None: callers without a rendered page (CLI, tests)
            if any(versions.get(tid) is None for tid in clean):
                raise DomainError(parsing.VERSION_MESSAGE)
            if any(members[tid].version != versions[tid] for tid in clean):
                raise Conflict("A member of this group was changed by someone else meanwhile; "
                               "the table now shows the current values.")
        watch = _GroupWatch(session, space, actor, [group_id])
        for trunk_id, (priority, weight) in clean.items():
            trunk = members[trunk_id]
            before = {"priority": trunk.priority, **({"weight": trunk.weight} if space.weighted else {})}
            after = {"priority": priority, **({"weight": weight} if space.weighted else {})}
            b, a = audit.diff(before, after)
            if a:
                for key, value in a.items():
                    setattr(trunk, key, value)
                trunk.updated_at = clock.now()
                audit.record(actor, f"{space.trunk_type}.updated", space.trunk_type, trunk.id, trunk.name,
                             before=b, after=a)
        watch.finish()
    return group


def _delete_group(space: Space, actor, group_id: int) -> str:
    m = space.model
    with write_transaction() as session:
        group = _load(session, space, group_id, "group")
        n = _count_numbers(session, space, group.id)
        if n:
            raise DeleteRefused(f"{space.group_label} {group.name} routes {n} numbers. Move them first.",
                                {space.filter_key: group.id})
        _refuse_profiles(session, space, group, space.group_label)
        members = session.scalars(sa.select(m).where(m.group_id == group.id).with_for_update()).all()
        audit.record(actor, f"{space.group_type}.deleted", space.group_type, group.id, group.name,
                     before=_group_snapshot(session, space, group))
        for trunk in members:
            _set_trunk_group(session, space, actor, trunk, None, {group.id: group.name})
        session.flush()
        name = group.name
        session.delete(group)
    return name


# ---- SMS trunks ------------------------------------------------------------------------------------

def create_sms_trunk(actor, kind: str, values: dict) -> tuple[SmsRoute, list[str]]:
    """Create an SMS trunk of one of the four kinds (§4). SMPP ESME credentials are generated.
    Returns (trunk, notices); raises RouteInvalid."""
    with write_transaction() as session:
        columns, settings = _cleaned(session, SMS, None, values, lambda: clean_sms_trunk(kind, values))
        trunk = SmsRoute(kind="trunk", trunk_kind=kind)
        columns["settings"] = settings
        notices = _save_trunk(session, SMS, actor, trunk, columns, creating=True)
    return trunk, notices


def update_sms_trunk(actor, trunk_id: int, values: dict, version: int | None = None) -> tuple[SmsRoute, list[str]]:
    """Edit an SMS trunk; its kind is fixed. Blocking, unblocking or moving it recomputes the
    status of the numbers on it and on the groups concerned. Raises RouteInvalid or Conflict."""
    with write_transaction() as session:
        trunk = _load(session, SMS, trunk_id, "trunk", version)
        columns, settings = _cleaned(session, SMS, trunk.id, values,
                                     lambda: clean_sms_trunk(trunk.trunk_kind, values, trunk))
        columns["settings"] = settings
        notices = _save_trunk(session, SMS, actor, trunk, columns, creating=False)
    return trunk, notices


def regenerate_sms_credentials(actor, trunk_id: int) -> SmsRoute:
    """New system ID (16) and password (8) for an SMPP ESME trunk; the old ones stop working."""
    with write_transaction() as session:
        trunk = _load(session, SMS, trunk_id, "trunk")
        if trunk.trunk_kind != "smpp_esme":
            raise DomainError("Only SMPP (ESME) trunks have generated credentials.")
        settings = dict(trunk.settings or {})
        before = {"system_id": settings.get("system_id"), "password": _fingerprint(settings.get("password"))}
        settings.update(system_id=_generate(16), password=_generate(8))
        trunk.settings = settings
        trunk.updated_at = clock.now()
        audit.record(actor, "sms_trunk.credentials_regenerated", "sms_trunk", trunk.id, trunk.name,
                     before=before, after={"system_id": settings["system_id"],
                                           "password": _fingerprint(settings["password"])})
    return trunk


def delete_sms_trunk(actor, trunk_id: int) -> str:
    """Delete an SMS trunk unless numbers route to it, or it is the last unblocked member of a
    group that numbers route to (§7). Raises DeleteRefused and changes nothing."""
    with write_transaction() as session:
        trunk = _load(session, SMS, trunk_id, "trunk")
        if trunk.group_id:
            session.scalar(sa.select(SmsRoute.id).where(SmsRoute.id == trunk.group_id).with_for_update())
        _refuse_trunk_delete(session, SMS, trunk)
        _refuse_profiles(session, SMS, trunk, "SMS trunk")
        watch = _GroupWatch(session, SMS, actor, [trunk.group_id])
        audit.record(actor, "sms_trunk.deleted", "sms_trunk", trunk.id, trunk.name,
                     before=_trunk_snapshot(session, SMS, trunk))
        name = trunk.name
        session.delete(trunk)
        watch.finish()
    return name


# ---- SMS trunk groups --------------------------------------------------------------------------------

def create_sms_group(actor, values: dict, member_ids) -> tuple[SmsRoute, list[str]]:
    """Create an SMS trunk group with 0–10 members (§4); members from other groups move."""
    with write_transaction() as session:
        columns, members = _cleaned(session, SMS, None, values, lambda: clean_group(SMS, values, member_ids))
        group = SmsRoute(kind="group")
        notices = _save_group(session, SMS, actor, group, columns, members, creating=True)
    return group, notices


def update_sms_group(actor, group_id: int, values: dict, member_ids,
                     version: int | None = None) -> tuple[SmsRoute, list[str]]:
    """Edit an SMS trunk group and set its exact member set (≤ 10); recomputes the status of the
    numbers routed to it and to groups that lost a trunk. Raises RouteInvalid or Conflict."""
    with write_transaction() as session:
        group = _load(session, SMS, group_id, "group", version)
        columns, members = _cleaned(session, SMS, group_id, values, lambda: clean_group(SMS, values, member_ids))
        notices = _save_group(session, SMS, actor, group, columns, members, creating=False)
    return group, notices


def set_sms_order(actor, group_id: int, priorities: dict, versions: dict | None = None) -> SmsRoute:
    """Write the priority (0–32,767; lower is tried first) of the group's members.

    `priorities` maps trunk id → priority, `versions` as for set_trunk_order. Raises RouteInvalid
    with fields "priority-<id>", DomainError or Conflict as set_trunk_order does.
    """
    return _set_order(SMS, actor, group_id, {k: (v, None) for k, v in priorities.items()}, versions)


def delete_sms_group(actor, group_id: int) -> str:
    """Delete an SMS trunk group unless numbers route to it (§7); its members are detached."""
    return _delete_group(SMS, actor, group_id)


# ---- read side --------------------------------------------------------------------------------------

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


def percent(share: float | None) -> str:
    if share is None:
        return "—"
    return f"{share:.1f}".rstrip("0").rstrip(".") + "%"


def sms_summary(trunk) -> str:
    """Where an SMS trunk delivers, in one line for the list page."""
    s = trunk.settings or {}
    if trunk.trunk_kind == "sms_to_email":
        return s.get("send_to") or ""
    if trunk.trunk_kind == "http_in":
        return f"{s.get('method') or 'GET'} {s.get('url') or ''}"
    if trunk.trunk_kind == "smpp_esme":
        return f"System ID {s.get('system_id') or ''} · {s.get('server_location') or ''}"
    if trunk.trunk_kind == "smpp_smsc":
        tls = " · TLS" if s.get("use_tls") else ""
        return f"{s.get('host') or ''}:{s.get('tx_port') or ''}/{s.get('rx_port') or ''}{tls}"
    return ""


def masked_pairs(pairs) -> list[dict]:
    """An HTTP-in trunk's headers or query parameters for a reader: the names, each set value as
    "•••• set" (tokens live there); operators see the values on the trunk's form."""
    return [{"key": p.get("key"), "value": "•••• set" if p.get("value") else ""} for p in pairs or []]


def number_counts(space: Space, route_ids=None) -> dict[int, int]:
    """Numbers per route id in one grouped query: every route (list pages), or only `route_ids`."""
    col = space.number_column
    where = col.in_([i for i in route_ids if i]) if route_ids is not None else col.is_not(None)
    return dict(db.session.execute(sa.select(col, sa.func.count()).where(where).group_by(col)).all())


def list_routes(space: Space, *, name: str = "", kind: str = "", group: str = ""):
    """(trunks, groups) for a list page: trunks filtered by name (contains), kind and group
    ("none" = in no group), each with its group loaded; groups with their member counts."""
    m = space.model
    query = sa.select(m).where(m.kind == "trunk").order_by(m.name_key)
    if name.strip():
        query = query.where(m.name_key.contains(name.strip().lower(), autoescape=True))
    if kind:
        query = query.where(m.trunk_kind == kind)
    if group == "none":
        query = query.where(m.group_id.is_(None))
    elif (group_id := parsing.query_id(group)) is not None:
        query = query.where(m.group_id == group_id)
    trunks = db.session.scalars(query).all()
    groups = db.session.scalars(sa.select(m).where(m.kind == "group").order_by(m.name_key)).all()
    sizes = dict(db.session.execute(sa.select(m.group_id, sa.func.count()).where(m.group_id.is_not(None))
                                    .group_by(m.group_id)).all())
    return trunks, groups, sizes


def blocked_member_counts() -> dict[int, int]:
    """Blocked members per SMS group, in one grouped query."""
    m = SmsRoute
    return dict(db.session.execute(sa.select(m.group_id, sa.func.count()).where(
        m.group_id.is_not(None), m.blocked.is_(True)).group_by(m.group_id)).all())


def group_choices(space: Space) -> list[tuple[int, str]]:
    m = space.model
    return db.session.execute(sa.select(m.id, m.name).where(m.kind == "group").order_by(m.name_key)).all()


def member_candidates(space: Space, group_id: int | None = None):
    """Every trunk with the name of its current group, for the group form's member list; the
    members of `group_id` come first."""
    m = space.model
    trunks = db.session.scalars(sa.select(m).where(m.kind == "trunk").order_by(m.name_key)).all()
    names = dict(group_choices(space))
    trunks.sort(key=lambda t: group_id is None or t.group_id != group_id)
    return [(t, names.get(t.group_id)) for t in trunks]


def get_route(space: Space, route_id: int, kind: str):
    m = space.model
    return db.session.scalar(sa.select(m).where(m.id == route_id, m.kind == kind))


def members_of(space: Space, group_id: int):
    m = space.model
    return db.session.scalars(sa.select(m).where(m.group_id == group_id, m.kind == "trunk")).all()


def history(object_type: str, object_id: int, limit: int = 50):
    """Audit rows of one configuration object, newest first, secrets shown as "changed"."""
    return audit.for_display(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.object_type == object_type, AuditEvent.object_id == object_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)).all())
