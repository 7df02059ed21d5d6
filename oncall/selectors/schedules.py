"""Reads for on-call: turn schedule rows into the pure rotation data and ask who is on call."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import cast

from oncall import rotation
from oncall.models import Layer, Override, Schedule


def _restrictions(layer: Layer) -> tuple[rotation.Restriction, ...]:
    return tuple(
        rotation.Restriction(
            weekdays=frozenset(int(day) for day in window["days"]),
            start=time.fromisoformat(window["start"]),
            end=time.fromisoformat(window["end"]),
        )
        for window in layer.restrictions
    )


def schedule_spec(*, schedule: Schedule, start: datetime, end: datetime) -> rotation.Schedule:
    """The schedule as rotation data, with the overrides that touch [start, end)."""
    layers = []
    for layer in schedule.layers.prefetch_related("epochs").order_by("position"):
        epochs = tuple(
            rotation.Epoch(effective_from=epoch.effective_from, participants=tuple(epoch.participants))
            for epoch in layer.epochs.all()
        )
        if not epochs:
            continue
        layers.append(
            rotation.Layer(
                start_date=layer.start_date,
                handoff_time=layer.handoff_time,
                shift_count=layer.shift_count,
                shift_unit=cast(rotation.Unit, layer.shift_unit),
                epochs=epochs,
                restrictions=_restrictions(layer),
            )
        )
    overrides = tuple(
        rotation.Override(
            user_id=override.user_id,
            start=override.starts_at,
            end=override.ends_at,
            replaces=override.replaces_id,
            id=override.pk,
        )
        # Oldest first: where overrides overlap, the one added last wins.
        for override in Override.objects.filter(
            schedule=schedule, starts_at__lt=end, ends_at__gt=start
        ).order_by("pk")
    )
    return rotation.Schedule(time_zone=schedule.time_zone, layers=tuple(layers), overrides=overrides)


def schedule_oncall_user_id(*, schedule: Schedule, at: datetime) -> int | None:
    # [at, at + 1 µs) so that an override starting exactly at `at` is included.
    spec = schedule_spec(schedule=schedule, start=at, end=at + timedelta(microseconds=1))
    return rotation.oncall_at(spec, at)
