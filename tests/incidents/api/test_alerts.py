from __future__ import annotations

import pytest
from django.conf import settings

from incidents.choices import AlertStatus
from tests.factories import AlertFactory, IncidentFactory, IntegrationFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alerts(service, team, other_team):
    checkout = IntegrationFactory(service=service)
    first = IncidentFactory(service=service)
    second = IncidentFactory(service=service)
    ledger = IntegrationFactory(service=ServiceFactory(slug="ledger", team=team))
    elsewhere = IntegrationFactory(service=ServiceFactory(slug="search", team=other_team))
    return {
        "first_firing": AlertFactory(integration=checkout, incident=first),
        "first_resolved": AlertFactory(integration=checkout, incident=first, status=AlertStatus.RESOLVED),
        "second": AlertFactory(integration=checkout, incident=second),
        "ledger": AlertFactory(integration=ledger),
        "other_team": AlertFactory(integration=elsewhere),
    }


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_lists_alerts_of_the_users_teams(client_for, viewer, alerts):
    response = client_for(viewer).get("/api/v1/alerts/")

    assert ids(response) == {
        alerts[name].pk for name in ["first_firing", "first_resolved", "second", "ledger"]
    }


def test_an_outsider_sees_no_alerts(client_for, outsider, alerts):
    client = client_for(outsider)

    assert ids(client.get("/api/v1/alerts/")) == set()
    assert client.get(f"/api/v1/alerts/{alerts['first_firing'].pk}/").status_code == 404


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=firing", {"first_firing", "second", "ledger"}),
        ("status=resolved", {"first_resolved"}),
        ("service=ledger", {"ledger"}),
        ("service=search", set()),
    ],
)
def test_filters(client_for, viewer, alerts, query, expected):
    assert ids(client_for(viewer).get(f"/api/v1/alerts/?{query}")) == {alerts[name].pk for name in expected}


def test_filter_by_incident_number(client_for, viewer, alerts):
    number = alerts["first_firing"].incident.number

    response = client_for(viewer).get(f"/api/v1/alerts/?incident={number}&status=firing")

    assert ids(response) == {alerts["first_firing"].pk}


@pytest.mark.parametrize(("query", "field"), [("status=burning", "status"), ("incident=INC-1", "incident")])
def test_a_bad_filter_is_a_400_naming_it(client_for, viewer, query, field):
    response = client_for(viewer).get(f"/api/v1/alerts/?{query}")

    assert response.status_code == 400
    assert field in response.json()


def test_detail_includes_the_raw_payload_and_page_url(client_for, viewer, service):
    alert = AlertFactory(
        integration=IntegrationFactory(service=service),
        incident=IncidentFactory(service=service),
        labels={"alertname": "HighErrorRate"},
        raw_payload={"routing_key": "redacted", "payload": {"summary": "5xx"}},
    )

    body = client_for(viewer).get(f"/api/v1/alerts/{alert.pk}/").json()

    assert body["raw_payload"] == {"routing_key": "redacted", "payload": {"summary": "5xx"}}
    assert body["labels"] == {"alertname": "HighErrorRate"}
    assert body["incident"] == alert.incident.number
    assert body["incident_reference"] == alert.incident.reference
    assert body["service"] == "checkout"
    assert body["url"] == f"{settings.MUSTER_BASE_URL}/incidents/{alert.incident.number}/#alert-{alert.pk}"


def test_alerts_are_read_only_for_people(client_for, manager, service):
    alert = AlertFactory(integration=IntegrationFactory(service=service))
    client = client_for(manager)

    assert (
        client.patch(f"/api/v1/alerts/{alert.pk}/", {"status": "resolved"}, format="json").status_code == 405
    )
    assert client.delete(f"/api/v1/alerts/{alert.pk}/").status_code == 405
    alert.refresh_from_db()
    assert alert.status == AlertStatus.FIRING
