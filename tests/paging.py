"""Running the engine the way a worker would, for tests without one."""

from __future__ import annotations

from django.utils import timezone

from oncall import engine
from oncall.models import Notification, NotificationStatus


def run_engine_once() -> tuple[engine.TickReport, list[str]]:
    """One tick, then every delivery a worker would run: what the tick handed over plus what was
    handed over when its transaction committed (a test transaction never runs on_commit, and a
    live server's on_commit enqueues to a broker no worker reads). Returns the tick's report and
    each delivery's outcome."""
    report = engine.tick()
    handed_over = Notification.objects.filter(
        status=NotificationStatus.QUEUED, due_at__lte=timezone.now(), enqueued_at__isnull=False
    ).values_list("pk", flat=True)
    ids = list(dict.fromkeys([*report.to_deliver, *handed_over]))
    return report, [engine.deliver(notification_id=pk) for pk in ids]
