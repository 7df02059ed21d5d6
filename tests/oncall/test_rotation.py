"""Schedule math, by example. The hypothesis properties live in test_rotation_properties.py."""

from __future__ import annotations

import time as monotonic
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from oncall.rotation import (
    Epoch,
    Layer,
    Override,
    Restriction,
    Schedule,
    Shift,
    Unit,
    layer_shifts,
    next_handoff_after,
    oncall_at,
    shifts,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
WEEKDAYS = frozenset(range(5))


def rotation(
    participants: Sequence[int],
    *,
    tz: str,
    start_date: date,
    handoff: time,
    count: int = 1,
    unit: Unit = "weeks",
    restrictions: Sequence[Restriction] = (),
    later_epochs: Sequence[Epoch] = (),
) -> Layer:
    anchor = datetime.combine(start_date, handoff, tzinfo=ZoneInfo(tz))
    return Layer(
        start_date=start_date,
        handoff_time=handoff,
        shift_count=count,
        shift_unit=unit,
        epochs=(Epoch(anchor, tuple(participants)), *later_epochs),
        restrictions=tuple(restrictions),
    )


def local(
    tz: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz), fold=fold)


def as_local(tz: str, found: list[Shift]) -> list[tuple[datetime, datetime, int]]:
    zone = ZoneInfo(tz)
    return [(s.start.astimezone(zone), s.end.astimezone(zone), s.user_id) for s in found]


def wall(moment: datetime, tz: str) -> tuple[date, time]:
    here = moment.astimezone(ZoneInfo(tz))
    return here.date(), here.time()


# ---------------------------------------------------------------------------------------------
# DST


def test_weekly_rotation_hands_off_at_0900_berlin_on_both_sides_of_march_and_october_dst():
    layer = rotation([1, 2, 3], tz=BERLIN, start_date=date(2026, 1, 5), handoff=time(9))
    schedule = Schedule(BERLIN, (layer,))

    # Summer time starts Sunday 2026-03-29, ends Sunday 2026-10-25.
    spring = shifts(schedule, local(BERLIN, 2026, 3, 16, 9), local(BERLIN, 2026, 4, 6, 9))
    autumn = shifts(schedule, local(BERLIN, 2026, 10, 12, 9), local(BERLIN, 2026, 11, 2, 9))

    for found in (spring, autumn):
        assert len(found) == 3
        for shift in found:
            assert shift.start.astimezone(ZoneInfo(BERLIN)).time() == time(9)
            assert shift.start.astimezone(ZoneInfo(BERLIN)).weekday() == 0
    assert [s.start.hour for s in spring] == [8, 8, 7]  # UTC: CET, CET, then CEST
    assert [s.end - s.start for s in spring] == [
        timedelta(hours=168),
        timedelta(hours=167),
        timedelta(hours=168),
    ]
    assert [s.start.hour for s in autumn] == [7, 7, 8]
    assert [s.end - s.start for s in autumn] == [
        timedelta(hours=168),
        timedelta(hours=169),
        timedelta(hours=168),
    ]


def test_daily_rotation_at_0230_hands_off_at_0330_on_the_spring_forward_day():
    layer = rotation([1, 2], tz=NEW_YORK, start_date=date(2026, 3, 1), handoff=time(2, 30), unit="days")
    found = layer_shifts(layer, NEW_YORK, local(NEW_YORK, 2026, 3, 7, 2, 30), local(NEW_YORK, 2026, 3, 10))

    starts = [wall(s.start, NEW_YORK) for s in found]
    assert starts == [
        (date(2026, 3, 7), time(2, 30)),
        (date(2026, 3, 8), time(3, 30)),  # 02:30 does not exist that night
        (date(2026, 3, 9), time(2, 30)),
    ]
    assert found[1].start == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert found[0].end - found[0].start == timedelta(hours=24)  # 02:30 EST to 03:30 EDT
    assert found[1].end - found[1].start == timedelta(hours=23)


def test_daily_rotation_at_0130_takes_the_first_occurrence_on_the_fall_back_day():
    layer = rotation([1, 2], tz=NEW_YORK, start_date=date(2026, 10, 1), handoff=time(1, 30), unit="days")
    found = layer_shifts(layer, NEW_YORK, local(NEW_YORK, 2026, 10, 31, 1, 30), local(NEW_YORK, 2026, 11, 3))

    assert found[1].start == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, not 01:30 EST
    assert found[1].end == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
    assert found[1].end - found[1].start == timedelta(hours=25)
    assert (
        oncall_at(Schedule(NEW_YORK, (layer,)), local(NEW_YORK, 2026, 11, 1, 1, 45, fold=1))
        == found[1].user_id
    )


def test_12_hour_shifts_hand_off_at_0800_and_2000_local_across_dst():
    layer = rotation([1, 2], tz=BERLIN, start_date=date(2026, 3, 1), handoff=time(8), count=12, unit="hours")
    found = layer_shifts(layer, BERLIN, local(BERLIN, 2026, 3, 28, 8), local(BERLIN, 2026, 3, 30, 8))

    assert [wall(s.start, BERLIN)[1] for s in found] == [time(8), time(20), time(8), time(20)]
    assert [s.user_id for s in found] == [1, 2, 1, 2]
    # The night the clocks go forward is an hour short in real time.
    assert [s.end - s.start for s in found] == [
        timedelta(hours=12),
        timedelta(hours=11),
        timedelta(hours=12),
        timedelta(hours=12),
    ]


def test_hourly_shift_that_falls_in_the_spring_forward_gap_is_skipped():
    layer = rotation([1, 2, 3], tz=NEW_YORK, start_date=date(2026, 3, 8), handoff=time(0), unit="hours")
    found = layer_shifts(layer, NEW_YORK, local(NEW_YORK, 2026, 3, 8), local(NEW_YORK, 2026, 3, 8, 5))

    assert as_local(NEW_YORK, found) == [
        (local(NEW_YORK, 2026, 3, 8, 0), local(NEW_YORK, 2026, 3, 8, 1), 1),
        (local(NEW_YORK, 2026, 3, 8, 1), local(NEW_YORK, 2026, 3, 8, 3), 2),
        # The 02:00 shift (user 3) resolves to 03:00-03:00 and is empty; the order carries on.
        (local(NEW_YORK, 2026, 3, 8, 3), local(NEW_YORK, 2026, 3, 8, 4), 1),
        (local(NEW_YORK, 2026, 3, 8, 4), local(NEW_YORK, 2026, 3, 8, 5), 2),
    ]


def test_daily_rotation_survives_samoa_skipping_a_whole_day():
    apia = "Pacific/Apia"
    layer = rotation([1, 2, 3], tz=apia, start_date=date(2011, 12, 25), handoff=time(9), unit="days")
    found = layer_shifts(layer, apia, local(apia, 2011, 12, 29, 9), local(apia, 2012, 1, 2, 9))

    assert [wall(s.start, apia)[0] for s in found] == [
        date(2011, 12, 29),
        date(2011, 12, 31),  # 2011-12-30 never happened there
        date(2012, 1, 1),
    ]
    assert [s.user_id for s in found] == [2, 1, 2]  # the 30th's turn (user 3) is an empty shift
    assert all(a.end == b.start for a, b in pairwise(found))


def test_hourly_rotation_across_a_two_hour_gap_never_overlaps_or_goes_backwards():
    troll = "Antarctica/Troll"  # jumps from +00 to +02 at 01:00 UTC on the last Sunday of March
    layer = rotation([1, 2, 3, 4, 5], tz=troll, start_date=date(2026, 3, 29), handoff=time(0), unit="hours")
    window = (datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 3, 29, 4, tzinfo=UTC))

    found = layer_shifts(layer, troll, *window)

    # Wall 01:00 and 02:00 fall in the gap and resolve to 01:00Z and 02:00Z; wall 03:00 and 04:00
    # exist and are 01:00Z and 02:00Z too. The handoffs that would run backwards come out empty.
    assert [(s.start.hour, s.end.hour, s.user_id) for s in found] == [
        (0, 1, 1),
        (1, 2, 2),
        (2, 3, 5),
        (3, 4, 1),
    ]
    schedule = Schedule(troll, (layer,))
    assert [oncall_at(schedule, datetime(2026, 3, 29, h, 30, tzinfo=UTC)) for h in range(4)] == [1, 2, 5, 1]


# ---------------------------------------------------------------------------------------------
# Shift lengths, boundaries and epochs


def test_two_week_shifts_alternate_every_other_monday():
    layer = rotation([7, 8], tz=BERLIN, start_date=date(2026, 1, 5), handoff=time(10), count=2)
    found = layer_shifts(layer, BERLIN, local(BERLIN, 2026, 1, 5, 10), local(BERLIN, 2026, 3, 2, 10))

    assert [(wall(s.start, BERLIN)[0], s.user_id) for s in found] == [
        (date(2026, 1, 5), 7),
        (date(2026, 1, 19), 8),
        (date(2026, 2, 2), 7),
        (date(2026, 2, 16), 8),
    ]


def test_oncall_at_an_exact_handoff_is_the_incoming_user():
    layer = rotation([1, 2], tz="UTC", start_date=date(2026, 1, 1), handoff=time(9), unit="days")
    schedule = Schedule("UTC", (layer,))

    assert oncall_at(schedule, datetime(2026, 1, 2, 8, 59, 59, 999999, tzinfo=UTC)) == 1
    assert oncall_at(schedule, datetime(2026, 1, 2, 9, tzinfo=UTC)) == 2


def test_nobody_is_on_call_from_a_layer_before_its_start_date():
    layer = rotation([1, 2], tz="UTC", start_date=date(2026, 1, 10), handoff=time(9), unit="days")
    schedule = Schedule("UTC", (layer,))

    assert oncall_at(schedule, datetime(2026, 1, 10, 8, tzinfo=UTC)) is None
    assert shifts(schedule, datetime(2026, 1, 9, tzinfo=UTC), datetime(2026, 1, 11, tzinfo=UTC)) == [
        Shift(datetime(2026, 1, 10, 9, tzinfo=UTC), datetime(2026, 1, 11, tzinfo=UTC), 1, 0, None)
    ]


def test_adding_a_participant_leaves_earlier_shifts_unchanged():
    before = rotation([1, 2], tz=BERLIN, start_date=date(2026, 1, 5), handoff=time(9))
    # Decided on a Wednesday: takes effect at the next Monday handoff, starting with its first person.
    added = Epoch(local(BERLIN, 2026, 2, 11, 15), (1, 2, 3))
    after = rotation([1, 2], tz=BERLIN, start_date=date(2026, 1, 5), handoff=time(9), later_epochs=[added])
    window = (local(BERLIN, 2026, 1, 5, 9), local(BERLIN, 2026, 3, 30, 9))

    old, new = layer_shifts(before, BERLIN, *window), layer_shifts(after, BERLIN, *window)

    change = local(BERLIN, 2026, 2, 16, 9)
    assert [s for s in new if s.start < change] == [s for s in old if s.start < change]
    assert [s.user_id for s in old] == [1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2]
    assert [s.user_id for s in new] == [1, 2, 1, 2, 1, 2, 1, 2, 3, 1, 2, 3]


def test_an_epoch_effective_exactly_at_a_handoff_starts_at_that_handoff():
    added = Epoch(local(BERLIN, 2026, 1, 19, 9), (5, 6))
    layer = rotation([1, 2], tz=BERLIN, start_date=date(2026, 1, 5), handoff=time(9), later_epochs=[added])

    found = layer_shifts(layer, BERLIN, local(BERLIN, 2026, 1, 5, 9), local(BERLIN, 2026, 2, 2, 9))

    assert [s.user_id for s in found] == [1, 2, 5, 6]


def test_an_empty_layer_yields_nobody_and_lets_the_layer_below_show():
    base = rotation([1], tz="UTC", start_date=date(2026, 1, 1), handoff=time(0), unit="days")
    no_epochs = Layer(date(2026, 1, 1), time(0), 1, "days", epochs=())
    emptied = rotation(
        [4],
        tz="UTC",
        start_date=date(2026, 1, 1),
        handoff=time(0),
        unit="days",
        later_epochs=[Epoch(datetime(2026, 1, 3, tzinfo=UTC), ())],
    )
    t = datetime(2026, 1, 5, 12, tzinfo=UTC)

    assert layer_shifts(no_epochs, "UTC", t, t + timedelta(days=3)) == []
    assert layer_shifts(emptied, "UTC", t, t + timedelta(days=3)) == []
    assert oncall_at(Schedule("UTC", (no_epochs,)), t) is None
    assert oncall_at(Schedule("UTC", (base, no_epochs, emptied)), t) == 1
    assert oncall_at(Schedule("UTC", (base, emptied)), datetime(2026, 1, 2, tzinfo=UTC)) == 4


def test_consecutive_turns_of_the_same_user_merge_into_one_final_shift():
    layer = rotation([1, 1, 2], tz="UTC", start_date=date(2026, 1, 1), handoff=time(0), unit="days")
    window = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 4, tzinfo=UTC))

    assert len(layer_shifts(layer, "UTC", *window)) == 3
    assert [(s.start.day, s.end.day, s.user_id) for s in shifts(Schedule("UTC", (layer,)), *window)] == [
        (1, 3, 1),
        (3, 4, 2),
    ]


# ---------------------------------------------------------------------------------------------
# Restrictions and layering


def test_weekday_business_hours_layer_over_a_24_7_base_gives_the_base_user_at_night_and_weekends():
    base = rotation([1, 2], tz=BERLIN, start_date=date(2026, 1, 5), handoff=time(9))
    office = rotation(
        [10, 11],
        tz=BERLIN,
        start_date=date(2026, 1, 5),
        handoff=time(9),
        unit="days",
        restrictions=[Restriction(WEEKDAYS, time(9), time(17))],
    )
    schedule = Schedule(BERLIN, (base, office))

    # Tuesday 2026-01-06 is office user 11's day; the base week belongs to user 1.
    assert oncall_at(schedule, local(BERLIN, 2026, 1, 6, 8, 59)) == 1
    assert oncall_at(schedule, local(BERLIN, 2026, 1, 6, 9)) == 11
    assert oncall_at(schedule, local(BERLIN, 2026, 1, 6, 16, 59)) == 11
    assert oncall_at(schedule, local(BERLIN, 2026, 1, 6, 17)) == 1
    assert oncall_at(schedule, local(BERLIN, 2026, 1, 10, 12)) == 1  # Saturday

    tuesday = shifts(schedule, local(BERLIN, 2026, 1, 6), local(BERLIN, 2026, 1, 7))
    assert [
        (wall(s.start, BERLIN)[1], wall(s.end, BERLIN)[1], s.user_id, s.layer_index) for s in tuesday
    ] == [
        (time(0), time(9), 1, 0),
        (time(9), time(17), 11, 1),
        (time(17), time(0), 1, 0),
    ]


def test_a_restriction_window_ending_where_it_starts_is_a_full_day():
    saturday = Restriction(frozenset({5}), time(8), time(8))
    layer = rotation(
        [3], tz=BERLIN, start_date=date(2026, 1, 5), handoff=time(0), unit="weeks", restrictions=[saturday]
    )

    found = layer_shifts(layer, BERLIN, local(BERLIN, 2026, 1, 5), local(BERLIN, 2026, 1, 12))

    assert as_local(BERLIN, found) == [(local(BERLIN, 2026, 1, 10, 8), local(BERLIN, 2026, 1, 11, 8), 3)]


def test_a_restriction_window_ending_before_it_starts_runs_past_midnight():
    nights = Restriction(frozenset({4}), time(22), time(6))  # Friday night
    layer = rotation(
        [3], tz=BERLIN, start_date=date(2026, 1, 5), handoff=time(0), unit="days", restrictions=[nights]
    )

    found = layer_shifts(layer, BERLIN, local(BERLIN, 2026, 1, 5), local(BERLIN, 2026, 1, 12))

    assert as_local(BERLIN, found) == [
        (local(BERLIN, 2026, 1, 9, 22), local(BERLIN, 2026, 1, 10), 3),
        (local(BERLIN, 2026, 1, 10), local(BERLIN, 2026, 1, 10, 6), 3),
    ]


# ---------------------------------------------------------------------------------------------
# Overrides


def _week_of_alice_then_bob() -> Schedule:
    # Daily handoff at 09:00 UTC: Alice (1) on the 1st, Bob (2) on the 2nd, …
    return Schedule(
        "UTC", (rotation([1, 2], tz="UTC", start_date=date(2026, 6, 1), handoff=time(9), unit="days"),)
    )


def test_an_override_without_replacement_wins_over_every_layer():
    schedule = _week_of_alice_then_bob()
    cover = Override(
        user_id=9, start=datetime(2026, 6, 1, 20, tzinfo=UTC), end=datetime(2026, 6, 2, 12, tzinfo=UTC), id=77
    )
    schedule = Schedule("UTC", schedule.layers, (cover,))

    found = shifts(schedule, datetime(2026, 6, 1, 9, tzinfo=UTC), datetime(2026, 6, 3, 9, tzinfo=UTC))

    assert [(s.start.day, s.start.hour, s.user_id, s.layer_index, s.override_id) for s in found] == [
        (1, 9, 1, 0, None),
        (1, 20, 9, None, 77),
        (2, 12, 2, 0, None),
    ]
    assert oncall_at(schedule, datetime(2026, 6, 2, 9, tzinfo=UTC)) == 9


def test_an_override_replacing_a_named_user_applies_only_while_that_user_is_on():
    layers = _week_of_alice_then_bob().layers
    # Carol covers Alice for three days; Bob's day in between stays Bob's.
    cover = Override(
        user_id=3, start=datetime(2026, 6, 1, tzinfo=UTC), end=datetime(2026, 6, 4, tzinfo=UTC), replaces=1
    )
    schedule = Schedule("UTC", layers, (cover,))

    assert oncall_at(schedule, datetime(2026, 6, 1, 8, tzinfo=UTC)) is None  # before the rotation
    assert oncall_at(schedule, datetime(2026, 6, 1, 10, tzinfo=UTC)) == 3
    assert oncall_at(schedule, datetime(2026, 6, 2, 10, tzinfo=UTC)) == 2
    assert oncall_at(schedule, datetime(2026, 6, 3, 10, tzinfo=UTC)) == 3
    assert oncall_at(schedule, datetime(2026, 6, 4, 0, tzinfo=UTC)) == 1  # the override is over
    assert [
        (s.start, s.user_id)
        for s in shifts(schedule, datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 4, 12, tzinfo=UTC))
    ] == [
        (datetime(2026, 6, 1, 9, tzinfo=UTC), 3),
        (datetime(2026, 6, 2, 9, tzinfo=UTC), 2),
        (datetime(2026, 6, 3, 9, tzinfo=UTC), 3),
        (datetime(2026, 6, 4, 0, tzinfo=UTC), 1),
        (datetime(2026, 6, 4, 9, tzinfo=UTC), 2),
    ]


def test_a_later_override_wins_over_an_earlier_one_where_they_overlap():
    first = Override(
        user_id=5, start=datetime(2026, 6, 1, 10, tzinfo=UTC), end=datetime(2026, 6, 1, 14, tzinfo=UTC)
    )
    second = Override(
        user_id=6, start=datetime(2026, 6, 1, 12, tzinfo=UTC), end=datetime(2026, 6, 1, 16, tzinfo=UTC)
    )
    schedule = Schedule("UTC", _week_of_alice_then_bob().layers, (first, second))

    assert oncall_at(schedule, datetime(2026, 6, 1, 11, tzinfo=UTC)) == 5
    assert oncall_at(schedule, datetime(2026, 6, 1, 13, tzinfo=UTC)) == 6
    assert oncall_at(schedule, datetime(2026, 6, 1, 16, tzinfo=UTC)) == 1


# ---------------------------------------------------------------------------------------------
# Handoffs, efficiency and validation


def test_next_handoff_is_the_next_change_of_user_skipping_same_user_turns():
    layer = rotation([1, 1, 2], tz="UTC", start_date=date(2026, 1, 1), handoff=time(6), unit="days")
    schedule = Schedule("UTC", (layer,))

    assert next_handoff_after(schedule, datetime(2026, 1, 1, 7, tzinfo=UTC)) == datetime(
        2026, 1, 3, 6, tzinfo=UTC
    )
    assert next_handoff_after(schedule, datetime(2026, 1, 3, 6, tzinfo=UTC)) == datetime(
        2026, 1, 4, 6, tzinfo=UTC
    )
    assert next_handoff_after(schedule, datetime(2025, 12, 1, tzinfo=UTC)) == datetime(
        2026, 1, 1, 6, tzinfo=UTC
    )
    assert next_handoff_after(Schedule("UTC"), datetime(2026, 1, 1, tzinfo=UTC)) is None

    alone = Schedule(
        "UTC", (rotation([4], tz="UTC", start_date=date(2026, 1, 1), handoff=time(6), unit="days"),)
    )
    assert next_handoff_after(alone, datetime(2026, 1, 2, tzinfo=UTC), within=timedelta(days=30)) is None


def test_a_moment_decades_after_the_anchor_is_found_without_walking_every_shift():
    participants = tuple(range(1, 8))
    layer = rotation(participants, tz=BERLIN, start_date=date(1900, 1, 1), handoff=time(0), unit="hours")
    schedule = Schedule(BERLIN, (layer,))
    t = local(BERLIN, 2090, 7, 1, 12, 30)

    started = monotonic.perf_counter()
    on_call = oncall_at(schedule, t)
    fortnight = shifts(schedule, t, t + timedelta(days=14))
    elapsed = monotonic.perf_counter() - started

    # Boundaries are wall-clock hours since the anchor, whatever the offsets did in between.
    hours = (datetime(2090, 7, 1, 12) - datetime(1900, 1, 1)) // timedelta(hours=1)
    assert on_call == participants[hours % 7]
    assert len(fortnight) == 14 * 24 + 1
    assert elapsed < 2  # walking 1.7 million hourly shifts would take far longer


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Schedule("Mars/Olympus_Mons"), "unknown time zone"),
        (lambda: Schedule(""), "IANA name"),
        (lambda: Layer(date(2026, 1, 1), time(9), 0, "days", ()), "at least 1"),
        (lambda: Layer(date(2026, 1, 1), time(9), 1, "fortnights", ()), "shift_unit"),  # type: ignore[arg-type]
        (lambda: Layer(datetime(2026, 1, 1), time(9), 1, "days", ()), "start_date"),
        (lambda: Epoch(datetime(2026, 1, 1), (1,)), "timezone-aware"),
        (
            lambda: Layer(
                date(2026, 1, 1),
                time(9),
                1,
                "days",
                (
                    Epoch(datetime(2026, 2, 1, tzinfo=UTC), (1,)),
                    Epoch(datetime(2026, 1, 1, tzinfo=UTC), (2,)),
                ),
            ),
            "sorted",
        ),
        (lambda: Restriction(frozenset({7}), time(9), time(17)), "weekdays"),
        (
            lambda: Override(1, datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
            "after start",
        ),
        (lambda: Override(1, datetime(2026, 1, 1), datetime(2026, 1, 2)), "timezone-aware"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_problem(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_bad_windows_and_instants_raise_value_errors():
    schedule = _week_of_alice_then_bob()
    t = datetime(2026, 6, 1, tzinfo=UTC)

    with pytest.raises(ValueError, match="after start"):
        shifts(schedule, t, t)
    with pytest.raises(ValueError, match="timezone-aware"):
        shifts(schedule, datetime(2026, 6, 1), datetime(2026, 6, 2))
    with pytest.raises(ValueError, match="timezone-aware"):
        oncall_at(schedule, datetime(2026, 6, 1))
    with pytest.raises(ValueError, match="unknown time zone"):
        layer_shifts(schedule.layers[0], "Europe/Atlantis", t, t + timedelta(days=1))
