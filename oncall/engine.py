"""The paging engine: the beat-driven tick and the delivery of one notification.

A delivery is claimed before it is sent (compare-and-set queued → sending with a deadline), so a
duplicate task finds it claimed and does nothing. A send that died in the ambiguous window is marked
failed once its deadline passes and shows on the timeline; the escalation goes on regardless.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from incidents.choices import IncidentStatus, TimelineKind
from incidents.models import TimelineEvent, person_name
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
DEADLINE_ERROR = "no answer from the provider before the deadline"


def delivery_deadline() -> timedelta:
    return timedelta(seconds=max(60.0, 3 * settings.MUSTER_CHANNEL_TIMEOUT_SECONDS))


@dataclass
class TickReport:
    escalations: int = 0
    expired: int = 0
    to_deliver: list[int] = field(default_factory=list)


def tick(*, now: datetime | None = None) -> TickReport:
    """Advance due escalations, fail stuck sends, and list the notifications to hand to workers.

    Without an explicit `now`, the clock is read again for each escalation and each phase: a long
    batch then neither schedules next steps early nor hides how late its last rows were.
    """

    def clock() -> datetime:
        return now or timezone.now()

    report = TickReport()
    due_states = EscalationState.objects.filter(closed_at__isnull=True, next_step_at__lte=clock()).order_by(
        "next_step_at"
    )
    for state_id in due_states.values_list("pk", flat=True)[:TICK_BATCH]:
        escalation_advance(state_id=state_id, now=clock())
        report.escalations += 1
    expire_at = clock()
    for notification in Notification.objects.filter(
        status=NotificationStatus.SENDING, claimed_until__lt=expire_at
    )[:TICK_BATCH]:
        report.expired += _expire(notification, expire_at)
    handover_at = clock()
    due = Notification.objects.filter(status=NotificationStatus.QUEUED, due_at__lte=handover_at).filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=handover_at - REENQUEUE_AFTER)
    )
    report.to_deliver = list(due.order_by("due_at").values_list("pk", flat=True)[:TICK_BATCH])
    if report.to_deliver:
        Notification.objects.filter(pk__in=report.to_deliver).update(enqueued_at=handover_at)
    return report


def _expire(notification: Notification, now: datetime) -> int:
    changed = Notification.objects.filter(
        pk=notification.pk, status=NotificationStatus.SENDING, claimed_until__lt=now
    ).update(status=NotificationStatus.FAILED, last_error=DEADLINE_ERROR)
    if changed:
        _timeline_failed(
            notification, "no answer from the provider before the deadline; it may or may not have arrived"
        )
    return changed


def deliver(*, notification_id: int, now: datetime | None = None) -> str:
    """Send one notification at most once. Returns what happened, for logs and tests."""
    now = now or timezone.now()
    # claimed_until stays on the row afterwards: minus delivery_deadline() it is the claim time,
    # from which /metrics derives the timer lag (see timer_lags).
    claimed_until = now + delivery_deadline()
    claimed = Notification.objects.filter(
        pk=notification_id, status=NotificationStatus.QUEUED, due_at__lte=now
    ).update(status=NotificationStatus.SENDING, claimed_until=claimed_until, attempts=F("attempts") + 1)
    if not claimed:
        return "not claimable"
    notification = Notification.objects.select_related("incident__service", "user").get(pk=notification_id)
    lag = (now - notification.due_at).total_seconds()
    if lag > settings.MUSTER_TICK_SECONDS:  # /metrics has the distribution; this names the rows
        logger.info("notification %s claimed %.1f s after it was due", notification.pk, lag)
    mine = Notification.objects.filter(pk=notification.pk, claimed_until=claimed_until)
    incident = notification.incident
    if incident.status != IncidentStatus.TRIGGERED:
        _finish(mine, NotificationStatus.CANCELLED, error=f"cancelled: incident {incident.status}")
        return "cancelled"
    try:
        channel = get_channel(notification.channel)
    except ValueError as exc:  # a channel kind this installation does not know: no retry can fix it
        if _finish(mine, NotificationStatus.FAILED, error=str(exc)):
            _timeline_failed(notification, str(exc))
        return "failed"
    try:
        delivered = channel.send(address=notification.address, message=build_message(notification))
    except PermanentError as exc:
        if _finish(mine, NotificationStatus.FAILED, error=str(exc)):
            _timeline_failed(notification, str(exc))
        return "failed"
    except Exception as exc:  # transient, or a bug in a channel: retry rather than lose the page
        if not isinstance(exc, TransientError):
            logger.exception("channel %s raised unexpectedly", notification.channel)
        if notification.attempts >= MAX_ATTEMPTS:
            error = f"gave up after {notification.attempts} attempts: {exc}"
            if _finish(mine, NotificationStatus.FAILED, error=error):
                _timeline_failed(notification, error)
            return "failed"
        retry_after = getattr(exc, "retry_after", None) or BACKOFF_SECONDS[min(notification.attempts, 3) - 1]
        requeued = mine.filter(status=NotificationStatus.SENDING).update(
            status=NotificationStatus.QUEUED,
            due_at=timezone.now() + timedelta(seconds=retry_after),
            claimed_until=None,
            enqueued_at=None,
            last_error=str(exc)[:1000],
        )
        # Not requeued: the tick already failed it at the deadline, and this attempt did not get
        # through either, so that verdict stands.
        return "retry" if requeued else "failed"
    sent = {
        "status": NotificationStatus.SENT,
        "sent_at": timezone.now(),
        "provider_id": delivered.provider_id[:200],
        "last_error": "",
    }
    if mine.filter(status=NotificationStatus.SENDING).update(**sent):
        outcome = "delivered"
    elif mine.filter(status=NotificationStatus.FAILED, last_error=DEADLINE_ERROR).update(**sent):
        # The send outlived its deadline and the tick wrote it off as "may or may not have arrived";
        # now it is known to have arrived, so the row and the timeline say so.
        outcome = "delivered after the deadline had passed"
    else:
        logger.error("notification %s was delivered but its row was changed meanwhile", notification.pk)
        return "sent"
    name = person_name(notification.user)
    timeline_record(
        incident=incident,
        kind=TimelineKind.PAGED,
        text=f"Paged {name} by {notification.get_channel_display()}: {outcome}",
        data={
            "notification_id": notification.pk,
            "channel": notification.channel,
            "user_id": notification.user_id,
        },
    )
    return "sent"


def _finish(mine: QuerySet[Notification], status: str, *, error: str) -> bool:
    """Record the outcome of this worker's claim. False when the tick had already failed the row at
    its deadline; the real error then replaces "no answer", and the timeline has its entry already."""
    fields = {"status": status, "last_error": error[:1000]}
    if mine.filter(status=NotificationStatus.SENDING).update(**fields):
        return True
    mine.filter(status=NotificationStatus.FAILED, last_error=DEADLINE_ERROR).update(**fields)
    return False


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


# --- timer lag, for /metrics ----------------------------------------------------------------
# Derived from the rows, not from counters in the worker: the web process answering /metrics and
# the Celery workers are different processes (often different machines).

LAG_WINDOW = timedelta(minutes=10)
# Notification has no index that fits the lag query, so /metrics reads only the newest rows: a
# scrape stays cheap however long the history grows.
LAG_SCAN_ROWS = 50_000


def timer_lags(*, now: datetime | None = None, window: timedelta = LAG_WINDOW) -> dict[str, list[float]]:
    """Seconds between each timer's due time and its processing, for timers processed in the last
    `window`, sorted, by kind: "escalation" (a step fired; its timeline event records when it was
    due) and "notification" (a delivery claimed; the claim time is claimed_until minus the deadline)."""
    now = now or timezone.now()
    since = now - window
    fired_steps = TimelineEvent.objects.filter(
        kind=TimelineKind.ESCALATED, created_at__gt=since, created_at__lte=now
    ).values_list("created_at", "data__due_at")
    escalation = [
        (fired - datetime.fromisoformat(due)).total_seconds()
        for fired, due in fired_steps
        if isinstance(due, str)  # events written before the due time was recorded have none
    ]
    deadline = delivery_deadline()
    newest_notification = Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    claims = Notification.objects.filter(
        pk__gt=newest_notification - LAG_SCAN_ROWS,
        claimed_until__gt=since + deadline,
        claimed_until__lte=now + deadline,
    ).values_list("claimed_until", "due_at")
    notification = [
        (claimed_until - deadline - due_at).total_seconds()
        for claimed_until, due_at in claims
        if claimed_until is not None
    ]
    return {"escalation": sorted(escalation), "notification": sorted(notification)}


def timers_overdue(*, now: datetime | None = None) -> dict[str, int]:
    """Timers still waiting more than one tick after they were due, by kind: escalation steps,
    queued notifications, and claimed sends past their deadline (which the tick should have failed)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.MUSTER_TICK_SECONDS)
    return {
        "escalation": EscalationState.objects.filter(closed_at__isnull=True, next_step_at__lt=cutoff).count(),
        "notification": Notification.objects.filter(
            status=NotificationStatus.QUEUED, due_at__lt=cutoff
        ).count(),
        "delivery_deadline": Notification.objects.filter(
            status=NotificationStatus.SENDING, claimed_until__lt=cutoff
        ).count(),
    }


def quantile(ordered: list[float], q: float) -> float:
    """Nearest-rank quantile of sorted samples; q=1 is the maximum."""
    if not ordered:
        raise ValueError("no samples")
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
