from __future__ import annotations

import hashlib
import uuid

import pytest

from incidents.choices import AlertStatus, IncidentStatus, IntegrationKind, Severity, Urgency
from incidents.models import Alert, Incident
from tests.incidents.ingest.conftest import send

pytestmark = pytest.mark.django_db

CREATE = "/v2/alerts"


def genie(integration) -> dict[str, str]:
    return {"Authorization": f"GenieKey {integration.plain_key}"}


def create_body(**overrides):
    body = {
        "message": "PgLag on db-eu1",
        "alias": "db-eu1/pglag",
        "description": "Replication lag is 312s and rising.",
        "priority": "P1",
        "tags": ["db", "eu1"],
        "responders": [{"type": "team", "name": "dba"}],
        "details": {"lag": "312s"},
        "entity": "db-eu1",
        "source": "checkmon",
    }
    body.update(overrides)
    return body


def assert_opsgenie_accepted(response):
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"result", "took", "requestId"}
    assert body["result"] == "Request will be processed"
    assert isinstance(body["took"], float)
    uuid.UUID(body["requestId"])


def test_create_opens_an_incident_and_answers_like_opsgenie(sender, opsgenie):
    response = send(sender, CREATE, create_body(), **genie(opsgenie))

    assert_opsgenie_accepted(response)
    incident = Incident.objects.get()
    assert (incident.severity, incident.urgency) == (Severity.SEV1, Urgency.HIGH)
    alert = incident.alerts.get()
    assert alert.dedup_key == "db-eu1/pglag"
    assert alert.summary == "PgLag on db-eu1"
    assert alert.source == "checkmon"
    assert alert.details["description"] == "Replication lag is 312s and rising."
    assert alert.details["tags"] == ["db", "eu1"]
    assert alert.details["details"] == {"lag": "312s"}
    assert alert.details["entity"] == "db-eu1"


def test_priority_defaults_to_p3_which_still_pages(sender, opsgenie):
    send(sender, CREATE, {"message": "Disk 91% on web-3"}, **genie(opsgenie))

    incident = Incident.objects.get()
    assert (incident.severity, incident.urgency) == (Severity.SEV3, Urgency.HIGH)
    assert incident.alerts.get().details["priority"] == "P3"


@pytest.mark.parametrize(
    ("priority", "severity", "urgency"),
    [
        ("P2", Severity.SEV2, Urgency.HIGH),
        ("P4", Severity.SEV4, Urgency.LOW),
        ("P5", Severity.SEV4, Urgency.LOW),
    ],
)
def test_priority_maps_to_severity(sender, opsgenie, priority, severity, urgency):
    send(sender, CREATE, create_body(priority=priority), **genie(opsgenie))

    incident = Incident.objects.get()
    assert (incident.severity, incident.urgency) == (severity, urgency)


def test_create_with_the_alias_of_an_open_alert_counts_a_repeat(sender, opsgenie):
    send(sender, CREATE, create_body(), **genie(opsgenie))
    send(sender, CREATE, create_body(), **genie(opsgenie))

    assert Incident.objects.count() == 1
    assert Alert.objects.get().repeat_count == 1


def test_create_without_alias_is_always_a_new_alert(sender, opsgenie):
    body = create_body()
    del body["alias"]

    send(sender, CREATE, body, **genie(opsgenie))
    send(sender, CREATE, body, **genie(opsgenie))

    assert Alert.objects.count() == 2
    assert Incident.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"message": None}, "'message' is missing"),
        ({"message": "   "}, "'message' is empty"),
        ({"message": "x" * 131}, "'message' is 131 characters long; the limit is 130"),
        ({"priority": "P0"}, "'priority' must be one of P1, P2, P3, P4, P5"),
        ({"tags": ["ok", 7]}, "'tags[1]' must be a string"),
        ({"details": {"lag": 312}}, "'details' values must be strings"),
        ({"alias": "a" * 513}, "'alias' is 513 characters long"),
    ],
)
def test_invalid_create_is_422_naming_the_field(sender, opsgenie, body, named):
    payload = create_body()
    for key, value in body.items():
        if value is None:
            del payload[key]
        else:
            payload[key] = value

    response = send(sender, CREATE, payload, **genie(opsgenie))

    assert response.status_code == 422
    assert any(named in error for error in response.json()["errors"]), response.json()
    assert "requestId" in response.json()
    assert not Alert.objects.exists()


def test_close_by_alias_resolves_the_incident(sender, opsgenie):
    send(sender, CREATE, create_body(alias="checkout-5xx"), **genie(opsgenie))

    response = send(
        sender,
        "/v2/alerts/checkout-5xx/close?identifierType=alias",
        {"source": "checkmon"},
        **genie(opsgenie),
    )

    assert_opsgenie_accepted(response)
    assert Incident.objects.get().status == IncidentStatus.RESOLVED
    assert Alert.objects.get().status == AlertStatus.RESOLVED


def test_close_by_an_alias_with_a_slash_url_encoded(sender, opsgenie):
    send(sender, CREATE, create_body(alias="db-eu1/pglag"), **genie(opsgenie))

    response = send(sender, "/v2/alerts/db-eu1%2Fpglag/close?identifierType=alias", {}, **genie(opsgenie))

    assert_opsgenie_accepted(response)
    assert Incident.objects.get().status == IncidentStatus.RESOLVED


def test_alertmanager_opsgenie_config_create_then_close_by_alias(sender, opsgenie):
    """Alertmanager's opsgenie_configs with api_url = Muster's root: alias is sha256(groupKey)."""
    alias = hashlib.sha256(b'{}/{team="db"}:{alertname="PgLag"}').hexdigest()
    create = {
        "alias": alias,
        "message": "[FIRING:2] PgLag db",
        "description": "Alerts Firing:\nLabels:\n - alertname = PgLag\n",
        "details": {"alertname": "PgLag", "team": "db"},
        "source": "https://am.example.net/#/alerts?receiver=opsgenie",
        "tags": ["db"],
        "priority": "P2",
    }
    assert send(sender, "/v2/alerts", create, **genie(opsgenie)).status_code == 202
    assert send(sender, "/v2/alerts", create, **genie(opsgenie)).status_code == 202

    response = send(
        sender,
        f"/v2/alerts/{alias}/close?identifierType=alias",
        {"source": "https://am.example.net/#/alerts?receiver=opsgenie"},
        **genie(opsgenie),
    )

    assert response.status_code == 202
    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.alerts.get().repeat_count == 1


def test_alertmanager_update_alerts_rewrites_message_and_description(sender, opsgenie):
    send(sender, CREATE, create_body(alias="grp-1"), **genie(opsgenie))

    message = send(
        sender,
        "/v2/alerts/grp-1/message?identifierType=alias",
        {"message": "[FIRING:3] PgLag db"},
        method="put",
        **genie(opsgenie),
    )
    description = send(
        sender,
        "/v2/alerts/grp-1/description?identifierType=alias",
        {"description": "Three replicas lagging"},
        method="put",
        **genie(opsgenie),
    )

    assert_opsgenie_accepted(message)
    assert_opsgenie_accepted(description)
    alert = Alert.objects.get()
    assert alert.summary == "[FIRING:3] PgLag db"
    assert alert.details["description"] == "Three replicas lagging"
    assert alert.details["tags"] == ["db", "eu1"], "other details are kept"


@pytest.mark.parametrize("body", [{"message": "new"}, b"{not json", {"message": 5}, []])
def test_updates_that_cannot_be_applied_are_still_accepted(sender, opsgenie, body):
    response = send(
        sender,
        "/v2/alerts/unknown-alias/message?identifierType=alias",
        body,
        method="put",
        raw=isinstance(body, bytes),
        **genie(opsgenie),
    )

    assert_opsgenie_accepted(response)


def test_close_by_id_uses_musters_alert_id(sender, opsgenie):
    send(sender, CREATE, create_body(), **genie(opsgenie))
    alert = Alert.objects.get()

    response = send(sender, f"/v2/alerts/{alert.pk}/close", {}, **genie(opsgenie))

    assert response.status_code == 202
    assert Incident.objects.get().status == IncidentStatus.RESOLVED


def test_close_by_id_falls_back_to_the_alias(sender, opsgenie):
    send(sender, CREATE, create_body(alias="checkout-5xx"), **genie(opsgenie))

    send(sender, "/v2/alerts/checkout-5xx/close?identifierType=tiny", {}, **genie(opsgenie))

    assert Incident.objects.get().status == IncidentStatus.RESOLVED


def test_close_by_id_of_another_integrations_alert_changes_nothing(sender, opsgenie, make_integration):
    other = make_integration(IntegrationKind.OPSGENIE)
    send(sender, CREATE, create_body(), **genie(other))
    alert = Alert.objects.get()

    response = send(sender, f"/v2/alerts/{alert.pk}/close", {}, **genie(opsgenie))

    assert response.status_code == 202
    assert Incident.objects.get().status == IncidentStatus.TRIGGERED


def test_acknowledge_by_alias_acknowledges_the_incident(sender, opsgenie):
    send(sender, CREATE, create_body(alias="checkout-5xx"), **genie(opsgenie))

    response = send(
        sender,
        "/v2/alerts/checkout-5xx/acknowledge?identifierType=alias",
        {"user": "rosa", "note": "Looking"},
        **genie(opsgenie),
    )

    assert_opsgenie_accepted(response)
    assert Incident.objects.get().status == IncidentStatus.ACKNOWLEDGED


def test_close_without_a_body_is_accepted(sender, opsgenie):
    send(sender, CREATE, create_body(alias="checkout-5xx"), **genie(opsgenie))

    response = sender.generic(
        "POST", "/v2/alerts/checkout-5xx/close?identifierType=alias", b"", headers=genie(opsgenie)
    )

    assert response.status_code == 202
    assert Incident.objects.get().status == IncidentStatus.RESOLVED


def test_close_for_an_unknown_alias_is_accepted_and_dropped(sender, opsgenie):
    response = send(sender, "/v2/alerts/nothing-here/close?identifierType=alias", {}, **genie(opsgenie))

    assert response.status_code == 202
    assert not Incident.objects.exists()


def test_unknown_identifier_type_is_422(sender, opsgenie):
    response = send(sender, "/v2/alerts/x/close?identifierType=uuid", {}, **genie(opsgenie))

    assert response.status_code == 422
    assert "identifierType" in response.json()["errors"][0]


def test_alias_longer_than_a_dedup_key_still_closes(sender, opsgenie):
    alias = "a" * 400

    send(sender, CREATE, create_body(alias=alias), **genie(opsgenie))
    send(sender, f"/v2/alerts/{alias}/close?identifierType=alias", {}, **genie(opsgenie))

    alert = Alert.objects.get()
    assert len(alert.dedup_key) <= 255
    assert alert.details["alias"] == alias
    assert alert.status == AlertStatus.RESOLVED


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "GenieKey"},
        {"Authorization": "GenieKey " + "0" * 32},
        {"Authorization": "Bearer x"},
    ],
)
def test_missing_or_wrong_api_key_is_401(sender, opsgenie, headers):
    response = send(sender, CREATE, create_body(), **headers)

    assert response.status_code == 401
    assert response.json()["message"]
    assert not Alert.objects.exists()


def test_key_of_another_kind_is_403_naming_the_right_endpoint(sender, make_integration):
    native = make_integration(IntegrationKind.NATIVE)

    response = send(sender, CREATE, create_body(), Authorization=f"GenieKey {native.plain_key}")

    assert response.status_code == 403
    assert "/api/v1/alerts/" in response.json()["message"]


def test_disabled_integration_is_403(sender, opsgenie):
    opsgenie.enabled = False
    opsgenie.save()

    response = send(sender, CREATE, create_body(), **genie(opsgenie))

    assert response.status_code == 403
    assert "disabled" in response.json()["message"]
