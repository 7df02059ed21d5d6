"""Thin Celery tasks: they take ids and call the engine, which re-reads and claims the rows."""

import logging

from celery import shared_task
from django.utils import timezone

from incidents.models import EngineHeartbeat
from incidents.services import heartbeats_check
from oncall import engine, nudges
from oncall.services import escalation_advance

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def engine_tick() -> None:
    """Beat runs this every MUSTER_TICK_SECONDS."""
    EngineHeartbeat.objects.update_or_create(name="tick", defaults={"last_tick_at": timezone.now()})
    try:
        # Before the engine's tick, so a missed heartbeat's first page goes out in this same tick.
        heartbeats_check()
    except Exception:  # a fault here must never stop paging for everything else
        logger.exception("heartbeat check failed")
    report = engine.tick()
    for notification_id in report.to_deliver:
        deliver_notification.delay(notification_id)


@shared_task(ignore_result=True)
def escalation_process(state_id: int) -> None:
    """The first step of a new incident, right after its transaction commits."""
    escalation_advance(state_id=state_id)


@shared_task(ignore_result=True, acks_late=True)
def deliver_notification(notification_id: int) -> None:
    engine.deliver(notification_id=notification_id)


@shared_task(ignore_result=True)
def shift_nudges() -> None:
    """Beat runs this every minute: write the shift nudges now due, and hand them to workers."""
    nudges.nudges_plan()
    for nudge_id in nudges.nudges_due():
        deliver_shift_nudge.delay(nudge_id)


@shared_task(ignore_result=True, acks_late=True)
def deliver_shift_nudge(nudge_id: int) -> None:
    nudges.nudge_deliver(nudge_id=nudge_id)
