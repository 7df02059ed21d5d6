"""Reads for on-call: turn schedule rows into the pure rotation data and ask who is on call.

Everything that answers for several schedules at once (the list page, a service's policy, "my
shifts") loads them with a fixed number of queries, whatever the number of schedules: the layers
with their epochs, the overrides in the window and the people named, one query each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.http import Http404

from incidents.choices import Role
from incidents.models import Service
from incidents.permissions import has_role, visible_team_ids
from oncall import rotation
from oncall.models import EscalationStep, Layer, LayerEpoch, Override, Schedule, ShiftUnit

# How far around a moment "who is on call" looks for the edges of the shift holding it. A shift
# longer than that is reported as open-ended on that side (None), never as a made-up edge.
LOOKBACK = timedelta(days=14)
LOOKAHEAD = timedelta(days=28)
TIMELINE_DAYS = 14
MY_SHIFTS_DAYS = 30


# --- rows -> rotation data ------------------------------------------------------------------


def _restrictions(layer: Layer) -> tuple[rotation.Restriction, ...]:
    return tuple(
        rotation.Restriction(
            weekdays=frozenset(int(day) for day in window["days"]),
            start=time.fromisoformat(window["start"]),
            end=time.fromisoformat(window["end"]),
        )
        for window in layer.restrictions
    )


def _layer_spec(layer: Layer) -> rotation.Layer | None:
    """The layer as rotation data, from its prefetched epochs; None for a layer with no epoch."""
    epochs = tuple(
        rotation.Epoch(effective_from=epoch.effective_from, participants=tuple(epoch.participants))
        for epoch in layer.epochs.all()
    )
    if not epochs:
        return None
    return rotation.Layer(
        start_date=layer.start_date,
        handoff_time=layer.handoff_time,
        shift_count=layer.shift_count,
        shift_unit=cast(rotation.Unit, layer.shift_unit),
        epochs=epochs,
        restrictions=_restrictions(layer),
    )


def _override_spec(override: Override) -> rotation.Override:
    return rotation.Override(
        user_id=override.user_id,
        start=override.starts_at,
        end=override.ends_at,
        replaces=override.replaces_id,
        id=override.pk,
    )


def _layers_with_epochs() -> QuerySet[Layer]:
    return Layer.objects.prefetch_related(
        Prefetch("epochs", queryset=LayerEpoch.objects.order_by("effective_from"))
    ).order_by("schedule_id", "position")


@dataclass(frozen=True)
class _Loaded:
    """One schedule's rows and its rotation data. `spec_layers[i]` is the model layer behind
    `spec.layers[i]` (layers without participants are left out of the spec)."""

    schedule: Schedule
    layers: list[Layer]
    spec_layers: list[Layer]
    spec: rotation.Schedule


def _load(*, schedules: Sequence[Schedule], start: datetime, end: datetime) -> dict[int, _Loaded]:
    ids = [schedule.pk for schedule in schedules]
    layers_by_schedule: dict[int, list[Layer]] = {pk: [] for pk in ids}
    for layer in _layers_with_epochs().filter(schedule_id__in=ids):
        layers_by_schedule[layer.schedule_id].append(layer)
    overrides_by_schedule: dict[int, list[rotation.Override]] = {pk: [] for pk in ids}
    # Oldest first: where overrides overlap, the one added last wins.
    for override in Override.objects.filter(
        schedule_id__in=ids, starts_at__lt=end, ends_at__gt=start
    ).order_by("pk"):
        overrides_by_schedule[override.schedule_id].append(_override_spec(override))
    loaded = {}
    for schedule in schedules:
        spec_layers: list[Layer] = []
        specs: list[rotation.Layer] = []
        for layer in layers_by_schedule[schedule.pk]:
            spec = _layer_spec(layer)
            if spec is not None:
                spec_layers.append(layer)
                specs.append(spec)
        loaded[schedule.pk] = _Loaded(
            schedule=schedule,
            layers=layers_by_schedule[schedule.pk],
            spec_layers=spec_layers,
            spec=rotation.Schedule(
                time_zone=schedule.time_zone,
                layers=tuple(specs),
                overrides=tuple(overrides_by_schedule[schedule.pk]),
            ),
        )
    return loaded


def schedule_spec(*, schedule: Schedule, start: datetime, end: datetime) -> rotation.Schedule:
    """The schedule as rotation data, with the overrides that touch [start, end)."""
    return _load(schedules=[schedule], start=start, end=end)[schedule.pk].spec


def schedule_oncall_user_id(*, schedule: Schedule, at: datetime) -> int | None:
    # [at, at + 1 µs) so that an override starting exactly at `at` is included.
    spec = schedule_spec(schedule=schedule, start=at, end=at + timedelta(microseconds=1))
    return rotation.oncall_at(spec, at)


def _users_by_id(user_ids: Iterable[int]) -> dict[int, Any]:
    wanted = set(user_ids)
    if not wanted:
        return {}
    return {user.pk: user for user in get_user_model().objects.filter(pk__in=wanted)}


# --- access ---------------------------------------------------------------------------------


def schedule_list_for_user(*, user: Any) -> QuerySet[Schedule]:
    qs = Schedule.objects.select_related("team").order_by("name", "pk")
    team_ids = visible_team_ids(user)
    return qs if team_ids is None else qs.filter(team_id__in=team_ids)


def schedule_get_for_user(*, user: Any, pk: int) -> Schedule:
    try:
        return schedule_list_for_user(user=user).get(pk=pk)
    except Schedule.DoesNotExist:
        raise Http404(f"No schedule {pk} you can see.") from None


def layer_list_for_user(*, user: Any) -> QuerySet[Layer]:
    qs = _layers_with_epochs().select_related("schedule", "schedule__team")
    team_ids = visible_team_ids(user)
    return qs if team_ids is None else qs.filter(schedule__team_id__in=team_ids)


def layer_get_for_user(*, user: Any, schedule: Schedule, pk: int) -> Layer:
    try:
        return layer_list_for_user(user=user).get(schedule=schedule, pk=pk)
    except Layer.DoesNotExist:
        raise Http404(f"No layer {pk} in {schedule.name}.") from None


def override_list_for_user(*, user: Any) -> QuerySet[Override]:
    qs = Override.objects.select_related(
        "schedule", "schedule__team", "user", "replaces", "created_by"
    ).order_by("starts_at", "pk")
    team_ids = visible_team_ids(user)
    return qs if team_ids is None else qs.filter(schedule__team_id__in=team_ids)


def override_removable_by(*, user: Any, override: Override) -> bool:
    """Managers of the team remove any override; anyone removes one that puts them on call or that
    they made. The page and the API both ask this."""
    if user.pk in (override.user_id, override.created_by_id):
        return True
    return has_role(user, override.schedule.team_id, Role.MANAGER)


def layer_participants(*, layer: Layer) -> list[Any]:
    """Who rotates in the layer from now on, in order (the latest epoch), from prefetched epochs."""
    epochs = list(layer.epochs.all())
    if not epochs:
        return []
    ids = list(epochs[-1].participants)
    users = _users_by_id(ids)
    return [users[pk] for pk in ids if pk in users]


# --- who is on call -------------------------------------------------------------------------


@dataclass(frozen=True)
class OnCall:
    """Who is on call in a schedule at `at`, and who is next.

    `shift_start`/`shift_end` are the edges of the stretch the person is on call for; None when it
    reaches further than LOOKBACK/LOOKAHEAD from `at`. With nobody on call, `user` is None."""

    schedule: Schedule
    at: datetime
    user: Any | None
    shift_start: datetime | None
    shift_end: datetime | None
    next_user: Any | None
    next_start: datetime | None
    override_id: int | None = None

    @property
    def remaining(self) -> timedelta | None:
        return self.shift_end - self.at if self.shift_end is not None else None

    @property
    def next_in(self) -> timedelta | None:
        return self.next_start - self.at if self.next_start is not None else None


def _current_and_next(
    found: list[rotation.Shift], at: datetime
) -> tuple[rotation.Shift | None, rotation.Shift | None]:
    current = next((s for s in found if s.start <= at < s.end), None)
    upcoming = next((s for s in found if s.start > at), None)
    return current, upcoming


def oncall_for_schedules(
    *,
    schedules: Sequence[Schedule],
    at: datetime,
    lookback: timedelta = LOOKBACK,
    lookahead: timedelta = LOOKAHEAD,
) -> list[OnCall]:
    """Who is on call at `at` in each schedule, in the order given; a fixed number of queries."""
    start, end = at - lookback, at + lookahead
    loaded = _load(schedules=schedules, start=start, end=end)
    pairs = {pk: _current_and_next(rotation.shifts(item.spec, start, end), at) for pk, item in loaded.items()}
    users = _users_by_id(s.user_id for pair in pairs.values() for s in pair if s is not None)
    answers = []
    for schedule in schedules:
        current, upcoming = pairs[schedule.pk]
        answers.append(
            OnCall(
                schedule=schedule,
                at=at,
                user=users.get(current.user_id) if current else None,
                shift_start=current.start if current and current.start > start else None,
                shift_end=current.end if current and current.end < end else None,
                next_user=users.get(upcoming.user_id) if upcoming else None,
                next_start=upcoming.start if upcoming else None,
                override_id=current.override_id if current else None,
            )
        )
    return answers


def oncall_for_schedule(*, schedule: Schedule, at: datetime) -> OnCall:
    return oncall_for_schedules(schedules=[schedule], at=at)[0]


@dataclass(frozen=True)
class ServiceOnCall:
    step_number: int
    oncall: OnCall


def service_oncall(*, service: Service, at: datetime) -> list[ServiceOnCall]:
    """Whoever the service's escalation policy reaches through schedules at `at`, step by step
    (a schedule on two steps is listed on each)."""
    if service.escalation_policy_id is None:
        return []
    steps = (
        EscalationStep.objects.filter(policy_id=service.escalation_policy_id)
        .prefetch_related(Prefetch("schedules", queryset=Schedule.objects.select_related("team")))
        .order_by("position")
    )
    targets = [
        (number, schedule) for number, step in enumerate(steps, 1) for schedule in step.schedules.all()
    ]
    unique = list({schedule.pk: schedule for _, schedule in targets}.values())
    answers = {item.schedule.pk: item for item in oncall_for_schedules(schedules=unique, at=at)}
    return [ServiceOnCall(step_number=number, oncall=answers[schedule.pk]) for number, schedule in targets]


# --- shifts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShiftRow:
    """One shift with its person and where it comes from (a layer, or an override)."""

    schedule: Schedule
    start: datetime
    end: datetime
    user: Any
    layer: Layer | None
    override_id: int | None

    @property
    def is_override(self) -> bool:
        return self.override_id is not None


def _rows(item: _Loaded, found: Iterable[rotation.Shift], users: dict[int, Any]) -> list[ShiftRow]:
    return [
        ShiftRow(
            schedule=item.schedule,
            start=shift.start,
            end=shift.end,
            user=users.get(shift.user_id),
            layer=item.spec_layers[shift.layer_index] if shift.layer_index is not None else None,
            override_id=shift.override_id,
        )
        for shift in found
    ]


def schedule_shifts(*, schedule: Schedule, start: datetime, end: datetime) -> list[ShiftRow]:
    """Who is on call within [start, end) after layers and overrides, clipped to the window."""
    item = _load(schedules=[schedule], start=start, end=end)[schedule.pk]
    found = rotation.shifts(item.spec, start, end)
    return _rows(item, found, _users_by_id(s.user_id for s in found))


def shifts_for_user(*, user: Any, start: datetime, end: datetime) -> list[ShiftRow]:
    """The user's shifts that overlap [start, end) in every schedule they can see, in time order.
    A shift already under way at `start` keeps its real start (looked up to LOOKBACK before)."""
    schedules = list(schedule_list_for_user(user=user))
    since = start - LOOKBACK
    loaded = _load(schedules=schedules, start=since, end=end)
    mine: list[ShiftRow] = []
    for item in loaded.values():
        found = [s for s in rotation.shifts(item.spec, since, end) if s.user_id == user.pk and s.end > start]
        mine += _rows(item, found, {user.pk: user})
    return sorted(mine, key=lambda row: (row.start, row.schedule.name))


# --- the timeline ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A shift placed on the timeline: `left` and `width` in percent of the window."""

    shift: ShiftRow
    left: float
    width: float

    @property
    def tone(self) -> int:
        """One of eight colours, the same for a person everywhere on the page."""
        return int(getattr(self.shift.user, "pk", 0) or 0) % 8


@dataclass(frozen=True)
class TimelineRow:
    kind: Literal["layer", "final"]
    label: str
    layer: Layer | None
    participants: list[Any]
    blocks: list[Block]
    summary: str = ""


@dataclass(frozen=True)
class Day:
    start: datetime  # local midnight (in UTC; templates show it in the schedule's zone)
    left: float
    width: float
    is_weekend: bool


@dataclass(frozen=True)
class Timeline:
    schedule: Schedule
    zone: ZoneInfo
    start: datetime
    end: datetime
    now: datetime
    now_left: float | None
    days: list[Day]
    layers: list[TimelineRow]
    final: TimelineRow
    upcoming: list[ShiftRow]
    overrides: list[Override]


_DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_TO = "\N{EN DASH}"


def _days_text(days: Sequence[int]) -> str:
    ordered = sorted(set(days))
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{_DAY_NAMES[ordered[0]]}{_TO}{_DAY_NAMES[ordered[-1]]}"
    return ", ".join(_DAY_NAMES[day] for day in ordered)


def layer_summary(layer: Layer) -> str:
    """E.g. "Every 1 week, handoff at 09:00 from Mon 2 Mar 2026; Mon to Fri 09:00 to 17:00 only"."""
    unit = ShiftUnit(layer.shift_unit).label.lower()
    if layer.shift_count == 1:
        unit = unit.removesuffix("s")
    text = (
        f"Every {layer.shift_count} {unit}, handoff at {layer.handoff_time:%H:%M} "
        f"from {layer.start_date:%a} {layer.start_date.day} {layer.start_date:%b %Y}"
    )
    if layer.restrictions:
        windows = ", ".join(
            f"{_days_text(window['days'])} {window['start']}{_TO}{window['end']}"
            for window in layer.restrictions
        )
        text += f"; {windows} only"
    return text


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    # In UTC, so that differences are real durations (aware datetimes sharing one tzinfo subtract
    # as wall-clock times). A midnight in a DST gap (America/Santiago) moves forward, as rotation's do.
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def schedule_timeline(*, schedule: Schedule, at: datetime, days: int = TIMELINE_DAYS) -> Timeline:
    """The schedule from the start of today (in its zone) for `days` days: one row per layer, as
    the layer alone would have it, and the final row of who is really on call."""
    zone = rotation.to_zone(schedule.time_zone)
    today = at.astimezone(zone).date()
    midnights = [_local_midnight(today + timedelta(days=n), zone) for n in range(days + 1)]
    start, end = midnights[0], midnights[-1]
    total = (end - start).total_seconds()

    def percent(moment: datetime) -> float:
        return round(100 * (moment - start).total_seconds() / total, 3)

    item = _load(schedules=[schedule], start=start, end=end)[schedule.pk]
    per_layer = {
        layer.pk: rotation.layer_shifts(spec, zone, start, end, layer_index=index)
        for index, (layer, spec) in enumerate(zip(item.spec_layers, item.spec.layers, strict=True))
    }
    final = rotation.shifts(item.spec, start, end)
    latest_participants = {
        layer.pk: list(epochs[-1].participants) if (epochs := list(layer.epochs.all())) else []
        for layer in item.layers
    }
    users = _users_by_id(
        [s.user_id for found in [*per_layer.values(), final] for s in found]
        + [pk for ids in latest_participants.values() for pk in ids]
    )

    def blocks(found: list[rotation.Shift]) -> list[Block]:
        return [
            Block(shift=row, left=percent(row.start), width=percent(row.end) - percent(row.start))
            for row in _rows(item, found, users)
        ]

    # Newest layer first, as it wins over the ones below: the rows read top-down like the priority.
    layer_rows = [
        TimelineRow(
            kind="layer",
            label=str(layer),
            layer=layer,
            participants=[users[pk] for pk in latest_participants[layer.pk] if pk in users],
            blocks=blocks(per_layer.get(layer.pk, [])),
            summary=layer_summary(layer),
        )
        for layer in reversed(item.layers)
    ]
    final_row = TimelineRow(kind="final", label="On call", layer=None, participants=[], blocks=blocks(final))
    overrides = list(
        Override.objects.filter(schedule=schedule, ends_at__gt=at)
        .select_related("user", "replaces", "created_by")
        .order_by("starts_at", "pk")
    )
    return Timeline(
        schedule=schedule,
        zone=zone,
        start=start,
        end=end,
        now=at,
        now_left=percent(at) if start <= at < end else None,
        days=[
            Day(
                start=midnight,
                left=percent(midnight),
                width=percent(following) - percent(midnight),
                is_weekend=midnight.astimezone(zone).weekday() >= 5,
            )
            for midnight, following in pairwise(midnights)
        ],
        layers=layer_rows,
        final=final_row,
        upcoming=[block.shift for block in final_row.blocks if block.shift.end > at],
        overrides=overrides,
    )
