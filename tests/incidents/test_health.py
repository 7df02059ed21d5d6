from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import EngineHeartbeat
from oncall.tasks import engine_tick
from tests.factories import IncidentFactory

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
