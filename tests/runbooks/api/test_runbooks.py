from __future__ import annotations

import pytest
from django.conf import settings

from incidents.choices import Role
from runbooks.models import Runbook
from runbooks.services import revision_create, runbook_create
from tests.clients import api_client_for
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/runbooks/"
BODY = "# Replication lag\n\n1. Check the lag dashboard\n2. Restart the replica"


@pytest.fixture
def runbook(team, service, responder) -> Runbook:
    return runbook_create(
        team=team, title="Postgres replication lag", body=BODY, actor=responder, services=[service]
    )


@pytest.fixture
def other_responder():
    user = UserFactory(username="sid")
    MembershipFactory(team=TeamFactory(name="Search", slug="search"), user=user, role=Role.RESPONDER)
    return user


def detail(runbook: Runbook, suffix: str = "") -> str:
    return f"{LIST}{runbook.slug}/{suffix}"


# --- create ---------------------------------------------------------------------------------


def test_create_with_service_slugs_and_label_string(responder, service):
    second = ServiceFactory(name="Payments DB", slug="payments-db", team=service.team)
    response = api_client_for(responder).post(
        LIST,
        {
            "title": "Checkout 502s",
            "body": "- [ ] Check the load balancer",
            "services": ["checkout", "payments-db"],
            "labels": "alertname=Checkout5xx, team=payments",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["team"] == "payments"  # the responder's only team
    assert data["services"] == ["checkout", "payments-db"]
    assert data["labels"] == {"alertname": "Checkout5xx", "team": "payments"}
    assert data["current_revision"] == 1
    assert data["url"] == f"{settings.MUSTER_BASE_URL}/runbooks/{data['slug']}/"
    assert data["review_overdue"] is False
    assert data["review_due_at"]
    assert data["last_reviewed_at"] is None
    assert set(Runbook.objects.get(slug=data["slug"]).services.all()) == {service, second}


def test_create_names_unknown_service_and_bad_labels(responder, service):
    response = api_client_for(responder).post(
        LIST,
        {"title": "X", "body": "Step", "services": ["checkout", "nope"], "labels": "alertname"},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert "'nope'" in errors["services"][0]
    assert "name=value" in errors["labels"][0]
    assert not Runbook.objects.exists()


def test_create_needs_a_team_when_the_user_is_in_several(responder, service):
    MembershipFactory(team=TeamFactory(slug="search"), user=responder, role=Role.RESPONDER)
    response = api_client_for(responder).post(LIST, {"title": "X", "body": "Step"}, format="json")
    assert response.status_code == 400
    assert "team" in response.json()
    assert (
        api_client_for(responder)
        .post(LIST, {"title": "X", "body": "Step", "team": "search"}, format="json")
        .status_code
        == 201
    )


def test_viewer_may_not_create(viewer):
    response = api_client_for(viewer).post(LIST, {"title": "X", "body": "Step"}, format="json")
    assert response.status_code == 403
    assert "responder role" in response.json()["detail"]


# --- read -----------------------------------------------------------------------------------


def test_responders_of_any_team_list_and_read_runbooks(other_responder, runbook):
    client = api_client_for(other_responder)
    listed = client.get(LIST).json()
    assert [row["slug"] for row in listed["results"]] == [runbook.slug]
    data = client.get(detail(runbook)).json()
    assert data["body"] == BODY
    assert "<li>Restart the replica</li>" in data["html"]


def test_someone_in_no_team_gets_404(outsider, runbook):
    assert api_client_for(outsider).get(detail(runbook)).status_code == 404


def test_list_search(responder, team, runbook):
    runbook_create(team=team, title="Disk full", body="Delete old logs", actor=responder)
    listed = api_client_for(responder).get(LIST, {"q": "logs"}).json()
    assert [row["title"] for row in listed["results"]] == ["Disk full"]


# --- revisions ------------------------------------------------------------------------------


def test_post_revision_then_read_it_and_the_diff(responder, runbook):
    client = api_client_for(responder)
    response = client.post(
        detail(runbook, "revisions/"),
        {"body": BODY.replace("Restart", "Rebuild"), "note": "Rebuild", "base_revision": 1},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["number"] == 2
    assert [r["number"] for r in client.get(detail(runbook, "revisions/")).json()] == [2, 1]
    assert client.get(detail(runbook, "revisions/1/")).json()["body"] == BODY
    diff = client.get(detail(runbook, "diff/"), {"from": 1, "to": 2}).json()
    assert "-2. Restart the replica" in diff["unified"]
    assert "+2. Rebuild the replica" in diff["unified"]
    assert {
        "kind": "replace",
        "old_number": 4,
        "old_text": "2. Restart the replica",
        "new_number": 4,
        "new_text": "2. Rebuild the replica",
    } in diff["rows"]


def test_stale_revision_is_409_with_latest_number_and_diff(responder, manager, runbook):
    revision_create(runbook=runbook, body=BODY + "\n3. Page the DBA", actor=manager, base_number=1)
    response = api_client_for(responder).post(
        detail(runbook, "revisions/"), {"body": BODY + "\n3. Page Rosa", "base_revision": 1}, format="json"
    )
    assert response.status_code == 409
    data = response.json()
    assert data["latest_revision"] == 2
    assert data["base_revision"] == 1
    assert "-3. Page the DBA" in data["diff"]
    assert "+3. Page Rosa" in data["diff"]
    assert "not saved" in data["detail"]
    assert runbook.revisions.count() == 2


def test_revision_without_body_is_400_naming_body(responder, runbook):
    response = api_client_for(responder).post(detail(runbook, "revisions/"), {"note": "x"}, format="json")
    assert response.status_code == 400
    assert "body" in response.json()


def test_diff_needs_both_numbers(responder, runbook):
    response = api_client_for(responder).get(detail(runbook, "diff/"), {"from": 1})
    assert response.status_code == 400
    assert "to" in response.json()
    assert api_client_for(responder).get(detail(runbook, "diff/"), {"from": 1, "to": 7}).status_code == 404


# --- permissions for changes ----------------------------------------------------------------


def test_other_teams_responder_may_read_but_not_change(other_responder, runbook):
    client = api_client_for(other_responder)
    assert client.post(detail(runbook, "revisions/"), {"body": "x"}, format="json").status_code == 403
    assert client.patch(detail(runbook), {"title": "Mine"}, format="json").status_code == 403
    assert client.post(detail(runbook, "reviewed/")).status_code == 403
    response = client.delete(detail(runbook))
    assert response.status_code == 403
    assert "manager role" in response.json()["detail"]


def test_patch_metadata_and_mark_reviewed(responder, runbook):
    client = api_client_for(responder)
    response = client.patch(detail(runbook), {"title": "PG lag", "review_interval_days": 30}, format="json")
    assert response.status_code == 200
    assert response.json()["title"] == "PG lag"
    assert response.json()["current_revision"] == 1
    bad = client.patch(detail(runbook), {"review_interval_days": 0}, format="json")
    assert bad.status_code == 400
    assert "review_interval_days" in bad.json()
    reviewed = client.post(detail(runbook, "reviewed/")).json()
    assert reviewed["last_reviewed_at"] is not None
    assert reviewed["last_reviewed_by"] == "rosa"


def test_responder_may_not_delete_but_manager_may(responder, manager, runbook):
    assert api_client_for(responder).delete(detail(runbook)).status_code == 403
    assert api_client_for(manager).delete(detail(runbook)).status_code == 204
    assert not Runbook.objects.exists()
