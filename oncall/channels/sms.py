"""SMS through Twilio's Messages API (INTEROP.md §8.1).

An SMS is the channel of last resort for someone whose phone is silenced for apps, so the text leads
with what is broken and always ends with the acknowledge link, however long the title or summary.
"""

from __future__ import annotations

import re

import httpx
from django.conf import settings

from oncall.channels import http
from oncall.channels.base import (
    Delivered,
    Message,
    PermanentError,
    TransientError,
    ensure_available,
    one_line,
)

# Twilio rejects longer bodies outright rather than truncating them.
MAX_BODY = 1600
E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
SEPARATORS_RE = re.compile(r"[\s\-.()/]")
TWILIO_RATE_LIMITED = 20429


class SmsChannel:
    kind = "sms"

    def availability(self) -> tuple[bool, str]:
        missing = [
            name for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if not getattr(settings, name)
        ]
        if not settings.TWILIO_FROM_NUMBER and not settings.TWILIO_MESSAGING_SERVICE_SID:
            missing.append("TWILIO_FROM_NUMBER (or TWILIO_MESSAGING_SERVICE_SID)")
        if missing:
            return False, f"SMS needs a Twilio account: set {_and_list(missing)}."
        return True, ""

    def validate_address(self, address: str) -> str:
        number = SEPARATORS_RE.sub("", address)
        if not number:
            raise ValueError("Enter a mobile number in international format, e.g. +44 7700 900123.")
        if number.startswith("00"):
            number = "+" + number[2:]
        if not re.fullmatch(r"\+?\d+", number):
            raise ValueError(
                "A phone number may only contain digits, spaces, dashes, dots and brackets after the +."
            )
        if not number.startswith("+"):
            raise ValueError(
                "Write the number in international format: + and the country code first, e.g. +44 20 7946 0958."
            )
        if not E164_RE.fullmatch(number):
            raise ValueError(
                "That is not a valid international number: after the + come the country code "
                "(not starting with 0) and the number, 7 to 15 digits in all."
            )
        return number

    def send(self, *, address: str, message: Message) -> Delivered:
        ensure_available(self)
        sid = settings.TWILIO_ACCOUNT_SID
        form = {"To": address, "Body": compose_body(message)}
        # A Messaging Service picks the sender itself (and handles country rules), so it wins.
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            form["MessagingServiceSid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        else:
            form["From"] = settings.TWILIO_FROM_NUMBER
        response = http.post(
            f"{settings.TWILIO_API_URL}/2010-04-01/Accounts/{sid}/Messages.json",
            provider="Twilio",
            data=form,
            auth=(sid, settings.TWILIO_AUTH_TOKEN),
        )
        if response.is_success:
            return Delivered(provider_id=str(http.json_or_empty(response).get("sid", "")))
        raise _error(response)


def compose_body(message: Message) -> str:
    head_lines = [one_line(message.default_subject())]
    if message.kind == "page":
        head_lines.append(f"Service: {one_line(message.service_name)}")
    if message.summary:
        head_lines.append(message.summary.strip())
    tail_lines = []
    if message.can_acknowledge:
        tail_lines.append(f"Ack: {message.ack_url}")
    if message.incident_url:
        tail_lines.append(f"Open: {message.incident_url}")
    tail = "\n".join(tail_lines)
    if tail_lines and _length(tail) + 1 > MAX_BODY // 2:
        # Absurdly long URLs: the acknowledge link is the one that matters at 03:00.
        tail = tail_lines[0]
    head = "\n".join(head_lines)
    room = MAX_BODY - _length(tail) - (1 if tail else 0)
    return "\n".join(part for part in (_cut(head, room), tail) if part)


def _length(text: str) -> int:
    # Twilio counts UTF-16 code units, so an emoji in a title costs two.
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, limit: int) -> str:
    if _length(text) <= limit:
        return text
    marker = "..."  # not "…": one non-GSM character turns the whole SMS into 70-character segments
    while text and _length(text) + len(marker) > limit:
        text = text[: -max(1, (_length(text) + len(marker) - limit) // 2)]
    return text.rstrip() + marker


def _error(response: httpx.Response) -> Exception:
    data = http.json_or_empty(response)
    code = data.get("code")
    detail = str(data.get("message") or http.excerpt(response) or response.reason_phrase)
    text = (
        f"Twilio answered HTTP {response.status_code}" + (f" (error {code})" if code else "") + f": {detail}"
    )
    if data.get("more_info"):
        text += f" {data['more_info']}"
    if response.status_code == 429 or code == TWILIO_RATE_LIMITED or response.status_code >= 500:
        return TransientError(text, retry_after=http.retry_after(response))
    return PermanentError(text)


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
