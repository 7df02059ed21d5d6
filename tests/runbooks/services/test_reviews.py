from __future__ import annotations

import pytest

from incidents.models import AuditEntry
from runbooks.services import review_request_close, review_request_create
from tests.factories import IncidentFactory, RunbookFactory

pytestmark = pytest.mark.django_db


def test_a_review_request_is_open_until_closed(team, service, responder, manager):
    runbook = RunbookFactory(team=team)
    incident = IncidentFactory(service=service)

    request = review_request_create(
        runbook=runbook, actor=responder, reason="Wrong host name", incident=incident
    )

    assert (request.requested_by, request.incident, request.reason, request.closed_at) == (
        responder,
        incident,
        "Wrong host name",
        None,
    )
    assert AuditEntry.objects.filter(action="runbook.review_request", actor=responder).exists()

    review_request_close(request=request, actor=manager)

    request.refresh_from_db()
    assert request.closed_by == manager
    assert request.closed_at is not None


def test_asking_twice_for_the_same_incident_keeps_one_open_request_with_both_reasons(
    team, service, responder
):
    runbook = RunbookFactory(team=team)
    incident = IncidentFactory(service=service)

    first = review_request_create(runbook=runbook, actor=responder, reason="Wrong host", incident=incident)
    second = review_request_create(
        runbook=runbook, actor=responder, reason="Step 3 is missing", incident=incident
    )

    assert second.pk == first.pk
    assert runbook.review_requests.count() == 1
    assert second.reason == "Wrong host\n\nStep 3 is missing"


def test_closing_a_closed_request_keeps_who_closed_it_first(team, responder, manager):
    request = review_request_create(runbook=RunbookFactory(team=team), actor=responder)
    review_request_close(request=request, actor=manager)

    review_request_close(request=request, actor=responder)

    request.refresh_from_db()
    assert request.closed_by == manager
