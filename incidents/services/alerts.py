"""Alert ingestion: every sender format ends here as normalised AlertEvents."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from incidents.choices import (
    AlertStatus,
    IncidentStatus,
    TimelineKind,
)
from incidents.models import (
    Alert,
    ChangeEvent,
    Incident,
    Integration,
)

if TYPE_CHECKING:
    from incidents.ingest.events import AlertEvent, ChangeEventData


from incidents.services.lifecycle import (
    _next_incident_number,
    _paging,
    _suppress_if_in_maintenance,
    incident_acknowledge,
    incident_resolve,
    timeline_record,
)

# --- alert ingestion ------------------------------------------------------------------------


class IngestOutcome(enum.StrEnum):
    OPENED_INCIDENT = "opened_incident"
    ADDED_TO_INCIDENT = "added_to_incident"
    REPEATED = "repeated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    DROPPED = "dropped"


@dataclass(frozen=True)
class IngestResult:
    outcome: IngestOutcome
    dedup_key: str
    incident: Incident | None = None
    alert: Alert | None = None


def alert_ingest(*, integration: Integration, event: AlertEvent) -> IngestResult:
    """Apply one normalised alert event. Safe to call concurrently with the same dedup key."""
    if event.action == "trigger":
        return _alert_trigger(integration=integration, event=event)
    with transaction.atomic():
        alert = (
            Alert.objects.select_for_update()
            .select_related("incident")
            .filter(integration=integration, dedup_key=event.dedup_key, status=AlertStatus.FIRING)
            .first()
        )
        if alert is None:
            # PagerDuty semantics: ack/resolve for an unknown or resolved key is accepted and dropped.
            return IngestResult(IngestOutcome.DROPPED, event.dedup_key)
        if event.action == "acknowledge":
            if alert.incident.status == IncidentStatus.TRIGGERED:
                incident_acknowledge(incident=alert.incident, actor=integration)
                return IngestResult(IngestOutcome.ACKNOWLEDGED, event.dedup_key, alert.incident, alert)
            return IngestResult(IngestOutcome.DROPPED, event.dedup_key, alert.incident, alert)
        return _alert_resolve(integration=integration, alert=alert, event=event)


def alert_ingest_batch(*, integration: Integration, events: list[AlertEvent]) -> list[IngestResult]:
    """One sender's message (an Alertmanager group snapshot) in one transaction.

    Triggers go first so that a snapshot holding both new firing and newly resolved alerts never
    resolves the incident only to reopen a fresh one a moment later.
    """
    ordered = sorted(events, key=lambda e: e.action != "trigger")
    with transaction.atomic():
        return [alert_ingest(integration=integration, event=event) for event in ordered]


def _alert_trigger(*, integration: Integration, event: AlertEvent, retried: bool = False) -> IngestResult:
    now = timezone.now()
    try:
        with transaction.atomic():
            existing = (
                Alert.objects.select_for_update()
                .select_related("incident")
                .filter(integration=integration, dedup_key=event.dedup_key, status=AlertStatus.FIRING)
                .first()
            )
            if existing is not None:
                Alert.objects.filter(pk=existing.pk).update(repeat_count=F("repeat_count") + 1, last_seen=now)
                return IngestResult(IngestOutcome.REPEATED, event.dedup_key, existing.incident, existing)

            incident = (
                Incident.objects.select_for_update()
                .open()
                .filter(integration=integration, group_key=event.group_key)
                .first()
            )
            opened = incident is None
            if incident is None:
                incident = _incident_open_from_alert(integration=integration, event=event, now=now)
            alert = Alert.objects.create(
                integration=integration,
                incident=incident,
                dedup_key=event.dedup_key,
                severity=event.severity,
                summary=event.summary[:1024],
                source=event.source[:512],
                labels=event.labels,
                details=event.details,
                links=event.links,
                raw_payload=event.raw,
                first_seen=event.occurred_at or now,
                last_seen=now,
            )
            if not opened:
                timeline_record(
                    incident=incident,
                    kind=TimelineKind.ALERT_ADDED,
                    text=f"Alert added by {integration.name}: {alert.summary}",
                    actor=integration,
                    data={"alert_id": alert.pk, "dedup_key": event.dedup_key},
                    at=now,
                )
            return IngestResult(
                IngestOutcome.OPENED_INCIDENT if opened else IngestOutcome.ADDED_TO_INCIDENT,
                event.dedup_key,
                incident,
                alert,
            )
    except IntegrityError:
        # Another request opened the same alert or incident between our read and our insert. Its
        # transaction has committed by now (the unique index made us wait for it), so a second pass
        # finds its rows and counts this trigger as a repeat.
        if retried:
            raise
        return _alert_trigger(integration=integration, event=event, retried=True)


def _incident_open_from_alert(*, integration: Integration, event: AlertEvent, now: datetime) -> Incident:
    incident = Incident.objects.create(
        number=_next_incident_number(),
        title=(event.incident_title or event.summary)[:1024],
        service=integration.service,
        severity=event.severity,
        urgency=event.urgency,
        integration=integration,
        group_key=event.group_key,
        created_at=now,
        updated_at=now,
        detected_at=now,
        impact_started_at=event.occurred_at if event.occurred_at and event.occurred_at <= now else None,
    )
    timeline_record(
        incident=incident,
        kind=TimelineKind.TRIGGERED,
        text=f"Triggered by {integration.name}: {event.summary}",
        actor=integration,
        data={"dedup_key": event.dedup_key, "severity": event.severity, "source": event.source},
        at=now,
    )
    _suppress_if_in_maintenance(incident=incident, now=now)
    _paging().paging_start(incident=incident)
    return incident


def _alert_resolve(*, integration: Integration, alert: Alert, event: AlertEvent) -> IngestResult:
    now = timezone.now()
    alert.status = AlertStatus.RESOLVED
    alert.resolved_at = event.occurred_at or now
    alert.last_seen = now
    alert.save(update_fields=["status", "resolved_at", "last_seen"])
    incident = alert.incident
    still_firing = incident.alerts.filter(status=AlertStatus.FIRING).exists()
    if still_firing or not integration.auto_resolve:
        timeline_record(
            incident=incident,
            kind=TimelineKind.ALERT_RESOLVED,
            text=f"Alert resolved: {alert.summary}",
            actor=integration,
            data={"alert_id": alert.pk, "dedup_key": alert.dedup_key},
            at=now,
        )
        return IngestResult(IngestOutcome.DROPPED, event.dedup_key, incident, alert)
    incident_resolve(incident=incident, actor=integration, note="every alert has resolved")
    return IngestResult(IngestOutcome.RESOLVED, event.dedup_key, incident, alert)


@transaction.atomic
def alert_update_text(
    *, integration: Integration, dedup_key: str, summary: str = "", description: str = ""
) -> bool:
    """A sender rewrote a firing alert's text (Alertmanager's Opsgenie `update_alerts`).

    Returns False and changes nothing when no alert with that key is firing: such updates follow
    right after the create, and anything but 2xx would only make the sender retry.
    """
    alert = (
        Alert.objects.select_for_update()
        .filter(integration=integration, dedup_key=dedup_key, status=AlertStatus.FIRING)
        .first()
    )
    if alert is None:
        return False
    if summary:
        alert.summary = summary[:1024]
        alert.save(update_fields=["summary"])
    if description:
        alert.details = {**alert.details, "description": description}
        alert.save(update_fields=["details"])
    return True


@transaction.atomic
def change_event_record(*, integration: Integration, change: ChangeEventData) -> ChangeEvent:
    """PagerDuty change events: shown on the service and on its open incidents, never paged."""
    now = timezone.now()
    event = ChangeEvent.objects.create(
        service=integration.service,
        integration=integration,
        summary=change.summary[:1024],
        source=change.source[:512],
        occurred_at=change.occurred_at or now,
        received_at=now,
        details=change.details,
        links=change.links,
    )
    for incident in Incident.objects.open().filter(service=integration.service):
        timeline_record(
            incident=incident,
            kind=TimelineKind.CHANGE,
            text=f"Change on {integration.service.name}: {event.summary}",
            actor=integration,
            data={"change_event_id": event.pk},
            at=now,
        )
    return event
