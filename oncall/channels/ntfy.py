"""ntfy push (INTEROP.md §8.2): a publish to the configured server, with an Acknowledge button.

The Acknowledge button is an ntfy `http` action: the phone itself POSTs to ack_api_url, so the page
can be acknowledged from the lock screen without opening a browser. The token lives in the URL, so
no Authorization header is put into the action (it would be readable by anyone who can read the topic).
"""

from __future__ import annotations

import re
from email.header import Header

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

# Same rule as the ntfy server's topicRegex; these names are server routes, not topics.
TOPIC_RE = re.compile(r"^[-_A-Za-z0-9]{1,64}$")
RESERVED_TOPICS = frozenset(
    {
        "docs",
        "static",
        "file",
        "app",
        "metrics",
        "account",
        "settings",
        "pricing",
        "signup",
        "login",
        "reset-password",
        "v1",
    }
)
# Longer bodies are turned into a file attachment by the server, which a lock screen does not show.
MAX_BODY_BYTES = 4096
PRIORITY_HIGH = "5"
PRIORITY_LOW = "3"


class NtfyChannel:
    kind = "ntfy"

    def availability(self) -> tuple[bool, str]:
        if not settings.NTFY_URL:
            return (
                False,
                "Set NTFY_URL to your ntfy server (for example https://ntfy.sh) to page by ntfy push.",
            )
        return True, ""

    def validate_address(self, address: str) -> str:
        topic = address.strip()
        server = str(settings.NTFY_URL).rstrip("/")
        # People copy the subscription URL from the ntfy app; take the topic out of it.
        if server and topic.startswith(server + "/"):
            topic = topic[len(server) + 1 :].strip("/")
        elif "://" in topic:
            raise ValueError(
                f"Enter just the topic name. This Muster sends to {server or 'the configured ntfy server'} only."
            )
        if not TOPIC_RE.fullmatch(topic):
            raise ValueError(
                "An ntfy topic is 1 to 64 letters, digits, '-' or '_' (no spaces or slashes). "
                "Pick something hard to guess: anyone who knows the topic can read it."
            )
        if topic.lower() in RESERVED_TOPICS:
            raise ValueError(f"'{topic}' is reserved by the ntfy server; pick another topic name.")
        return topic

    def send(self, *, address: str, message: Message) -> Delivered:
        ensure_available(self)
        headers = {
            "X-Title": _header_text(message.default_subject()),
            "X-Priority": PRIORITY_HIGH if message.urgency == "high" else PRIORITY_LOW,
            "X-Tags": ",".join(_tags(message)),
        }
        if message.incident_url:
            headers["X-Click"] = message.incident_url
        actions = build_actions(message)
        if actions:
            headers["X-Actions"] = actions
        if settings.NTFY_TOKEN:
            headers["Authorization"] = f"Bearer {settings.NTFY_TOKEN}"
        url = f"{str(settings.NTFY_URL).rstrip('/')}/{address}"
        response = http.post(url, provider="ntfy", headers=headers, content=_body(message).encode())
        if response.is_success:
            return Delivered(provider_id=str(http.json_or_empty(response).get("id", "")))
        raise _error(response)


def build_actions(message: Message) -> str:
    """The X-Actions header in ntfy's simple syntax: `;` between actions, `,` between parameters."""
    actions = []
    if message.can_acknowledge and message.ack_api_url:
        actions.append(f"http, Acknowledge, {_param(message.ack_api_url)}, method=POST, clear=true")
    if message.incident_url:
        actions.append(f"view, Open incident, {_param(message.incident_url)}")
    return "; ".join(actions)


def _param(value: str) -> str:
    # ntfy ends an unquoted value at the first ',' or ';' and does not unescape inside quotes, so a
    # value with either is wrapped in a quote character it does not contain.
    if not any(c in value for c in ",;\"'"):
        return value
    for quote in ('"', "'"):
        if quote not in value:
            return f"{quote}{value}{quote}"
    raise PermanentError(f"cannot put {value!r} into an ntfy action: it contains both quote characters")


def _header_text(text: str) -> str:
    # HTTP header values are bytes on the wire; ntfy decodes RFC 2047 encoded-words in every header.
    text = one_line(text)
    if text.isascii():
        return text
    return Header(text, "utf-8").encode(maxlinelen=10_000)


def _tags(message: Message) -> list[str]:
    if message.kind == "test":
        return ["test_tube"]
    if message.kind == "shift":
        return ["calendar"]
    return ["rotating_light" if message.urgency == "high" else "warning", message.severity_label.lower()]


def _body(message: Message) -> str:
    head_lines = []
    if message.kind == "page":
        head_lines.append(f"{message.severity_label} · {message.service_name} · {message.urgency} urgency")
    if message.summary:
        head_lines.append(message.summary)
    tail = f"Acknowledge: {message.ack_url}" if message.can_acknowledge else ""
    head = "\n".join(head_lines)
    # Only the summary is ever long; the acknowledge line must survive whole.
    room = MAX_BODY_BYTES - len(tail.encode()) - (1 if tail else 0)
    head = _cut_to_bytes(head, room)
    return "\n".join(part for part in (head, tail) if part) or message.title


def _cut_to_bytes(text: str, limit: int) -> str:
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[: max(limit - 3, 0)].decode(errors="ignore").rstrip() + "..."


def _error(response: httpx.Response) -> Exception:
    data = http.json_or_empty(response)
    detail = str(data.get("error") or http.excerpt(response) or response.reason_phrase)
    code = data.get("code")
    text = f"ntfy answered HTTP {response.status_code}" + (f" ({code})" if code else "") + f": {detail}"
    if response.status_code == 429 or response.status_code >= 500:
        return TransientError(text, retry_after=http.retry_after(response))
    return PermanentError(text)
