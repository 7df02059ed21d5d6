from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime

import pytest

from incidents.choices import AlertStatus, IncidentStatus, IntegrationKind, Severity, TimelineKind, Urgency
from incidents.models import Alert, Incident, TimelineEvent
from tests.incidents.ingest.conftest import send

pytestmark = pytest.mark.django_db

GROUP_KEY = '{}/{team="db"}:{alertname="PgLag"}'
ZERO = "0001-01-01T00:00:00Z"


def am_alert(instance: str, *, status: str = "firing", starts_at: str = "2025-03-04T10:12:31.204Z", **extra):
    fingerprints = {
        "db-eu1:9187": "7c1e5a0b9d3f2e41",
        "db-eu2:9187": "0a9d4c11e2b7f359",
        "db-us1:9187": "c3d2e1f0a9b8c7d6",
    }
    alert = {
        "status": status,
        "labels": {"alertname": "PgLag", "team": "db", "severity": "critical", "instance": instance},
        "annotations": {
            "summary": f"Replica {instance} lagging",
            "runbook_url": "https://wiki.example.net/pg",
        },
        "startsAt": starts_at,
        "endsAt": ZERO if status == "firing" else "2025-03-04T10:40:01.5Z",
        "generatorURL": "https://prom.example.net/graph?g0.expr=pg_replication_lag",
        "fingerprint": fingerprints[instance],
    }
    alert.update(extra)
    return alert


def am_message(*alerts, **extra):
    message = {
        "version": "4",
        "groupKey": GROUP_KEY,
        "truncatedAlerts": 0,
        "status": "firing" if any(a.get("status", "firing") == "firing" for a in alerts) else "resolved",
        "receiver": "muster",
        "groupLabels": {"alertname": "PgLag"},
        "commonLabels": {"alertname": "PgLag", "team": "db", "severity": "critical"},
        "commonAnnotations": {"summary": "Replicas lagging"},
        "externalURL": "https://am.example.net",
        "alerts": list(alerts),
    }
    message.update(extra)
    return message


@pytest.fixture
def hook_url(alertmanager):
    return f"/hooks/{alertmanager.plain_key}"


def test_first_firing_group_opens_one_incident_with_an_alert_per_member(sender, hook_url, alertmanager):
    response = send(sender, hook_url, am_message(am_alert("db-eu1:9187"), am_alert("db-eu2:9187")))

    assert response.status_code == 200
    incident = Incident.objects.get()
    assert response.json()["status"] == "ok"
    assert response.json()["incident"] == incident.number
    assert incident.title == "Replicas lagging"
    assert incident.severity == Severity.SEV1
    assert incident.group_key == hashlib.sha256(GROUP_KEY.encode()).hexdigest()
    alerts = {a.labels["instance"]: a for a in incident.alerts.all()}
    assert set(alerts) == {"db-eu1:9187", "db-eu2:9187"}
    alert = alerts["db-eu1:9187"]
    assert alert.dedup_key == "7c1e5a0b9d3f2e41:2025-03-04T10:12:31.204000000Z"
    assert alert.summary == "Replica db-eu1:9187 lagging"
    assert alert.source == "db-eu1:9187"
    assert alert.details["annotations"]["runbook_url"] == "https://wiki.example.net/pg"
    assert {"href": "https://wiki.example.net/pg", "text": "Runbook"} in alert.links
    assert {
        "href": "https://prom.example.net/graph?g0.expr=pg_replication_lag",
        "text": "Source",
    } in alert.links
    assert alert.first_seen == datetime(2025, 3, 4, 10, 12, 31, 204000, tzinfo=UTC)


def test_repeated_snapshot_bumps_repeat_count_instead_of_duplicating(sender, hook_url):
    message = am_message(am_alert("db-eu1:9187"), am_alert("db-eu2:9187"))
    send(sender, hook_url, message)

    response = send(sender, hook_url, message)
    send(sender, hook_url, message)

    assert response.status_code == 200
    assert response.json()["outcomes"] == {"repeated": 2}
    assert Incident.objects.count() == 1
    assert Alert.objects.count() == 2
    assert set(Alert.objects.values_list("repeat_count", flat=True)) == {2}


def test_group_growing_by_a_new_alert_adds_it_to_the_open_incident(sender, hook_url):
    send(sender, hook_url, am_message(am_alert("db-eu1:9187")))

    response = send(sender, hook_url, am_message(am_alert("db-eu1:9187"), am_alert("db-us1:9187")))

    incident = Incident.objects.get()
    assert response.json()["incident"] == incident.number
    assert incident.alerts.count() == 2
    assert TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.ALERT_ADDED).count() == 1


def test_mixed_snapshot_resolves_only_the_resolved_alert(sender, hook_url):
    send(sender, hook_url, am_message(am_alert("db-eu1:9187"), am_alert("db-eu2:9187")))

    send(sender, hook_url, am_message(am_alert("db-eu1:9187"), am_alert("db-eu2:9187", status="resolved")))

    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.TRIGGERED
    statuses = {a.labels["instance"]: a.status for a in incident.alerts.all()}
    assert statuses == {"db-eu1:9187": AlertStatus.FIRING, "db-eu2:9187": AlertStatus.RESOLVED}
    resolved = incident.alerts.get(status=AlertStatus.RESOLVED)
    assert resolved.resolved_at == datetime(2025, 3, 4, 10, 40, 1, 500000, tzinfo=UTC)


def test_incident_resolves_when_every_alert_in_the_group_has_resolved(sender, hook_url):
    send(sender, hook_url, am_message(am_alert("db-eu1:9187"), am_alert("db-eu2:9187")))
    send(sender, hook_url, am_message(am_alert("db-eu1:9187"), am_alert("db-eu2:9187", status="resolved")))

    response = send(
        sender,
        hook_url,
        am_message(am_alert("db-eu1:9187", status="resolved"), am_alert("db-eu2:9187", status="resolved")),
    )

    assert response.status_code == 200
    assert Incident.objects.get().status == IncidentStatus.RESOLVED
    assert not Alert.objects.filter(status=AlertStatus.FIRING).exists()


def test_incident_stays_open_when_auto_resolve_is_off(sender, hook_url, alertmanager):
    alertmanager.auto_resolve = False
    alertmanager.save()
    send(sender, hook_url, am_message(am_alert("db-eu1:9187")))

    send(sender, hook_url, am_message(am_alert("db-eu1:9187", status="resolved")))

    assert Incident.objects.get().status == IncidentStatus.TRIGGERED
    assert Alert.objects.get().status == AlertStatus.RESOLVED


def test_snapshot_with_new_firing_and_newly_resolved_alerts_keeps_one_incident(sender, hook_url):
    send(sender, hook_url, am_message(am_alert("db-eu1:9187")))

    send(sender, hook_url, am_message(am_alert("db-eu1:9187", status="resolved"), am_alert("db-eu2:9187")))

    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.TRIGGERED
    assert incident.alerts.filter(status=AlertStatus.FIRING).get().labels["instance"] == "db-eu2:9187"


def test_zero_ends_at_without_status_means_still_firing(sender, hook_url):
    alert = am_alert("db-eu1:9187")
    del alert["status"]
    assert alert["endsAt"] == ZERO

    send(sender, hook_url, am_message(alert, status="firing"))

    stored = Alert.objects.get()
    assert stored.status == AlertStatus.FIRING
    assert "endsAt" not in stored.details


def test_past_ends_at_without_status_means_resolved(sender, hook_url):
    send(sender, hook_url, am_message(am_alert("db-eu1:9187")))
    alert = am_alert("db-eu1:9187", status="resolved")
    del alert["status"]

    send(sender, hook_url, am_message(alert, status="resolved"))

    assert Alert.objects.get().status == AlertStatus.RESOLVED


def test_same_start_instant_written_with_offset_and_nanoseconds_is_the_same_alert(sender, hook_url):
    send(sender, hook_url, am_message(am_alert("db-eu1:9187", starts_at="2025-03-04T10:12:31.204Z")))

    send(
        sender, hook_url, am_message(am_alert("db-eu1:9187", starts_at="2025-03-04T11:12:31.204000000+01:00"))
    )

    assert Alert.objects.get().repeat_count == 1


def test_nanoseconds_are_kept_in_the_dedup_key(sender, hook_url):
    send(
        sender, hook_url, am_message(am_alert("db-eu1:9187", starts_at="2025-03-04T10:12:31.204123456-02:30"))
    )

    assert Alert.objects.get().dedup_key == "7c1e5a0b9d3f2e41:2025-03-04T12:42:31.204123456Z"


def test_new_firing_episode_after_resolution_opens_a_new_incident(sender, hook_url):
    send(sender, hook_url, am_message(am_alert("db-eu1:9187")))
    send(sender, hook_url, am_message(am_alert("db-eu1:9187", status="resolved")))

    send(sender, hook_url, am_message(am_alert("db-eu1:9187", starts_at="2025-03-04T14:02:00Z")))

    assert Incident.objects.count() == 2
    assert Incident.objects.open().get().alerts.get().dedup_key.endswith("T14:02:00.000000000Z")


def test_missing_fingerprint_is_computed_from_the_label_set(sender, hook_url):
    alert = am_alert("db-eu1:9187")
    del alert["fingerprint"]
    send(sender, hook_url, am_message(alert))

    reordered = copy.deepcopy(alert)
    reordered["labels"] = dict(reversed(list(alert["labels"].items())))
    send(sender, hook_url, am_message(reordered))

    stored = Alert.objects.get()
    assert stored.repeat_count == 1
    assert len(stored.details["fingerprint"]) == 16


def test_title_falls_back_to_alertname_and_group_labels(sender, hook_url):
    message = am_message(
        am_alert("db-eu1:9187"),
        commonAnnotations={},
        groupLabels={"alertname": "PgLag", "cluster": "eu1", "team": "db"},
    )

    send(sender, hook_url, message)

    assert Incident.objects.get().title == "PgLag cluster=eu1 team=db"


def test_alert_summary_falls_back_to_description_then_alertname(sender, hook_url):
    described = am_alert("db-eu1:9187", annotations={"description": "Lag is 312s"})
    bare = am_alert("db-eu2:9187", annotations={})

    send(sender, hook_url, am_message(described, bare))

    summaries = {a.labels["instance"]: a.summary for a in Alert.objects.all()}
    assert summaries == {"db-eu1:9187": "Lag is 312s", "db-eu2:9187": "PgLag"}


@pytest.mark.parametrize(
    ("label", "severity", "urgency"),
    [
        ("critical", Severity.SEV1, Urgency.HIGH),
        ("page", Severity.SEV1, Urgency.HIGH),
        ("error", Severity.SEV2, Urgency.HIGH),
        ("warning", Severity.SEV3, Urgency.LOW),
        ("info", Severity.SEV4, Urgency.LOW),
        ("whatever", Severity.SEV3, Urgency.HIGH),
    ],
)
def test_severity_label_sets_incident_severity(sender, hook_url, label, severity, urgency):
    alert = am_alert("db-eu1:9187")
    alert["labels"]["severity"] = label

    send(sender, hook_url, am_message(alert, commonLabels={"alertname": "PgLag"}))

    incident = Incident.objects.get()
    assert (incident.severity, incident.urgency) == (severity, urgency)


def test_incident_takes_the_worst_severity_in_the_first_snapshot(sender, hook_url):
    warning = am_alert("db-eu1:9187")
    warning["labels"]["severity"] = "warning"
    critical = am_alert("db-eu2:9187")

    send(sender, hook_url, am_message(warning, critical, commonLabels={"alertname": "PgLag"}))

    assert Incident.objects.get().severity == Severity.SEV1


def test_unknown_top_level_fields_and_truncated_alerts_are_accepted(sender, hook_url):
    message = am_message(
        am_alert("db-eu1:9187"),
        truncatedAlerts=14,
        notification_reason="new alerts added",
        routeLabels={"team": "db"},
        somethingFromTheFuture={"x": [1, 2]},
    )

    response = send(sender, hook_url, message)

    assert response.status_code == 200
    assert response.json()["truncated_alerts"] == 14
    assert Alert.objects.get().details["truncatedAlerts"] == 14


def test_group_key_longer_than_255_characters_still_groups(sender, hook_url):
    long_key = "{}/{" + ",".join(f'label{i}="value{i}"' for i in range(40)) + "}:{}"
    assert len(long_key) > 255

    send(sender, hook_url, am_message(am_alert("db-eu1:9187"), groupKey=long_key))
    send(sender, hook_url, am_message(am_alert("db-eu2:9187"), groupKey=long_key))

    assert Incident.objects.get().alerts.count() == 2


def test_different_groups_open_different_incidents(sender, hook_url):
    send(sender, hook_url, am_message(am_alert("db-eu1:9187")))

    send(
        sender, hook_url, am_message(am_alert("db-eu2:9187"), groupKey='{}/{team="db"}:{alertname="PgDown"}')
    )

    assert Incident.objects.count() == 2


def test_all_resolved_snapshot_for_unknown_alerts_is_accepted_without_an_incident(sender, hook_url):
    response = send(sender, hook_url, am_message(am_alert("db-eu1:9187", status="resolved")))

    assert response.status_code == 200
    assert response.json()["incident"] is None
    assert not Incident.objects.exists()


def test_trailing_slash_is_accepted(sender, alertmanager):
    response = send(sender, f"/hooks/{alertmanager.plain_key}/", am_message(am_alert("db-eu1:9187")))

    assert response.status_code == 200
    assert Incident.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"groupKey": None}, "'groupKey' is missing"),
        ({"alerts": None}, "'alerts' is missing"),
        ({"alerts": {"status": "firing"}}, "'alerts' must be an array"),
        ({"alerts": ["firing"]}, "'alerts[0]' must be an object"),
        ({"commonLabels": {"severity": 1}}, "'commonLabels' values must be strings"),
    ],
)
def test_malformed_group_is_refused_with_the_problem_named(sender, hook_url, change, named):
    message = am_message(am_alert("db-eu1:9187"))
    for key, value in change.items():
        if value is None:
            del message[key]
        else:
            message[key] = value

    response = send(sender, hook_url, message)

    assert response.status_code == 400
    assert any(named in error for error in response.json()["errors"]), response.json()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"startsAt": "last tuesday"}, "'alerts[1].startsAt' is not a timestamp"),
        ({"startsAt": None}, "'alerts[1].startsAt' is missing"),
        ({"status": "pending"}, "'alerts[1].status' must be firing or resolved"),
        ({"labels": {"instance": ["db-eu2"]}}, "'alerts[1].labels' values must be strings"),
    ],
)
def test_one_bad_alert_refuses_the_whole_snapshot(sender, hook_url, change, named):
    bad = am_alert("db-eu2:9187")
    for key, value in change.items():
        if value is None:
            del bad[key]
        else:
            bad[key] = value

    response = send(sender, hook_url, am_message(am_alert("db-eu1:9187"), bad))

    assert response.status_code == 400
    assert any(named in error for error in response.json()["errors"]), response.json()
    assert not Alert.objects.exists()


def test_unknown_key_in_the_path_is_404(sender, alertmanager):
    response = send(sender, "/hooks/" + "f" * 32, am_message(am_alert("db-eu1:9187")))

    assert response.status_code == 404
    assert "not valid" in response.json()["message"]


def test_pagerduty_key_on_the_hook_url_names_the_pagerduty_endpoint(sender, make_integration):
    pagerduty = make_integration(IntegrationKind.PAGERDUTY)

    response = send(sender, f"/hooks/{pagerduty.plain_key}", am_message(am_alert("db-eu1:9187")))

    assert response.status_code == 403
    assert "/v2/enqueue" in response.json()["message"]


def test_disabled_integration_is_refused(sender, hook_url, alertmanager):
    alertmanager.enabled = False
    alertmanager.save()

    response = send(sender, hook_url, am_message(am_alert("db-eu1:9187")))

    assert response.status_code == 403
    assert "disabled" in response.json()["message"]
    assert not Incident.objects.exists()


def test_large_group_above_djangos_upload_limit_is_accepted(sender, hook_url, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024
    alerts = []
    for i in range(60):
        alert = am_alert("db-eu1:9187", fingerprint=f"{i:016x}")
        alert["annotations"]["description"] = "x" * 300
        alerts.append(alert)

    response = send(sender, hook_url, am_message(*alerts))

    assert response.status_code == 200
    assert Alert.objects.count() == 60
