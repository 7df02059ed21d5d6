from __future__ import annotations

import pytest
from django.test import Client

from incidents.choices import AlertStatus, IncidentStatus, IntegrationKind, Severity
from incidents.ingest import webhook
from incidents.models import Alert, Incident
from tests.incidents.ingest.conftest import send

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(webhook):
    def post(body, **kwargs):
        return send_to(webhook, body, **kwargs)

    return post


def send_to(integration, body, **kwargs):
    return send(Client(enforce_csrf_checks=True), f"/hooks/{integration.plain_key}", body, **kwargs)


def test_default_fields_open_an_incident(hook):
    response = hook(
        {
            "id": "chk-4411",
            "title": "HTTPS check failed for shop.example.com",
            "severity": "critical",
            "source": "uptime-robot",
            "status": "down",
            "checked_at": "2025-03-04T10:15:00Z",
        }
    )

    assert response.status_code == 202
    incident = Incident.objects.get()
    assert response.json() == {
        "status": "accepted",
        "outcome": "opened_incident",
        "dedup_key": "chk-4411",
        "incident": incident.number,
    }
    assert incident.title == "HTTPS check failed for shop.example.com"
    assert incident.severity == Severity.SEV1
    alert = incident.alerts.get()
    assert alert.source == "uptime-robot"
    assert alert.details["checked_at"] == "2025-03-04T10:15:00Z"


def test_default_status_values_resolve_and_acknowledge(hook):
    hook({"id": "chk-4411", "title": "Check failed", "status": "down"})

    hook({"id": "chk-4411", "title": "Check failed", "status": "acknowledged"})
    assert Incident.objects.get().status == IncidentStatus.ACKNOWLEDGED

    hook({"id": "chk-4411", "title": "Check failed", "status": "RESOLVED"})
    assert Incident.objects.get().status == IncidentStatus.RESOLVED


def test_without_an_id_the_title_identifies_the_alert(hook):
    hook({"message": "Backup job nightly-db failed"})
    hook({"message": "Backup job nightly-db failed"})
    assert Alert.objects.get().repeat_count == 1

    hook({"message": "Backup job nightly-db failed", "state": "ok"})

    assert Alert.objects.get().status == AlertStatus.RESOLVED


def test_configured_paths_with_list_indexes_are_followed(make_integration):
    integration = make_integration(
        IntegrationKind.WEBHOOK,
        config={
            "title_path": "alerts.0.subject",
            "dedup_key_path": "alerts.0.uid",
            "severity_path": "alerts.0.level",
            "source_path": "origin.host",
            "action_path": "event.type",
            "resolve_values": ["CLEARED"],
            "acknowledge_values": ["TAKEN"],
        },
    )
    body = {
        "event": {"type": "RAISED"},
        "origin": {"host": "nas-01"},
        "alerts": [{"uid": 981, "subject": "Volume 2 degraded", "level": "P2"}],
    }

    send_to(integration, body)
    alert = Alert.objects.get()
    assert (alert.dedup_key, alert.summary, alert.source) == ("981", "Volume 2 degraded", "nas-01")
    assert alert.incident.severity == Severity.SEV2

    body["event"]["type"] = "cleared"
    send_to(integration, body)
    assert Incident.objects.get().status == IncidentStatus.RESOLVED


def test_missing_title_at_the_configured_path_is_400_naming_the_path(make_integration):
    integration = make_integration(IntegrationKind.WEBHOOK, config={"title_path": "alerts.0.subject"})

    response = send_to(integration, {"alerts": [], "title": "not where we look"})

    assert response.status_code == 400
    assert "'alerts.0.subject'" in response.json()["errors"][0]
    assert not Alert.objects.exists()


def test_missing_title_with_defaults_names_every_default_path(hook):
    response = hook({"id": "x", "text": "no title field"})

    assert response.status_code == 400
    assert "'title' or 'summary' or 'message'" in response.json()["errors"][0]


def test_title_that_is_an_object_is_not_a_title(hook):
    response = hook({"title": {"text": "nested"}})

    assert response.status_code == 400


def test_very_long_ids_are_hashed_into_a_dedup_key(hook):
    hook({"id": "x" * 400, "title": "Long id"})
    hook({"id": "x" * 400, "title": "Long id"})

    alert = Alert.objects.get()
    assert len(alert.dedup_key) <= 255
    assert alert.repeat_count == 1


def test_misconfigured_integration_is_reported_not_a_500(make_integration):
    integration = make_integration(IntegrationKind.WEBHOOK, config={"title_path": ["alerts", 0]})

    response = send_to(integration, {"title": "x"})

    assert response.status_code == 400
    assert "title_path" in response.json()["message"]


class TestConfigProblems:
    def test_good_settings_have_no_problems(self):
        assert webhook.config_problems({"title_path": "alert.title", "resolve_values": ["fixed"]}) == []

    @pytest.mark.parametrize(
        ("config", "named"),
        [
            ({"title_path": 3}, "'title_path' must be a dotted path"),
            ({"resolve_values": "fixed"}, "'resolve_values' must be a list of strings"),
            ({"titel_path": "x"}, "Unknown setting 'titel_path'"),
        ],
    )
    def test_bad_settings_are_named(self, config, named):
        assert named in " ".join(webhook.config_problems(config))
