"""Properties of the schedule math over many zones, with windows that straddle DST changes.

The oracles here are deliberately written another way than oncall/rotation.py: local times are
checked by converting UTC instants *to* the zone (zoneinfo's `fromutc`), never by the module's own
wall-to-UTC step, and the stepping reference walks every shift from the anchor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncall.rotation import (
    UNITS,
    Epoch,
    Layer,
    Override,
    Restriction,
    Schedule,
    Shift,
    Unit,
    layer_shifts,
    oncall_at,
    shifts,
)

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Zones whose rules make schedule math hard: DST both ways, half- and quarter-hour offsets, a
# 30-minute DST step (Lord Howe), a 2-hour one (Troll), negative DST (Dublin, Casablanca),
# transitions at midnight (Havana, Santiago), a skipped day (Apia).
AWKWARD_ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "America/St_Johns",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Australia/Adelaide",
    "Pacific/Chatham",
    "Antarctica/Troll",
    "Europe/Dublin",
    "Africa/Casablanca",
    "America/Havana",
    "America/Santiago",
    "Pacific/Apia",
    "Asia/Tehran",
    "UTC",
)


def _loadable(name: str) -> bool:
    try:
        ZoneInfo(name)
    except Exception:
        return False
    return name != "localtime"


ALL_ZONES = tuple(sorted(name for name in available_timezones() if _loadable(name)))
SCAN_FROM = datetime(2005, 1, 1, tzinfo=UTC)
SCAN_TO = datetime(2030, 1, 1, tzinfo=UTC)


@cache
def transitions(name: str) -> tuple[datetime, ...]:
    """Instants at which the zone's UTC offset changes, to the second (weekly scan, then bisection)."""
    zone = ZoneInfo(name)
    found: list[datetime] = []
    t = SCAN_FROM
    offset = t.astimezone(zone).utcoffset()
    while t < SCAN_TO:
        later = t + timedelta(days=7)
        if later.astimezone(zone).utcoffset() != offset:
            lo, hi = t, later
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(zone).utcoffset() == offset:
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
            offset = later.astimezone(zone).utcoffset()
        t = later
    return tuple(found)


zones = st.one_of(st.sampled_from(AWKWARD_ZONES), st.sampled_from(ALL_ZONES))


@st.composite
def windows(draw: st.DrawFn, zone_name: str) -> tuple[datetime, datetime]:
    """A window that often contains or touches a transition of the zone."""
    near = transitions(zone_name)
    towards_transition = draw(st.booleans())
    if near and towards_transition:
        centre = draw(st.sampled_from(near)) + timedelta(minutes=draw(st.integers(-3 * 1440, 3 * 1440)))
    else:
        centre = SCAN_FROM + timedelta(
            minutes=draw(st.integers(0, (SCAN_TO - SCAN_FROM) // timedelta(minutes=1)))
        )
    # Mostly whole minutes, so windows start and end exactly on handoffs; sometimes not.
    jitter = timedelta(seconds=draw(st.sampled_from([0, 0, 0, 17])))
    start = centre - timedelta(minutes=draw(st.integers(0, 3 * 1440))) + jitter
    return start, start + timedelta(minutes=draw(st.integers(1, 10 * 1440)))


handoffs = st.one_of(
    # Early-morning handoffs are the ones DST changes hit.
    st.builds(time, st.integers(0, 3), st.sampled_from([0, 15, 30, 45])),
    st.builds(time, st.integers(0, 23), st.sampled_from([0, 30])),
)


@st.composite
def shift_lengths(draw: st.DrawFn) -> tuple[Unit, int]:
    unit = draw(st.sampled_from(UNITS))
    if unit == "hours":
        return unit, draw(st.one_of(st.sampled_from([1, 8, 12, 24]), st.integers(1, 36)))
    if unit == "days":
        return unit, draw(st.integers(1, 10))
    return unit, draw(st.integers(1, 3))


restrictions = st.builds(
    Restriction,
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    start=handoffs,
    end=st.builds(time, st.integers(0, 23), st.sampled_from([0, 30])),
)
participants = st.lists(st.integers(1, 6), min_size=1, max_size=4).map(tuple)


@st.composite
def layers(
    draw: st.DrawFn,
    zone_name: str,
    window_start: datetime,
    *,
    max_days_before: int = 400,
    restricted: bool | None = None,
    allow_empty: bool = True,
    epochs: bool = True,
) -> Layer:
    unit, count = draw(shift_lengths())
    first_day = window_start.astimezone(ZoneInfo(zone_name)).date()
    start_date = first_day - timedelta(days=draw(st.integers(-3, max_days_before)))
    people = participants | st.just(()) if allow_empty else participants
    later: list[Epoch] = []
    if epochs:
        offsets = draw(st.lists(st.integers(-20 * 1440, 20 * 1440), max_size=2, unique=True))
        later = [Epoch(window_start + timedelta(minutes=m), draw(people)) for m in sorted(offsets)]
    if restricted is None:
        restricted = draw(st.booleans())
    return Layer(
        start_date=start_date,
        handoff_time=draw(handoffs),
        shift_count=count,
        shift_unit=unit,
        # The first epoch's effective_from is not consulted; it only has to sort first.
        epochs=(Epoch(window_start - timedelta(days=21), draw(participants)), *later),
        restrictions=tuple(draw(st.lists(restrictions, min_size=1, max_size=2))) if restricted else (),
    )


@st.composite
def overrides(draw: st.DrawFn, window: tuple[datetime, datetime]) -> list[Override]:
    start, end = window
    span = (end - start) // timedelta(minutes=1)
    found = []
    for number in range(draw(st.integers(0, 3))):
        begins = start + timedelta(minutes=draw(st.integers(-600, span + 600)))
        found.append(
            Override(
                user_id=draw(st.integers(7, 9)),
                start=begins,
                end=begins + timedelta(minutes=draw(st.integers(1, 3 * 1440))),
                replaces=draw(st.none() | st.integers(1, 6)),
                id=number + 1,
            )
        )
    return found


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Schedule, tuple[datetime, datetime]]:
    zone_name = draw(zones)
    window = draw(windows(zone_name))
    stack = draw(st.lists(layers(zone_name, window[0]), min_size=1, max_size=3))
    return Schedule(zone_name, tuple(stack), tuple(draw(overrides(window)))), window


@st.composite
def single_layers(
    draw: st.DrawFn,
    *,
    max_days_before: int = 400,
    restricted: bool | None = None,
    allow_empty: bool = True,
    epochs: bool = True,
) -> tuple[str, Layer, tuple[datetime, datetime]]:
    zone_name = draw(zones)
    window = draw(windows(zone_name))
    layer = layers(
        zone_name,
        window[0],
        max_days_before=max_days_before,
        restricted=restricted,
        allow_empty=allow_empty,
        epochs=epochs,
    )
    return zone_name, draw(layer), window


# ---------------------------------------------------------------------------------------------
# Oracles


def user_at(found: Sequence[Shift], t: datetime) -> int | None:
    for shift in found:
        if shift.start <= t < shift.end:
            return shift.user_id
    return None


def offset_at(moment: datetime, zone: ZoneInfo) -> timedelta:
    offset = moment.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def local_wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def is_resolution_of(moment: datetime, wall: datetime, zone: ZoneInfo) -> bool:
    """Whether `moment` is where the rules put local `wall`: its first occurrence if it exists,
    else later by exactly the gap it falls in."""
    here = moment.astimezone(zone)
    if here.replace(tzinfo=None) == wall:
        return here.fold == 0
    shift_forward = here.replace(tzinfo=None) - wall
    offset_now = offset_at(moment, zone)
    offset_before = offset_at(moment - shift_forward, zone)
    gap = offset_now - offset_before
    wall_exists = any(local_wall(wall - offset, zone) == wall for offset in (offset_now, offset_before))
    return timedelta(0) < shift_forward == gap and not wall_exists


def step_reference(layer: Layer, zone: ZoneInfo, start: datetime, end: datetime) -> list[Shift]:
    """Every shift from the anchor on, one at a time, for a single-epoch unrestricted layer."""
    anchor = datetime.combine(layer.start_date, layer.handoff_time)
    people = layer.epochs[0].participants

    def resolve(wall: datetime) -> datetime:
        # Search the instants a day either side for the first that shows `wall`; failing that the
        # wall is in a gap, and the answer is the wall read with the offset from before the gap.
        guess = wall.replace(tzinfo=UTC)
        offsets = sorted({offset_at(guess + timedelta(hours=h), zone) for h in range(-30, 31)})
        hits = sorted(guess - offset for offset in offsets if local_wall(guess - offset, zone) == wall)
        if hits:
            return hits[0]
        for offset in offsets:
            candidate = guess - offset
            if is_resolution_of(candidate, wall, zone):
                return candidate
        raise AssertionError(f"no resolution for {wall} in {zone}")

    found: list[Shift] = []
    k = 0
    latest = resolve(anchor)
    while latest < end:
        following = max(latest, resolve(anchor + (k + 1) * layer.shift_length))
        lo, hi = max(latest, start), min(following, end)
        if lo < hi:
            found.append(Shift(lo, hi, people[k % len(people)], 0, None))
        latest = following
        k += 1
    return found


# ---------------------------------------------------------------------------------------------
# Properties of one layer


@PROPERTY
@given(single_layers())
def test_a_layers_shifts_are_sorted_non_empty_inside_the_window_and_never_overlap(case):
    zone_name, layer, (start, end) = case

    found = layer_shifts(layer, zone_name, start, end)

    assert all(start <= s.start < s.end <= end for s in found)
    assert all(a.end <= b.start for a, b in pairwise(found))
    assert all(s.start.tzinfo is UTC and s.end.tzinfo is UTC for s in found)


@PROPERTY
@given(single_layers(restricted=False, allow_empty=False))
def test_an_unrestricted_layer_with_participants_covers_the_window_from_its_anchor_without_gaps(case):
    zone_name, layer, (start, end) = case
    zone = ZoneInfo(zone_name)
    anchor = datetime.combine(layer.start_date, layer.handoff_time)
    # The anchor instant per the rules, read from zone to UTC by search rather than by replace().
    begins = next(
        t
        for t in (anchor.replace(tzinfo=UTC) - timedelta(minutes=m) for m in range(-27 * 60, 27 * 60 + 1, 15))
        if is_resolution_of(t, anchor, zone)
    )

    found = layer_shifts(layer, zone_name, start, end)

    if begins >= end:
        assert found == []
        return
    assert found[0].start == max(start, begins)
    assert found[-1].end == end
    assert all(a.end == b.start for a, b in pairwise(found))


@PROPERTY
@given(single_layers(restricted=False, epochs=False))
def test_every_handoff_is_on_the_wall_clock_grid_or_later_by_exactly_the_gap(case):
    zone_name, layer, (start, end) = case
    zone = ZoneInfo(zone_name)
    anchor = datetime.combine(layer.start_date, layer.handoff_time)
    step = layer.shift_length

    for shift in layer_shifts(layer, zone_name, start, end):
        if shift.start == start:
            continue  # clipped by the window, not a handoff
        shown = local_wall(shift.start, zone)
        nearest = (shown - anchor) // step
        on_grid = [anchor + k * step for k in range(max(0, nearest - 25), nearest + 2)]
        assert any(is_resolution_of(shift.start, wall, zone) for wall in on_grid), (
            f"{shift.start.astimezone(zone)} is not a handoff of {layer}"
        )


@PROPERTY
@given(single_layers(restricted=False, epochs=False, max_days_before=40))
def test_jumping_to_the_window_gives_the_same_shifts_as_stepping_from_the_anchor(case):
    zone_name, layer, (start, end) = case
    zone = ZoneInfo(zone_name)

    assert layer_shifts(layer, zone_name, start, end) == step_reference(layer, zone, start, end)


# ---------------------------------------------------------------------------------------------
# Properties of whole schedules


@PROPERTY
@given(scenarios())
def test_final_shifts_are_sorted_disjoint_and_merged(case):
    schedule, (start, end) = case

    found = shifts(schedule, start, end)

    assert all(start <= s.start < s.end <= end for s in found)
    assert all(a.end <= b.start for a, b in pairwise(found))
    assert not any(a.end == b.start and a.user_id == b.user_id for a, b in pairwise(found))


@PROPERTY
@given(scenarios(), st.lists(st.floats(0, 1, exclude_max=True), max_size=5))
def test_oncall_at_agrees_with_shifts_at_random_moments_and_exact_boundaries(case, fractions):
    schedule, (start, end) = case
    found = shifts(schedule, start, end)
    moments = {start, end - timedelta(microseconds=1)}
    moments.update(start + (end - start) * f for f in fractions)
    for shift in found:
        moments.update((shift.start, shift.end - timedelta(microseconds=1)))
        if shift.end < end:
            moments.add(shift.end)
    for layer in schedule.layers:
        for shift in layer_shifts(layer, schedule.zone, start, end):
            moments.add(shift.start)

    # A float fraction can round up to `end` itself, which lies outside the window.
    for t in sorted(m for m in moments if start <= m < end):
        assert oncall_at(schedule, t) == user_at(found, t), t


@PROPERTY
@given(scenarios())
def test_an_override_wins_inside_its_interval_whenever_it_applies(case):
    schedule, (start, end) = case
    layers_only = replace(schedule, overrides=())
    found = shifts(schedule, start, end)

    for override in schedule.overrides:
        for t in (
            override.start,
            override.start + (override.end - override.start) / 2,
            override.end - timedelta(microseconds=1),
        ):
            beneath = oncall_at(layers_only, t)
            applicable = [
                o
                for o in schedule.overrides
                if o.start <= t < o.end and (o.replaces is None or o.replaces == beneath)
            ]
            expected = applicable[-1].user_id if applicable else beneath
            assert oncall_at(schedule, t) == expected
            if start <= t < end:
                assert user_at(found, t) == expected
            if override.replaces is None and applicable[-1] is override:
                assert oncall_at(schedule, t) == override.user_id


@PROPERTY
@given(scenarios(), st.floats(0, 1, exclude_min=True, exclude_max=True))
def test_splitting_the_window_in_two_gives_the_same_answer_everywhere(case, fraction):
    schedule, (start, end) = case
    middle = start + ((end - start) * fraction // timedelta(minutes=1)) * timedelta(minutes=1)
    if not start < middle < end:
        middle = start + (end - start) / 2

    whole = shifts(schedule, start, end)
    halves = shifts(schedule, start, middle) + shifts(schedule, middle, end)

    cuts = {start} | {s.start for s in whole + halves} | {s.end for s in whole + halves}
    for t in sorted(c for c in cuts if c < end):
        assert user_at(whole, t) == user_at(halves, t), t


def test_the_zone_pool_covers_dst_and_odd_offsets():
    # Guards the strategies above: if tzdata went missing these would quietly shrink to UTC.
    assert {"Asia/Kolkata", "Australia/Lord_Howe", "America/St_Johns"} <= set(ALL_ZONES)
    assert len(transitions("Australia/Lord_Howe")) > 20
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    assert {t.astimezone(lord_howe).utcoffset() for t in transitions("Australia/Lord_Howe")} == {
        timedelta(hours=10, minutes=30),
        timedelta(hours=11),
    }
