"""The normalised events every sender format is parsed into, and the errors parsing can raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from incidents.choices import Severity, Urgency

Action = Literal["trigger", "acknowledge", "resolve"]


@dataclass(frozen=True)
class AlertEvent:
    action: Action
    dedup_key: str
    # Alerts with the same group key share one open incident (an Alertmanager group); for senders
    # without groups it is the dedup key itself.
    group_key: str
    summary: str = ""
    severity: Severity = Severity.SEV3
    urgency: Urgency = Urgency.HIGH
    source: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    links: list[dict[str, str]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None
    incident_title: str = ""


@dataclass(frozen=True)
class ChangeEventData:
    summary: str
    source: str = ""
    occurred_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)
    links: list[dict[str, str]] = field(default_factory=list)


class IngestError(Exception):
    """The request cannot be accepted; `errors` name each problem for the sender."""

    def __init__(self, message: str, errors: list[str] | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or [message]
        self.status = status
