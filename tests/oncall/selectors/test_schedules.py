"""Schedule selectors: who is on call, the timeline rows, my shifts, and what they cost in queries."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.http import Http404

from oncall.selectors.schedules import (
    layer_summary,
    oncall_for_schedules,
    schedule_get_for_user,
    schedule_list_for_user,
    schedule_oncall_user_id,
    schedule_timeline,
    service_oncall,
    shifts_for_user,
)
from tests.factories import (
    EscalationPolicyFactory,
    EscalationStepFactory,
    LayerFactory,
    OverrideFactory,
    ScheduleFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db

MONDAY_NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(MONDAY_NOON, tick=False):
        yield


def daily_schedule(team, participants, *, name="Primary", zone="UTC", **layer):
    schedule = ScheduleFactory(team=team, name=name, time_zone=zone)
    LayerFactory(
        schedule=schedule,
        shift_unit="days",
        start_date=date(2026, 3, 2),
        handoff_time=time(9, 0),
        participants=participants,
        **layer,
    )
    return schedule


# --- access ---------------------------------------------------------------------------------


def test_people_see_only_their_teams_schedules(team, viewer):
    mine = ScheduleFactory(team=team, name="Payments primary")
    theirs = ScheduleFactory(team=TeamFactory(slug="search"), name="Search primary")

    assert list(schedule_list_for_user(user=viewer)) == [mine]
    assert schedule_get_for_user(user=viewer, pk=mine.pk) == mine
    with pytest.raises(Http404):
        schedule_get_for_user(user=viewer, pk=theirs.pk)


# --- who is on call -------------------------------------------------------------------------


def test_on_call_now_says_until_when_and_who_is_next(team, responder, sam):
    schedule = daily_schedule(team, [responder, sam])

    (answer,) = oncall_for_schedules(schedules=[schedule], at=MONDAY_NOON)

    assert answer.user == responder
    assert answer.shift_start == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert answer.shift_end == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    assert answer.remaining == timedelta(hours=21)
    assert (answer.next_user, answer.next_start) == (sam, datetime(2026, 3, 3, 9, 0, tzinfo=UTC))


def test_an_override_shows_as_on_call_now(team, responder, sam):
    schedule = daily_schedule(team, [responder])
    override = OverrideFactory(
        schedule=schedule,
        user=sam,
        starts_at=MONDAY_NOON - timedelta(hours=1),
        ends_at=MONDAY_NOON + timedelta(hours=2),
    )

    (answer,) = oncall_for_schedules(schedules=[schedule], at=MONDAY_NOON)

    assert (answer.user, answer.override_id) == (sam, override.pk)
    assert answer.shift_end == MONDAY_NOON + timedelta(hours=2)
    assert answer.next_user == responder


def test_nobody_on_call_names_who_comes_next(team, responder):
    schedule = daily_schedule(
        team, [responder], restrictions=[{"days": [0, 1, 2, 3, 4], "start": "18:00", "end": "22:00"}]
    )

    (answer,) = oncall_for_schedules(schedules=[schedule], at=MONDAY_NOON)

    assert answer.user is None
    assert (answer.shift_start, answer.shift_end) == (None, None)
    assert (answer.next_user, answer.next_start) == (responder, datetime(2026, 3, 2, 18, 0, tzinfo=UTC))


def test_a_shift_longer_than_the_lookahead_has_no_made_up_end(team, responder):
    schedule = ScheduleFactory(team=team)
    LayerFactory(schedule=schedule, shift_unit="weeks", start_date=date(2026, 3, 2), participants=[responder])

    (answer,) = oncall_for_schedules(schedules=[schedule], at=MONDAY_NOON)

    # One person alone rotates with themselves: the stretch never ends within the window.
    assert answer.user == responder
    assert answer.shift_end is None
    assert answer.next_user is None


def test_a_schedule_without_layers_has_nobody(team):
    (answer,) = oncall_for_schedules(schedules=[ScheduleFactory(team=team)], at=MONDAY_NOON)

    assert (answer.user, answer.next_user) == (None, None)


def test_on_call_for_many_schedules_costs_the_same_queries_as_for_one(
    team, responder, sam, django_assert_num_queries
):
    one = [daily_schedule(team, [responder, sam], name="A")]
    OverrideFactory(
        schedule=one[0], user=sam, starts_at=MONDAY_NOON, ends_at=MONDAY_NOON + timedelta(hours=1)
    )
    many = one + [daily_schedule(team, [sam, responder], name=f"S{n}") for n in range(4)]

    # Layers, their epochs, the overrides in the window, the people named.
    with django_assert_num_queries(4):
        oncall_for_schedules(schedules=one, at=MONDAY_NOON)
    with django_assert_num_queries(4):
        answers = oncall_for_schedules(schedules=many, at=MONDAY_NOON)

    assert [a.user.username for a in answers] == ["sam", "sam", "sam", "sam", "sam"]


def test_schedule_oncall_user_id_sees_an_override_starting_that_instant(team, responder, sam):
    schedule = daily_schedule(team, [responder])
    OverrideFactory(
        schedule=schedule, user=sam, starts_at=MONDAY_NOON, ends_at=MONDAY_NOON + timedelta(hours=1)
    )

    assert schedule_oncall_user_id(schedule=schedule, at=MONDAY_NOON) == sam.pk


def test_a_service_is_covered_by_the_schedules_of_its_policy_steps(team, service, responder, sam):
    first = daily_schedule(team, [responder], name="Primary")
    second = daily_schedule(team, [sam], name="Secondary")
    policy = EscalationPolicyFactory(team=team)
    EscalationStepFactory(policy=policy, position=0, schedules=[first])
    EscalationStepFactory(policy=policy, position=1, schedules=[second], users=[responder])
    service.escalation_policy = policy
    service.save()

    answers = service_oncall(service=service, at=MONDAY_NOON)

    assert [(a.step_number, a.oncall.schedule.name, a.oncall.user) for a in answers] == [
        (1, "Primary", responder),
        (2, "Secondary", sam),
    ]


def test_a_service_without_a_policy_has_nobody_on_call(service):
    assert service_oncall(service=service, at=MONDAY_NOON) == []


# --- shifts ---------------------------------------------------------------------------------


def test_my_shifts_gathers_one_persons_shifts_across_schedules(team, responder, sam):
    daily_schedule(team, [responder, sam], name="Primary")
    daily_schedule(team, [sam, responder], name="Secondary")
    ScheduleFactory(team=TeamFactory(slug="search"))  # not theirs to see

    mine = shifts_for_user(user=sam, start=MONDAY_NOON, end=MONDAY_NOON + timedelta(days=2))

    assert [(s.schedule.name, s.start, s.end) for s in mine] == [
        # Under way: shown from its real start, not from the moment asked about.
        ("Secondary", datetime(2026, 3, 2, 9, 0, tzinfo=UTC), datetime(2026, 3, 3, 9, 0, tzinfo=UTC)),
        ("Primary", datetime(2026, 3, 3, 9, 0, tzinfo=UTC), datetime(2026, 3, 4, 9, 0, tzinfo=UTC)),
        ("Secondary", datetime(2026, 3, 4, 9, 0, tzinfo=UTC), MONDAY_NOON + timedelta(days=2)),
    ]
    assert all(s.user == sam for s in mine)


# --- the timeline ---------------------------------------------------------------------------


def test_the_timeline_has_a_row_per_layer_newest_first_and_the_final_row(team, responder, sam, manager):
    schedule = daily_schedule(team, [responder, sam], name="Primary", zone="Europe/Berlin")
    LayerFactory(
        schedule=schedule,
        name="Business hours",
        shift_unit="weeks",
        start_date=date(2026, 3, 2),
        participants=[manager],
        restrictions=[{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
    )
    OverrideFactory(
        schedule=schedule,
        user=manager,
        starts_at=datetime(2026, 3, 3, 20, 0, tzinfo=UTC),
        ends_at=datetime(2026, 3, 3, 22, 0, tzinfo=UTC),
    )

    timeline = schedule_timeline(schedule=schedule, at=MONDAY_NOON)

    assert timeline.start == datetime(2026, 3, 1, 23, 0, tzinfo=UTC)  # Monday 00:00 in Berlin
    assert len(timeline.days) == 14
    assert [row.label for row in timeline.layers] == ["Business hours", "Layer 1"]
    assert timeline.layers[0].participants == [manager]
    assert timeline.layers[1].participants == [responder, sam]
    business = timeline.layers[0].blocks
    assert len(business) == 10  # weekdays in two weeks
    assert all(block.shift.user == manager for block in business)
    final = [(b.shift.user.username, b.shift.is_override) for b in timeline.final.blocks[:6]]
    assert final == [
        ("max", False),  # Monday office hours: the upper layer wins
        ("rosa", False),  # Monday evening and night: the layer below shows through
        ("max", False),
        ("sam", False),  # Tuesday evening is Sam's day of the rotation…
        ("max", True),  # …but for two hours Max stands in
        ("sam", False),
    ]
    assert timeline.final.blocks[0].shift.start == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert timeline.final.blocks[0].left == pytest.approx(100 * 9 / (14 * 24), abs=0.01)
    assert timeline.now_left == pytest.approx(100 * 13 / (14 * 24), abs=0.01)
    assert [o.user for o in timeline.overrides] == [manager]
    assert timeline.upcoming[0].start <= MONDAY_NOON < timeline.upcoming[0].end


def test_blocks_are_placed_by_real_time_across_a_dst_change(team, responder):
    schedule = daily_schedule(team, [responder], zone="Europe/Berlin")

    timeline = schedule_timeline(schedule=schedule, at=datetime(2026, 3, 23, 12, 0, tzinfo=UTC))

    # Sunday 29 March 2026 has 23 hours in Berlin, so its column is narrower than the others.
    widths = {day.start.date(): round(day.width, 2) for day in timeline.days}
    normal = round(100 * 24 / (14 * 24 - 1), 2)
    short = round(100 * 23 / (14 * 24 - 1), 2)
    assert widths[date(2026, 3, 28)] == short  # local midnight of the 29th is 22:00 UTC on the 28th
    assert sorted(set(widths.values())) == [short, normal]
    assert sum(day.width for day in timeline.days) == pytest.approx(100, abs=0.01)
    assert [day.is_weekend for day in timeline.days[:7]] == [False] * 5 + [True] * 2


def test_a_layer_summary_reads_like_a_sentence(team, responder):
    schedule = ScheduleFactory(team=team)
    layer = LayerFactory(
        schedule=schedule,
        shift_count=1,
        shift_unit="weeks",
        start_date=date(2026, 3, 2),
        restrictions=[{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
    )

    dash = "\N{EN DASH}"
    expected = f"Every 1 week, handoff at 09:00 from Mon 2 Mar 2026; Mon{dash}Fri 09:00{dash}17:00 only"
    assert layer_summary(layer) == expected
