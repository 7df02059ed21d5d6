from __future__ import annotations

import pytest

from incidents.choices import IncidentStatus, IntegrationKind, Severity, Urgency
from incidents.models import Alert, Incident
from tests.incidents.ingest.conftest import send

pytestmark = pytest.mark.django_db

URL = "/api/v1/alerts/"


def bearer(integration) -> dict[str, str]:
    return {"Authorization": f"Bearer {integration.plain_key}"}


def alert_body(**overrides):
    body = {
        "summary": "Checkout error rate 7.2% (threshold 5%)",
        "severity": "critical",
        "source": "checkout-api.prod",
        "dedup_key": "checkout/error-rate",
        "labels": {"env": "prod", "region": "eu-west-1"},
        "details": {"error_rate": 0.072, "window": "5m", "top_errors": ["TimeoutError", "502"]},
    }
    body.update(overrides)
    return body


def test_trigger_opens_an_incident_and_links_to_it(sender, native, settings):
    settings.MUSTER_BASE_URL = "https://muster.example.org"

    response = send(sender, URL, alert_body(), **bearer(native))

    assert response.status_code == 202
    incident = Incident.objects.get()
    assert response.json() == {
        "status": "accepted",
        "outcome": "opened_incident",
        "dedup_key": "checkout/error-rate",
        "incident": {
            "number": incident.number,
            "reference": f"INC-{incident.number}",
            "url": f"https://muster.example.org/incidents/{incident.number}/",
        },
    }
    alert = incident.alerts.get()
    assert alert.labels == {"env": "prod", "region": "eu-west-1"}
    assert alert.details["top_errors"] == ["TimeoutError", "502"]
    assert alert.source == "checkout-api.prod"


def test_repeat_reports_the_incident_it_joined(sender, native):
    send(sender, URL, alert_body(), **bearer(native))

    response = send(sender, URL, alert_body(), **bearer(native))

    assert response.json()["outcome"] == "repeated"
    assert response.json()["incident"]["number"] == Incident.objects.get().number
    assert Alert.objects.get().repeat_count == 1


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("sev1", (Severity.SEV1, Urgency.HIGH)),
        ("SEV2", (Severity.SEV2, Urgency.HIGH)),
        ("sev3", (Severity.SEV3, Urgency.LOW)),
        ("sev4", (Severity.SEV4, Urgency.LOW)),
        ("error", (Severity.SEV2, Urgency.HIGH)),
        ("info", (Severity.SEV4, Urgency.LOW)),
    ],
)
def test_severity_accepts_words_and_sev_names(sender, native, severity, expected):
    send(sender, URL, alert_body(severity=severity), **bearer(native))

    incident = Incident.objects.get()
    assert (incident.severity, incident.urgency) == expected


def test_trigger_without_dedup_key_gets_one(sender, native):
    body = alert_body()
    del body["dedup_key"]

    response = send(sender, URL, body, **bearer(native))

    assert len(response.json()["dedup_key"]) == 32
    assert Alert.objects.get().dedup_key == response.json()["dedup_key"]


def test_acknowledge_and_resolve_follow_the_dedup_key(sender, native):
    send(sender, URL, alert_body(), **bearer(native))

    ack = send(sender, URL, {"action": "acknowledge", "dedup_key": "checkout/error-rate"}, **bearer(native))
    assert ack.json()["outcome"] == "acknowledged"
    assert Incident.objects.get().status == IncidentStatus.ACKNOWLEDGED

    resolve = send(sender, URL, {"action": "resolve", "dedup_key": "checkout/error-rate"}, **bearer(native))
    assert resolve.json()["outcome"] == "resolved"
    assert Incident.objects.get().status == IncidentStatus.RESOLVED


def test_resolve_for_an_unknown_key_is_dropped_with_no_incident(sender, native):
    response = send(sender, URL, {"action": "resolve", "dedup_key": "never-seen"}, **bearer(native))

    assert response.status_code == 202
    assert response.json()["outcome"] == "dropped"
    assert response.json()["incident"] is None


def test_path_without_trailing_slash_is_accepted(sender, native):
    response = send(sender, "/api/v1/alerts", alert_body(), **bearer(native))

    assert response.status_code == 202


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"summary": None}, "'summary' is missing"),
        ({"summary": ["a"]}, "'summary' must be a string"),
        ({"severity": "disaster"}, "'severity' must be one of critical, error, warning, info, sev1"),
        ({"severity": "P1"}, "'severity' must be one of"),
        ({"labels": {"env": 1}}, "'labels' values must be strings"),
        ({"labels": "env=prod"}, "'labels' must be an object"),
        ({"details": [1, 2]}, "'details' must be an object"),
        ({"action": "snooze"}, "'action' must be one of trigger, acknowledge, resolve"),
        ({"action": "resolve", "dedup_key": None}, "'dedup_key' is required to resolve"),
        ({"dedup_key": "k" * 256}, "'dedup_key' is 256 characters long"),
    ],
)
def test_invalid_alert_is_400_naming_the_field(sender, native, body, named):
    payload = alert_body()
    for key, value in body.items():
        if value is None:
            del payload[key]
        else:
            payload[key] = value

    response = send(sender, URL, payload, **bearer(native))

    assert response.status_code == 400
    assert any(named in error for error in response.json()["errors"]), response.json()
    assert not Alert.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer " + "0" * 32},
        {"Authorization": "Token abc"},
    ],
)
def test_missing_or_wrong_bearer_key_is_401(sender, native, headers):
    response = send(sender, URL, alert_body(), **headers)

    assert response.status_code == 401
    assert response.json()["status"] == "error"
    assert not Alert.objects.exists()


def test_user_api_token_is_not_an_integration_key(sender, native, responder):
    from incidents.services import api_token_create

    _, token = api_token_create(user=responder)

    response = send(sender, URL, alert_body(), Authorization=f"Bearer {token}")

    assert response.status_code == 401


def test_key_of_another_kind_is_403_naming_the_right_endpoint(sender, make_integration):
    pagerduty = make_integration(IntegrationKind.PAGERDUTY)

    response = send(sender, URL, alert_body(), **bearer(pagerduty))

    assert response.status_code == 403
    assert "/v2/enqueue" in response.json()["message"]


def test_reading_the_alert_list_is_left_to_the_rest_api(sender, native):
    """The REST API lists alerts at the same path; ingestion must not answer its GETs with a 405."""
    response = sender.get(URL, headers=bearer(native))

    assert response.status_code in (401, 403)
    assert "detail" in response.json(), "answered by DRF, not by the ingest view"
