from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.choices import Role, TimelineKind
from incidents.models import TimelineEvent
from postmortems.choices import ActionItemStatus
from postmortems.models import ActionItem
from postmortems.services import (
    action_item_create,
    action_item_set_status,
    postmortem_create,
    postmortem_publish,
    section_update,
)
from tests.clients import api_client_for
from tests.factories import IncidentFactory, MembershipFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/action-items/"


@pytest.fixture
def incident(service):
    return IncidentFactory(service=service)


@pytest.fixture
def dana():
    """Someone from another team, who can own an item of ours."""
    user = UserFactory(username="dana", first_name="Dana", last_name="Lee")
    MembershipFactory(team=TeamFactory(name="Databases", slug="databases"), user=user, role=Role.RESPONDER)
    return user


@pytest.fixture
def item(incident, responder, sam):
    return action_item_create(
        incident=incident, actor=responder, title="Alert on pool saturation", owner=sam, priority="high"
    )


def detail(item_id: int, suffix: str = "") -> str:
    return f"{LIST}{item_id}/{suffix}"


def today():
    return timezone.now().date()


# --- create ---------------------------------------------------------------------------------


def test_a_responder_adds_an_item_before_any_postmortem_exists(responder, sam, incident):
    response = api_client_for(responder).post(
        LIST,
        {
            "incident": incident.number,
            "title": "Alert on pool saturation",
            "description": "Page when the pool is 80% busy for 5 minutes.",
            "owner": "sam",
            "due_date": "2031-01-15",
            "priority": "high",
            "kind": "detect",
            "tracker_url": "https://github.com/example/checkout/issues/412",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["incident"] == incident.number
    assert data["incident_reference"] == incident.reference
    assert data["team"] == "payments"
    assert data["postmortem_url"] is None
    assert data["owner"]["username"] == "sam"
    assert (data["due_date"], data["priority"], data["kind"], data["status"]) == (
        "2031-01-15",
        "high",
        "detect",
        "open",
    )
    assert data["tracker_url"] == "https://github.com/example/checkout/issues/412"
    assert data["created_by"] == "rosa"
    assert data["url"] == f"{settings.MUSTER_BASE_URL}/action-items/{data['id']}/"
    assert TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.ACTION_ITEM_ADDED).exists()


def test_defaults_are_medium_prevent_no_owner(responder, incident):
    data = (
        api_client_for(responder)
        .post(LIST, {"incident": incident.number, "title": "Pin the pool size"}, format="json")
        .json()
    )

    assert (data["priority"], data["kind"], data["owner"], data["due_date"]) == (
        "medium",
        "prevent",
        None,
        None,
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x"}, "incident"),
        ({"incident": 424242, "title": "x"}, "incident"),
        ({"incident": "forty-two", "title": "x"}, "incident"),
        ({"incident": "{number}"}, "title"),
        ({"incident": "{number}", "title": ["a"]}, "title"),
        ({"incident": "{number}", "title": "x" * 201}, "title"),
        ({"incident": "{number}", "title": "x", "priority": "urgent"}, "priority"),
        ({"incident": "{number}", "title": "x", "kind": "blame"}, "kind"),
        ({"incident": "{number}", "title": "x", "due_date": "soon"}, "due_date"),
        ({"incident": "{number}", "title": "x", "due_date": "2031-13-01"}, "due_date"),
        ({"incident": "{number}", "title": "x", "owner": "ghost"}, "owner"),
        ({"incident": "{number}", "title": "x", "tracker_url": "not a url"}, "tracker_url"),
        ({"incident": "{number}", "title": "x", "tracker_url": "ftp://files.example.com/x"}, "tracker_url"),
        ({"incident": "{number}", "title": "x", "tracker_url": "javascript:alert(1)"}, "tracker_url"),
        (
            {"incident": "{number}", "title": "x", "tracker_url": "https://x.example/" + "a" * 500},
            "tracker_url",
        ),
        ({"incident": "{number}", "title": "x", "description": "x" * 20_001}, "description"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(responder, incident, body, field):
    body = {k: (incident.number if v == "{number}" else v) for k, v in body.items()}

    response = api_client_for(responder).post(LIST, body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not ActionItem.objects.exists()


def test_who_may_add_items(viewer, sam, manager, dana, incident):
    def post(user):
        return api_client_for(user).post(
            LIST, {"incident": incident.number, "title": f"by {user}"}, format="json"
        )

    assert post(sam).status_code == 201
    assert post(manager).status_code == 201
    refused = post(viewer)
    assert refused.status_code == 403
    assert "responder role in team Payments" in refused.json()["detail"]
    assert post(dana).status_code == 400  # another team's incident reads as missing
    assert ActionItem.objects.count() == 2


def test_items_can_still_be_added_and_changed_after_the_postmortem_is_published(responder, manager, item):
    postmortem = postmortem_create(incident=item.incident, actor=responder)
    section_update(postmortem=postmortem, key="summary", body="Done.", actor=responder)
    postmortem_publish(postmortem=postmortem, actor=manager)
    client = api_client_for(responder)

    added = client.post(
        LIST, {"incident": item.incident.number, "title": "Load test checkout"}, format="json"
    )
    changed = client.patch(detail(item.pk), {"priority": "low"}, format="json")

    assert added.status_code == 201
    assert added.json()["postmortem_url"] == f"{settings.MUSTER_BASE_URL}/postmortems/{item.incident.number}/"
    assert changed.status_code == 200
    assert changed.json()["priority"] == "low"


# --- read -----------------------------------------------------------------------------------


def test_owners_from_another_team_see_and_change_their_own_items(responder, dana, incident):
    mine = action_item_create(incident=incident, actor=responder, title="Tune pg pool", owner=dana)
    action_item_create(incident=incident, actor=responder, title="Not dana's")
    client = api_client_for(dana)

    assert [row["title"] for row in client.get(LIST).json()["results"]] == ["Tune pg pool"]
    assert client.get(detail(mine.pk)).status_code == 200
    assert client.patch(detail(mine.pk), {"due_date": "2031-02-01"}, format="json").status_code == 200
    assert (
        client.post(detail(mine.pk, "status/"), {"status": "in_progress"}, format="json").status_code == 200
    )
    other = ActionItem.objects.get(title="Not dana's")
    assert client.get(detail(other.pk)).status_code == 404


def test_outsiders_see_nothing(outsider, item):
    client = api_client_for(outsider)

    assert client.get(LIST).json()["results"] == []
    assert client.get(detail(item.pk)).status_code == 404
    assert client.patch(detail(item.pk), {"title": "x"}, format="json").status_code == 404
    assert client.get(detail(999_999_999)).status_code == 404


def test_overdue_is_shown_with_the_days_late(viewer, responder, incident):
    late = action_item_create(
        incident=incident, actor=responder, title="Late", due_date=today() - timedelta(days=3)
    )

    data = api_client_for(viewer).get(detail(late.pk)).json()

    assert data["overdue"] is True
    assert data["days_overdue"] in (2, 3, 4)  # the viewer's date may be a day off UTC's


# --- change ---------------------------------------------------------------------------------


def test_patch_changes_fields_and_null_clears_owner_and_due_date(responder, item):
    client = api_client_for(responder)

    response = client.patch(
        detail(item.pk),
        {
            "title": "Alert at 80% pool use",
            "kind": "detect",
            "due_date": "2031-03-01",
            "tracker_url": "https://linear.app/x/PAY-9",
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["title"], data["kind"], data["due_date"]) == (
        "Alert at 80% pool use",
        "detect",
        "2031-03-01",
    )
    assert data["owner"]["username"] == "sam"  # left out: kept
    cleared = client.patch(
        detail(item.pk), {"owner": None, "due_date": None, "tracker_url": ""}, format="json"
    ).json()
    assert (cleared["owner"], cleared["due_date"], cleared["tracker_url"]) == (None, None, "")


def test_patch_cannot_change_the_status_or_incident(responder, item, service):
    other = IncidentFactory(service=service)

    response = api_client_for(responder).patch(
        detail(item.pk), {"status": "done", "incident": other.number}, format="json"
    )

    assert response.status_code == 200
    item.refresh_from_db()
    assert (item.status, item.incident_id) == (ActionItemStatus.OPEN, item.incident.pk)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"priority": "p0"}, "priority"),
        ({"due_date": "31/12/2031"}, "due_date"),
        ({"tracker_url": "www.example.com"}, "tracker_url"),
        ({"title": ""}, "title"),
        ({"owner": 12}, "owner"),
    ],
)
def test_bad_patch_input_is_a_400(responder, item, body, field):
    response = api_client_for(responder).patch(detail(item.pk), body, format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_viewers_may_not_change_items(viewer, item):
    client = api_client_for(viewer)

    patched = client.patch(detail(item.pk), {"title": "Mine"}, format="json")
    moved = client.post(detail(item.pk, "status/"), {"status": "in_progress"}, format="json")

    assert patched.status_code == 403
    assert "responder role in team Payments, or being its owner" in patched.json()["detail"]
    assert moved.status_code == 403


def test_items_are_history_and_cannot_be_deleted(manager, item):
    client = api_client_for(manager)

    assert client.delete(detail(item.pk)).status_code == 405
    assert client.put(detail(item.pk), {"title": "x"}, format="json").status_code == 405
    assert ActionItem.objects.filter(pk=item.pk).exists()


# --- status ---------------------------------------------------------------------------------


def test_status_moves_from_open_through_in_progress_to_done(responder, incident):
    item = action_item_create(incident=incident, actor=responder, title="Pin the pool size")
    client = api_client_for(responder)

    started = client.post(detail(item.pk, "status/"), {"status": "in_progress"}, format="json")
    done = client.post(detail(item.pk, "status/"), {"status": "done"}, format="json")

    assert started.json()["status"] == "in_progress"
    assert done.status_code == 200
    assert done.json()["status"] == "done"
    assert done.json()["closed_by"] == "rosa"
    assert done.json()["closed_at"] is not None
    assert done.json()["overdue"] is False


def test_closing_a_high_priority_item_as_done_needs_a_verification(responder, item):
    client = api_client_for(responder)

    refused = client.post(detail(item.pk, "status/"), {"status": "done"}, format="json")
    accepted = client.post(
        detail(item.pk, "status/"),
        {"status": "done", "verification": "Load test held 38/50 connections"},
        format="json",
    )

    assert refused.status_code == 409
    assert "verification" in refused.json()["detail"]
    assert accepted.status_code == 200
    assert accepted.json()["verification"] == "Load test held 38/50 connections"


def test_wont_do_needs_a_reason_and_closed_items_only_reopen(responder, item):
    client = api_client_for(responder)
    status_url = detail(item.pk, "status/")

    assert client.post(status_url, {"status": "wont_do"}, format="json").status_code == 409
    closed = client.post(status_url, {"status": "wont_do", "reason": "Replaced by PAY-12"}, format="json")
    assert closed.json()["wont_do_reason"] == "Replaced by PAY-12"
    jump = client.post(status_url, {"status": "in_progress"}, format="json")
    assert jump.status_code == 409
    assert "reopen" in jump.json()["detail"]
    reopened = client.post(status_url, {"status": "open"}, format="json").json()
    assert (reopened["status"], reopened["closed_at"], reopened["wont_do_reason"]) == (
        "open",
        None,
        "Replaced by PAY-12",
    )


@pytest.mark.parametrize(
    "body",
    [{}, {"status": "finished"}, {"status": 3}, {"status": "done", "verification": "x" * 5_001}],
)
def test_bad_status_requests_are_a_400(responder, item, body):
    response = api_client_for(responder).post(detail(item.pk, "status/"), body, format="json")

    assert response.status_code == 400
    assert set(response.json()) & {"status", "verification"}
    item.refresh_from_db()
    assert item.status == ActionItemStatus.OPEN


# --- list -----------------------------------------------------------------------------------


def test_list_filters(responder, sam, manager, incident):
    other_incident = IncidentFactory(service=incident.service)
    search = ServiceFactory(slug="search", team=TeamFactory(slug="search"))
    MembershipFactory(team=search.team, user=manager, role=Role.MANAGER)
    late = action_item_create(
        incident=incident, actor=responder, title="late", owner=sam, due_date=today() - timedelta(days=5)
    )
    high = action_item_create(
        incident=incident, actor=responder, title="high", priority="high", kind="detect"
    )
    done = action_item_create(incident=other_incident, actor=responder, title="done", owner=sam)
    action_item_set_status(item=done, actor=sam, status="done")
    elsewhere = action_item_create(incident=IncidentFactory(service=search), actor=manager, title="elsewhere")
    client = api_client_for(manager)

    def titles(**params):
        response = client.get(LIST, params)
        assert response.status_code == 200, response.json()
        return {row["title"] for row in response.json()["results"]}

    assert titles() == {"late", "high", "done", "elsewhere"}
    assert titles(owner="sam") == {"late", "done"}
    assert titles(team="search") == {elsewhere.title}
    assert titles(status="open") == {"late", "high", "elsewhere"}
    assert titles(status="closed") == {"done"}
    assert titles(status="done") == {"done"}
    assert titles(overdue="true") == {late.title}
    assert titles(priority="high") == {high.title}
    assert titles(kind="detect") == {high.title}
    assert titles(incident=other_incident.number) == {"done"}
    for bad in ({"status": "finished"}, {"priority": "p0"}, {"incident": "INC-1"}):
        assert client.get(LIST, bad).status_code == 400


def test_the_list_costs_the_same_queries_for_3_or_13_items(
    responder, sam, incident, django_assert_num_queries
):
    postmortem_create(incident=incident, actor=responder)

    def add(count):
        for _ in range(count):
            item = action_item_create(
                incident=incident, actor=responder, title="Item", owner=sam, priority="high"
            )
            action_item_set_status(item=item, actor=sam, status="done", verification="Checked")

    add(3)
    client = api_client_for(responder)
    client.get(LIST)  # the token's first use writes last_used_at; measure after it
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(LIST).json()["results"]) == 3
    add(10)

    with django_assert_num_queries(len(few.captured_queries)):
        assert len(client.get(LIST).json()["results"]) == 13
    assert len(few.captured_queries) <= 5
