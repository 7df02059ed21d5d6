"""Thin Celery tasks: they take ids and call the engine, which re-reads and claims the rows."""

from celery import shared_task
from django.utils import timezone

from incidents.models import EngineHeartbeat
from oncall import engine
from oncall.services import escalation_advance


@shared_task(ignore_result=True)
def engine_tick() -> None:
    """Beat runs this every MUSTER_TICK_SECONDS."""
    EngineHeartbeat.objects.update_or_create(name="tick", defaults={"last_tick_at": timezone.now()})
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
