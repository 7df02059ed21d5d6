from __future__ import annotations

import pytest

from runbooks.matching import runbooks_for_incident
from tests.factories import AlertFactory, IncidentFactory, IntegrationFactory, RunbookFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(service):
    return IncidentFactory(service=service)


def alert(incident, **labels):
    integration = IntegrationFactory(service=incident.service)
    return AlertFactory(integration=integration, incident=incident, labels=labels)


def runbook(title, *, services=(), labels=None, team=None):
    book = RunbookFactory(title=title, team=team or services[0].team, labels=labels or {})
    book.services.set(services)
    return book


def titles(matches):
    return [match.runbook.title for match in matches]


def test_runbook_covering_the_incident_service_matches_with_the_reason(incident, service):
    runbook("Checkout 5xx", services=[service])

    [match] = runbooks_for_incident(incident)

    assert match.runbook.title == "Checkout 5xx"
    assert match.reasons == ("covers Checkout",)


def test_runbook_whose_selector_matches_an_alert_matches(incident, team):
    alert(incident, alertname="PgReplicationLag", team="db", instance="db-eu1")
    runbook("Replica lag", labels={"alertname": "PgReplicationLag", "team": "db"}, team=team)

    [match] = runbooks_for_incident(incident)

    assert match.runbook.title == "Replica lag"
    assert match.reasons == ("labels alertname=PgReplicationLag, team=db match",)


def test_every_pair_of_the_selector_must_match_the_same_alert(incident, team):
    alert(incident, alertname="PgReplicationLag", team="payments")
    alert(incident, alertname="DiskFull", team="db")
    runbook("Replica lag", labels={"alertname": "PgReplicationLag", "team": "db"}, team=team)

    assert runbooks_for_incident(incident) == []


def test_runbooks_of_other_services_and_labels_do_not_match(incident, team):
    alert(incident, alertname="HighLatency")
    runbook("Search is slow", services=[ServiceFactory(name="Search", slug="search", team=team)])
    runbook("Replica lag", labels={"alertname": "PgReplicationLag"}, team=team)

    assert runbooks_for_incident(incident) == []


def test_labels_and_service_beat_labels_which_beat_service_then_by_title(incident, service, team):
    alert(incident, alertname="Checkout5xx")
    runbook("B service only", services=[service])
    runbook("A service only", services=[service])
    runbook("Z labels only", labels={"alertname": "Checkout5xx"}, team=team)
    both = runbook("Y labels and service", services=[service], labels={"alertname": "Checkout5xx"})

    matches = runbooks_for_incident(incident)

    assert titles(matches) == ["Y labels and service", "Z labels only", "A service only", "B service only"]
    assert matches[0].runbook == both
    assert matches[0].reasons == ("labels alertname=Checkout5xx match", "covers Checkout")


def test_an_incident_declared_by_hand_matches_by_service_only(incident, service, team):
    runbook("Checkout 5xx", services=[service])
    runbook("Anything with a selector", labels={"alertname": "Checkout5xx"}, team=team)

    assert titles(runbooks_for_incident(incident)) == ["Checkout 5xx"]


def test_a_runbook_without_text_is_not_suggested(incident, service):
    book = runbook("Draft", services=[service])
    book.current_revision = None
    book.save(update_fields=["current_revision"])

    assert runbooks_for_incident(incident) == []


def test_query_count_does_not_grow_with_runbooks_or_alerts(
    incident, service, team, django_assert_num_queries
):
    for n in range(5):
        alert(incident, alertname="Checkout5xx", pod=f"web-{n}")
        runbook(f"Service {n}", services=[service])
        runbook(f"Labels {n}", labels={"alertname": "Checkout5xx"}, team=team)

    # The alerts' labels, then the candidate runbooks with their team and revision.
    with django_assert_num_queries(2):
        matches = runbooks_for_incident(incident)
        for match in matches:
            assert match.runbook.team.name
            assert match.runbook.current_revision.number == 1

    assert len(matches) == 10
