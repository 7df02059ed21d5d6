from __future__ import annotations

import json
from unittest import mock

import pytest

from incidents.choices import IntegrationKind
from incidents.ingest.ratelimit import RateLimited, rate_limit_check
from incidents.models import Alert

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mid_minute():
    """Requests in one test must fall in one window, whatever the wall clock says."""
    with mock.patch("incidents.ingest.ratelimit.time.time", return_value=1_741_083_290.0):
        yield


def pd_trigger(key: str, n: int) -> dict:
    return {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": f"disk-{n}",
        "payload": {"summary": f"Disk {n} full", "source": "nas-01", "severity": "warning"},
    }


def am_group(n: int) -> dict:
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="Disk{n}"}}',
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": f"Disk{n}"},
                "startsAt": "2025-03-04T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"{n:016x}",
            }
        ],
    }


# Per endpoint: the URL, headers and body of request n, and the status that means "retry later".
SENDERS = {
    "pagerduty": (
        IntegrationKind.PAGERDUTY,
        lambda i, n: ("/v2/enqueue", {}, pd_trigger(i.plain_key, n)),
        429,
    ),
    "opsgenie": (
        IntegrationKind.OPSGENIE,
        lambda i, n: ("/v2/alerts", {"Authorization": f"GenieKey {i.plain_key}"}, {"message": f"Disk {n}"}),
        429,
    ),
    "native": (
        IntegrationKind.NATIVE,
        lambda i, n: (
            "/api/v1/alerts/",
            {"Authorization": f"Bearer {i.plain_key}"},
            {"summary": f"Disk {n}"},
        ),
        429,
    ),
    "webhook": (
        IntegrationKind.WEBHOOK,
        lambda i, n: (f"/hooks/{i.plain_key}", {}, {"title": f"Disk {n}"}),
        429,
    ),
    # Alertmanager and Grafana retry 5xx only; a 429 would drop the notification for good.
    "alertmanager": (
        IntegrationKind.ALERTMANAGER,
        lambda i, n: (f"/hooks/{i.plain_key}", {}, am_group(n)),
        503,
    ),
    "grafana": (IntegrationKind.GRAFANA, lambda i, n: (f"/hooks/{i.plain_key}", {}, am_group(n)), 503),
}


@pytest.mark.parametrize("name", SENDERS)
def test_request_over_the_per_minute_limit_is_told_to_retry_and_writes_nothing(
    sender, make_integration, name
):
    kind, build, retry_status = SENDERS[name]
    integration = make_integration(kind, rate_limit_per_minute=2)

    statuses = []
    for n in range(3):
        url, headers, body = build(integration, n)
        response = sender.post(url, json.dumps(body), content_type="application/json", headers=headers)
        statuses.append(response.status_code)

    assert statuses[:2] == [statuses[0]] * 2
    assert statuses[0] in (200, 202)
    assert statuses[2] == retry_status
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "retry" in json.dumps(response.json())
    assert Alert.objects.count() == 2


def test_pagerduty_throttle_keeps_a_status_and_message_body(sender, make_integration):
    integration = make_integration(IntegrationKind.PAGERDUTY, rate_limit_per_minute=1)
    sender.post("/v2/enqueue", pd_trigger(integration.plain_key, 1), content_type="application/json")

    response = sender.post(
        "/v2/enqueue", pd_trigger(integration.plain_key, 2), content_type="application/json"
    )

    assert response.status_code == 429
    assert response.json()["status"] == "throttle event"
    assert "retry after" in response.json()["message"]


def test_installation_default_applies_when_the_integration_sets_none(sender, make_integration, settings):
    settings.MUSTER_INGEST_RATE_LIMIT_PER_MINUTE = 1
    integration = make_integration(IntegrationKind.PAGERDUTY)

    first = sender.post("/v2/enqueue", pd_trigger(integration.plain_key, 1), content_type="application/json")
    second = sender.post("/v2/enqueue", pd_trigger(integration.plain_key, 2), content_type="application/json")

    assert (first.status_code, second.status_code) == (202, 429)


def test_zero_means_unlimited(make_integration, settings):
    settings.MUSTER_INGEST_RATE_LIMIT_PER_MINUTE = 1
    integration = make_integration(IntegrationKind.PAGERDUTY, rate_limit_per_minute=0)

    for _ in range(50):
        rate_limit_check(integration)


def test_each_integration_has_its_own_budget(make_integration):
    noisy = make_integration(IntegrationKind.PAGERDUTY, rate_limit_per_minute=1)
    quiet = make_integration(IntegrationKind.PAGERDUTY, rate_limit_per_minute=1)
    rate_limit_check(noisy, now=1000.0)

    with pytest.raises(RateLimited):
        rate_limit_check(noisy, now=1000.0)
    rate_limit_check(quiet, now=1000.0)


def test_the_budget_refills_in_the_next_minute(make_integration):
    integration = make_integration(IntegrationKind.PAGERDUTY, rate_limit_per_minute=1)
    rate_limit_check(integration, now=1_741_083_290.0)

    with pytest.raises(RateLimited) as refused:
        rate_limit_check(integration, now=1_741_083_295.0)
    rate_limit_check(integration, now=1_741_083_300.0)

    assert refused.value.retry_after == 5, "seconds until the next window starts"


def test_an_unreachable_cache_lets_alerts_through(sender, make_integration):
    integration = make_integration(IntegrationKind.PAGERDUTY, rate_limit_per_minute=1)

    with mock.patch("incidents.ingest.ratelimit.cache.incr", side_effect=ConnectionError("redis down")):
        statuses = [
            sender.post(
                "/v2/enqueue", pd_trigger(integration.plain_key, n), content_type="application/json"
            ).status_code
            for n in range(3)
        ]

    assert statuses == [202, 202, 202]
    assert Alert.objects.count() == 3
