from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from incidents.choices import AlertStatus, IncidentStatus, IntegrationKind, Severity, TimelineKind, Urgency
from incidents.models import Alert, ChangeEvent, Incident, TimelineEvent
from incidents.services import maintenance_window_create
from tests.incidents.ingest.conftest import send

pytestmark = pytest.mark.django_db

ENQUEUE = "/v2/enqueue"
CHANGE = "/v2/change/enqueue"


def trigger(routing_key: str, **overrides):
    event = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": "db-eu1/replication-lag",
        "payload": {
            "summary": "Replication lag 312s on db-eu1",
            "source": "db-eu1.int.example.net",
            "severity": "critical",
            "timestamp": "2025-03-04T10:15:00.000+0000",
            "component": "postgres",
            "group": "payments-db",
            "class": "replication",
            "custom_details": {"lag_seconds": 312},
        },
        "links": [{"href": "https://grafana.example.net/d/abc", "text": "Dashboard"}],
        "images": [{"src": "https://grafana.example.net/render/abc.png", "alt": "Lag graph"}],
        "client": "Checkmon",
        "client_url": "https://checkmon.example.net",
    }
    event.update(overrides)
    return event


def follow_up(routing_key: str, action: str, dedup_key: str = "db-eu1/replication-lag"):
    return {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key}


def test_trigger_opens_an_incident_and_answers_like_pagerduty(sender, pagerduty):
    response = send(sender, ENQUEUE, trigger(pagerduty.plain_key))

    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "db-eu1/replication-lag",
    }
    incident = Incident.objects.get()
    assert incident.title == "Replication lag 312s on db-eu1"
    assert incident.severity == Severity.SEV1
    assert incident.urgency == Urgency.HIGH
    assert incident.integration == pagerduty
    alert = incident.alerts.get()
    assert alert.source == "db-eu1.int.example.net"
    assert alert.details == {"lag_seconds": 312}
    assert alert.labels == {"component": "postgres", "group": "payments-db", "class": "replication"}
    assert {"href": "https://grafana.example.net/d/abc", "text": "Dashboard"} in alert.links
    assert {"href": "https://checkmon.example.net", "text": "View in Checkmon"} in alert.links
    assert any(link.get("image") == "https://grafana.example.net/render/abc.png" for link in alert.links)


def test_stored_payload_never_keeps_the_routing_key(sender, pagerduty):
    send(sender, ENQUEUE, trigger(pagerduty.plain_key))

    alert = Alert.objects.get()
    assert "routing_key" not in alert.raw_payload
    assert pagerduty.plain_key not in str(alert.raw_payload)


def test_trigger_without_dedup_key_gets_a_generated_one_and_its_own_incident(sender, pagerduty):
    first = trigger(pagerduty.plain_key)
    del first["dedup_key"]

    keys = [send(sender, ENQUEUE, first).json()["dedup_key"] for _ in range(2)]

    assert keys[0] != keys[1]
    assert all(len(key) == 32 and int(key, 16) >= 0 for key in keys)
    assert set(Alert.objects.values_list("dedup_key", flat=True)) == set(keys)
    assert Incident.objects.count() == 2


def test_second_trigger_with_same_dedup_key_counts_a_repeat_instead_of_a_new_incident(sender, pagerduty):
    send(sender, ENQUEUE, trigger(pagerduty.plain_key))
    response = send(sender, ENQUEUE, trigger(pagerduty.plain_key))

    assert response.status_code == 202
    assert Incident.objects.count() == 1
    assert Alert.objects.get().repeat_count == 1


@pytest.mark.parametrize(
    "timestamp",
    [
        "2025-03-04T10:15:00.315Z",
        "2025-03-04T10:15:00.315+00:00",
        "2025-03-04T10:15:00.315+0000",
        "2025-03-04T11:15:00.315+0100",
        "2025-03-04T05:15:00.315-05:00",
    ],
)
def test_timestamps_with_any_offset_spelling_mean_the_same_instant(sender, pagerduty, timestamp):
    event = trigger(pagerduty.plain_key)
    event["payload"]["timestamp"] = timestamp

    assert send(sender, ENQUEUE, event).status_code == 202

    expected = datetime(2025, 3, 4, 10, 15, 0, 315000, tzinfo=UTC)
    assert Alert.objects.get().first_seen == expected
    assert Incident.objects.get().impact_started_at == expected


@pytest.mark.parametrize(
    ("severity", "expected_severity", "expected_urgency"),
    [
        ("critical", Severity.SEV1, Urgency.HIGH),
        ("error", Severity.SEV2, Urgency.HIGH),
        ("warning", Severity.SEV3, Urgency.LOW),
        ("info", Severity.SEV4, Urgency.LOW),
    ],
)
def test_pagerduty_severity_sets_incident_severity_and_urgency(
    sender, pagerduty, severity, expected_severity, expected_urgency
):
    event = trigger(pagerduty.plain_key)
    event["payload"]["severity"] = severity

    send(sender, ENQUEUE, event)

    incident = Incident.objects.get()
    assert (incident.severity, incident.urgency) == (expected_severity, expected_urgency)


def test_acknowledge_acknowledges_the_incident(sender, pagerduty):
    send(sender, ENQUEUE, trigger(pagerduty.plain_key))

    response = send(sender, ENQUEUE, follow_up(pagerduty.plain_key, "acknowledge"))

    assert response.status_code == 202
    assert Incident.objects.get().status == IncidentStatus.ACKNOWLEDGED


def test_resolve_resolves_the_alert_and_its_incident(sender, pagerduty):
    send(sender, ENQUEUE, trigger(pagerduty.plain_key))

    response = send(sender, ENQUEUE, follow_up(pagerduty.plain_key, "resolve"))

    assert response.json()["dedup_key"] == "db-eu1/replication-lag"
    assert Incident.objects.get().status == IncidentStatus.RESOLVED
    assert Alert.objects.get().status == AlertStatus.RESOLVED


def test_trigger_after_resolve_opens_a_new_incident(sender, pagerduty):
    send(sender, ENQUEUE, trigger(pagerduty.plain_key))
    send(sender, ENQUEUE, follow_up(pagerduty.plain_key, "resolve"))

    send(sender, ENQUEUE, trigger(pagerduty.plain_key))

    assert Incident.objects.count() == 2
    assert Incident.objects.open().count() == 1


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_follow_up_for_an_unknown_key_is_accepted_and_dropped(sender, pagerduty, action):
    response = send(sender, ENQUEUE, follow_up(pagerduty.plain_key, action, "never-triggered"))

    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "never-triggered",
    }
    assert not Incident.objects.exists()
    assert not Alert.objects.exists()


def test_follow_up_with_another_integrations_key_does_not_touch_the_alert(
    sender, pagerduty, make_integration
):
    other = make_integration(IntegrationKind.PAGERDUTY)
    send(sender, ENQUEUE, trigger(pagerduty.plain_key))

    send(sender, ENQUEUE, follow_up(other.plain_key, "resolve"))

    assert Incident.objects.get().status == IncidentStatus.TRIGGERED


def test_alertmanager_pagerduty_config_trigger_then_resolve_by_group_hash(sender, pagerduty):
    """Alertmanager's pagerduty_configs send dedup_key = sha256(groupKey) and resolve with it."""
    dedup_key = hashlib.sha256(b'{}/{team="db"}:{alertname="PgLag"}').hexdigest()
    event = trigger(pagerduty.plain_key, dedup_key=dedup_key, client="Alertmanager")
    event["payload"]["custom_details"] = {"firing": "Labels: alertname = PgLag", "num_firing": 1}
    send(sender, ENQUEUE, event)

    resolve = trigger(pagerduty.plain_key, dedup_key=dedup_key, event_action="resolve")
    send(sender, ENQUEUE, resolve)

    assert Incident.objects.get().status == IncidentStatus.RESOLVED


def payload_with(**changes):
    payload = dict(trigger("x")["payload"])
    for key, value in changes.items():
        if value is None:
            payload.pop(key)
        else:
            payload[key] = value
    return payload


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"event_action": "escalate"}, "'event_action' must be one of trigger, acknowledge, resolve"),
        ({"event_action": None}, "'event_action' is missing"),
        ({"payload": None}, "'payload' is missing"),
        ({"payload": "Replication lag"}, "'payload' must be an object"),
        ({"payload": payload_with(summary=None)}, "'payload.summary' is missing"),
        ({"payload": payload_with(source=None)}, "'payload.source' is missing"),
        ({"payload": payload_with(severity=None)}, "'payload.severity' is missing"),
        ({"payload": payload_with(severity="disaster")}, "'payload.severity' must be one of"),
        ({"payload": payload_with(summary="x" * 1025)}, "'payload.summary' is 1025 characters long"),
        ({"payload": payload_with(summary=42)}, "'payload.summary' must be a string"),
        ({"payload": payload_with(timestamp="yesterday")}, "'payload.timestamp' is not a timestamp"),
        ({"dedup_key": "k" * 256}, "'dedup_key' is 256 characters long; the limit is 255"),
        ({"links": [{"text": "no href"}]}, "'links[0].href' is missing"),
    ],
)
def test_invalid_trigger_is_refused_with_each_problem_named(sender, pagerduty, overrides, named):
    event = trigger(pagerduty.plain_key)
    for key, value in overrides.items():
        if value is None:
            event.pop(key)
        else:
            event[key] = value

    response = send(sender, ENQUEUE, event)

    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "invalid event"
    assert body["message"] == "Event object is invalid"
    assert any(named in error for error in body["errors"]), body["errors"]
    assert not Alert.objects.exists()


def test_every_problem_is_listed_at_once(sender, pagerduty):
    event = trigger(pagerduty.plain_key, dedup_key="k" * 300)
    event["payload"] = {"summary": "", "source": "db-eu1", "severity": "fatal"}

    errors = send(sender, ENQUEUE, event).json()["errors"]

    assert len(errors) == 3


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_follow_up_without_dedup_key_is_refused(sender, pagerduty, action):
    response = send(sender, ENQUEUE, {"routing_key": pagerduty.plain_key, "event_action": action})

    assert response.status_code == 400
    assert response.json()["errors"] == [f"'dedup_key' is required to {action} an alert."]


def test_missing_routing_key_is_refused(sender, pagerduty):
    event = trigger(pagerduty.plain_key)
    del event["routing_key"]

    response = send(sender, ENQUEUE, event)

    assert response.status_code == 400
    assert response.json()["errors"] == ["'routing_key' is missing."]


def test_malformed_json_gets_pagerdutys_unrecognized_object_body(sender, pagerduty):
    response = send(sender, ENQUEUE, b'{"routing_key": "abc", "event_action": ', raw=True)

    assert response.status_code == 400
    assert response.json() == {
        "status": "Unrecognized object",
        "message": "Event object format is unrecognized",
        "errors": ["JSON parse error"],
    }


def test_unknown_routing_key_keeps_the_400_invalid_event_shape(sender, pagerduty):
    response = send(sender, ENQUEUE, trigger("0" * 32))

    assert response.status_code == 400
    body = response.json()
    assert (body["status"], body["message"]) == ("invalid event", "Event object is invalid")
    assert "not valid" in body["errors"][0]


def test_disabled_integration_is_refused_in_pagerdutys_shape(sender, pagerduty):
    pagerduty.enabled = False
    pagerduty.save()

    response = send(sender, ENQUEUE, trigger(pagerduty.plain_key))

    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"
    assert "disabled" in response.json()["errors"][0]
    assert not Alert.objects.exists()


def test_key_of_another_kind_is_refused_with_the_right_endpoint(sender, make_integration):
    opsgenie = make_integration(IntegrationKind.OPSGENIE)

    response = send(sender, ENQUEUE, trigger(opsgenie.plain_key))

    assert response.status_code == 400
    assert "http://127.0.0.1:8000/v2/alerts" in response.json()["errors"][0]


def test_body_over_pagerdutys_512_kb_cap_is_refused_even_below_the_global_limit(sender, pagerduty, settings):
    settings.MUSTER_INGEST_MAX_BODY_BYTES = 5 * 1024 * 1024
    event = trigger(pagerduty.plain_key)
    event["payload"]["custom_details"] = {"blob": "x" * (512 * 1024)}

    response = send(sender, ENQUEUE, event)

    assert response.status_code == 413
    assert response.json()["status"] == "request too large"
    assert not Alert.objects.exists()


# --- change events ----------------------------------------------------------------------------


def change(routing_key: str):
    return {
        "routing_key": routing_key,
        "payload": {
            "summary": "Deployed checkout v2.14.0",
            "source": "argo.example.net",
            "timestamp": "2025-03-04T09:58:12+0000",
            "custom_details": {"commit": "9f3c2ab", "author": "rosa"},
        },
        "links": [{"href": "https://git.example.net/checkout/compare/v2.13.2...v2.14.0", "text": "Diff"}],
    }


def test_change_event_is_recorded_without_opening_an_incident(sender, pagerduty):
    response = send(sender, CHANGE, change(pagerduty.plain_key))

    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Change event processed"}
    assert not Incident.objects.exists()
    event = ChangeEvent.objects.get()
    assert event.summary == "Deployed checkout v2.14.0"
    assert event.service == pagerduty.service
    assert event.occurred_at == datetime(2025, 3, 4, 9, 58, 12, tzinfo=UTC)
    assert event.details == {"commit": "9f3c2ab", "author": "rosa"}
    assert event.links[0]["text"] == "Diff"


def test_change_event_shows_on_open_incidents_of_the_service(sender, pagerduty):
    send(sender, ENQUEUE, trigger(pagerduty.plain_key))

    send(sender, CHANGE, change(pagerduty.plain_key))

    assert TimelineEvent.objects.filter(kind=TimelineKind.CHANGE).count() == 1
    assert Incident.objects.count() == 1


def test_change_event_without_summary_is_refused(sender, pagerduty):
    event = change(pagerduty.plain_key)
    del event["payload"]["summary"]

    response = send(sender, CHANGE, event)

    assert response.status_code == 400
    assert response.json()["errors"] == ["'payload.summary' is missing."]
    assert not ChangeEvent.objects.exists()


def test_alert_during_maintenance_is_recorded_but_the_incident_is_suppressed(sender, pagerduty, manager):
    now = timezone.now()
    maintenance_window_create(
        service=pagerduty.service,
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=2),
        reason="Postgres 16 upgrade",
        actor=manager,
    )

    response = send(sender, ENQUEUE, trigger(pagerduty.plain_key))

    assert response.status_code == 202
    incident = Incident.objects.get()
    assert incident.suppressed
    assert incident.alerts.count() == 1
    suppressed = incident.timeline.get(kind=TimelineKind.SUPPRESSED)
    assert "Postgres 16 upgrade" in suppressed.text


def test_alert_after_maintenance_has_ended_is_not_suppressed(sender, pagerduty, manager):
    now = timezone.now()
    maintenance_window_create(
        service=pagerduty.service,
        starts_at=now - timedelta(hours=2),
        ends_at=now - timedelta(minutes=1),
        actor=manager,
    )

    send(sender, ENQUEUE, trigger(pagerduty.plain_key))

    assert not Incident.objects.get().suppressed
