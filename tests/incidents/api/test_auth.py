"""Who may do what through the API, with real Bearer tokens and with browser sessions."""

from __future__ import annotations

import pytest

from incidents.choices import IncidentStatus
from incidents.models import ApiToken
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db

READ, ACT, MANAGE = "read", "act", "manage"

# What each kind of person gets for: reading an incident, acknowledging it, disabling an integration.
EXPECTED = {
    "outsider": {READ: 404, ACT: 404, MANAGE: 404},
    "viewer": {READ: 200, ACT: 403, MANAGE: 403},
    "responder": {READ: 200, ACT: 200, MANAGE: 403},
    "manager": {READ: 200, ACT: 200, MANAGE: 200},
}


def _request(client, operation, incident, integration):
    if operation == READ:
        return client.get(f"/api/v1/incidents/{incident.number}/")
    if operation == ACT:
        return client.post(f"/api/v1/incidents/{incident.number}/acknowledge/")
    return client.patch(f"/api/v1/integrations/{integration.pk}/", {"enabled": False}, format="json")


@pytest.mark.parametrize("via", ["token", "session"])
@pytest.mark.parametrize("who", list(EXPECTED))
@pytest.mark.parametrize("operation", [READ, ACT, MANAGE])
def test_permission_matrix(request, client_for, incident, service, who, operation, via):
    user = request.getfixturevalue(who)
    integration = IntegrationFactory(service=service)
    response = _request(client_for(user, via=via), operation, incident, integration)

    expected = EXPECTED[who][operation]
    assert response.status_code == expected, response.content
    if expected != 200:
        assert response.json()["detail"]
    incident.refresh_from_db()
    integration.refresh_from_db()
    acknowledged = who in {"responder", "manager"} and operation == ACT
    assert (incident.status == IncidentStatus.ACKNOWLEDGED) is acknowledged
    assert integration.enabled is not (who == "manager" and operation == MANAGE)


@pytest.mark.parametrize("operation", [READ, ACT, MANAGE])
def test_anonymous_requests_are_told_to_bring_a_bearer_token(anonymous, incident, service, operation):
    response = _request(anonymous, operation, incident, IntegrationFactory(service=service))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "path", ["/api/v1/incidents/", "/api/v1/services/", "/api/v1/integrations/", "/api/v1/alerts/"]
)
def test_anonymous_cannot_list_anything(anonymous, path):
    assert anonymous.get(path).status_code == 401


def test_an_unknown_token_is_refused_with_a_reason(anonymous, incident):
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer mst_not-a-real-token")

    response = anonymous.get(f"/api/v1/incidents/{incident.number}/")

    assert response.status_code == 401
    assert "not valid" in response.json()["detail"]


def test_a_token_of_a_deactivated_user_stops_working(client_for, viewer, incident):
    client = client_for(viewer)
    assert client.get(f"/api/v1/incidents/{incident.number}/").status_code == 200

    viewer.is_active = False
    viewer.save(update_fields=["is_active"])

    assert client.get(f"/api/v1/incidents/{incident.number}/").status_code == 401


def test_using_a_token_records_when_it_was_last_used(client_for, viewer):
    client = client_for(viewer)
    assert ApiToken.objects.get(user=viewer).last_used_at is None

    client.get("/api/v1/incidents/")

    assert ApiToken.objects.get(user=viewer).last_used_at is not None


def test_a_session_request_that_changes_state_needs_the_csrf_token(viewer, responder, incident):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(responder)

    response = client.post(f"/api/v1/incidents/{incident.number}/acknowledge/")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.TRIGGERED
