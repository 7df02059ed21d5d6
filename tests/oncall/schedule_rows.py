"""Schedule rows for tests of what is built on top of the rotation math (feeds, nudges)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from oncall.models import Layer, LayerEpoch, Override, Schedule


def make_schedule(team: Any, name: str = "Payments primary", time_zone: str = "Europe/Berlin") -> Schedule:
    return Schedule.objects.create(name=name, team=team, time_zone=time_zone)


def add_layer(
    schedule: Schedule,
    people: Sequence[Any],
    *,
    position: int = 0,
    start_date: date = date(2026, 1, 5),
    handoff: time = time(9),
    count: int = 1,
    unit: str = "weeks",
    restrictions: list[dict[str, Any]] | None = None,
) -> Layer:
    layer = Layer.objects.create(
        schedule=schedule,
        position=position,
        shift_count=count,
        shift_unit=unit,
        start_date=start_date,
        handoff_time=handoff,
        restrictions=restrictions or [],
    )
    LayerEpoch.objects.create(
        layer=layer,
        effective_from=datetime(2000, 1, 1, tzinfo=UTC),
        participants=[person.pk for person in people],
    )
    return layer


def add_override(schedule: Schedule, person: Any, starts_at: datetime, ends_at: datetime) -> Override:
    return Override.objects.create(schedule=schedule, user=person, starts_at=starts_at, ends_at=ends_at)
