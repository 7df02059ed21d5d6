"""Heartbeat monitors: a cron job pings, Muster opens an incident when the pings stop and resolves it
when they come back. Time is controlled by the paging harness; the tick is what beat runs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.choices import IncidentStatus, IntegrationKind, TimelineKind
from incidents.models import Incident
from incidents.services import DomainError, heartbeats_check, integration_create, integration_update
from oncall import tasks
from tests.factories import EscalationPolicyFactory, EscalationStepFactory, IntegrationFactory
from tests.oncall.conftest import START, pages  # noqa: F401  (the paging harness fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def monitor(service):
    """A nightly-backup check expected every 10 minutes (+1 minute of grace)."""
    return IntegrationFactory(
        service=service, kind=IntegrationKind.HEARTBEAT, name="Nightly backup", heartbeat_interval_minutes=10
    )


@pytest.fixture
def on_call(team, service, responder):
    policy = EscalationPolicyFactory(team=team)
    EscalationStepFactory(policy=policy, users=[responder], delay_minutes=30)
    service.escalation_policy = policy
    service.save()
    return responder


@pytest.fixture
def cron() -> Client:
    """`curl` in a crontab: no session, no CSRF token."""
    return Client(enforce_csrf_checks=True)


def ping(cron: Client, integration, method: str = "get"):
    return getattr(cron, method)(f"/heartbeat/{integration.plain_key}")


def run(pages, minutes: float) -> None:  # noqa: F811
    """Beat's tick every 5 seconds for `minutes`: the heartbeat check, then the engine."""
    end = timezone.now() + timedelta(minutes=minutes)
    while True:
        heartbeats_check()
        pages.run()
        if timezone.now() >= end:
            return
        pages.traveller.shift(min(timedelta(seconds=5), end - timezone.now()))


@pytest.mark.parametrize("method", ["get", "head", "post"])
def test_a_ping_is_accepted_and_says_when_the_next_is_due(pages, cron, monitor, method):  # noqa: F811
    response = ping(cron, monitor, method)

    assert response.status_code == 200
    monitor.refresh_from_db()
    assert monitor.last_ping_at == START
    assert monitor.heartbeat_due_at == START + timedelta(minutes=11)
    if method != "head":
        assert response.json() == {"status": "ok", "next_expected_before": "2026-03-02T09:11:00+00:00"}


def test_an_unknown_key_is_a_404_in_json(cron, monitor):
    response = cron.get("/heartbeat/0123456789abcdef0123456789abcdef")

    assert response.status_code == 404
    assert response.json()["status"] == "error"
    assert "not valid" in response.json()["message"]


def test_a_key_of_another_kind_is_refused_with_the_right_url(cron, service):
    webhook = IntegrationFactory(service=service, kind=IntegrationKind.WEBHOOK)

    response = cron.get(f"/heartbeat/{webhook.plain_key}")

    assert response.status_code == 403
    assert f"/hooks/{webhook.plain_key}" in response.json()["message"]


def test_a_missed_ping_opens_exactly_one_incident_that_pages(pages, cron, monitor, on_call):  # noqa: F811
    ping(cron, monitor)

    run(pages, minutes=10.9)
    pages.expect_nothing()
    assert not Incident.objects.exists()

    run(pages, minutes=0.1)
    incident = Incident.objects.get()
    assert incident.title == "No heartbeat from Nightly backup for 11 min"
    assert incident.service == monitor.service
    assert incident.status == IncidentStatus.TRIGGERED
    pages.expect((on_call.email, incident.reference))

    run(pages, minutes=25)
    pages.expect_nothing()
    assert Incident.objects.count() == 1
    assert incident.alerts.get().dedup_key == "heartbeat"


def test_the_next_ping_resolves_the_incident_and_rearms_the_monitor(pages, cron, monitor, on_call):  # noqa: F811
    ping(cron, monitor)
    run(pages, minutes=12)
    incident = Incident.objects.get()
    pages.expect((on_call.email, incident.reference))

    response = ping(cron, monitor)

    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    resolved = incident.timeline.get(kind=TimelineKind.RESOLVED)
    assert resolved.actor_integration == monitor
    assert resolved.text.startswith("Resolved by Nightly backup")

    # Silent again: a new incident, not the old one reopened.
    run(pages, minutes=11)
    assert Incident.objects.count() == 2
    newest = Incident.objects.exclude(pk=incident.pk).get()
    assert newest.status == IncidentStatus.TRIGGERED
    pages.expect((on_call.email, newest.reference))


def test_a_monitor_never_pinged_is_not_armed(pages, monitor, on_call):  # noqa: F811
    run(pages, minutes=60)

    assert not Incident.objects.exists()


def test_a_disabled_monitor_does_not_open_incidents(pages, cron, monitor, on_call, manager):  # noqa: F811
    ping(cron, monitor)
    integration_update(integration=monitor, actor=manager, enabled=False)

    run(pages, minutes=30)

    assert not Incident.objects.exists()
    monitor.refresh_from_db()
    assert monitor.heartbeat_due_at is None
    assert ping(cron, monitor).status_code == 403


def test_two_ticks_at_once_open_one_incident(pages, cron, monitor, on_call):  # noqa: F811
    ping(cron, monitor)
    pages.traveller.shift(timedelta(minutes=12))

    assert heartbeats_check() == 1
    assert heartbeats_check() == 0

    pages.run()
    pages.expect((on_call.email, Incident.objects.get().reference))


def test_changing_the_interval_moves_the_deadline_of_an_armed_monitor(pages, cron, monitor, manager):  # noqa: F811
    ping(cron, monitor)

    integration_update(integration=monitor, actor=manager, heartbeat_interval_minutes=60)

    monitor.refresh_from_db()
    assert monitor.heartbeat_due_at == START + timedelta(minutes=66)


# --- configuration ----------------------------------------------------------------------------


def test_a_heartbeat_monitor_needs_an_interval_and_others_take_none(service, manager):
    with pytest.raises(DomainError, match="needs an interval"):
        integration_create(service=service, kind=IntegrationKind.HEARTBEAT, actor=manager)
    with pytest.raises(DomainError, match="Only heartbeat monitors"):
        integration_create(
            service=service, kind=IntegrationKind.PAGERDUTY, heartbeat_interval_minutes=5, actor=manager
        )
    integration, _ = integration_create(
        service=service, kind=IntegrationKind.HEARTBEAT, heartbeat_interval_minutes=5, actor=manager
    )
    assert integration.heartbeat_interval_minutes == 5
    assert integration.heartbeat_due_at is None


def test_the_service_page_adds_a_monitor_and_shows_its_ping_url_and_a_cron_line(client, service, manager):
    client.force_login(manager)

    missing = client.post(
        f"/services/{service.slug}/integrations/", {"kind": "heartbeat", "name": "Nightly backup"}
    )
    created = client.post(
        f"/services/{service.slug}/integrations/",
        {"kind": "heartbeat", "name": "Nightly backup", "heartbeat_interval_minutes": "1440"},
    )

    assert missing.status_code == 400
    assert "needs an interval" in missing.content.decode()
    assert created.status_code == 200
    html = created.content.decode()
    url = re.search(r"http://127\.0\.0\.1:8000/heartbeat/[0-9a-f]{32}", html).group(0)
    assert "0 3 * * *" in html
    assert f"curl -fsS -m 10 --retry 3 -o /dev/null {url}" in html
    assert Client().get(url.removeprefix("http://127.0.0.1:8000")).status_code == 200


def test_the_service_page_shows_when_the_monitor_last_pinged(client, cron, service, manager, monitor):
    client.force_login(manager)
    assert "waiting for the first ping" in client.get(f"/services/{service.slug}/").content.decode()

    ping(cron, monitor)

    html = client.get(f"/services/{service.slug}/").content.decode()
    assert "every 10 min" in html
    assert "last ping" in html
    assert "waiting for the first ping" not in html


def test_the_api_requires_the_interval_for_heartbeats(service, manager):
    api = APIClient()
    api.force_authenticate(manager)

    refused = api.post("/api/v1/integrations/", {"service": "checkout", "kind": "heartbeat"}, format="json")
    created = api.post(
        "/api/v1/integrations/",
        {"service": "checkout", "kind": "heartbeat", "heartbeat_interval_minutes": 15},
        format="json",
    )

    assert refused.status_code == 400
    assert "heartbeat_interval_minutes" in refused.json()
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["ingest_url"] == f"http://127.0.0.1:8000/heartbeat/{body['key']}"
    assert body["heartbeat_interval_minutes"] == 15
    assert body["last_ping_at"] is None


def test_the_engine_tick_opens_the_incident_and_hands_its_first_page_to_a_worker(
    pages,  # noqa: F811
    cron,
    monitor,
    on_call,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    handed: list[int] = []
    monkeypatch.setattr(tasks.escalation_process, "delay", lambda state_id: None)
    monkeypatch.setattr(tasks.deliver_notification, "delay", handed.append)
    ping(cron, monitor)
    pages.traveller.shift(timedelta(minutes=11))

    with django_capture_on_commit_callbacks(execute=True):
        tasks.engine_tick()

    incident = Incident.objects.get()
    [notification] = incident.notifications.all()
    assert handed == [notification.pk]
