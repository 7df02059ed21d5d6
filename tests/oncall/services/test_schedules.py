"""Schedule services: what they write, what they audit, and what they refuse."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine

from incidents.choices import Role
from incidents.models import AuditEntry
from oncall.models import Layer, LayerEpoch, Override, Schedule
from oncall.selectors.schedules import schedule_oncall_user_id, schedule_shifts
from oncall.services.schedules import (
    ScheduleInvalid,
    layer_create,
    layer_delete,
    layer_update,
    override_create,
    override_delete,
    schedule_create,
    schedule_delete,
    schedule_update,
)
from tests.factories import MembershipFactory, ScheduleFactory, UserFactory

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def now():
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def people(team, responder, manager):
    sam = UserFactory(username="sam")
    MembershipFactory(team=team, user=sam, role=Role.RESPONDER)
    return {"rosa": responder, "max": manager, "sam": sam}


@pytest.fixture
def schedule(team):
    return ScheduleFactory(team=team, name="Payments primary", time_zone="Europe/Berlin")


def daily(schedule, participants, *, actor, **extra):
    arguments = {
        "shift_count": 1,
        "shift_unit": "days",
        "start_date": date(2026, 3, 2),
        "handoff_time": time(9, 0),
        **extra,
    }
    return layer_create(schedule=schedule, participants=participants, actor=actor, **arguments)


def audit_actions():
    return list(AuditEntry.objects.order_by("pk").values_list("action", flat=True))


# --- schedules ------------------------------------------------------------------------------


def test_creating_a_schedule_stores_its_zone_and_audits_who_did_it(team, manager):
    schedule = schedule_create(
        team=team, name="  Payments primary ", time_zone="Europe/Berlin", actor=manager
    )

    assert (schedule.name, schedule.time_zone, schedule.team) == ("Payments primary", "Europe/Berlin", team)
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.object_id) == ("schedule.create", manager, str(schedule.pk))


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "Europe", "../etc/passwd"])
def test_an_unknown_time_zone_is_refused_naming_the_field(team, manager, zone):
    with pytest.raises(ScheduleInvalid, match="time zone") as refused:
        schedule_create(team=team, name="Primary", time_zone=zone, actor=manager)

    assert refused.value.field == "time_zone"
    assert not Schedule.objects.exists()


def test_a_blank_name_is_refused(team, manager):
    with pytest.raises(ScheduleInvalid, match="name is required"):
        schedule_create(team=team, name="   ", actor=manager)


def test_updating_audits_only_what_changed(schedule, manager):
    schedule_update(schedule=schedule, actor=manager, name="Payments primary", time_zone="America/New_York")
    schedule_update(schedule=schedule, actor=manager, name="Payments primary", time_zone="America/New_York")

    schedule.refresh_from_db()
    assert schedule.time_zone == "America/New_York"
    entries = AuditEntry.objects.filter(action="schedule.update")
    assert [entry.data for entry in entries] == [{"time_zone": ["Europe/Berlin", "America/New_York"]}]


def test_deleting_a_schedule_removes_its_layers_and_overrides_and_is_audited(now, schedule, people):
    daily(schedule, [people["rosa"]], actor=people["max"])
    override_create(
        schedule=schedule,
        user=people["sam"],
        starts_at=MONDAY,
        ends_at=MONDAY + timedelta(hours=2),
        actor=people["max"],
    )

    schedule_delete(schedule=schedule, actor=people["max"])

    assert not Schedule.objects.exists()
    assert not Layer.objects.exists()
    assert not Override.objects.exists()
    assert audit_actions()[-1] == "schedule.delete"


# --- layers ---------------------------------------------------------------------------------


def test_a_new_layer_rotates_its_participants_in_order(now, schedule, people):
    daily(schedule, [people["rosa"], people["sam"]], actor=people["max"])

    # 12:00 UTC is 13:00 in Berlin: the first day's shift (from 09:00) is Rosa's, the next Sam's.
    assert schedule_oncall_user_id(schedule=schedule, at=MONDAY) == people["rosa"].pk
    assert schedule_oncall_user_id(schedule=schedule, at=MONDAY + timedelta(days=1)) == people["sam"].pk
    assert schedule_oncall_user_id(schedule=schedule, at=MONDAY + timedelta(days=2)) == people["rosa"].pk
    entry = AuditEntry.objects.get(action="layer.create")
    assert entry.data["participants"] == ["rosa", "sam"]


def test_layers_stack_in_the_order_they_are_added(now, schedule, people):
    first = daily(schedule, [people["rosa"]], actor=people["max"])
    second = daily(schedule, [people["sam"]], actor=people["max"], name="Business hours")

    assert (first.position, second.position) == (0, 1)
    assert str(second) == "Business hours"
    # The newer layer wins.
    assert schedule_oncall_user_id(schedule=schedule, at=MONDAY) == people["sam"].pk


def test_restrictions_are_normalised_and_let_the_layer_below_show_through(now, schedule, people):
    daily(schedule, [people["rosa"]], actor=people["max"])
    office = daily(
        schedule,
        [people["sam"]],
        actor=people["max"],
        restrictions=[{"days": [4, 0, 1, 2, 3, 3], "start": "09:00:00", "end": "17:00"}],
    )

    assert office.restrictions == [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}]
    berlin_evening = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)  # 19:00 in Berlin
    saturday_noon = datetime(2026, 3, 7, 11, 0, tzinfo=UTC)
    assert schedule_oncall_user_id(schedule=schedule, at=MONDAY) == people["sam"].pk
    assert schedule_oncall_user_id(schedule=schedule, at=berlin_evening) == people["rosa"].pk
    assert schedule_oncall_user_id(schedule=schedule, at=saturday_noon) == people["rosa"].pk


@pytest.mark.parametrize(
    ("restrictions", "message"),
    [
        ("weekdays", "list"),
        ([{"days": [0], "start": "09:00"}], "exactly"),
        ([{"days": [], "start": "09:00", "end": "17:00"}], "non-empty"),
        ([{"days": [7], "start": "09:00", "end": "17:00"}], "0 \\(Monday\\) to 6"),
        ([{"days": [True], "start": "09:00", "end": "17:00"}], "0 \\(Monday\\) to 6"),
        ([{"days": [0], "start": "9am", "end": "17:00"}], "not a time"),
        ([{"days": [0], "start": "09:00+01:00", "end": "17:00"}], "offset"),
        ([{"days": [0], "start": 9, "end": 17}], "strings"),
    ],
)
def test_malformed_restrictions_are_refused_with_a_reason(schedule, people, restrictions, message):
    with pytest.raises(ScheduleInvalid, match=message) as refused:
        daily(schedule, [people["rosa"]], actor=people["max"], restrictions=restrictions)

    assert refused.value.field == "restrictions"
    assert not Layer.objects.exists()


@pytest.mark.parametrize(
    ("count", "unit", "message"),
    [(0, "days", "at least 1"), (53, "weeks", "at most a year"), (1, "fortnights", "unit")],
)
def test_impossible_shift_lengths_are_refused(schedule, people, count, unit, message):
    with pytest.raises(ScheduleInvalid, match=message):
        daily(schedule, [people["rosa"]], actor=people["max"], shift_count=count, shift_unit=unit)


def test_participants_must_be_responders_of_the_team_listed_once(schedule, people, viewer, outsider):
    for participants, message in [
        ([], "at least one participant"),
        ([people["rosa"], people["rosa"]], "twice"),
        ([viewer], "not a responder"),
        ([outsider], "not a responder"),
    ]:
        with pytest.raises(ScheduleInvalid, match=message) as refused:
            daily(schedule, participants, actor=people["max"])
        assert refused.value.field == "participants"
    assert not Layer.objects.exists()


def test_changing_participants_keeps_the_shifts_already_worked(schedule, people):
    with time_machine.travel(MONDAY, tick=False) as clock:
        layer = daily(schedule, [people["rosa"], people["sam"]], actor=people["max"])
        clock.move_to(MONDAY + timedelta(days=2))  # Wednesday 13:00 Berlin, in Rosa's shift

        layer_update(layer=layer, participants=[people["max"]], actor=people["max"])

        found = schedule_shifts(
            schedule=schedule,
            start=datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
            end=datetime(2026, 3, 6, 8, 0, tzinfo=UTC),
        )
    assert [(s.start.day, s.user.username) for s in found] == [
        (2, "rosa"),  # Monday 09:00 Berlin
        (3, "sam"),
        (4, "rosa"),  # the shift in progress keeps its person
        (5, "max"),  # the new rotation takes over at the next handoff
    ]
    assert LayerEpoch.objects.filter(layer=layer).count() == 2
    entry = AuditEntry.objects.get(action="layer.update")
    assert entry.data["participants"] == [[people["rosa"].pk, people["sam"].pk], ["max"]]


def test_the_same_participants_again_change_nothing(now, schedule, people):
    layer = daily(schedule, [people["rosa"], people["sam"]], actor=people["max"])

    layer_update(layer=layer, participants=[people["rosa"], people["sam"]], actor=people["max"])

    assert LayerEpoch.objects.filter(layer=layer).count() == 1
    assert not AuditEntry.objects.filter(action="layer.update").exists()


def test_two_changes_in_the_same_instant_leave_one_epoch_with_the_last(now, schedule, people):
    layer = daily(schedule, [people["rosa"]], actor=people["max"])

    layer_update(layer=layer, participants=[people["sam"]], actor=people["max"])
    layer_update(layer=layer, participants=[people["max"]], actor=people["max"])

    assert list(LayerEpoch.objects.filter(layer=layer).values_list("participants", flat=True)) == [
        [people["max"].pk]
    ]


def test_updating_the_timing_is_audited_with_readable_values(now, schedule, people):
    layer = daily(schedule, [people["rosa"]], actor=people["max"])

    layer_update(layer=layer, handoff_time=time(8, 30), shift_count=2, actor=people["max"])

    layer.refresh_from_db()
    assert (layer.handoff_time, layer.shift_count) == (time(8, 30), 2)
    data = AuditEntry.objects.get(action="layer.update").data
    assert data == {"handoff_time": ["09:00:00", "08:30:00"], "shift_count": [1, 2]}


def test_an_update_that_would_make_an_impossible_shift_is_refused(now, schedule, people):
    layer = daily(schedule, [people["rosa"]], actor=people["max"])

    with pytest.raises(ScheduleInvalid, match="at most a year"):
        layer_update(layer=layer, shift_unit="weeks", shift_count=60, actor=people["max"])

    layer.refresh_from_db()
    assert (layer.shift_count, layer.shift_unit) == (1, "days")


def test_deleting_a_layer_takes_its_people_off_call(now, schedule, people):
    layer = daily(schedule, [people["rosa"]], actor=people["max"])

    layer_delete(layer=layer, actor=people["max"])

    assert schedule_oncall_user_id(schedule=schedule, at=MONDAY) is None
    assert audit_actions()[-1] == "layer.delete"


# --- overrides ------------------------------------------------------------------------------


def test_an_override_puts_someone_on_call_ahead_of_the_layers(now, schedule, people):
    daily(schedule, [people["rosa"]], actor=people["max"])

    override = override_create(
        schedule=schedule,
        user=people["sam"],
        starts_at=MONDAY,
        ends_at=MONDAY + timedelta(hours=3),
        actor=people["rosa"],
    )

    assert override.created_by == people["rosa"]
    assert schedule_oncall_user_id(schedule=schedule, at=MONDAY + timedelta(hours=1)) == people["sam"].pk
    assert schedule_oncall_user_id(schedule=schedule, at=MONDAY + timedelta(hours=3)) == people["rosa"].pk
    entry = AuditEntry.objects.get(action="override.create")
    assert (entry.actor, entry.data["user"], entry.data["replaces"]) == (people["rosa"], "sam", None)


def test_an_override_that_replaces_someone_applies_only_while_they_are_on_call(now, schedule, people):
    daily(schedule, [people["rosa"], people["max"]], actor=people["max"])

    override_create(
        schedule=schedule,
        user=people["sam"],
        replaces=people["rosa"],
        starts_at=MONDAY,
        ends_at=MONDAY + timedelta(days=2),
        actor=people["rosa"],
    )

    assert schedule_oncall_user_id(schedule=schedule, at=MONDAY) == people["sam"].pk
    # Tuesday is Max's day: Sam only stood in for Rosa.
    assert schedule_oncall_user_id(schedule=schedule, at=MONDAY + timedelta(days=1)) == people["max"].pk


@pytest.mark.parametrize(
    ("starts", "ends", "field", "message"),
    [
        (timedelta(hours=2), timedelta(hours=1), "ends_at", "end after it starts"),
        (timedelta(hours=2), timedelta(hours=2), "ends_at", "end after it starts"),
        (-timedelta(hours=5), -timedelta(hours=1), "ends_at", "already over"),
    ],
)
def test_overrides_that_end_too_early_are_refused(now, schedule, people, starts, ends, field, message):
    with pytest.raises(ScheduleInvalid, match=message) as refused:
        override_create(
            schedule=schedule,
            user=people["sam"],
            starts_at=MONDAY + starts,
            ends_at=MONDAY + ends,
            actor=people["sam"],
        )

    assert refused.value.field == field
    assert not Override.objects.exists()


def test_an_override_needs_a_responder_of_the_team(now, schedule, people, viewer, outsider):
    for user in (viewer, outsider):
        with pytest.raises(ScheduleInvalid, match="not a responder") as refused:
            override_create(
                schedule=schedule,
                user=user,
                starts_at=MONDAY,
                ends_at=MONDAY + timedelta(hours=1),
                actor=people["max"],
            )
        assert refused.value.field == "user"


def test_naive_times_are_refused(now, schedule, people):
    with pytest.raises(ScheduleInvalid, match="zone or an offset"):
        override_create(
            schedule=schedule,
            user=people["sam"],
            starts_at=datetime(2026, 3, 2, 9, 0),
            ends_at=datetime(2026, 3, 2, 10, 0),
            actor=people["sam"],
        )


def test_nobody_replaces_themselves(now, schedule, people):
    with pytest.raises(ScheduleInvalid, match="cannot replace themselves"):
        override_create(
            schedule=schedule,
            user=people["sam"],
            replaces=people["sam"],
            starts_at=MONDAY,
            ends_at=MONDAY + timedelta(hours=1),
            actor=people["sam"],
        )


def test_deleting_an_override_hands_the_time_back_to_the_layers(now, schedule, people):
    daily(schedule, [people["rosa"]], actor=people["max"])
    override = override_create(
        schedule=schedule,
        user=people["sam"],
        starts_at=MONDAY,
        ends_at=MONDAY + timedelta(hours=3),
        actor=people["sam"],
    )

    override_delete(override=override, actor=people["sam"])

    assert schedule_oncall_user_id(schedule=schedule, at=MONDAY + timedelta(hours=1)) == people["rosa"].pk
    entry = AuditEntry.objects.get(action="override.delete")
    assert (entry.actor, entry.data["user"]) == (people["sam"], "sam")
