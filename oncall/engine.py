"""The paging engine: the beat-driven tick and the delivery of one notification.

A delivery is claimed before it is sent (compare-and-set queued → sending with a deadline), so a
duplicate task finds it claimed and does nothing. A send that died in the ambiguous window is marked
failed once its deadline passes and shows on the timeline; the escalation goes on regardless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from incidents.choices import IncidentStatus, TimelineKind
from incidents.models import person_name
from incidents.services import timeline_record
from oncall import acklinks
from oncall.channels import get_channel
from oncall.channels.base import Message, PermanentError, TransientError
from oncall.models import EscalationState, Notification, NotificationStatus
from oncall.services import escalation_advance

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
BACKOFF_SECONDS = (15, 60, 180)
# A due notification is handed to Celery again only after this long: the tick is a safety net for
# lost messages, not a way to flood the queue while a worker is busy.
REENQUEUE_AFTER = timedelta(seconds=30)
TICK_BATCH = 500


def delivery_deadline() -> timedelta:
    return timedelta(seconds=max(60.0, 3 * settings.MUSTER_CHANNEL_TIMEOUT_SECONDS))


@dataclass
class TickReport:
    escalations: int = 0
    expired: int = 0
    to_deliver: list[int] = field(default_factory=list)


def tick(*, now: datetime | None = None) -> TickReport:
    """Advance due escalations, fail stuck sends, and list the notifications to hand to workers."""
    now = now or timezone.now()
    report = TickReport()
    due_states = EscalationState.objects.filter(closed_at__isnull=True, next_step_at__lte=now).order_by(
        "next_step_at"
    )
    for state_id in due_states.values_list("pk", flat=True)[:TICK_BATCH]:
        escalation_advance(state_id=state_id, now=now)
        report.escalations += 1
    for notification in Notification.objects.filter(status=NotificationStatus.SENDING, claimed_until__lt=now)[
        :TICK_BATCH
    ]:
        report.expired += _expire(notification, now)
    due = Notification.objects.filter(status=NotificationStatus.QUEUED, due_at__lte=now).filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - REENQUEUE_AFTER)
    )
    report.to_deliver = list(due.order_by("due_at").values_list("pk", flat=True)[:TICK_BATCH])
    if report.to_deliver:
        Notification.objects.filter(pk__in=report.to_deliver).update(enqueued_at=now)
    return report


def _expire(notification: Notification, now: datetime) -> int:
    changed = Notification.objects.filter(
        pk=notification.pk, status=NotificationStatus.SENDING, claimed_until__lt=now
    ).update(status=NotificationStatus.FAILED, last_error="no answer from the provider before the deadline")
    if changed:
        _timeline_failed(
            notification, "no answer from the provider before the deadline; it may or may not have arrived"
        )
    return changed


def deliver(*, notification_id: int, now: datetime | None = None) -> str:
    """Send one notification at most once. Returns what happened, for logs and tests."""
    now = now or timezone.now()
    claimed = Notification.objects.filter(
        pk=notification_id, status=NotificationStatus.QUEUED, due_at__lte=now
    ).update(
        status=NotificationStatus.SENDING, claimed_until=now + delivery_deadline(), attempts=F("attempts") + 1
    )
    if not claimed:
        return "not claimable"
    notification = Notification.objects.select_related("incident__service", "user").get(pk=notification_id)
    incident = notification.incident
    if incident.status != IncidentStatus.TRIGGERED:
        _finish(notification, NotificationStatus.CANCELLED, error=f"cancelled: incident {incident.status}")
        return "cancelled"
    try:
        channel = get_channel(notification.channel)
    except ValueError as exc:  # a channel kind this installation does not know: no retry can fix it
        _finish(notification, NotificationStatus.FAILED, error=str(exc))
        _timeline_failed(notification, str(exc))
        return "failed"
    try:
        delivered = channel.send(address=notification.address, message=build_message(notification))
    except PermanentError as exc:
        _finish(notification, NotificationStatus.FAILED, error=str(exc))
        _timeline_failed(notification, str(exc))
        return "failed"
    except Exception as exc:  # transient, or a bug in a channel: retry rather than lose the page
        if not isinstance(exc, TransientError):
            logger.exception("channel %s raised unexpectedly", notification.channel)
        if notification.attempts >= MAX_ATTEMPTS:
            _finish(
                notification,
                NotificationStatus.FAILED,
                error=f"gave up after {notification.attempts} attempts: {exc}",
            )
            _timeline_failed(notification, f"gave up after {notification.attempts} attempts: {exc}")
            return "failed"
        retry_after = getattr(exc, "retry_after", None) or BACKOFF_SECONDS[min(notification.attempts, 3) - 1]
        Notification.objects.filter(pk=notification.pk, status=NotificationStatus.SENDING).update(
            status=NotificationStatus.QUEUED,
            due_at=timezone.now() + timedelta(seconds=retry_after),
            claimed_until=None,
            enqueued_at=None,
            last_error=str(exc)[:1000],
        )
        return "retry"
    Notification.objects.filter(pk=notification.pk, status=NotificationStatus.SENDING).update(
        status=NotificationStatus.SENT,
        sent_at=timezone.now(),
        provider_id=delivered.provider_id[:200],
        last_error="",
    )
    name = person_name(notification.user)
    timeline_record(
        incident=incident,
        kind=TimelineKind.PAGED,
        text=f"Paged {name} by {notification.get_channel_display()}: delivered",
        data={
            "notification_id": notification.pk,
            "channel": notification.channel,
            "user_id": notification.user_id,
        },
    )
    return "sent"


def _finish(notification: Notification, status: str, *, error: str) -> None:
    Notification.objects.filter(pk=notification.pk, status=NotificationStatus.SENDING).update(
        status=status, last_error=error[:1000], claimed_until=None
    )


def _timeline_failed(notification: Notification, reason: str) -> None:
    name = person_name(notification.user)
    timeline_record(
        incident=notification.incident,
        kind=TimelineKind.PAGE_FAILED,
        text=f"Paging {name} by {notification.get_channel_display()} failed: {reason}",
        data={
            "notification_id": notification.pk,
            "channel": notification.channel,
            "user_id": notification.user_id,
        },
    )


def build_message(notification: Notification) -> Message:
    incident = notification.incident
    token = acklinks.make_token(incident_id=incident.pk, user_id=notification.user_id)
    alert = incident.alerts.order_by("first_seen").first()
    return Message(
        incident_reference=incident.reference,
        title=incident.title,
        severity_label=incident.get_severity_display(),
        urgency=incident.urgency,
        service_name=incident.service.name,
        incident_url=settings.MUSTER_BASE_URL + incident.get_absolute_url(),
        ack_url=acklinks.ack_url(token),
        ack_api_url=acklinks.ack_api_url(token),
        summary=alert.summary if alert is not None and alert.summary != incident.title else "",
        dedup_id=str(notification.pk),
    )
