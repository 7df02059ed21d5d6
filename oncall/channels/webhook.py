"""Generic outgoing webhook: a signed JSON POST to a URL the person chose.

Receivers verify X-Muster-Signature = hex(HMAC-SHA256(MUSTER_WEBHOOK_SIGNING_SECRET, raw body)).
The timestamp is also inside the body (sent_at), so it is covered by the signature and a receiver
can refuse replays; the X-Muster-Timestamp header repeats it for receivers that check it first.
An unsigned webhook would let anyone who learns the URL forge pages, so the channel stays
unavailable until the secret is set.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from oncall.channels import http
from oncall.channels.base import Delivered, Message, PermanentError, TransientError, ensure_available

MAX_URL_LENGTH = 2000


class WebhookChannel:
    kind = "webhook"

    def availability(self) -> tuple[bool, str]:
        if not settings.MUSTER_WEBHOOK_SIGNING_SECRET:
            return False, (
                "Set MUSTER_WEBHOOK_SIGNING_SECRET (a long random string, shared with the receivers) "
                "to send webhooks; they are signed with it."
            )
        return True, ""

    def validate_address(self, address: str) -> str:
        url = address.strip()
        if len(url) > MAX_URL_LENGTH:
            raise ValueError(f"The URL is longer than {MAX_URL_LENGTH} characters.")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            raise ValueError("That is not a valid URL.") from None
        if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
            raise ValueError("Enter a full http:// or https:// URL, e.g. https://hooks.example.org/muster.")
        if any(c.isspace() for c in url):
            raise ValueError("A URL cannot contain spaces; percent-encode them as %20.")
        return url

    def send(self, *, address: str, message: Message) -> Delivered:
        ensure_available(self)
        timestamp = int(time.time())
        body = json.dumps(build_payload(message, sent_at=timestamp), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Muster-Timestamp": str(timestamp),
            "X-Muster-Signature": sign(body),
        }
        if message.dedup_id:
            # Receivers deduplicate on this: a retry after a timeout carries the same id.
            headers["X-Muster-Notification"] = message.dedup_id
        response = http.post(address, provider="the webhook", headers=headers, content=body)
        if response.is_success:
            return Delivered(provider_id=response.headers.get("X-Request-Id", "")[:200])
        raise _error(response)


def sign(body: bytes) -> str:
    secret = str(settings.MUSTER_WEBHOOK_SIGNING_SECRET).encode()
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def build_payload(message: Message, *, sent_at: int) -> dict[str, Any]:
    return {
        "event": f"notification.{message.kind}",
        "kind": message.kind,
        "notification_id": message.dedup_id,
        "sent_at": sent_at,
        "incident": {
            "reference": message.incident_reference,
            "title": message.title,
            "severity": message.severity_label,
            "urgency": message.urgency,
            "service": message.service_name,
            "url": message.incident_url,
            "summary": message.summary,
        },
        "subject": message.default_subject(),
        "ack_url": message.ack_url,
        "ack_api_url": message.ack_api_url,
    }


def _error(response: httpx.Response) -> Exception:
    status = response.status_code
    text = f"the webhook answered HTTP {status}"
    if response.is_redirect:
        where = response.headers.get("Location", "")
        return PermanentError(f"{text} (a redirect{f' to {where}' if where else ''}); update the webhook URL")
    if response.text.strip():
        text += f": {http.excerpt(response)}"
    if status in {408, 425, 429} or status >= 500:
        return TransientError(text, retry_after=http.retry_after(response))
    return PermanentError(text)
