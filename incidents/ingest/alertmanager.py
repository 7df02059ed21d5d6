"""Prometheus Alertmanager webhooks (version 4) and Grafana webhook contact points (version 1).

Each message is a snapshot of one alert group (INTEROP.md §2-3), not a delta: it lists every alert of
the group, firing and resolved, and is re-sent while nothing changes. So:

* the group is one incident while open: group_key = SHA-256 of groupKey (which can exceed 255 chars);
* an alert is one firing episode of one label set: dedup_key = fingerprint + ":" + startsAt, with
  startsAt rewritten to canonical UTC so the same instant always yields the same key;
* repeated snapshots only bump repeat_count, resolved alerts resolve theirs, and the service resolves
  the incident once every alert of the group has resolved.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from incidents.ingest import severity
from incidents.ingest.events import AlertEvent
from incidents.ingest.parsing import JsonObject, Problems, Timestamp, optional_timestamp

MAX_FINGERPRINT = 200
INVALID = "The webhook body is not an Alertmanager or Grafana alert group."

# Grafana's per-alert extras: backlinks become links, the rest is context for the responder.
_GRAFANA_LINKS = (("dashboardURL", "Dashboard"), ("panelURL", "Panel"), ("silenceURL", "Silence"))
_GRAFANA_DETAILS = ("values", "valueString", "ruleUID", "imageURL", "orgId")
_GRAFANA_MESSAGE_DETAILS = ("title", "message", "state", "orgId", "appVersion")


@dataclass(frozen=True)
class GroupMessage:
    events: list[AlertEvent]
    truncated_alerts: int


def fingerprint_of(labels: dict[str, str]) -> str:
    """Stand-in for a missing fingerprint: a stable hash of the sorted label set, 16 hex like the real one."""
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def incident_title(message: JsonObject, alerts: list[JsonObject]) -> str:
    common_annotations = message.get("commonAnnotations")
    if isinstance(common_annotations, dict):
        summary = common_annotations.get("summary")
        if isinstance(summary, str) and summary.strip():
            return summary.strip()
    group_labels = message.get("groupLabels") if isinstance(message.get("groupLabels"), dict) else {}
    assert isinstance(group_labels, dict)
    alertname = group_labels.get("alertname")
    if not alertname:
        for source in (message.get("commonLabels"), *(alert.get("labels") for alert in alerts)):
            if isinstance(source, dict) and source.get("alertname"):
                alertname = source["alertname"]
                break
    rest = [f"{k}={v}" for k, v in sorted(group_labels.items()) if k != "alertname"]
    return " ".join([str(alertname or "Alert"), *rest])


def _alert_summary(labels: dict[str, str], annotations: dict[str, str]) -> str:
    for text in (annotations.get("summary"), annotations.get("description"), labels.get("alertname")):
        if text and text.strip():
            return text.strip()
    return "Alert"


def parse_group(data: JsonObject, *, grafana: bool) -> GroupMessage:
    problems = Problems()
    group_key_text = problems.string(data, "groupKey", required=True)
    alerts_value = data.get("alerts")
    if alerts_value is None:
        problems.add("'alerts' is missing.")
    elif not isinstance(alerts_value, list):
        problems.add("'alerts' must be an array.")
    alerts = alerts_value if isinstance(alerts_value, list) else []
    common_labels = problems.string_map(data, "commonLabels")
    problems.string_map(data, "groupLabels")
    problems.string_map(data, "commonAnnotations")
    truncated = data.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool):
        problems.add("'truncatedAlerts' must be an integer.")
        truncated = 0
    external_url = problems.string(data, "externalURL") or ""
    for index, alert in enumerate(alerts):
        if not isinstance(alert, dict):
            problems.add(f"'alerts[{index}]' must be an object.")
    problems.raise_if_any(INVALID)
    assert group_key_text is not None

    group_key = hashlib.sha256(group_key_text.encode()).hexdigest()
    title = incident_title(data, alerts)
    context: dict[str, Any] = {"receiver": data.get("receiver"), "groupKey": group_key_text}
    if grafana:
        context.update({key: data[key] for key in _GRAFANA_MESSAGE_DETAILS if key in data})
    if truncated:
        context["truncatedAlerts"] = truncated

    events = []
    for index, alert in enumerate(alerts):
        event = _parse_alert(
            problems,
            alert,
            path=f"alerts[{index}].",
            group_key=group_key,
            title=title,
            common_labels=common_labels,
            external_url=external_url,
            context=context,
            grafana=grafana,
        )
        if event is not None:
            events.append(event)
    problems.raise_if_any(INVALID)
    # The first trigger opens the incident and sets its severity, so the worst alert goes first.
    events.sort(key=lambda e: e.severity)
    return GroupMessage(events=events, truncated_alerts=truncated)


def _parse_alert(
    problems: Problems,
    alert: JsonObject,
    *,
    path: str,
    group_key: str,
    title: str,
    common_labels: dict[str, str],
    external_url: str,
    context: dict[str, Any],
    grafana: bool,
) -> AlertEvent | None:
    errors_before = len(problems.errors)
    labels = problems.string_map(alert, "labels", path=path)
    annotations = problems.string_map(alert, "annotations", path=path)
    status = problems.string(alert, "status", path=path)
    starts_at = optional_timestamp(problems, alert, "startsAt", path=path)
    ends_at = optional_timestamp(problems, alert, "endsAt", path=path)
    generator_url = problems.string(alert, "generatorURL", path=path)
    fingerprint = problems.string(alert, "fingerprint", path=path)
    if status is not None and status not in ("firing", "resolved"):
        problems.add(f"'{path}status' must be firing or resolved; got {status[:40]!r}.")
    if alert.get("startsAt") is None:
        problems.add(f"'{path}startsAt' is missing.")
    if len(problems.errors) > errors_before:
        return None
    assert starts_at is not None

    fingerprint = fingerprint or fingerprint_of(labels)
    if len(fingerprint) > MAX_FINGERPRINT:
        # Real fingerprints are 16 hex characters; keep odd ones inside the 255-character dedup key.
        fingerprint = hashlib.sha256(fingerprint.encode()).hexdigest()
    resolved = status == "resolved" if status else _ended(ends_at)
    sev, urgency = severity.from_any(labels.get("severity") or common_labels.get("severity"))

    details: dict[str, Any] = {
        **context,
        "annotations": annotations,
        "fingerprint": fingerprint,
        "startsAt": starts_at.canonical(),
    }
    if ends_at is not None and not ends_at.is_go_zero:
        details["endsAt"] = ends_at.canonical()
    links: list[dict[str, str]] = []
    if generator_url:
        links.append({"href": generator_url, "text": "Source"})
    if annotations.get("runbook_url"):
        links.append({"href": annotations["runbook_url"], "text": "Runbook"})
    if grafana:
        for key, text in _GRAFANA_LINKS:
            url = alert.get(key)
            if isinstance(url, str) and url:
                links.append({"href": url, "text": text})
        details.update({key: alert[key] for key in _GRAFANA_DETAILS if alert.get(key) not in (None, "")})
    elif external_url:
        links.append({"href": external_url, "text": "Alertmanager"})

    return AlertEvent(
        action="resolve" if resolved else "trigger",
        dedup_key=f"{fingerprint}:{starts_at.canonical()}",
        group_key=group_key,
        summary=_alert_summary(labels, annotations),
        severity=sev,
        urgency=urgency,
        source=labels.get("instance") or labels.get("job") or "",
        labels=labels,
        details=details,
        links=links,
        raw=alert,
        occurred_at=ends_at.moment if resolved and ends_at and not ends_at.is_go_zero else starts_at.moment,
        incident_title=title,
    )


def _ended(ends_at: Timestamp | None) -> bool:
    """Status-less alerts (custom templates, old senders): the Go zero endsAt means still firing."""
    if ends_at is None or ends_at.is_go_zero:
        return False
    return ends_at.moment <= timezone.now()
