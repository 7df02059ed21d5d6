"""Who is on call when: the schedule math, as pure functions over `zoneinfo` local time.

Nothing here knows about Django or the database. The models layer turns a schedule's rows into the
frozen dataclasses below and asks `shifts()`, `oncall_at()` or `next_handoff_after()`; keeping the
math pure is what lets tests/oncall/test_rotation*.py check it with hypothesis over every zone.

Time rules (all local to the schedule's zone):

* A layer's anchor is its `start_date` at its `handoff_time`. Boundary k is the anchor plus k shift
  lengths *in local wall-clock time*, for every unit. For days and weeks that is calendar-day
  arithmetic. For hours it is a deliberate choice too: a 12-hour rotation anchored at 08:00 hands
  off at 08:00 and 20:00 all year, which is what people put in their calendars. The cost is that a
  shift spanning a DST change is shorter or longer in real time by the change (a 1-hour shift in
  the spring-forward gap can even be empty: it is skipped, and the rotation carries on).
* A wall time that does not exist (spring-forward gap) moves forward by the gap, 02:30 -> 03:30
  on a 1-hour gap. That is exactly what `fold=0` means to `zoneinfo` (the offset from before the
  transition), so `_to_utc` needs no special case.
* An ambiguous wall time (fall-back) takes its first occurrence (`fold=0`).
* Intervals are half-open, [start, end). Every datetime returned is aware and in UTC.

Priority: overrides beat layers; among layers, later in `Schedule.layers` beats earlier; among
overrides, later in `Schedule.overrides` beats earlier. A layer with restrictions is off outside
its windows, and the layer below shows through.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Final, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "UNITS",
    "Epoch",
    "Layer",
    "Override",
    "Restriction",
    "Schedule",
    "Shift",
    "Unit",
    "layer_shifts",
    "next_handoff_after",
    "oncall_at",
    "shifts",
    "to_zone",
]

Unit = Literal["hours", "days", "weeks"]
UNITS: Final[tuple[Unit, ...]] = ("hours", "days", "weeks")

# The largest forward jump in the tz database is one skipped calendar day (Pacific/Apia on
# 2011-12-30, Pacific/Kwajalein in 1993). Boundaries further apart than that can never come out of
# order after gap resolution; closer ones (short hourly shifts) are checked over this lookback.
_MAX_GAP: Final = timedelta(hours=24)
_FAR_FUTURE: Final = datetime.max.replace(tzinfo=UTC)
_RESOLUTION: Final = timedelta(microseconds=1)


# Validation helpers


def to_zone(name: str | ZoneInfo) -> ZoneInfo:
    """The zone for an IANA name, or a ValueError naming it."""
    if isinstance(name, ZoneInfo):
        return name
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"time zone must be an IANA name such as 'Europe/Berlin', got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        # OSError: a directory such as "America" is not a zone.
        raise ValueError(f"unknown time zone {name!r}") from exc


def _aware_utc(value: object, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got the naive {value.isoformat()}")
    return value.astimezone(UTC)


def _window(start: object, end: object) -> tuple[datetime, datetime]:
    start_utc = _aware_utc(start, "start")
    end_utc = _aware_utc(end, "end")
    if end_utc <= start_utc:
        raise ValueError(f"end {end_utc.isoformat()} must be after start {start_utc.isoformat()}")
    return start_utc, end_utc


def _wall_time(value: object, what: str) -> time:
    if not isinstance(value, time):
        raise ValueError(f"{what} must be a datetime.time, got {type(value).__name__}")
    if value.tzinfo is not None:
        raise ValueError(f"{what} is a local wall-clock time and must not carry a tzinfo")
    return value


def _user_id(value: object, what: str) -> int:
    # bool is an int subclass; True as a user id is always a bug upstream.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{what} must be an int user id, got {value!r}")
    return value


# The data


@dataclass(frozen=True)
class Restriction:
    """A window in local wall time on the given weekdays (0=Mon..6=Sun) when the layer is on.

    The weekday is the day the window starts; `end <= start` runs into the next day, so
    22:00-06:00 on Friday covers Friday night, and 09:00-09:00 is a full day."""

    weekdays: frozenset[int]
    start: time
    end: time

    def __post_init__(self) -> None:
        days = frozenset(cast(Iterable[int], self.weekdays))
        if not days:
            raise ValueError("a restriction needs at least one weekday")
        if any(not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6 for d in days):
            raise ValueError(f"weekdays must be ints 0 (Monday) to 6 (Sunday), got {sorted(days)!r}")
        object.__setattr__(self, "weekdays", days)
        _wall_time(self.start, "restriction start")
        _wall_time(self.end, "restriction end")


@dataclass(frozen=True)
class Epoch:
    """Who rotates in a layer from `effective_from` on, in order. Empty means nobody."""

    effective_from: datetime
    participants: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "effective_from", _aware_utc(self.effective_from, "effective_from"))
        people = tuple(self.participants)
        for person in people:
            _user_id(person, "participant")
        object.__setattr__(self, "participants", people)


@dataclass(frozen=True)
class Layer:
    """One rotation.

    `epochs` must be sorted by `effective_from`, strictly. The first epoch governs the rotation
    from its anchor whatever its own `effective_from` says; each later one takes over at the first
    boundary at or after its `effective_from`, starting with its own first participant there."""

    start_date: date
    handoff_time: time
    shift_count: int
    shift_unit: Unit
    epochs: tuple[Epoch, ...]
    restrictions: tuple[Restriction, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.start_date, date) or isinstance(self.start_date, datetime):
            raise ValueError(f"start_date must be a datetime.date, got {type(self.start_date).__name__}")
        _wall_time(self.handoff_time, "handoff_time")
        if not isinstance(self.shift_count, int) or isinstance(self.shift_count, bool):
            raise ValueError(f"shift_count must be an int, got {self.shift_count!r}")
        if self.shift_count < 1:
            raise ValueError(f"shift_count must be at least 1, got {self.shift_count}")
        if self.shift_unit not in UNITS:
            raise ValueError(f"shift_unit must be one of {', '.join(UNITS)}; got {self.shift_unit!r}")
        epochs = tuple(self.epochs)
        for earlier, later in pairwise(epochs):
            if later.effective_from <= earlier.effective_from:
                raise ValueError(
                    "epochs must be sorted by effective_from with no repeats; "
                    f"{later.effective_from.isoformat()} follows {earlier.effective_from.isoformat()}"
                )
        object.__setattr__(self, "epochs", epochs)
        object.__setattr__(self, "restrictions", tuple(self.restrictions))

    @property
    def shift_length(self) -> timedelta:
        """The length of one shift in local wall-clock time."""
        if self.shift_unit == "hours":
            return timedelta(hours=self.shift_count)
        if self.shift_unit == "days":
            return timedelta(days=self.shift_count)
        return timedelta(weeks=self.shift_count)


@dataclass(frozen=True)
class Override:
    """`user_id` is on call for [start, end). With `replaces`, only while that user would be on
    call from the layers (other overrides do not count)."""

    user_id: int
    start: datetime
    end: datetime
    replaces: int | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        _user_id(self.user_id, "override user_id")
        if self.replaces is not None:
            _user_id(self.replaces, "override replaces")
        start, end = _window(self.start, self.end)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)


@dataclass(frozen=True)
class Schedule:
    time_zone: str
    layers: tuple[Layer, ...] = ()
    overrides: tuple[Override, ...] = ()
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", to_zone(self.time_zone))
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "overrides", tuple(self.overrides))


@dataclass(frozen=True)
class Shift:
    """A stretch of time with one user on call. `layer_index` is None for an override."""

    start: datetime
    end: datetime
    user_id: int
    layer_index: int | None = None
    override_id: int | None = None


# Boundaries of one layer


def _to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    try:
        return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    except OverflowError:
        return _FAR_FUTURE


class _Rotation:
    """Boundary k of a layer and who has the shift that starts there.

    Gap resolution can put a boundary *before* the previous one when shifts are shorter than the
    gap (1-hour shifts across Samoa's skipped day). A boundary is therefore the latest resolved
    instant among itself and the few before it, which keeps boundaries non-decreasing: the
    squeezed shifts come out empty and are dropped."""

    def __init__(self, layer: Layer, zone: ZoneInfo) -> None:
        self.layer = layer
        self.zone = zone
        self.anchor = datetime.combine(layer.start_date, layer.handoff_time)
        self.step = layer.shift_length
        self.lookback = 0 if self.step >= _MAX_GAP else math.ceil(_MAX_GAP / self.step)
        self._later_epoch_starts = [epoch.effective_from for epoch in layer.epochs[1:]]
        self._first_index: dict[int, int] = {0: 0}

    def resolved(self, k: int) -> datetime:
        try:
            wall = self.anchor + k * self.step
        except OverflowError:
            return _FAR_FUTURE
        return _to_utc(wall, self.zone)

    def boundary(self, k: int) -> datetime:
        return max(self.resolved(j) for j in range(max(0, k - self.lookback), k + 1))

    def index_at(self, t: datetime) -> int:
        """The shift whose [start, end) holds t, or -1 before the anchor."""
        wall = t.astimezone(self.zone).replace(tzinfo=None)
        # Local wall time is off by at most an offset change from where t really falls, so the
        # estimate is within a step or two; walk the rest.
        k = max(0, (wall - self.anchor) // self.step)
        while k > 0 and self.boundary(k) > t:
            k -= 1
        if self.boundary(k) > t:
            return -1
        while self.boundary(k + 1) <= t:
            k += 1
        return k

    def first_index_from(self, t: datetime) -> int:
        k = self.index_at(t)
        if k < 0:
            return 0
        return k if self.boundary(k) == t else k + 1

    def user(self, k: int, starts_at: datetime) -> int | None:
        epoch_number = bisect_right(self._later_epoch_starts, starts_at)
        participants = self.layer.epochs[epoch_number].participants
        if not participants:
            return None
        first = self._first_index.get(epoch_number)
        if first is None:
            first = self.first_index_from(self.layer.epochs[epoch_number].effective_from)
            self._first_index[epoch_number] = first
        return participants[(k - first) % len(participants)]


def _restriction_spans(
    restrictions: Sequence[Restriction], zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The union of the windows within [start, end), sorted and disjoint."""
    # A window may start up to a day before `start` and still reach into it; resolution only ever
    # moves times forward, so one more day on each side is plenty.
    day = start.astimezone(zone).date() - timedelta(days=2)
    last = end.astimezone(zone).date() + timedelta(days=1)
    spans: list[tuple[datetime, datetime]] = []
    while day <= last:
        weekday = day.weekday()
        for window in restrictions:
            if weekday not in window.weekdays:
                continue
            end_day = day if window.end > window.start else day + timedelta(days=1)
            lo = max(_to_utc(datetime.combine(day, window.start), zone), start)
            hi = min(_to_utc(datetime.combine(end_day, window.end), zone), end)
            if lo < hi:
                spans.append((lo, hi))
        day += timedelta(days=1)
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _clip_to_spans(found: list[Shift], spans: list[tuple[datetime, datetime]]) -> list[Shift]:
    clipped: list[Shift] = []
    first_span = 0
    for shift in found:
        while first_span < len(spans) and spans[first_span][1] <= shift.start:
            first_span += 1
        i = first_span
        while i < len(spans) and spans[i][0] < shift.end:
            lo, hi = max(shift.start, spans[i][0]), min(shift.end, spans[i][1])
            if lo < hi:
                clipped.append(replace(shift, start=lo, end=hi))
            i += 1
    return clipped


# Public functions


def layer_shifts(
    layer: Layer, tz: str | ZoneInfo, start: datetime, end: datetime, *, layer_index: int = 0
) -> list[Shift]:
    """The shifts of one layer within [start, end), clipped to it, restrictions applied.

    Consecutive shifts of the same user stay separate here: they are separate turns."""
    zone = to_zone(tz)
    start, end = _window(start, end)
    if not layer.epochs:
        return []
    rotation = _Rotation(layer, zone)
    k = max(rotation.index_at(start), 0)
    recent = deque(
        (rotation.resolved(j) for j in range(max(0, k - rotation.lookback), k + 1)),
        maxlen=rotation.lookback + 1,
    )
    shift_start = max(recent)
    found: list[Shift] = []
    while shift_start < end:
        recent.append(rotation.resolved(k + 1))
        shift_end = max(recent)
        lo, hi = max(shift_start, start), min(shift_end, end)
        if lo < hi:
            user = rotation.user(k, shift_start)
            if user is not None:
                found.append(Shift(lo, hi, user, layer_index, None))
        k += 1
        shift_start = shift_end
    if layer.restrictions:
        found = _clip_to_spans(found, _restriction_spans(layer.restrictions, zone, start, end))
    return found


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Who is on call within [start, end) after layers and overrides: sorted, non-overlapping,
    gaps where nobody is on call, adjacent stretches of the same user merged into one shift.

    A merged shift keeps the `layer_index`/`override_id` of the stretch it begins with."""
    start, end = _window(start, end)
    per_layer = [
        layer_shifts(layer, schedule.zone, start, end, layer_index=i)
        for i, layer in enumerate(schedule.layers)
    ]
    overrides = [o for o in schedule.overrides if o.start < end and o.end > start]
    cuts = {start, end}
    for found in per_layer:
        for shift in found:
            cuts.update((shift.start, shift.end))
    for override in overrides:
        cuts.update((max(override.start, start), min(override.end, end)))

    cursors = [0] * len(per_layer)
    pieces: list[Shift] = []
    for lo, hi in pairwise(sorted(cuts)):
        below: Shift | None = None
        for i in reversed(range(len(per_layer))):
            found, c = per_layer[i], cursors[i]
            while c < len(found) and found[c].end <= lo:
                c += 1
            cursors[i] = c
            if c < len(found) and found[c].start <= lo:
                below = found[c]
                break
        winner = _winning_override(overrides, lo, below.user_id if below else None)
        if winner is not None:
            pieces.append(Shift(lo, hi, winner.user_id, None, winner.id))
        elif below is not None:
            pieces.append(Shift(lo, hi, below.user_id, below.layer_index, None))
    return _merge_same_user(pieces)


def oncall_at(schedule: Schedule, t: datetime) -> int | None:
    """The user on call at instant t, or None."""
    t = _aware_utc(t, "t")
    from_layers: int | None = None
    for layer in reversed(schedule.layers):
        from_layers = _layer_user_at(layer, schedule.zone, t)
        if from_layers is not None:
            break
    winner = _winning_override(schedule.overrides, t, from_layers)
    return winner.user_id if winner is not None else from_layers


def next_handoff_after(
    schedule: Schedule, t: datetime, *, within: timedelta = timedelta(days=366)
) -> datetime | None:
    """The first instant after t at which the on-call user changes (to someone else or to
    nobody), or None if that does not happen within `within`."""
    t = _aware_utc(t, "t")
    if within <= timedelta(0):
        raise ValueError(f"within must be positive, got {within}")
    current = oncall_at(schedule, t)
    horizon = t + within
    lo = t
    # Chunks keep a far-off answer from materialising a year of shifts at once.
    while lo < horizon:
        hi = min(lo + timedelta(days=14), horizon)
        cursor = lo
        for shift in shifts(schedule, lo, hi):
            if shift.start > cursor and current is not None:
                return cursor
            if shift.user_id != current:
                return shift.start
            cursor = shift.end
        if cursor < hi and current is not None:
            return cursor
        lo = hi
    return None


# Internals shared by the range and point answers


def _layer_user_at(layer: Layer, zone: ZoneInfo, t: datetime) -> int | None:
    if not layer.epochs:
        return None
    rotation = _Rotation(layer, zone)
    k = rotation.index_at(t)
    if k < 0:
        return None
    user = rotation.user(k, rotation.boundary(k))
    if user is None or not layer.restrictions:
        return user
    spans = _restriction_spans(layer.restrictions, zone, t, t + _RESOLUTION)
    return user if spans else None


def _winning_override(overrides: Sequence[Override], t: datetime, from_layers: int | None) -> Override | None:
    for override in reversed(overrides):
        if override.start <= t < override.end and (
            override.replaces is None or override.replaces == from_layers
        ):
            return override
    return None


def _merge_same_user(pieces: list[Shift]) -> list[Shift]:
    merged: list[Shift] = []
    for piece in pieces:
        if merged and merged[-1].end == piece.start and merged[-1].user_id == piece.user_id:
            merged[-1] = replace(merged[-1], end=piece.end)
        else:
            merged.append(piece)
    return merged
