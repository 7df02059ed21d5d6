"""The incident lifecycle: declare, acknowledge, mitigate, resolve, severity, notes, roles."""

from __future__ import annotations

from datetime import datetime
from types import ModuleType
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from incidents.chatops.announcements import announcements_plan
from incidents.choices import (
    AlertStatus,
    IncidentRoleKind,
    IncidentStatus,
    Severity,
    TimelineKind,
    Urgency,
)
from incidents.models import (
    Counter,
    Incident,
    IncidentRole,
    Integration,
    MaintenanceWindow,
    Service,
    TimelineEvent,
    person_name,
)
from incidents.services.errors import DomainError, InvalidTransition
from incidents.services.origin import current_origin

# --- helpers --------------------------------------------------------------------------------


def _display_name(actor: Any) -> str:
    if actor is None:
        return "Muster"
    if isinstance(actor, Integration):
        return actor.name
    return person_name(actor)


def timeline_record(
    *,
    incident: Incident,
    kind: str,
    text: str,
    actor: Any = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    data = dict(data or {})
    origin = current_origin()
    if origin is not None:
        data["via"] = origin
    event = TimelineEvent(
        incident=incident,
        kind=kind,
        text=text,
        data=data,
        created_at=at or timezone.now(),
    )
    if isinstance(actor, Integration):
        event.actor_integration = actor
    elif actor is not None:
        event.actor_user = actor
    event.save()
    announcements_plan(event=event)
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


def _paging() -> ModuleType:
    # Imported late: oncall's services write this app's timeline, so a module-level import would
    # be circular. Acknowledge and resolve stop paging in their own transaction.
    from oncall import services

    return services


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
    _paging().paging_start(incident=incident)
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
    _paging().paging_stop(incident=incident, reason="acknowledged")
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
    _paging().paging_stop(incident=incident, reason="resolved")
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
def incident_post_status_update(*, incident: Incident, text: str, actor: Any) -> TimelineEvent:
    """A stakeholder update ("Rolled back; error rate falling"), kept on the timeline apart from
    the responders' working notes."""
    text = text.strip()
    if not text:
        raise DomainError("A status update needs some text.")
    return timeline_record(
        incident=incident, kind=TimelineKind.STATUS_UPDATE, text=f"Status update: {text}", actor=actor
    )


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
