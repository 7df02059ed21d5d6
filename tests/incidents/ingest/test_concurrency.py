"""Senders retry and HA pairs deliver twice, so the same event often arrives at the same moment.
Only PostgreSQL runs these requests truly in parallel; SQLite serialises every writer."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from incidents.choices import AlertStatus, IntegrationKind
from incidents.models import Alert, Incident

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers, so nothing would run concurrently")


def fire_together(request: Callable[[Client], Any]) -> list[Any]:
    """Runs `request` in THREADS threads released at the same instant; returns their results."""
    barrier = threading.Barrier(THREADS)
    results: list[Any] = [None] * THREADS
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            client = Client()
            barrier.wait(timeout=30)
            results[index] = request(client)
        except BaseException as exc:
            errors.append(exc)
        finally:
            # Each thread opened its own connection; left open, it would block the test database's teardown.
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_same_dedup_key_at_once_makes_one_incident_and_one_alert(make_integration):
    integration = make_integration(IntegrationKind.PAGERDUTY)
    event = {
        "routing_key": integration.plain_key,
        "event_action": "trigger",
        "dedup_key": "checkout/error-rate",
        "payload": {"summary": "Checkout error rate 7%", "source": "checkout-api", "severity": "critical"},
    }

    responses = fire_together(
        lambda client: client.post("/v2/enqueue", json.dumps(event), content_type="application/json")
    )

    assert [r.status_code for r in responses] == [202] * THREADS
    assert Incident.objects.count() == 1
    alert = Alert.objects.get(status=AlertStatus.FIRING)
    assert Alert.objects.count() == 1
    assert alert.repeat_count == THREADS - 1


def test_same_alertmanager_snapshot_at_once_makes_one_incident_without_duplicates(make_integration):
    integration = make_integration(IntegrationKind.ALERTMANAGER)
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "PgLag", "instance": instance},
            "annotations": {"summary": f"Replica {instance} lagging"},
            "startsAt": "2025-03-04T10:12:31.204Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": fingerprint,
        }
        for instance, fingerprint in (
            ("db-eu1:9187", "7c1e5a0b9d3f2e41"),
            ("db-eu2:9187", "0a9d4c11e2b7f359"),
        )
    ]
    message = {"version": "4", "groupKey": '{}:{alertname="PgLag"}', "status": "firing", "alerts": alerts}

    responses = fire_together(
        lambda client: client.post(
            f"/hooks/{integration.plain_key}", json.dumps(message), content_type="application/json"
        )
    )

    assert [r.status_code for r in responses] == [200] * THREADS
    assert Incident.objects.count() == 1
    assert Alert.objects.count() == 2
    assert sorted(Alert.objects.values_list("repeat_count", flat=True)) == [THREADS - 1] * 2
