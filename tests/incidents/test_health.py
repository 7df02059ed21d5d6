from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents.ingest.events import AlertEvent
from incidents.models import EngineHeartbeat
from incidents.services import alert_ingest
from oncall import engine
from oncall.models import Notification
from oncall.tasks import engine_tick
from tests.factories import (
    EscalationPolicyFactory,
    EscalationStepFactory,
    IncidentFactory,
    IntegrationFactory,
)

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_fails_until_the_engine_has_ticked(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert any("tick has never run" in p for p in response.json()["problems"])
    engine_tick()
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()


def test_readyz_fails_when_the_tick_is_stale(client):
    EngineHeartbeat.objects.create(name="tick", last_tick_at=timezone.now() - timedelta(minutes=10))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "stale" in response.json()["problems"][0]


def test_metrics_count_open_incidents_by_status(client):
    IncidentFactory(status="triggered")
    IncidentFactory(status="triggered")
    IncidentFactory(status="resolved")
    engine_tick()
    body = client.get("/metrics").content.decode()
    assert 'muster_incidents_open{status="triggered"} 2.0' in body
    assert "muster_engine_tick_age_seconds" in body


# --- timer lag -----------------------------------------------------------------------------------

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def paged_service(team, service, responder):
    """Checkout pages rosa by email (Django's test mail outbox), then waits an hour for step 2."""
    policy = EscalationPolicyFactory(team=team)
    EscalationStepFactory(policy=policy, users=[responder], delay_minutes=60)
    service.escalation_policy = policy
    service.save()
    return IntegrationFactory(service=service)


def open_incident(integration, key: str):
    event = AlertEvent(action="trigger", dedup_key=key, group_key=key, summary=f"{key} is down")
    return alert_ingest(integration=integration, event=event).incident


def metric_lines(client) -> list[str]:
    return client.get("/metrics").content.decode().splitlines()


def test_metrics_show_how_late_a_step_fired_and_its_page_was_claimed(client, paged_service, mailoutbox):
    with time_machine.travel(START, tick=False) as traveller:
        open_incident(paged_service, "db-1")  # the first step is due at once
        traveller.shift(3)
        engine.tick()  # ... and fires 3 s late, queueing the page due now
        traveller.shift(2)
        [notification] = Notification.objects.all()
        assert engine.deliver(notification_id=notification.pk) == "sent"  # claimed 2 s after due
        lines = metric_lines(client)
    assert len(mailoutbox) == 1
    for quantile in ("0.5", "0.99", "1"):
        assert f'muster_timer_lag_seconds{{kind="escalation",quantile="{quantile}"}} 3.0' in lines
        assert f'muster_timer_lag_seconds{{kind="notification",quantile="{quantile}"}} 2.0' in lines
    assert 'muster_timer_lag_samples{kind="escalation"} 1.0' in lines
    assert 'muster_timer_lag_samples{kind="notification"} 1.0' in lines


def test_lag_quantiles_come_from_every_claim_in_the_window(client, paged_service, mailoutbox):
    with time_machine.travel(START, tick=False) as traveller:
        for i in range(10):
            open_incident(paged_service, f"db-{i}")
        engine.tick()
        for late, notification in enumerate(Notification.objects.order_by("pk"), start=1):
            # Claimed 1, 2, … 10 s after due: the clock only moves forward, so rows become later.
            traveller.move_to(notification.due_at + timedelta(seconds=late))
            engine.deliver(notification_id=notification.pk)
        lines = metric_lines(client)
        traveller.shift(engine.LAG_WINDOW)
        later = metric_lines(client)
    assert len(mailoutbox) == 10
    assert 'muster_timer_lag_seconds{kind="notification",quantile="0.5"} 5.0' in lines
    assert 'muster_timer_lag_seconds{kind="notification",quantile="0.99"} 10.0' in lines
    assert 'muster_timer_lag_seconds{kind="notification",quantile="1"} 10.0' in lines
    assert 'muster_timer_lag_samples{kind="notification"} 10.0' in lines
    # Out of the window: no quantiles (rather than a stale or zero figure), and zero samples.
    assert not [line for line in later if line.startswith("muster_timer_lag_seconds{")]
    assert 'muster_timer_lag_samples{kind="notification"} 0.0' in later
    assert 'muster_timer_lag_samples{kind="escalation"} 0.0' in later


def test_a_failed_send_still_counts_as_a_processed_timer(client, paged_service, mailoutbox):
    with time_machine.travel(START, tick=False) as traveller:
        open_incident(paged_service, "db-1")
        engine.tick()
        Notification.objects.update(channel="pigeon")  # a kind nobody knows fails without a retry
        traveller.shift(4)
        [notification] = Notification.objects.all()
        assert engine.deliver(notification_id=notification.pk) == "failed"
        lines = metric_lines(client)
    assert 'muster_timer_lag_seconds{kind="notification",quantile="1"} 4.0' in lines


def test_metrics_count_timers_overdue_by_more_than_one_tick(client, settings, paged_service):
    settings.MUSTER_TICK_SECONDS = 5
    with time_machine.travel(START, tick=False) as traveller:
        open_incident(paged_service, "db-1")
        traveller.shift(4)
        lines = metric_lines(client)
        assert 'muster_timers_overdue{kind="escalation"} 0.0' in lines  # due, but within one tick
        traveller.shift(2)
        lines = metric_lines(client)
        assert 'muster_timers_overdue{kind="escalation"} 1.0' in lines
        engine.tick()
        lines = metric_lines(client)
        assert 'muster_timers_overdue{kind="escalation"} 0.0' in lines
        assert 'muster_timers_overdue{kind="notification"} 0.0' in lines  # queued, due just now
        traveller.shift(6)
        lines = metric_lines(client)
        assert 'muster_timers_overdue{kind="notification"} 1.0' in lines  # no worker took it
        # A worker claimed it and died: past the deadline, the claim is an overdue timer too.
        Notification.objects.update(status="sending", claimed_until=timezone.now() - timedelta(seconds=6))
        lines = metric_lines(client)
        assert 'muster_timers_overdue{kind="notification"} 0.0' in lines
        assert 'muster_timers_overdue{kind="delivery_deadline"} 1.0' in lines
