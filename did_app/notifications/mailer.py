"""Outgoing email over SMTP (the SMTP_* settings of interfaces.md): smtplib and EmailMessage."""
import smtplib
from email.message import EmailMessage

from flask import current_app

SMTP_TIMEOUT = 10  # seconds: a hung server must not hold the deliveries job


class SendFailed(Exception):
    """The message was not accepted: connection refused, timeout, or an SMTP error reply."""


def configured() -> bool:
    return bool(current_app.config.get("SMTP_HOST"))


def sender() -> str:
    return current_app.config.get("SMTP_FROM") or "did-app@localhost"


def send(message: EmailMessage) -> None:
    """Hand `message` to the SMTP server. Raises SendFailed with a one-line reason."""
    cfg = current_app.config
    try:
        with smtplib.SMTP(cfg["SMTP_HOST"], int(cfg["SMTP_PORT"]), timeout=SMTP_TIMEOUT) as smtp:
            if cfg.get("SMTP_STARTTLS"):
                smtp.starttls()
            if cfg.get("SMTP_USER"):
                smtp.login(cfg["SMTP_USER"], cfg.get("SMTP_PASSWORD") or "")
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise SendFailed(f"SMTP error {exc.smtp_code}: {text}"[:1000]) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise SendFailed(f"{type(exc).__name__}: {exc}"[:1000]) from exc
