from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.choices import IncidentStatus
from runbooks.models import ChecklistTick, ReviewRequest
from runbooks.services import runbook_create
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db

BODY = "- [ ] Failover the primary\n- [ ] Drain the bad pod\n"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def runbook(team, service, responder):
    return runbook_create(team=team, title="Checkout 5xx", body=BODY, actor=responder, services=[service])


def url(incident, suffix: str = "") -> str:
    return f"/api/v1/incidents/{incident.number}/runbooks/{suffix}"


def test_attach_tick_and_list_a_runbook(responder, service, runbook):
    incident = IncidentFactory(service=service)
    client = client_for(responder)

    attached = client.post(url(incident), {"runbook": "checkout-5xx"}, format="json")
    assert attached.status_code == 201
    use_id = attached.json()["id"]
    ticked = client.post(url(incident, f"{use_id}/tick/"), {"item": 1}, format="json")

    assert ticked.status_code == 200
    [listed] = client.get(url(incident)).json()
    assert (listed["title"], listed["revision"], listed["attached_by"]) == ("Checkout 5xx", 1, "rosa")
    assert [(item["text"], item["ticked_by"]) for item in listed["checklist"]] == [
        ("Failover the primary", None),
        ("Drain the bad pod", "rosa"),
    ]
    assert ChecklistTick.objects.get().item == 1


def test_viewer_reads_but_cannot_attach_and_another_team_gets_404(viewer, outsider, service, runbook):
    incident = IncidentFactory(service=service)

    assert client_for(viewer).get(url(incident)).json() == []
    assert (
        client_for(viewer).post(url(incident), {"runbook": "checkout-5xx"}, format="json").status_code == 403
    )
    assert client_for(outsider).get(url(incident)).status_code == 404


def test_feedback_before_the_incident_is_over_is_a_conflict_and_no_after_it_requests_a_review(
    responder, service, runbook
):
    incident = IncidentFactory(service=service)
    client = client_for(responder)
    use_id = client.post(url(incident), {"runbook": "checkout-5xx"}, format="json").json()["id"]

    early = client.post(url(incident, f"{use_id}/feedback/"), {"accurate": True}, format="json")
    assert early.status_code == 409

    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = timezone.now()
    incident.save()
    answer = client.post(
        url(incident, f"{use_id}/feedback/"), {"accurate": False, "reason": "Wrong host"}, format="json"
    )

    assert answer.status_code == 200
    assert answer.json()["accurate"] is False
    assert ReviewRequest.objects.get().reason == "Wrong host"
