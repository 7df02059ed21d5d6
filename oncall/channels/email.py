"""Email pages through Django's configured backend: a plain-text and an HTML part, both with the
one-tap acknowledge link, so the link works in any mail client and survives "view as text"."""

from __future__ import annotations

import smtplib

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from incidents.mail import automated_email
from oncall.channels.base import Delivered, Message, PermanentError, TransientError, one_line


class EmailChannel:
    kind = "email"

    def availability(self) -> tuple[bool, str]:
        # Django always has an email backend; without SMTP settings it writes files or to the console.
        return True, ""

    def validate_address(self, address: str) -> str:
        address = address.strip()
        try:
            validate_email(address)
        except ValidationError:
            raise ValueError("Enter a valid email address, e.g. alice@example.org.") from None
        local, _, domain = address.rpartition("@")
        # Domains are case-insensitive; the local part is not (in theory), so it is left alone.
        return f"{local}@{domain.lower()}"

    def send(self, *, address: str, message: Message) -> Delivered:
        subject = one_line(message.default_subject())
        context = {"message": message, "subject": subject, "heading": _heading(message)}
        headers = {}
        if message.dedup_id:
            headers["X-Muster-Notification"] = message.dedup_id
        if message.incident_reference:
            headers["X-Muster-Incident"] = message.incident_reference
        if message.kind == "page" and message.urgency == "high":
            headers["Importance"] = "high"
            headers["X-Priority"] = "1"
        email = automated_email(
            to=[address], subject=subject, template="oncall/email/message", context=context, headers=headers
        )
        message_id = email.extra_headers["Message-ID"]
        try:
            email.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            reasons = "; ".join(f"{code} {_text(reply)}" for code, reply in exc.recipients.values())
            # 4xx is the server saying "not now" (greylisting, full mailbox); 5xx is "never".
            if codes and all(400 <= code < 500 for code in codes):
                raise TransientError(f"the mail server deferred {address}: {reasons}") from exc
            raise PermanentError(f"the mail server refused {address}: {reasons}") from exc
        except smtplib.SMTPResponseException as exc:
            text = f"the mail server answered {exc.smtp_code} {_text(exc.smtp_error)}"
            if 400 <= exc.smtp_code < 500:
                raise TransientError(text) from exc
            raise PermanentError(text) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Refused or dropped connections and timeouts (TimeoutError is an OSError).
            raise TransientError(
                f"could not reach the mail server: {str(exc) or type(exc).__name__}"
            ) from exc
        return Delivered(provider_id=message_id)


def _heading(message: Message) -> str:
    if message.kind == "page":
        return f"{message.incident_reference} · {one_line(message.title)}"
    return one_line(message.default_subject())


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply
