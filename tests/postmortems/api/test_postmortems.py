from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.choices import Role, Severity
from incidents.services import incident_acknowledge, incident_add_note, incident_declare, incident_resolve
from oncall.services import profile_update
from postmortems.choices import SectionKey
from postmortems.models import Postmortem, TimelineEntry
from postmortems.services import (
    action_item_create,
    postmortem_create,
    postmortem_publish,
    review_request,
    section_update,
)
from tests.clients import api_client_for
from tests.factories import IncidentFactory, MembershipFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/postmortems/"


@pytest.fixture
def incident(service, responder):
    incident = incident_declare(
        service=service, title="Checkout 502s after deploy", actor=responder, severity=Severity.SEV2
    )
    incident_acknowledge(incident=incident, actor=responder)
    incident_add_note(incident=incident, text="Rolling back the deploy", actor=responder)
    return incident_resolve(incident=incident, actor=responder)


@pytest.fixture
def postmortem(incident, responder):
    return postmortem_create(incident=incident, actor=responder)


@pytest.fixture
def dana():
    """A database expert from another team."""
    user = UserFactory(username="dana", first_name="Dana", last_name="Lee")
    MembershipFactory(team=TeamFactory(name="Databases", slug="databases"), user=user, role=Role.RESPONDER)
    return user


def detail(number: int, suffix: str = "") -> str:
    return f"{LIST}{number}/{suffix}"


# --- create ---------------------------------------------------------------------------------


def test_responder_starts_a_postmortem_with_every_section_and_the_imported_timeline(responder, incident):
    response = api_client_for(responder).post(LIST, {"incident": incident.number}, format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["number"] == incident.number
    assert data["reference"] == incident.reference
    assert data["title"] == "Checkout 502s after deploy"
    assert data["status"] == "draft"
    assert data["owner"]["username"] == "rosa"
    assert data["url"] == f"{settings.MUSTER_BASE_URL}/postmortems/{incident.number}/"
    assert [section["key"] for section in data["sections"]] == SectionKey.values
    assert {section["body"] for section in data["sections"]} == {""}
    texts = [entry["text"] for entry in data["timeline"]]
    assert "Rolling back the deploy" in texts
    assert any(text.startswith("Resolved by") for text in texts)
    # SEV2: five business days after the day it resolved.
    assert date.fromisoformat(data["due_date"]) > incident.resolved_at.date()
    assert data["overdue"] is False


def test_create_takes_an_owner_from_another_team_and_a_title(responder, incident, dana):
    response = api_client_for(responder).post(
        LIST, {"incident": incident.number, "owner": "dana", "title": "Pool exhaustion"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["owner"] == {"username": "dana", "name": "Dana Lee"}
    assert response.json()["title"] == "Pool exhaustion"


def test_starting_a_second_postmortem_is_a_conflict(responder, postmortem):
    response = api_client_for(responder).post(LIST, {"incident": postmortem.incident.number}, format="json")

    assert response.status_code == 409
    assert "already has a postmortem" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "incident"),
        ({"incident": "INC-1"}, "incident"),
        ({"incident": 99999}, "incident"),
        ({"incident": 10**12}, "incident"),
        ({"incident": None}, "incident"),
        ({"incident": "{number}", "owner": "ghost"}, "owner"),
        ({"incident": "{number}", "owner": 7}, "owner"),
        ({"incident": "{number}", "title": "x" * 201}, "title"),
    ],
)
def test_bad_create_input_is_a_400_naming_the_field(responder, incident, body, field):
    body = {k: (incident.number if v == "{number}" else v) for k, v in body.items()}

    response = api_client_for(responder).post(LIST, body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Postmortem.objects.exists()


def test_another_teams_incident_is_reported_like_a_missing_one(incident, dana):
    response = api_client_for(dana).post(LIST, {"incident": incident.number}, format="json")

    assert response.status_code == 400
    assert response.json()["incident"] == [f"No incident INC-{incident.number} in your teams."]


def test_a_viewer_may_not_start_a_postmortem(viewer, incident):
    response = api_client_for(viewer).post(LIST, {"incident": incident.number}, format="json")

    assert response.status_code == 403
    assert "responder role in team Payments" in response.json()["detail"]


def test_a_malformed_json_body_is_a_400(responder):
    response = api_client_for(responder).post(LIST, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json()


# --- read -----------------------------------------------------------------------------------


def test_detail_shows_sections_rendered_timeline_metrics_and_action_items(responder, sam, postmortem):
    incident = postmortem.incident
    section_update(postmortem=postmortem, key="summary", body="The **pool** ran dry.", actor=responder)
    action_item_create(
        incident=incident,
        actor=responder,
        title="Alert on pool saturation",
        owner=sam,
        due_date=timezone.now().date() - timedelta(days=2),
    )

    data = api_client_for(responder).get(detail(incident.number)).json()

    summary = data["sections"][0]
    assert summary["key"] == "summary"
    assert summary["title"] == "Summary"
    assert summary["html"] == "<p>The <strong>pool</strong> ran dry.</p>"
    assert summary["prompt"]
    metrics = {metric["name"]: metric["seconds"] for metric in data["metrics"]}
    expected = (incident.resolved_at - incident.detected_at).total_seconds()
    assert metrics["time_to_resolve"] == pytest.approx(expected)
    assert metrics["time_to_mitigate"] is None
    assert [item["title"] for item in data["action_items"]] == ["Alert on pool saturation"]
    assert data["action_items"][0]["owner"]["username"] == "sam"
    assert data["action_items"][0]["overdue"] is True
    assert data["action_item_counts"] == {"open": 1, "overdue": 1, "closed": 0}
    assert all(
        {"id", "occurred_at", "text", "included", "imported", "edited"} <= set(e) for e in data["timeline"]
    )
    assert data["reviewers"] == []
    assert data["comments"] == []


def test_someone_outside_the_team_gets_a_json_404(outsider, dana, postmortem):
    for user in (outsider, dana):
        response = api_client_for(user).get(detail(postmortem.incident.number))
        assert response.status_code == 404
        assert "detail" in response.json()


def test_a_reviewer_from_another_team_reads_the_postmortem(responder, dana, postmortem):
    review_request(postmortem=postmortem, actor=responder, reviewers=[dana])

    response = api_client_for(dana).get(detail(postmortem.incident.number))

    assert response.status_code == 200
    assert [r["user"]["username"] for r in response.json()["reviewers"]] == ["dana"]
    listed = api_client_for(dana).get(LIST).json()
    assert [row["number"] for row in listed["results"]] == [postmortem.incident.number]


def test_unknown_number_is_404_not_500(responder):
    assert api_client_for(responder).get(detail(424242)).status_code == 404
    assert api_client_for(responder).get(f"{LIST}9999999999999/").status_code == 404


# --- list -----------------------------------------------------------------------------------


def _postmortem_on(service, actor, **incident_fields):
    return postmortem_create(incident=IncidentFactory(service=service, **incident_fields), actor=actor)


def test_list_filters_by_status_team_owner_and_overdue(responder, sam, manager, service):
    draft = _postmortem_on(service, responder)
    late = _postmortem_on(service, sam)
    Postmortem.objects.filter(pk=late.pk).update(due_date=timezone.now().date() - timedelta(days=3))
    published = _postmortem_on(service, responder)
    section_update(postmortem=published, key="summary", body="Done.", actor=responder)
    postmortem_publish(postmortem=published, actor=manager)
    other_team = ServiceFactory(slug="search", team=TeamFactory(slug="search"))
    MembershipFactory(team=other_team.team, user=manager, role=Role.MANAGER)
    elsewhere = _postmortem_on(other_team, manager)
    client = api_client_for(manager)

    def numbers(**params):
        response = client.get(LIST, params)
        assert response.status_code == 200, response.json()
        return {row["number"] for row in response.json()["results"]}

    assert numbers() == {p.incident.number for p in (draft, late, published, elsewhere)}
    assert numbers(status="published") == {published.incident.number}
    assert numbers(team="payments") == {p.incident.number for p in (draft, late, published)}
    assert numbers(owner="sam") == {late.incident.number}
    assert numbers(overdue="true") == {late.incident.number}
    assert client.get(LIST, {"status": "finished"}).status_code == 400


def test_outsiders_list_nothing(outsider, postmortem):
    assert api_client_for(outsider).get(LIST).json()["results"] == []


def test_the_list_costs_the_same_queries_for_4_or_16_postmortems(
    responder, sam, service, django_assert_num_queries
):
    def add(count):
        for _ in range(count):
            postmortem = _postmortem_on(service, responder)
            section_update(postmortem=postmortem, key="summary", body="Done.", actor=responder)
            postmortem_publish(postmortem=postmortem, actor=responder)
            postmortem_create(incident=IncidentFactory(service=service), actor=responder, owner=sam)

    add(2)
    client = api_client_for(responder)
    client.get(LIST)  # the token's first use writes last_used_at; measure after it
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(LIST).json()["results"]) == 4
    add(6)

    with django_assert_num_queries(len(few.captured_queries)):
        assert len(client.get(LIST).json()["results"]) == 16
    assert len(few.captured_queries) <= 5


# --- change ---------------------------------------------------------------------------------


def test_patch_changes_title_owner_and_due_date_and_null_clears(responder, sam, postmortem):
    client = api_client_for(responder)
    url = detail(postmortem.incident.number)

    response = client.patch(
        url, {"title": "Pool exhaustion", "owner": "sam", "due_date": "2031-05-06"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["title"] == "Pool exhaustion"
    assert response.json()["owner"]["username"] == "sam"
    assert response.json()["due_date"] == "2031-05-06"
    cleared = client.patch(url, {"owner": None, "due_date": None}, format="json").json()
    assert cleared["owner"] is None
    assert cleared["due_date"] is None
    assert cleared["title"] == "Pool exhaustion"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"due_date": "next friday"}, "due_date"),
        ({"due_date": "2031-02-30"}, "due_date"),
        ({"owner": "ghost"}, "owner"),
        ({"title": ""}, "title"),
        ({"title": ["a", "b"]}, "title"),
    ],
)
def test_bad_patch_input_is_a_400_naming_the_field(responder, postmortem, body, field):
    response = api_client_for(responder).patch(detail(postmortem.incident.number), body, format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_a_viewer_may_read_but_not_change(viewer, postmortem):
    client = api_client_for(viewer)
    url = detail(postmortem.incident.number)

    assert client.get(url).status_code == 200
    response = client.patch(url, {"title": "Mine"}, format="json")
    assert response.status_code == 403
    assert "responder role" in response.json()["detail"]


def test_a_published_postmortem_cannot_be_changed(responder, manager, postmortem):
    section_update(postmortem=postmortem, key="summary", body="Done.", actor=responder)
    postmortem_publish(postmortem=postmortem, actor=manager)

    response = api_client_for(responder).patch(
        detail(postmortem.incident.number), {"title": "x"}, format="json"
    )

    assert response.status_code == 409
    assert "read-only" in response.json()["detail"]


def test_postmortems_cannot_be_deleted_or_replaced(manager, postmortem):
    client = api_client_for(manager)
    url = detail(postmortem.incident.number)

    assert client.delete(url).status_code == 405
    assert client.put(url, {"title": "x"}, format="json").status_code == 405
    assert Postmortem.objects.filter(pk=postmortem.pk).exists()


# --- timeline -------------------------------------------------------------------------------


def test_reimport_adds_only_new_events_and_keeps_edits(responder, postmortem):
    client = api_client_for(responder)
    number = postmortem.incident.number
    note = TimelineEntry.objects.get(postmortem=postmortem, text="Rolling back the deploy")
    edited = client.patch(detail(number, f"timeline/{note.pk}/"), {"text": "Rolled back v42"}, format="json")
    assert edited.status_code == 200
    assert edited.json()["edited"] is True
    incident_add_note(
        incident=postmortem.incident, text="Customer support confirmed recovery", actor=responder
    )

    response = client.post(detail(number, "timeline/import/"))

    assert response.status_code == 200
    assert response.json() == {"imported": 1}
    texts = [entry["text"] for entry in client.get(detail(number, "timeline/")).json()]
    assert "Rolled back v42" in texts
    assert "Customer support confirmed recovery" in texts
    assert client.post(detail(number, "timeline/import/")).json() == {"imported": 0}


def test_hand_written_entries_are_added_excluded_and_deleted(responder, postmortem):
    client = api_client_for(responder)
    number = postmortem.incident.number
    when = (postmortem.incident.detected_at - timedelta(minutes=6)).isoformat()

    added = client.post(
        detail(number, "timeline/"),
        {"occurred_at": when, "text": "Config deploy set pool size to 5"},
        format="json",
    )

    assert added.status_code == 201, added.json()
    entry = added.json()
    assert entry["imported"] is False
    assert client.get(detail(number, "timeline/")).json()[0]["id"] == entry["id"]  # oldest first
    hidden = client.patch(detail(number, f"timeline/{entry['id']}/"), {"included": False}, format="json")
    assert hidden.json()["included"] is False
    assert client.delete(detail(number, f"timeline/{entry['id']}/")).status_code == 204
    assert not TimelineEntry.objects.filter(pk=entry["id"]).exists()


def test_imported_entries_cannot_be_deleted(responder, postmortem):
    imported = TimelineEntry.objects.filter(postmortem=postmortem, source_event__isnull=False).first()

    response = api_client_for(responder).delete(
        detail(postmortem.incident.number, f"timeline/{imported.pk}/")
    )

    assert response.status_code == 409
    assert "exclude" in response.json()["detail"]
    assert TimelineEntry.objects.filter(pk=imported.pk).exists()


@pytest.mark.parametrize(
    "body",
    [
        {"occurred_at": "yesterday", "text": "x"},
        {"occurred_at": "2026-03-01T10:00:00Z"},
        {"occurred_at": "2026-03-01T10:00:00Z", "text": ""},
        {"occurred_at": "2026-03-01T10:00:00Z", "text": "x" * 10_001},
    ],
)
def test_bad_timeline_entries_are_400(responder, postmortem, body):
    response = api_client_for(responder).post(
        detail(postmortem.incident.number, "timeline/"), body, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) <= {"occurred_at", "text"}


def test_an_entry_of_another_postmortem_is_404(responder, postmortem, service):
    other = _postmortem_on(service, responder)
    foreign = TimelineEntry.objects.create(postmortem=other, occurred_at=timezone.now(), text="Elsewhere")

    response = api_client_for(responder).patch(
        detail(postmortem.incident.number, f"timeline/{foreign.pk}/"), {"text": "Mine"}, format="json"
    )

    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.text == "Elsewhere"


def test_viewers_read_the_timeline_but_do_not_change_it(viewer, postmortem):
    client = api_client_for(viewer)
    number = postmortem.incident.number

    assert client.get(detail(number, "timeline/")).status_code == 200
    assert client.post(detail(number, "timeline/import/")).status_code == 403
    response = client.post(
        detail(number, "timeline/"), {"occurred_at": "2026-03-01T10:00:00Z", "text": "x"}, format="json"
    )
    assert response.status_code == 403


# --- export ---------------------------------------------------------------------------------


def test_export_is_markdown_with_times_in_the_readers_time_zone(responder, postmortem):
    profile_update(user=responder, actor=responder, time_zone="Asia/Tokyo")
    section_update(postmortem=postmortem, key="summary", body="The pool ran dry.", actor=responder)
    resolved_in_tokyo = postmortem.incident.resolved_at.astimezone(ZoneInfo("Asia/Tokyo"))

    response = api_client_for(responder).get(detail(postmortem.incident.number, "export/"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    text = response.content.decode()
    assert text.startswith("# ")
    assert "Checkout 502s after deploy" in text
    assert "The pool ran dry." in text
    assert f"{resolved_in_tokyo:%Y-%m-%d %H:%M} (Asia/Tokyo)" in text


def test_export_refuses_an_unknown_time_zone_and_hides_other_teams(responder, outsider, postmortem):
    url = detail(postmortem.incident.number, "export/")

    response = api_client_for(responder).get(url, {"time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    assert "time_zone" in response.json()
    assert api_client_for(outsider).get(url).status_code == 404


# --- schema ---------------------------------------------------------------------------------


def test_the_schema_documents_the_postmortem_endpoints_without_warnings(tmp_path: Path):
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(target))

    schema = target.read_text()
    for path in (
        "/api/v1/postmortems/{number}/sections/{key}/",
        "/api/v1/postmortems/{number}/timeline/{entry_id}/",
        "/api/v1/postmortems/{number}/export/",
        "/api/v1/action-items/{id}/status/",
    ):
        assert f"{path}:" in schema


def test_export_answers_clients_that_only_accept_markdown(responder, outsider, postmortem):
    url = detail(postmortem.incident.number, "export/")

    found = api_client_for(responder).get(url, HTTP_ACCEPT="text/markdown")
    missing = api_client_for(outsider).get(url, HTTP_ACCEPT="text/markdown")

    assert found.status_code == 200
    assert found.content.decode().startswith("# Postmortem: ")
    assert missing.status_code == 404
    assert missing["Content-Type"].startswith("text/markdown")
    assert b"No postmortem" in missing.content
