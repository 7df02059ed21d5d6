"""Muster's own alert API: `POST /api/v1/alerts/` with `Authorization: Bearer <integration key>`.

{"summary": "...", "severity": "critical|error|warning|info|sev1..sev4", "source": "...",
 "dedup_key": "...", "labels": {"k": "v"}, "details": {...}, "action": "trigger|acknowledge|resolve"}
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest

from incidents.ingest import severity
from incidents.ingest.events import AlertEvent
from incidents.ingest.parsing import JsonObject, Problems

SUMMARY_MAX = 1024
SOURCE_MAX = 512
DEDUP_KEY_MAX = 255
ACTIONS = ("trigger", "acknowledge", "resolve")
INVALID = "The alert is invalid."


def bearer_key(request: HttpRequest) -> str | None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return key.strip() or None


def parse_alert(data: JsonObject) -> AlertEvent:
    problems = Problems()
    action = problems.string(data, "action") or "trigger"
    if action not in ACTIONS:
        problems.add(f"'action' must be one of {', '.join(ACTIONS)}; got {action[:40]!r}.")
    dedup_key = problems.string(data, "dedup_key", max_length=DEDUP_KEY_MAX)
    if action in ("acknowledge", "resolve") and not data.get("dedup_key"):
        problems.add(f"'dedup_key' is required to {action} an alert.")
    is_trigger = action == "trigger"
    summary = problems.string(data, "summary", required=is_trigger, max_length=SUMMARY_MAX)
    severity_word = problems.string(data, "severity")
    if severity_word is not None and severity_word.lower() not in severity.NATIVE_SEVERITIES:
        problems.add(
            f"'severity' must be one of {', '.join(severity.NATIVE_SEVERITIES)}; got {severity_word[:40]!r}."
        )
    source = problems.string(data, "source", max_length=SOURCE_MAX)
    labels = problems.string_map(data, "labels")
    details = problems.obj(data, "details")
    problems.raise_if_any(INVALID)

    dedup_key = dedup_key or uuid.uuid4().hex
    sev, urgency = severity.from_word(severity_word) or severity.DEFAULT
    return AlertEvent(
        action=action,  # type: ignore[arg-type]  # checked against ACTIONS above
        dedup_key=dedup_key,
        group_key=dedup_key,
        summary=summary or "",
        severity=sev,
        urgency=urgency,
        source=source or "",
        labels=labels,
        details=details,
        raw=data,
    )
