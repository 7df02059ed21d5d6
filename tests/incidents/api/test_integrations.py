from __future__ import annotations

import pytest
from django.conf import settings

from incidents.choices import IntegrationKind
from incidents.ingest.links import ingest_url
from incidents.models import Integration, hash_secret
from tests.factories import IntegrationFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kind", [IntegrationKind.PAGERDUTY, IntegrationKind.ALERTMANAGER])
def test_creating_an_integration_shows_its_key_once(client_for, manager, service, kind):
    client = client_for(manager)

    response = client.post(
        "/api/v1/integrations/", {"service": "checkout", "kind": kind, "name": "Prod"}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    integration = Integration.objects.get(pk=body["id"])
    assert hash_secret(body["key"]) == integration.key_hash
    assert body["key_prefix"] == body["key"][:8]
    assert body["ingest_url"] == ingest_url(kind=kind, key=body["key"])
    assert body["ingest_url"].startswith(settings.MUSTER_BASE_URL)
    assert body["url"] == f"{settings.MUSTER_BASE_URL}/services/checkout/#integration-{integration.pk}"
    assert "key_hash" not in body
    # Nowhere else: not on the detail, the list or the service.
    for path in [
        f"/api/v1/integrations/{integration.pk}/",
        "/api/v1/integrations/",
        "/api/v1/services/checkout/",
    ]:
        text = client.get(path).content.decode()
        assert body["key"] not in text
        assert integration.key_hash not in text
        assert "key_hash" not in text


def test_the_name_defaults_to_the_kind(client_for, manager, service):
    body = (
        client_for(manager)
        .post("/api/v1/integrations/", {"service": "checkout", "kind": "grafana"}, format="json")
        .json()
    )

    assert body["name"] == "Grafana alerting"


@pytest.mark.parametrize(("who", "status"), [("viewer", 403), ("responder", 403), ("outsider", 400)])
def test_only_managers_create_integrations(request, client_for, service, who, status):
    response = client_for(request.getfixturevalue(who)).post(
        "/api/v1/integrations/", {"service": "checkout", "kind": "pagerduty"}, format="json"
    )

    assert response.status_code == status
    assert not Integration.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "pagerduty"}, "service"),
        ({"service": "checkout"}, "kind"),
        ({"service": "checkout", "kind": "nagios"}, "kind"),
        ({"service": "checkout", "kind": "webhook", "config": ["not", "a", "dict"]}, "config"),
        ({"service": "checkout", "kind": "pagerduty", "name": "x" * 101}, "name"),
    ],
)
def test_bad_integration_input_is_a_400_naming_the_field(client_for, manager, service, body, field):
    response = client_for(manager).post("/api/v1/integrations/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_list_and_filter_by_service(client_for, viewer, service, team, other_team):
    IntegrationFactory(service=service, name="Checkout PD")
    IntegrationFactory(service=ServiceFactory(slug="ledger", team=team), name="Ledger PD")
    IntegrationFactory(service=ServiceFactory(slug="search", team=other_team), name="Search PD")
    client = client_for(viewer)

    everything = client.get("/api/v1/integrations/").json()["results"]
    checkout = client.get("/api/v1/integrations/?service=checkout").json()["results"]

    assert sorted(row["name"] for row in everything) == ["Checkout PD", "Ledger PD"]
    assert [row["name"] for row in checkout] == ["Checkout PD"]


def test_another_teams_integration_is_a_404(client_for, viewer, other_team):
    hidden = IntegrationFactory(service=ServiceFactory(team=other_team))

    assert client_for(viewer).get(f"/api/v1/integrations/{hidden.pk}/").status_code == 404


def test_a_manager_disables_and_renames(client_for, manager, service):
    integration = IntegrationFactory(service=service)

    response = client_for(manager).patch(
        f"/api/v1/integrations/{integration.pk}/",
        {"enabled": False, "name": "Old PD", "auto_resolve": False, "key_hash": "0" * 64, "kind": "grafana"},
        format="json",
    )

    assert response.status_code == 200
    integration.refresh_from_db()
    assert (integration.enabled, integration.name, integration.auto_resolve) == (False, "Old PD", False)
    # Read-only fields in the body are ignored, never applied.
    assert integration.key_hash == hash_secret(integration.plain_key)
    assert integration.kind == IntegrationKind.PAGERDUTY


@pytest.mark.parametrize(("body", "field"), [({"enabled": "perhaps"}, "enabled"), ({"name": ""}, "name")])
def test_bad_update_is_a_400_naming_the_field(client_for, manager, service, body, field):
    integration = IntegrationFactory(service=service)

    response = client_for(manager).patch(f"/api/v1/integrations/{integration.pk}/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_integrations_cannot_be_replaced_wholesale(client_for, manager, service):
    integration = IntegrationFactory(service=service)

    response = client_for(manager).put(f"/api/v1/integrations/{integration.pk}/", {}, format="json")

    assert response.status_code == 405


def test_webhook_settings_are_validated_and_can_be_changed(client_for, manager, service):
    client = client_for(manager)
    bad = client.post(
        "/api/v1/integrations/",
        {"service": "checkout", "kind": "webhook", "config": {"titel_path": "x"}},
        format="json",
    )
    assert bad.status_code == 400
    assert "Unknown setting 'titel_path'" in bad.json()["config"][0]

    created = client.post(
        "/api/v1/integrations/",
        {"service": "checkout", "kind": "webhook", "config": {"title_path": "alert.name"}},
        format="json",
    ).json()
    changed = client.patch(
        f"/api/v1/integrations/{created['id']}/", {"config": {"title_path": "event.title"}}, format="json"
    )
    assert changed.status_code == 200
    assert Integration.objects.get(pk=created["id"]).config == {"title_path": "event.title"}


def test_settings_on_a_non_webhook_integration_are_refused(client_for, manager, service):
    response = client_for(manager).post(
        "/api/v1/integrations/",
        {"service": "checkout", "kind": "pagerduty", "config": {"title_path": "x"}},
        format="json",
    )
    assert response.status_code == 400
    assert "Only generic webhook" in response.json()["config"][0]
