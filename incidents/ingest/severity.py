"""How bad an alert is, from whatever words each sender uses for it. One table for every format."""

from __future__ import annotations

from incidents.choices import Severity, Urgency

SeverityUrgency = tuple[Severity, Urgency]

# A sender that does not say how bad an alert is still pages: missing a real page at night costs
# more than an unneeded one, and the responder can lower the severity afterwards.
DEFAULT: SeverityUrgency = (Severity.SEV3, Urgency.HIGH)

# PagerDuty's four values, the Alertmanager `severity` label conventions and Muster's own SEV names.
_WORDS: dict[str, SeverityUrgency] = {
    "critical": (Severity.SEV1, Urgency.HIGH),
    "page": (Severity.SEV1, Urgency.HIGH),
    "fatal": (Severity.SEV1, Urgency.HIGH),
    "emergency": (Severity.SEV1, Urgency.HIGH),
    "sev1": (Severity.SEV1, Urgency.HIGH),
    "error": (Severity.SEV2, Urgency.HIGH),
    "high": (Severity.SEV2, Urgency.HIGH),
    "major": (Severity.SEV2, Urgency.HIGH),
    "sev2": (Severity.SEV2, Urgency.HIGH),
    "warning": (Severity.SEV3, Urgency.LOW),
    "warn": (Severity.SEV3, Urgency.LOW),
    "minor": (Severity.SEV3, Urgency.LOW),
    "sev3": (Severity.SEV3, Urgency.LOW),
    "info": (Severity.SEV4, Urgency.LOW),
    "informational": (Severity.SEV4, Urgency.LOW),
    "low": (Severity.SEV4, Urgency.LOW),
    "none": (Severity.SEV4, Urgency.LOW),
    "sev4": (Severity.SEV4, Urgency.LOW),
}

# Opsgenie priorities. P3 is Opsgenie's default, so senders that never set a priority (Alertmanager's
# opsgenie_configs by default) send P3 for everything: it must page.
_PRIORITIES: dict[str, SeverityUrgency] = {
    "P1": (Severity.SEV1, Urgency.HIGH),
    "P2": (Severity.SEV2, Urgency.HIGH),
    "P3": (Severity.SEV3, Urgency.HIGH),
    "P4": (Severity.SEV4, Urgency.LOW),
    "P5": (Severity.SEV4, Urgency.LOW),
}

PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")
NATIVE_SEVERITIES = (*PAGERDUTY_SEVERITIES, "sev1", "sev2", "sev3", "sev4")
OPSGENIE_PRIORITIES = tuple(_PRIORITIES)


def from_word(word: str | None) -> SeverityUrgency | None:
    """The severity a word like "critical", "warning" or "sev2" names, or None if it names none."""
    if not word:
        return None
    return _WORDS.get(word.strip().lower())


def from_priority(priority: str | None) -> SeverityUrgency | None:
    if not priority:
        return None
    return _PRIORITIES.get(priority.strip().upper())


def from_any(value: str | None) -> SeverityUrgency:
    """For senders with free-form values (labels, generic webhooks): words or priorities, else DEFAULT."""
    return from_word(value) or from_priority(value) or DEFAULT
