"""The one small interface every outbound channel implements, and the errors the engine acts on.

The engine only needs three answers from a channel: it was delivered (with the provider's id, so a
page can be traced at the provider), try again later, or stop trying. Everything provider-specific
stays inside the channel's own module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Message:
    incident_reference: str  # "INC-42"
    title: str
    severity_label: str  # "SEV1".."SEV4"
    urgency: str  # "high" | "low"
    service_name: str
    incident_url: str  # absolute
    # One-tap acknowledge: GET shows a confirmation page, POST acknowledges. Empty for messages that
    # are not about an open incident (a test, a shift nudge); channels then leave the ack controls out.
    ack_url: str
    ack_api_url: str  # POST acknowledges; the token is in the URL (ntfy's http action button)
    summary: str = ""
    kind: str = "page"  # "page" | "test" | "shift"
    subject: str = ""  # overrides the default subject line
    dedup_id: str = ""  # the notification row's id

    @property
    def can_acknowledge(self) -> bool:
        return bool(self.ack_url)

    def default_subject(self) -> str:
        if self.subject:
            return self.subject
        if self.kind == "test":
            return f"[Test] {self.title}"
        if self.kind == "shift":
            return self.title
        return f"[{self.severity_label}] {self.incident_reference} {self.title}"


@dataclass(frozen=True)
class Delivered:
    provider_id: str = ""  # Twilio SID, ntfy message id, Slack ts, SMTP Message-ID …


class TransientError(Exception):
    """The provider may accept the same message later: timeouts, 5xx, rate limits."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        # Seconds the provider asked us to wait; the engine uses it instead of its own backoff.
        self.retry_after = retry_after


class PermanentError(Exception):
    """Sending the same message again cannot succeed: bad address, rejected credentials, 4xx."""


class Channel(Protocol):
    kind: str

    def availability(self) -> tuple[bool, str]:
        """(True, "") when configured; otherwise (False, what an admin has to set)."""
        ...

    def validate_address(self, address: str) -> str:
        """The normalised address, or ValueError with a message for the person typing it."""
        ...

    def send(self, *, address: str, message: Message) -> Delivered: ...


def ensure_available(channel: Channel) -> None:
    # A missing setting will not fix itself within the retry window, and the escalation must move
    # on to the next rule, so this is permanent.
    ok, reason = channel.availability()
    if not ok:
        raise PermanentError(reason)


def one_line(text: str) -> str:
    """Titles go into subjects and HTTP headers, where a newline is an injection or an error."""
    return " ".join(text.split())
