from celery import shared_task
from django.utils import timezone

from incidents.models import EngineHeartbeat


@shared_task(ignore_result=True)
def engine_tick() -> None:
    """Beat runs this every MUSTER_TICK_SECONDS. It records that the engine is alive; the paging
    engine (oncall) claims its due rows from here."""
    EngineHeartbeat.objects.update_or_create(name="tick", defaults={"last_tick_at": timezone.now()})
