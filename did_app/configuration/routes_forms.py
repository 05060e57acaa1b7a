"""Input shapes for voice and SMS trunks and groups. Rules and their messages live in
did_app.rules.routes; these forms only turn posted text into typed values (configuration.md §2–§4)."""
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.utils import unset_value

from did_app import parsing
from did_app.form_fields import AttachMixin, CleanText, IdField, IdListField, VersionField
from did_app.rules import routes as rs


class WholeNumberField(IntegerField):
    """An integer or blank (None); anything else gets the field's own range message."""

    def __init__(self, label=None, validators=None, message="Enter a whole number.", **kwargs):
        super().__init__(label, validators, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        text = (valuelist[0] if valuelist else "").strip().replace(",", "")
        if not text:
            self.data = None
            return
        self.data = parsing.query_int(text, 0, parsing.MAX_ID)  # the service checks the field's range
        if self.data is None:
            raise ValueError(self.message)


class RateField(StringField):
    """A decimal rate or blank; the range is checked by the service."""

    def process_formdata(self, valuelist):
        text = (valuelist[0] if valuelist else "").strip()
        self.raw_text = text
        if not text:
            self.data = None
            return
        self.data = parsing.query_decimal(text)
        if self.data is None:
            raise ValueError(rs.RATE)

    def _value(self):
        return "" if self.data is None else format(self.data, "f")


class CodecsField(Field):
    """An ordered choice of codecs: every allowed codec in display order (`<name>_order`), the
    ticked ones (`<name>`) are used in that order. Up/down buttons post `move=up:<codec>`."""

    def process_data(self, value):
        self.data = list(value or [])
        self.order = self.data + [c for c in rs.CODECS if c not in self.data]

    def process(self, formdata, data=unset_value, extra_filters=None):
        if data is unset_value or data is None:
            data = list(rs.DEFAULT_CODECS)
        super().process(formdata, data, extra_filters)
        if formdata is not None and f"{self.name}_order" in formdata:
            order = [c for c in dict.fromkeys(formdata.getlist(f"{self.name}_order")) if c in rs.CODECS]
            self.order = order + [c for c in rs.CODECS if c not in order]
            chosen = set(formdata.getlist(self.name))
            unknown = chosen - set(rs.CODECS)
            self.data = [c for c in self.order if c in chosen] + sorted(unknown)

    def process_formdata(self, valuelist):
        self.data = list(valuelist)

    def move(self, instruction: str) -> None:
        """Apply "up:<codec>" or "down:<codec>" to the display order (nothing is saved)."""
        direction, _, codec = instruction.partition(":")
        if codec not in self.order or direction not in ("up", "down"):
            return
        i = self.order.index(codec)
        j = i - 1 if direction == "up" else i + 1
        if 0 <= j < len(self.order):
            self.order[i], self.order[j] = self.order[j], self.order[i]
        self.data = [c for c in self.order if c in self.data]


class KeyValueField(TextAreaField):
    """Lines of `key<sep>value` as a list of {"key", "value"}."""

    def __init__(self, label=None, validators=None, separator="=", noun="query parameter", **kwargs):
        super().__init__(label, validators, **kwargs)
        self.separator, self.noun = separator, noun

    def process_data(self, value):
        self.data = list(value or [])

    def process_formdata(self, valuelist):
        self.data = []
        for line in (valuelist[0] if valuelist else "").splitlines():
            if not line.strip():
                continue
            key, sep, value = line.partition(self.separator)
            if not sep:
                raise ValueError(f"Write each {self.noun} as name{self.separator}value on its own line.")
            self.data.append({"key": key.strip(), "value": value.strip()})

    def _value(self):
        sep = self.separator if self.separator == "=" else f"{self.separator} "
        return "\n".join(f"{p['key']}{sep}{p['value']}" for p in self.data or [])


class LinesField(TextAreaField):
    """One value per line (commas also separate) as a list of strings."""

    def process_data(self, value):
        self.data = list(value or [])

    def process_formdata(self, valuelist):
        text = (valuelist[0] if valuelist else "").replace(",", "\n")
        self.data = [line.strip() for line in text.splitlines() if line.strip()]

    def _value(self):
        return "\n".join(self.data or [])


class RouteForm(AttachMixin, CleanText, FlaskForm):
    """Fields every trunk and group form shares; `values()` is what the service takes."""
    version = VersionField()
    SKIP = ("csrf_token", "version")

    def values(self) -> dict:
        return {name: field.data for name, field in self._fields.items() if name not in self.SKIP}


class TrunkForm(RouteForm):
    name = StringField("Name")
    description = StringField("Description")
    capacity_limit = WholeNumberField("Capacity limit", message=rs.CAPACITY_LIMIT)
    group_id = IdField("Trunk group", message=rs.CHOOSE)
    priority = WholeNumberField("Priority", default=1, message=rs.VOICE_PRIORITY)
    weight = WholeNumberField("Weight", default=100, message=rs.WEIGHT)
    cli_format = SelectField("CLI format", choices=list(rs.CLI_FORMATS.items()), default="e164",
                             validate_choice=False)
    cli_prefix = StringField("CLI prefix")
    ringing_timeout = WholeNumberField("Ringing timeout (seconds)", message=rs.RINGING_TIMEOUT)


class SipTrunkForm(TrunkForm):
    host = StringField("Host")
    port = WholeNumberField("Port", default=5060, message=rs.PORT)
    username = StringField("Username", default="{DID}")
    transport = SelectField("Transport", choices=list(rs.TRANSPORTS.items()), default="udp", validate_choice=False)
    codecs = CodecsField("Codecs")
    auth_enabled = BooleanField("Use authentication")
    auth_user = StringField("Authentication user")
    auth_password = PasswordField("Authentication password")
    auth_from_user = StringField("From user (optional)")
    auth_from_domain = StringField("From domain (optional)")
    media_encryption = SelectField("Media encryption", choices=list(rs.MEDIA_ENCRYPTION.items()),
                                   default="disabled", validate_choice=False)


class PstnTrunkForm(TrunkForm):
    destination = StringField("Destination number")
    per_minute_rate = RateField("Per-minute rate (optional)")


TRUNK_FORMS = {"sip": SipTrunkForm, "pstn": PstnTrunkForm}


class GroupForm(RouteForm):
    name = StringField("Name")
    description = StringField("Description")
    members = IdListField("Members", message="Choose trunks from the list.")


class TrunkGroupForm(GroupForm):
    capacity_limit = WholeNumberField("Capacity limit", message=rs.CAPACITY_LIMIT)


class SmsTrunkForm(RouteForm):
    name = StringField("Name")
    description = StringField("Description")
    blocked = BooleanField("Blocked (carries no messages)")
    priority = WholeNumberField("Priority", default=100, message=rs.SMS_PRIORITY)
    group_id = IdField("SMS trunk group", message=rs.CHOOSE)


class SmsToEmailForm(SmsTrunkForm):
    send_to = StringField("Send to")
    subject = StringField("Subject", default="SMS from {SMS_SRC_ADDR}")
    message = TextAreaField("Message", default="{SMS_TEXT}")


class HttpInForm(SmsTrunkForm):
    url = StringField("URL")
    method = SelectField("Method", choices=[(m, m) for m in rs.HTTP_METHODS], default="GET", validate_choice=False)
    query_parameters = KeyValueField("Query parameters (optional)", separator="=", noun="query parameter")
    headers = KeyValueField("Headers (optional)", separator=":", noun="header")
    body_type = SelectField("Body type", choices=[("", "None (GET)"), *rs.BODY_TYPES.items()],
                            validate_choice=False)
    body = TextAreaField("Body")
    follow_redirects = BooleanField("Follow redirects")
    verify_tls = BooleanField("Verify TLS certificate", default=True)


class SmppEsmeForm(SmsTrunkForm):
    system_type = StringField("System type (optional)")
    allowed_ips = LinesField("Allowed IPs (optional)")
    server_location = StringField("Server location")


class SmppSmscForm(SmsTrunkForm):
    host = StringField("Host")
    tx_port = WholeNumberField("TX port", default=2775, message="TX port must be 1–65,535.")
    rx_port = WholeNumberField("RX port", default=2776, message="RX port must be 1–65,535.")
    transceiver_mode = BooleanField("Transceiver mode")
    connection_timeout = WholeNumberField("Connection timeout (seconds)", default=30,
                                          message="Connection timeout must be 1–120 seconds.")
    use_tls = BooleanField("Use TLS")
    system_id = StringField("System ID")
    system_type = StringField("System type (optional)")
    password = PasswordField("Password")
    server_location = StringField("Server location")


SMS_FORMS = {"sms_to_email": SmsToEmailForm, "http_in": HttpInForm, "smpp_esme": SmppEsmeForm,
             "smpp_smsc": SmppSmscForm}


class ActionForm(FlaskForm):
    """A button that changes something (delete, regenerate, save order): the CSRF token only."""


def voice_trunk_data(trunk) -> dict:
    """Form data for editing a voice trunk; the password is write-only and never filled in."""
    names = ("name", "description", "capacity_limit", "group_id", "priority", "weight", "cli_format",
             "cli_prefix", "ringing_timeout", "host", "port", "username", "transport", "codecs",
             "auth_enabled", "auth_user", "auth_from_user", "auth_from_domain", "media_encryption",
             "destination", "per_minute_rate", "version")
    return {n: getattr(trunk, n) for n in names}


def sms_trunk_data(trunk) -> dict:
    """Form data for editing an SMS trunk: columns plus its settings, minus the write-only password."""
    data = {n: getattr(trunk, n) for n in ("name", "description", "blocked", "priority", "group_id", "version")}
    settings = dict(trunk.settings or {})
    settings.pop("password", None)
    return {**settings, **data}


def group_data(group, member_ids) -> dict:
    data = {n: getattr(group, n, None) for n in ("name", "description", "capacity_limit", "version")}
    return {**data, "members": list(member_ids)}
