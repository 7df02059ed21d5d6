"""The schedules API: the same rules and services as the pages, JSON refusals that name the problem."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import pytest
import time_machine
from django.core.management import call_command
from rest_framework.test import APIClient

from incidents.models import AuditEntry, person_name
from oncall.models import Layer, LayerEpoch, Override, Schedule
from tests.clients import api_client_for
from tests.factories import (
    EscalationPolicyFactory,
    EscalationStepFactory,
    OverrideFactory,
    ScheduleFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db

MONDAY_NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # 13:00 in Berlin


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(MONDAY_NOON, tick=False):
        yield


@pytest.fixture
def other_schedule():
    return ScheduleFactory(team=TeamFactory(slug="search"), name="Search primary")


# --- schedules ------------------------------------------------------------------------------


def test_lists_and_reads_the_teams_schedules_only(viewer, schedule, other_schedule):
    client = api_client_for(viewer)

    body = client.get("/api/v1/schedules/").json()
    assert [row["name"] for row in body["results"]] == ["Payments primary"]
    row = body["results"][0]
    assert (row["team"], row["time_zone"]) == ("payments", "Europe/Berlin")
    assert row["url"].endswith(f"/schedules/{schedule.pk}/")
    assert client.get(f"/api/v1/schedules/{schedule.pk}/").status_code == 200
    response = client.get(f"/api/v1/schedules/{other_schedule.pk}/")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_a_manager_creates_renames_and_deletes_a_schedule(manager):
    client = api_client_for(manager)

    response = client.post(
        "/api/v1/schedules/",
        {"team": "payments", "name": "Primary", "time_zone": "Asia/Tokyo"},
        format="json",
    )
    assert response.status_code == 201
    pk = response.json()["id"]
    assert Schedule.objects.get(pk=pk).time_zone == "Asia/Tokyo"

    response = client.patch(f"/api/v1/schedules/{pk}/", {"name": "Payments primary"}, format="json")
    assert (response.status_code, response.json()["name"]) == (200, "Payments primary")

    assert client.delete(f"/api/v1/schedules/{pk}/").status_code == 204
    assert not Schedule.objects.exists()
    assert list(AuditEntry.objects.order_by("pk").values_list("action", flat=True)) == [
        "schedule.create",
        "schedule.update",
        "schedule.delete",
    ]


def test_schedule_refusals_name_the_problem(manager, responder, schedule):
    bad_zone = api_client_for(manager).post(
        "/api/v1/schedules/", {"team": "payments", "name": "X", "time_zone": "Mars/Base"}, format="json"
    )
    assert bad_zone.status_code == 400
    assert "Unknown time zone 'Mars/Base'" in bad_zone.json()["time_zone"][0]

    unknown_team = api_client_for(manager).post(
        "/api/v1/schedules/", {"team": "nope", "name": "X"}, format="json"
    )
    assert unknown_team.json() == {"team": ["No team 'nope'."]}

    not_manager = api_client_for(responder).post(
        "/api/v1/schedules/", {"team": "payments", "name": "X"}, format="json"
    )
    assert not_manager.status_code == 403
    assert not_manager.json() == {"detail": "This needs the manager role in team Payments."}

    not_manager = api_client_for(responder).delete(f"/api/v1/schedules/{schedule.pk}/")
    assert not_manager.status_code == 403
    assert Schedule.objects.filter(pk=schedule.pk).exists()


# --- layers ---------------------------------------------------------------------------------


def test_a_manager_adds_a_layer_with_participants_and_restrictions(manager, sam, schedule):
    response = api_client_for(manager).post(
        "/api/v1/layers/",
        {
            "schedule": schedule.pk,
            "name": "Office",
            "participants": ["max", "sam"],
            "shift_count": 1,
            "shift_unit": "weeks",
            "start_date": "2026-03-02",
            "handoff_time": "09:00",
            "restrictions": [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["participants"] == ["max", "sam"]
    assert (body["position"], body["name"], body["shift_unit"]) == (1, "Office", "weeks")
    assert body["restrictions"] == [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}]
    listed = api_client_for(manager).get(f"/api/v1/layers/?schedule={schedule.pk}").json()["results"]
    assert [(layer["name"], layer["participants"]) for layer in listed] == [
        ("Layer 1", ["rosa", "sam"]),
        ("Office", ["max", "sam"]),
    ]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"participants": ["vera"]}, "participants", "not a responder in team Payments"),
        ({"participants": ["ghost"]}, "participants", "No member of team Payments named 'ghost'"),
        ({"participants": []}, "participants", "at least 1"),
        ({"shift_count": 60, "shift_unit": "weeks"}, "shift_count", "at most a year"),
        ({"restrictions": [{"days": [9], "start": "09:00", "end": "17:00"}]}, "restrictions", ""),
        ({"restrictions": [{"days": [0], "start": "nine", "end": "17:00"}]}, "restrictions", "not a time"),
        ({"handoff_time": "25:00"}, "handoff_time", ""),
    ],
)
def test_bad_layers_are_refused_field_by_field(manager, viewer, schedule, change, field, message):
    payload = {
        "schedule": schedule.pk,
        "participants": ["max"],
        "start_date": "2026-03-02",
        "handoff_time": "09:00",
        **change,
    }

    response = api_client_for(manager).post("/api/v1/layers/", payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert message in str(response.json()[field])
    assert schedule.layers.count() == 1


def test_changing_participants_through_the_api_adds_an_epoch_from_now(manager, schedule):
    layer = schedule.layers.get()

    response = api_client_for(manager).patch(
        f"/api/v1/layers/{layer.pk}/", {"participants": ["max"]}, format="json"
    )

    assert (response.status_code, response.json()["participants"]) == (200, ["max"])
    assert LayerEpoch.objects.filter(layer=layer).latest("effective_from").effective_from == MONDAY_NOON


def test_viewers_cannot_change_layers(viewer, schedule):
    layer = schedule.layers.get()
    client = api_client_for(viewer)

    assert client.patch(f"/api/v1/layers/{layer.pk}/", {"shift_count": 2}, format="json").status_code == 403
    assert client.delete(f"/api/v1/layers/{layer.pk}/").status_code == 403
    assert Layer.objects.filter(pk=layer.pk).exists()


# --- overrides ------------------------------------------------------------------------------


def test_a_responder_adds_an_override_for_themselves(sam, schedule):
    response = api_client_for(sam).post(
        "/api/v1/overrides/",
        {"schedule": schedule.pk, "starts_at": "2026-03-02T13:00:00Z", "ends_at": "2026-03-02T15:00:00Z"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["user"]["username"] == "sam"
    assert (body["created_by"], body["replaces"]) == ("sam", None)
    oncall = api_client_for(sam).get(f"/api/v1/oncall/?schedule={schedule.pk}&at=2026-03-02T14:00:00Z").json()
    assert oncall["oncall"][0]["user"]["username"] == "sam"


def test_an_override_can_name_someone_and_whom_they_replace(manager, sam, responder, schedule):
    response = api_client_for(manager).post(
        "/api/v1/overrides/",
        {
            "schedule": schedule.pk,
            "user": "sam",
            "replaces": "rosa",
            "starts_at": "2026-03-02T13:00:00+01:00",
            "ends_at": "2026-03-04T13:00:00+01:00",
        },
        format="json",
    )

    assert response.status_code == 201
    override = Override.objects.get()
    assert (override.user, override.replaces, override.created_by) == (sam, responder, manager)
    assert override.starts_at == MONDAY_NOON


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"ends_at": "2026-03-02T12:00:00Z"}, "ends_at", "end after it starts"),
        ({"starts_at": "2026-03-01T08:00:00Z", "ends_at": "2026-03-01T09:00:00Z"}, "ends_at", "already over"),
        ({"user": "vera"}, "user", "not a responder"),
        ({"user": "otto"}, "user", "No member of team Payments named 'otto'"),
        ({"starts_at": "tomorrow"}, "starts_at", ""),
    ],
)
def test_bad_overrides_are_refused_field_by_field(
    responder, viewer, outsider, schedule, change, field, message
):
    payload = {
        "schedule": schedule.pk,
        "starts_at": "2026-03-02T13:00:00Z",
        "ends_at": "2026-03-02T15:00:00Z",
    }

    response = api_client_for(responder).post("/api/v1/overrides/", {**payload, **change}, format="json")

    assert response.status_code == 400
    assert message in str(response.json()[field])
    assert not Override.objects.exists()


def test_viewers_cannot_add_overrides_and_outsiders_cannot_see_the_schedule(viewer, outsider, schedule):
    payload = {
        "schedule": schedule.pk,
        "starts_at": "2026-03-02T13:00:00Z",
        "ends_at": "2026-03-02T15:00:00Z",
    }

    denied = api_client_for(viewer).post("/api/v1/overrides/", payload, format="json")
    assert (denied.status_code, denied.json()) == (
        403,
        {"detail": "This needs the responder role in team Payments."},
    )
    unknown = api_client_for(outsider).post("/api/v1/overrides/", payload, format="json")
    assert (unknown.status_code, unknown.json()) == (400, {"schedule": [f"No schedule {schedule.pk}."]})


def test_overrides_are_removed_by_their_owner_or_a_manager(responder, sam, manager, schedule):
    mine = OverrideFactory(schedule=schedule, user=responder, created_by=responder)
    theirs = OverrideFactory(schedule=schedule, user=sam, created_by=sam)

    assert api_client_for(responder).delete(f"/api/v1/overrides/{theirs.pk}/").status_code == 403
    assert api_client_for(responder).delete(f"/api/v1/overrides/{mine.pk}/").status_code == 204
    assert api_client_for(manager).delete(f"/api/v1/overrides/{theirs.pk}/").status_code == 204
    assert not Override.objects.exists()
    assert AuditEntry.objects.filter(action="override.delete").count() == 2


def test_overrides_list_filters_by_schedule_and_person(viewer, sam, schedule, other_schedule):
    OverrideFactory(schedule=schedule, user=sam)
    OverrideFactory(schedule=other_schedule)

    body = api_client_for(viewer).get(f"/api/v1/overrides/?schedule={schedule.pk}&user=sam").json()

    assert [row["user"]["username"] for row in body["results"]] == ["sam"]
    assert api_client_for(viewer).get("/api/v1/overrides/").json()["count"] == 1


# --- shifts ---------------------------------------------------------------------------------


def test_shifts_in_a_window_after_layers_and_overrides(viewer, sam, schedule):
    OverrideFactory(
        schedule=schedule,
        user=sam,
        starts_at=datetime(2026, 3, 2, 14, 0, tzinfo=UTC),
        ends_at=datetime(2026, 3, 2, 16, 0, tzinfo=UTC),
    )

    response = api_client_for(viewer).get(
        f"/api/v1/schedules/{schedule.pk}/shifts/?start=2026-03-02T12:00:00Z&end=2026-03-03T12:00:00Z"
    )

    assert response.status_code == 200
    shifts = [
        (s["start"], s["end"], s["user"]["username"], s["override"] is not None) for s in response.json()
    ]
    assert shifts == [
        ("2026-03-02T12:00:00Z", "2026-03-02T14:00:00Z", "rosa", False),  # clipped to the window
        ("2026-03-02T14:00:00Z", "2026-03-02T16:00:00Z", "sam", True),
        ("2026-03-02T16:00:00Z", "2026-03-03T08:00:00Z", "rosa", False),  # until 09:00 in Berlin
        ("2026-03-03T08:00:00Z", "2026-03-03T12:00:00Z", "sam", False),
    ]


def test_shifts_default_to_the_next_two_weeks(viewer, schedule):
    shifts = api_client_for(viewer).get(f"/api/v1/schedules/{schedule.pk}/shifts/").json()

    assert shifts[0]["start"] == "2026-03-02T12:00:00Z"
    assert shifts[-1]["end"] == "2026-03-16T12:00:00Z"
    assert len(shifts) == 15


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start=yesterday", "start", "not an ISO 8601 date-time"),
        ("start=2026-03-02T12:00:00", "start", "has no zone"),
        ("start=2026-03-02T12:00:00Z&end=2026-03-02T11:00:00Z", "end", "after start"),
        ("start=2026-03-02T12:00:00Z&end=2026-09-02T12:00:00Z", "end", "at most 93 days"),
    ],
)
def test_bad_shift_windows_are_400s_naming_the_parameter(viewer, schedule, query, field, message):
    response = api_client_for(viewer).get(f"/api/v1/schedules/{schedule.pk}/shifts/?{query}")

    assert response.status_code == 400
    assert message in response.json()[field][0]


# --- who is on call -------------------------------------------------------------------------


def test_who_is_on_call_in_a_schedule_now(viewer, responder, schedule):
    response = api_client_for(viewer).get(f"/api/v1/oncall/?schedule={schedule.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["at"] == "2026-03-02T12:00:00Z"
    assert body["oncall"] == [
        {
            "schedule": {"id": schedule.pk, "name": "Payments primary", "time_zone": "Europe/Berlin"},
            "step": None,
            "user": {
                "id": responder.pk,
                "username": "rosa",
                "name": person_name(responder),
                "email": "rosa@example.org",
            },
            "shift_start": "2026-03-02T08:00:00Z",
            "shift_end": "2026-03-03T08:00:00Z",
        }
    ]


def test_who_is_on_call_for_a_service_at_a_given_moment(viewer, sam, team, service, schedule):
    policy = EscalationPolicyFactory(team=team)
    EscalationStepFactory(policy=policy, position=0, schedules=[schedule])
    service.escalation_policy = policy
    service.save()
    # "+01:00" left unencoded in a URL arrives as " 01:00"; it is read as the offset it was.
    at = "2026-03-03T12:00:00+01:00"

    for query in (quote(at), at):
        body = api_client_for(viewer).get(f"/api/v1/oncall/?service=checkout&at={query}").json()
        (entry,) = body["oncall"]
        assert (entry["step"], entry["user"]["username"]) == (1, "sam")
        assert entry["shift_start"] == "2026-03-03T08:00:00Z"
        assert body["at"] == "2026-03-03T11:00:00Z"


def test_nobody_on_call_is_a_null_user(viewer, team):
    empty = ScheduleFactory(team=team)

    (entry,) = api_client_for(viewer).get(f"/api/v1/oncall/?schedule={empty.pk}").json()["oncall"]

    assert (entry["user"], entry["shift_start"], entry["shift_end"]) == (None, None, None)


@pytest.mark.parametrize(
    ("query", "status", "body_part"),
    [
        ("", 400, "Give either service=<slug> or schedule=<id>"),
        ("service=checkout&schedule=1", 400, "exactly one"),
        ("schedule=abc", 400, "is not a schedule id"),
        ("schedule={pk}&at=noon", 400, "not an ISO 8601 date-time"),
        ("schedule={pk}&at=2026-03-02T12:00:00", 400, "has no zone"),
        ("service=nope", 404, "No service 'nope'"),
        ("schedule={other}", 404, "No schedule"),
    ],
)
def test_bad_oncall_questions_get_a_json_answer_naming_the_problem(
    viewer, service, schedule, other_schedule, query, status, body_part
):
    response = api_client_for(viewer).get(
        "/api/v1/oncall/?" + query.format(pk=schedule.pk, other=other_schedule.pk)
    )

    assert response.status_code == status
    assert body_part in str(response.json())


def test_the_api_needs_a_login(schedule):
    response = APIClient().get(f"/api/v1/oncall/?schedule={schedule.pk}")

    assert response.status_code == 401
    assert "detail" in response.json()


def test_the_schema_documents_the_schedule_endpoints(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(target))

    text = target.read_text()
    for path in (
        "/api/v1/schedules/{id}/shifts/:",
        "/api/v1/layers/{id}/:",
        "/api/v1/overrides/:",
        "/api/v1/oncall/:",
    ):
        assert path in text
