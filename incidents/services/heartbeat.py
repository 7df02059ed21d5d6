"""Heartbeat monitors: a cron job or a monitor pings `/heartbeat/<key>` at least every N minutes;
when a ping is missed, an incident opens; the next ping resolves it.

The missed-ping check is a timer row like every other in Muster: each ping sets the integration's
`heartbeat_due_at`, and the engine tick claims the integrations past it. Until the first ping the
monitor is not armed (a new cron job has not run yet; that is no outage), and after a missed ping
it stays disarmed until the next one, so one silence opens exactly one incident.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from incidents.choices import IntegrationKind
from incidents.ingest import severity
from incidents.ingest.events import AlertEvent
from incidents.models import Integration
from incidents.services.alerts import IngestResult, alert_ingest
from incidents.services.errors import DomainError

HEARTBEAT_DEDUP_KEY = "heartbeat"
MIN_INTERVAL_MINUTES = 1
MAX_INTERVAL_MINUTES = 31 * 24 * 60  # a monthly cron job
CHECK_BATCH = 200


def heartbeat_interval_problem(*, kind: str, minutes: int | None) -> str:
    """What is wrong with this interval for this kind of integration, or "" when nothing is."""
    if kind != IntegrationKind.HEARTBEAT:
        return "" if minutes is None else "Only heartbeat monitors take an interval."
    if minutes is None:
        return "A heartbeat monitor needs an interval: how often, in minutes, it pings at least."
    if not MIN_INTERVAL_MINUTES <= minutes <= MAX_INTERVAL_MINUTES:
        return f"The interval must be between {MIN_INTERVAL_MINUTES} and {MAX_INTERVAL_MINUTES} minutes."
    return ""


def check_heartbeat_interval(*, kind: str, minutes: int | None) -> None:
    if problem := heartbeat_interval_problem(kind=kind, minutes=minutes):
        raise DomainError(problem)


def heartbeat_grace(interval: timedelta) -> timedelta:
    """Slack for a cron job that runs a little late: a tenth of the interval, at least a minute."""
    return max(interval / 10, timedelta(minutes=1))


def heartbeat_deadline(*, integration: Integration, pinged_at: datetime) -> datetime | None:
    if not integration.heartbeat_interval_minutes:
        return None
    interval = timedelta(minutes=integration.heartbeat_interval_minutes)
    return pinged_at + interval + heartbeat_grace(interval)


@transaction.atomic
def heartbeat_ping(*, integration: Integration, now: datetime | None = None) -> IngestResult:
    """Record a ping: arm the timer for the next one and resolve a missed-heartbeat alert if one is
    firing (the integration is the actor, so its auto-resolve setting applies and the timeline says
    who resolved it)."""
    now = now or timezone.now()
    due = heartbeat_deadline(integration=integration, pinged_at=now)
    Integration.objects.filter(pk=integration.pk).update(last_ping_at=now, heartbeat_due_at=due)
    integration.last_ping_at, integration.heartbeat_due_at = now, due
    return alert_ingest(
        integration=integration,
        event=AlertEvent(action="resolve", dedup_key=HEARTBEAT_DEDUP_KEY, group_key=HEARTBEAT_DEDUP_KEY),
    )


def _minutes_since(moment: datetime | None, now: datetime) -> int:
    if moment is None:
        return 0
    return max(1, round((now - moment).total_seconds() / 60))


def heartbeats_check(*, now: datetime | None = None) -> int:
    """Open an incident for every armed heartbeat whose deadline has passed. Safe to run from
    several ticks at once: each integration is claimed under a row lock, skipping locked ones.
    Returns how many alerts were triggered."""
    now = now or timezone.now()
    due_ids = list(
        Integration.objects.filter(heartbeat_due_at__lte=now)
        .order_by("heartbeat_due_at")
        .values_list("pk", flat=True)[:CHECK_BATCH]
    )
    triggered = 0
    for pk in due_ids:
        with transaction.atomic():
            integration = (
                Integration.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("service")
                .filter(pk=pk, heartbeat_due_at__lte=now)
                .first()
            )
            if integration is None:  # another tick has it, or a ping just moved the deadline
                continue
            # Disarmed until the next ping, whatever happens next: one silence, one incident.
            Integration.objects.filter(pk=pk).update(heartbeat_due_at=None)
            if not integration.enabled or integration.kind != IntegrationKind.HEARTBEAT:
                continue
            silent = _minutes_since(integration.last_ping_at, now)
            summary = f"No heartbeat from {integration.name} for {silent} min"
            alert_ingest(
                integration=integration,
                event=AlertEvent(
                    action="trigger",
                    dedup_key=HEARTBEAT_DEDUP_KEY,
                    group_key=HEARTBEAT_DEDUP_KEY,
                    summary=summary,
                    # A missed heartbeat is a job that did not run: it pages, like any alert that
                    # does not say how bad it is.
                    severity=severity.DEFAULT[0],
                    urgency=severity.DEFAULT[1],
                    source="muster-heartbeat",
                    details={
                        "last_ping_at": integration.last_ping_at.isoformat()
                        if integration.last_ping_at
                        else None,
                        "interval_minutes": integration.heartbeat_interval_minutes,
                        "deadline": integration.heartbeat_due_at.isoformat()
                        if integration.heartbeat_due_at
                        else None,
                    },
                ),
            )
            triggered += 1
    return triggered
