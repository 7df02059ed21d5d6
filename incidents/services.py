"""Every change to an incident goes through one of these functions.

The web UI, the REST API, ingestion and (later) the chat bot all call the same function for the
same action. Each runs in one transaction, writes its timeline event in it, returns early when
nothing changes, and raises a DomainError subclass for transitions that make no sense.

Actors: a user, an Integration (an alert source), or None for Muster itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from incidents.choices import (
    AlertStatus,
    IncidentRoleKind,
    IncidentStatus,
    IntegrationKind,
    Severity,
    TimelineKind,
    Urgency,
)
from incidents.models import (
    KEY_PREFIX_LENGTH,
    Alert,
    ApiToken,
    AuditEntry,
    ChangeEvent,
    Counter,
    Incident,
    IncidentRole,
    Integration,
    MaintenanceWindow,
    Service,
    TimelineEvent,
    hash_secret,
)

if TYPE_CHECKING:
    from incidents.ingest.events import AlertEvent, ChangeEventData


class DomainError(Exception):
    """A request that makes no sense for the current state. The API answers 409 with the message."""


class InvalidTransition(DomainError):
    pass


# --- helpers --------------------------------------------------------------------------------


def _display_name(actor: Any) -> str:
    if actor is None:
        return "Muster"
    if isinstance(actor, Integration):
        return actor.name
    return actor.get_full_name() or actor.get_username()


def timeline_record(
    *,
    incident: Incident,
    kind: str,
    text: str,
    actor: Any = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    event = TimelineEvent(
        incident=incident,
        kind=kind,
        text=text,
        data=data or {},
        created_at=at or timezone.now(),
    )
    if isinstance(actor, Integration):
        event.actor_integration = actor
    elif actor is not None:
        event.actor_user = actor
    event.save()
    return event


def _next_incident_number() -> int:
    """Row-locked counter: numbers are dense and never reused, even when a transaction rolls back.

    The row stays locked until commit, so every new incident queues here: one round trip
    (UPDATE … RETURNING) keeps that short.
    """
    table = connection.ops.quote_name(Counter._meta.db_table)
    if connection.features.can_return_columns_from_insert:  # the same SQLite 3.35+/PostgreSQL feature
        with connection.cursor() as cursor:
            # The table name is ours and quoted; the only value is a parameter.
            sql = f"UPDATE {table} SET value = value + 1 WHERE name = %s RETURNING value"  # noqa: S608
            cursor.execute(sql, ["incident"])
            row = cursor.fetchone()
        if row is not None:
            return int(row[0])
    elif Counter.objects.filter(name="incident").update(value=F("value") + 1):
        return Counter.objects.get(name="incident").value
    # First incident of an installation whose counter row was removed: start it, then count again.
    Counter.objects.get_or_create(name="incident")
    return _next_incident_number()


def _lock(incident: Incident) -> Incident:
    return Incident.objects.select_for_update().get(pk=incident.pk)


def _touch(incident: Incident, now: datetime, *fields: str) -> None:
    incident.updated_at = now
    incident.save(update_fields=[*fields, "updated_at"])


def maintenance_active(*, service: Service, at: datetime) -> MaintenanceWindow | None:
    return MaintenanceWindow.objects.filter(service=service, starts_at__lte=at, ends_at__gt=at).first()


# --- incident lifecycle ---------------------------------------------------------------------


@transaction.atomic
def incident_declare(
    *,
    service: Service,
    title: str,
    actor: Any,
    severity: int = Severity.SEV3,
    urgency: str = Urgency.HIGH,
    description: str = "",
    impact_started_at: datetime | None = None,
) -> Incident:
    now = timezone.now()
    title = title.strip()
    if not title:
        raise DomainError("An incident needs a title.")
    incident = Incident.objects.create(
        number=_next_incident_number(),
        title=title[:1024],
        description=description,
        service=service,
        severity=severity,
        urgency=urgency,
        declared_by=actor if actor is not None and not isinstance(actor, Integration) else None,
        created_at=now,
        updated_at=now,
        detected_at=now,
        impact_started_at=impact_started_at,
    )
    timeline_record(
        incident=incident,
        kind=TimelineKind.DECLARED,
        text=f"{_display_name(actor)} declared {incident.reference} ({Severity(severity).label}): {incident.title}",
        actor=actor,
        data={"severity": severity, "urgency": urgency},
        at=now,
    )
    _suppress_if_in_maintenance(incident=incident, now=now)
    return incident


@transaction.atomic
def incident_acknowledge(*, incident: Incident, actor: Any) -> Incident:
    incident = _lock(incident)
    if incident.status == IncidentStatus.ACKNOWLEDGED:
        return incident
    if not incident.can_transition_to(IncidentStatus.ACKNOWLEDGED):
        raise InvalidTransition(f"{incident.reference} is {incident.status}; it cannot be acknowledged.")
    now = timezone.now()
    incident.status = IncidentStatus.ACKNOWLEDGED
    incident.acknowledged_at = now
    _touch(incident, now, "status", "acknowledged_at")
    timeline_record(
        incident=incident,
        kind=TimelineKind.ACKNOWLEDGED,
        text=f"Acknowledged by {_display_name(actor)}",
        actor=actor,
        at=now,
    )
    return incident


@transaction.atomic
def incident_resolve(*, incident: Incident, actor: Any, note: str = "") -> Incident:
    incident = _lock(incident)
    if incident.status == IncidentStatus.RESOLVED:
        return incident
    now = timezone.now()
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = now
    _touch(incident, now, "status", "resolved_at")
    # A resolved incident owns no firing alerts: the next trigger with the same key opens a new one.
    incident.alerts.filter(status=AlertStatus.FIRING).update(status=AlertStatus.RESOLVED, resolved_at=now)
    text = f"Resolved by {_display_name(actor)}"
    timeline_record(
        incident=incident,
        kind=TimelineKind.RESOLVED,
        text=f"{text}: {note}" if note else text,
        actor=actor,
        at=now,
    )
    return incident


@transaction.atomic
def incident_mark_mitigated(*, incident: Incident, actor: Any) -> Incident:
    incident = _lock(incident)
    if incident.mitigated_at is not None:
        return incident
    if incident.status == IncidentStatus.RESOLVED:
        raise InvalidTransition(f"{incident.reference} is already resolved.")
    now = timezone.now()
    incident.mitigated_at = now
    _touch(incident, now, "mitigated_at")
    timeline_record(
        incident=incident,
        kind=TimelineKind.MITIGATED,
        text=f"Marked mitigated by {_display_name(actor)}: impact has stopped",
        actor=actor,
        at=now,
    )
    return incident


@transaction.atomic
def incident_set_severity(*, incident: Incident, severity: int, actor: Any) -> Incident:
    if severity not in Severity.values:
        raise DomainError(f"Severity must be one of {', '.join(Severity.labels)}.")
    incident = _lock(incident)
    if incident.severity == severity:
        return incident
    previous = incident.severity
    now = timezone.now()
    incident.severity = severity
    _touch(incident, now, "severity")
    timeline_record(
        incident=incident,
        kind=TimelineKind.SEVERITY_CHANGED,
        text=f"{_display_name(actor)} changed severity from {Severity(previous).label} to {Severity(severity).label}",
        actor=actor,
        data={"from": previous, "to": severity},
        at=now,
    )
    return incident


@transaction.atomic
def incident_add_note(*, incident: Incident, text: str, actor: Any) -> TimelineEvent:
    text = text.strip()
    if not text:
        raise DomainError("A note needs some text.")
    return timeline_record(incident=incident, kind=TimelineKind.NOTE, text=text, actor=actor)


@transaction.atomic
def incident_assign_role(*, incident: Incident, role: str, user: Any, actor: Any) -> IncidentRole:
    if role not in IncidentRoleKind.values:
        raise DomainError(f"Role must be one of {', '.join(IncidentRoleKind.values)}.")
    incident = _lock(incident)
    current = IncidentRole.objects.filter(incident=incident, role=role).first()
    if current is not None and current.user_id == user.pk:
        return current
    if current is None:
        current = IncidentRole(incident=incident, role=role)
    current.user = user
    current.assigned_at = timezone.now()
    current.save()
    timeline_record(
        incident=incident,
        kind=TimelineKind.ROLE_ASSIGNED,
        text=f"{_display_name(actor)} made {_display_name(user)} {IncidentRoleKind(role).label.lower()}",
        actor=actor,
        data={"role": role, "user_id": user.pk},
    )
    return current


def _suppress_if_in_maintenance(*, incident: Incident, now: datetime) -> None:
    window = maintenance_active(service=incident.service, at=now)
    if window is None:
        return
    incident.suppressed = True
    incident.save(update_fields=["suppressed"])
    timeline_record(
        incident=incident,
        kind=TimelineKind.SUPPRESSED,
        text=f"{incident.service.name} is in maintenance until {window.ends_at:%Y-%m-%d %H:%M %Z}"
        + (f" ({window.reason})" if window.reason else "")
        + ": nobody is paged",
        data={"maintenance_window_id": window.pk},
        at=now,
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


# --- configuration --------------------------------------------------------------------------


def audit_record(*, actor: Any, action: str, obj: Any, data: dict[str, Any] | None = None) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor if actor is not None and not isinstance(actor, Integration) else None,
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        data=data or {},
    )


def _apply_changes(*, obj: Any, changes: dict[str, Any], allowed: set[str]) -> dict[str, list[Any]]:
    """Set the given fields; returns {field: [old, new]} for those that really changed."""
    unknown = set(changes) - allowed
    if unknown:
        raise DomainError(f"Cannot change {', '.join(sorted(unknown))}.")
    changed = {}
    for field, value in changes.items():
        old = getattr(obj, field)
        if old != value:
            setattr(obj, field, value)
            changed[field] = [old, value]
    if changed:
        obj.save(update_fields=list(changed))
    return changed


@transaction.atomic
def service_create(*, team: Any, name: str, slug: str, description: str = "", actor: Any) -> Service:
    if Service.objects.filter(slug=slug).exists():
        raise DomainError(f"A service with slug {slug!r} already exists.")
    service = Service.objects.create(team=team, name=name, slug=slug, description=description)
    audit_record(actor=actor, action="service.create", obj=service, data={"team": team.slug})
    return service


@transaction.atomic
def service_update(*, service: Service, actor: Any, **changes: Any) -> Service:
    """The slug is the service's address in URLs and alert routing, so it never changes."""
    changed = _apply_changes(obj=service, changes=changes, allowed={"name", "description"})
    if changed:
        audit_record(actor=actor, action="service.update", obj=service, data=changed)
    return service


@transaction.atomic
def integration_update(*, integration: Integration, actor: Any, **changes: Any) -> Integration:
    changed = _apply_changes(
        obj=integration,
        changes=changes,
        allowed={"name", "enabled", "auto_resolve", "rate_limit_per_minute", "config"},
    )
    if changed:
        audit_record(actor=actor, action="integration.update", obj=integration, data=changed)
    return integration


@transaction.atomic
def integration_create(
    *,
    service: Service,
    kind: str,
    name: str = "",
    config: dict[str, Any] | None = None,
    actor: Any = None,
) -> tuple[Integration, str]:
    """Returns the integration and its key. The key is shown once and only its hash is kept."""
    if kind not in IntegrationKind.values:
        raise DomainError(f"Integration kind must be one of {', '.join(IntegrationKind.values)}.")
    key = Integration.new_key()
    integration = Integration(
        service=service,
        kind=kind,
        name=name.strip() or IntegrationKind(kind).label,
        config=config or {},
    )
    integration.set_key(key)
    integration.save()
    audit_record(actor=actor, action="integration.create", obj=integration, data={"kind": kind})
    return integration, key


@transaction.atomic
def api_token_create(*, user: Any, name: str = "") -> tuple[ApiToken, str]:
    """Returns the token row and the token itself, which is shown once and only its hash kept."""
    token = ApiToken.new_token()
    row = ApiToken(user=user, name=name.strip() or "API token", prefix=token[:KEY_PREFIX_LENGTH])
    row.token_hash = hash_secret(token)
    row.save()
    return row, token


@transaction.atomic
def maintenance_window_create(
    *, service: Service, starts_at: datetime, ends_at: datetime, reason: str = "", actor: Any
) -> MaintenanceWindow:
    if ends_at <= starts_at:
        raise DomainError("A maintenance window must end after it starts.")
    window = MaintenanceWindow.objects.create(
        service=service, starts_at=starts_at, ends_at=ends_at, reason=reason, created_by=actor
    )
    audit_record(
        actor=actor,
        action="maintenance.create",
        obj=window,
        data={"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(), "reason": reason},
    )
    return window
