from __future__ import annotations

import pytest
from django.conf import settings

from incidents.choices import IncidentStatus, Role
from incidents.models import Service
from tests.factories import (
    IncidentFactory,
    IntegrationFactory,
    MembershipFactory,
    ServiceFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db


def test_lists_the_users_services_with_open_incident_count_and_integrations(
    client_for, viewer, service, other_team
):
    IncidentFactory.create_batch(2, service=service)
    IncidentFactory(service=service, status=IncidentStatus.RESOLVED)
    IntegrationFactory(service=service, name="Prometheus", kind="alertmanager")
    ServiceFactory(slug="search", team=other_team)

    body = client_for(viewer).get("/api/v1/services/").json()

    assert body["count"] == 1
    row = body["results"][0]
    assert row["slug"] == "checkout"
    assert row["team"] == "payments"
    assert row["open_incident_count"] == 2
    assert row["url"] == f"{settings.MUSTER_BASE_URL}/services/checkout/"
    assert [(i["name"], i["kind"], i["enabled"]) for i in row["integrations"]] == [
        ("Prometheus", "alertmanager", True)
    ]
    assert "key_hash" not in str(row["integrations"])


def test_detail_by_slug(client_for, viewer, service):
    response = client_for(viewer).get("/api/v1/services/checkout/")

    assert response.status_code == 200
    assert response.json()["name"] == "Checkout"
    assert response.json()["open_incident_count"] == 0


def test_outsiders_see_no_services(client_for, outsider, service):
    client = client_for(outsider)

    assert client.get("/api/v1/services/").json()["results"] == []
    assert client.get("/api/v1/services/checkout/").status_code == 404


def test_a_manager_creates_a_service_in_their_team(client_for, manager, team):
    response = client_for(manager).post(
        "/api/v1/services/",
        {"slug": "ledger", "name": "Ledger", "description": "Double entry", "team": "payments"},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["url"] == f"{settings.MUSTER_BASE_URL}/services/ledger/"
    assert response.json()["open_incident_count"] == 0
    assert Service.objects.get(slug="ledger").team == team


def test_a_responder_may_not_create_a_service(client_for, responder, team):
    response = client_for(responder).post(
        "/api/v1/services/", {"slug": "ledger", "name": "Ledger", "team": "payments"}, format="json"
    )

    assert response.status_code == 403
    assert "manager" in response.json()["detail"]
    assert not Service.objects.filter(slug="ledger").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "ledger", "name": "Ledger", "team": "search"}, "team"),
        ({"slug": "ledger", "name": "Ledger", "team": "no-such-team"}, "team"),
        ({"slug": "checkout", "name": "Again", "team": "payments"}, "slug"),
        ({"slug": "not a slug", "name": "Ledger", "team": "payments"}, "slug"),
        ({"slug": "ledger", "team": "payments"}, "name"),
    ],
)
def test_bad_service_input_is_a_400_naming_the_field(client_for, manager, service, body, field):
    # A team the manager is not in answers like a team that does not exist.
    TeamFactory(name="Search", slug="search")

    response = client_for(manager).post("/api/v1/services/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_a_manager_of_another_team_cannot_create_in_this_one(client_for, viewer, team):
    elsewhere = TeamFactory(name="Search", slug="search")
    MembershipFactory(team=elsewhere, user=viewer, role=Role.MANAGER)

    response = client_for(viewer).post(
        "/api/v1/services/", {"slug": "ledger", "name": "Ledger", "team": "payments"}, format="json"
    )

    assert response.status_code == 403


def test_a_manager_renames_a_service_but_the_slug_stays(client_for, manager, service):
    response = client_for(manager).patch(
        "/api/v1/services/checkout/", {"name": "Checkout v2", "slug": "renamed"}, format="json"
    )

    assert response.status_code == 200
    service.refresh_from_db()
    assert (service.name, service.slug) == ("Checkout v2", "checkout")


@pytest.mark.parametrize(("who", "status"), [("viewer", 403), ("responder", 403), ("outsider", 404)])
def test_only_managers_change_a_service(request, client_for, service, who, status):
    client = client_for(request.getfixturevalue(who))

    response = client.patch("/api/v1/services/checkout/", {"name": "Hijacked"}, format="json")

    assert response.status_code == status
    service.refresh_from_db()
    assert service.name == "Checkout"


def test_services_cannot_be_deleted_through_the_api(client_for, manager, service):
    assert client_for(manager).delete("/api/v1/services/checkout/").status_code == 405
