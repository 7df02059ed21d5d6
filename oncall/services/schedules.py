"""Writes for schedules: the schedule, its rotation layers and its overrides, each audited.

Participants are never edited in place: a change adds a LayerEpoch effective now, so the shifts that
already happened keep the people who really had them (rotation.Layer explains how an epoch takes
over at the next handoff). Permissions are the caller's business, as for the incident services;
these functions check that the change makes sense.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents.choices import Role
from incidents.models import Team, person_name
from incidents.permissions import has_role
from incidents.services import DomainError, audit_record
from oncall import rotation
from oncall.models import Layer, LayerEpoch, Override, Schedule, ShiftUnit

# A longer shift is a typo, not a rotation: nobody hands off once every two years.
MAX_SHIFT_LENGTH = timedelta(days=366)
MAX_RESTRICTION_WINDOWS = 28


class ScheduleInvalid(DomainError):
    """The request names something that cannot be (an unknown zone, a shift ending before it
    starts). `field` names the input at fault, so forms and the API can point at it."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --- validation -----------------------------------------------------------------------------


def _clean_name(name: str, *, field: str = "name", required: bool = True) -> str:
    cleaned = (name or "").strip()
    if required and not cleaned:
        raise ScheduleInvalid("A name is required.", field=field)
    if len(cleaned) > 100:
        raise ScheduleInvalid("Names are at most 100 characters.", field=field)
    return cleaned


def _clean_time_zone(name: str) -> str:
    try:
        rotation.to_zone(name)
    except ValueError:
        raise ScheduleInvalid(
            f"Unknown time zone {name!r}; use an IANA name such as Europe/Berlin or America/New_York.",
            field="time_zone",
        ) from None
    return name


def _clean_participants(*, team: Team, participants: Sequence[Any]) -> list[int]:
    """User ids in rotation order. Everyone must be able to acknowledge what they are paged for."""
    if not participants:
        raise ScheduleInvalid("A layer needs at least one participant.", field="participants")
    ids: list[int] = []
    for user in participants:
        if user.pk in ids:
            raise ScheduleInvalid(
                f"{person_name(user)} is in the rotation twice; list each person once.",
                field="participants",
            )
        if not user.is_active or not has_role(user, team, Role.RESPONDER):
            raise ScheduleInvalid(
                f"{person_name(user)} is not a responder in team {team.name}, so they could not "
                "acknowledge the incidents they are paged for.",
                field="participants",
            )
        ids.append(user.pk)
    return ids


def _clean_shift_length(*, shift_count: int, shift_unit: str) -> None:
    if shift_unit not in ShiftUnit.values:
        raise ScheduleInvalid(
            f"The shift unit must be one of {', '.join(ShiftUnit.values)}.", field="shift_unit"
        )
    if isinstance(shift_count, bool) or not isinstance(shift_count, int) or shift_count < 1:
        raise ScheduleInvalid("A shift is at least 1 long.", field="shift_count")
    length = {"hours": timedelta(hours=1), "days": timedelta(days=1), "weeks": timedelta(weeks=1)}
    if shift_count * length[shift_unit] > MAX_SHIFT_LENGTH:
        raise ScheduleInvalid("A shift can be at most a year long.", field="shift_count")


def _parse_wall_time(value: Any) -> time:
    if isinstance(value, time):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = time.fromisoformat(value.strip())
        except ValueError:
            raise ScheduleInvalid(
                f"{value!r} is not a time; write it as HH:MM, e.g. 09:00.", field="restrictions"
            ) from None
    else:
        raise ScheduleInvalid(
            f"Restriction times are strings such as '09:00', got {value!r}.", field="restrictions"
        )
    if parsed.tzinfo is not None:
        raise ScheduleInvalid(
            "Restriction times are wall-clock times in the schedule's zone; leave the offset out.",
            field="restrictions",
        )
    return parsed.replace(second=0, microsecond=0)


def clean_restrictions(restrictions: Iterable[Any] | None) -> list[dict[str, Any]]:
    """The restrictions as stored: [{"days": [0, …], "start": "HH:MM", "end": "HH:MM"}, …].

    Days are 0 (Monday) to 6 (Sunday); an end at or before the start runs into the next day."""
    if restrictions is None:
        return []
    if isinstance(restrictions, str | bytes | Mapping) or not isinstance(restrictions, Iterable):
        raise ScheduleInvalid(
            'Restrictions are a list such as [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}].',
            field="restrictions",
        )
    cleaned: list[dict[str, Any]] = []
    for window in restrictions:
        if not isinstance(window, Mapping) or set(window) != {"days", "start", "end"}:
            raise ScheduleInvalid(
                'Each restriction has exactly "days", "start" and "end", '
                'e.g. {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}.',
                field="restrictions",
            )
        days = window["days"]
        if (
            isinstance(days, str | bytes | Mapping)
            or not isinstance(days, Iterable)
            or not (days := list(days))
            or any(isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in days)
        ):
            raise ScheduleInvalid(
                "Restriction days are a non-empty list of 0 (Monday) to 6 (Sunday).", field="restrictions"
            )
        start = _parse_wall_time(window["start"])
        end = _parse_wall_time(window["end"])
        cleaned.append({"days": sorted(set(days)), "start": f"{start:%H:%M}", "end": f"{end:%H:%M}"})
    if len(cleaned) > MAX_RESTRICTION_WINDOWS:
        raise ScheduleInvalid(
            f"At most {MAX_RESTRICTION_WINDOWS} restriction windows per layer.", field="restrictions"
        )
    return cleaned


def _clean_handoff_time(value: Any) -> time:
    if not isinstance(value, time) or value.tzinfo is not None:
        raise ScheduleInvalid(
            "The handoff time is a wall-clock time in the schedule's zone, such as 09:00.",
            field="handoff_time",
        )
    return value.replace(microsecond=0)


def _clean_start_date(value: Any) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ScheduleInvalid("The start date is a date such as 2026-03-02.", field="start_date")
    return value


def _current_participants(layer: Layer) -> list[int]:
    latest = layer.epochs.order_by("-effective_from").first()
    return list(latest.participants) if latest is not None else []


def _usernames(user_ids: Sequence[int], users: Sequence[Any]) -> list[str]:
    by_id = {user.pk: user.get_username() for user in users}
    return [by_id.get(pk, str(pk)) for pk in user_ids]


# --- schedules ------------------------------------------------------------------------------


@transaction.atomic
def schedule_create(*, team: Team, name: str, time_zone: str = "UTC", actor: Any) -> Schedule:
    schedule = Schedule.objects.create(
        team=team, name=_clean_name(name), time_zone=_clean_time_zone(time_zone)
    )
    audit_record(
        actor=actor,
        action="schedule.create",
        obj=schedule,
        data={"team": team.slug, "time_zone": schedule.time_zone},
    )
    return schedule


@transaction.atomic
def schedule_update(
    *, schedule: Schedule, actor: Any, name: str | None = None, time_zone: str | None = None
) -> Schedule:
    """Changing the zone moves every handoff to the same wall-clock time in the new zone."""
    changed: dict[str, list[Any]] = {}
    if name is not None and (cleaned := _clean_name(name)) != schedule.name:
        changed["name"] = [schedule.name, cleaned]
        schedule.name = cleaned
    if time_zone is not None and _clean_time_zone(time_zone) != schedule.time_zone:
        changed["time_zone"] = [schedule.time_zone, time_zone]
        schedule.time_zone = time_zone
    if changed:
        schedule.save(update_fields=list(changed))
        audit_record(actor=actor, action="schedule.update", obj=schedule, data=changed)
    return schedule


@transaction.atomic
def schedule_delete(*, schedule: Schedule, actor: Any) -> None:
    # Written first: the row (and its id) is gone afterwards.
    audit_record(actor=actor, action="schedule.delete", obj=schedule, data={"team": schedule.team.slug})
    schedule.delete()


# --- layers ---------------------------------------------------------------------------------


@transaction.atomic
def layer_create(
    *,
    schedule: Schedule,
    participants: Sequence[Any],
    shift_count: int,
    shift_unit: str,
    start_date: date,
    handoff_time: time,
    restrictions: Iterable[Any] | None = None,
    name: str = "",
    actor: Any,
) -> Layer:
    """A new rotation on top of the schedule's other layers (the newest layer wins where both have
    someone on call)."""
    participant_ids = _clean_participants(team=schedule.team, participants=participants)
    _clean_shift_length(shift_count=shift_count, shift_unit=shift_unit)
    # Lock the schedule so two layers added at once cannot take the same position.
    Schedule.objects.select_for_update().filter(pk=schedule.pk).first()
    last = schedule.layers.order_by("-position").values_list("position", flat=True).first()
    layer = Layer.objects.create(
        schedule=schedule,
        position=0 if last is None else last + 1,
        name=_clean_name(name, required=False),
        shift_count=shift_count,
        shift_unit=shift_unit,
        start_date=_clean_start_date(start_date),
        handoff_time=_clean_handoff_time(handoff_time),
        restrictions=clean_restrictions(restrictions),
    )
    LayerEpoch.objects.create(layer=layer, effective_from=timezone.now(), participants=participant_ids)
    audit_record(
        actor=actor,
        action="layer.create",
        obj=layer,
        data={
            "schedule": schedule.pk,
            "participants": _usernames(participant_ids, participants),
            "shift": f"{shift_count} {shift_unit}",
            "restrictions": layer.restrictions,
        },
    )
    return layer


@transaction.atomic
def layer_update(
    *,
    layer: Layer,
    actor: Any,
    participants: Sequence[Any] | None = None,
    name: str | None = None,
    shift_count: int | None = None,
    shift_unit: str | None = None,
    start_date: date | None = None,
    handoff_time: time | None = None,
    restrictions: Iterable[Any] | None = None,
) -> Layer:
    """New participants take over at the next handoff from now; shifts already worked stay as they
    were. Changing the timing (length, handoff, start date) re-plans the rotation as a whole."""
    changed: dict[str, list[Any]] = {}
    fields = {
        "name": None if name is None else _clean_name(name, required=False),
        "start_date": None if start_date is None else _clean_start_date(start_date),
        "handoff_time": None if handoff_time is None else _clean_handoff_time(handoff_time),
        "restrictions": None if restrictions is None else clean_restrictions(restrictions),
        "shift_count": shift_count,
        "shift_unit": shift_unit,
    }
    if shift_count is not None or shift_unit is not None:
        _clean_shift_length(
            shift_count=layer.shift_count if shift_count is None else shift_count,
            shift_unit=layer.shift_unit if shift_unit is None else shift_unit,
        )
    for field, value in fields.items():
        if value is not None and value != getattr(layer, field):
            changed[field] = [getattr(layer, field), value]
            setattr(layer, field, value)
    if changed:
        layer.save(update_fields=list(changed))
    if participants is not None:
        new_ids = _clean_participants(team=layer.schedule.team, participants=participants)
        old_ids = _current_participants(layer)
        if new_ids != old_ids:
            _layer_epoch_add(layer=layer, participant_ids=new_ids)
            changed["participants"] = [old_ids, _usernames(new_ids, participants)]
    if changed:
        audit_record(
            actor=actor,
            action="layer.update",
            obj=layer,
            data={field: [_jsonable(old), _jsonable(new)] for field, (old, new) in changed.items()},
        )
    return layer


def _layer_epoch_add(*, layer: Layer, participant_ids: list[int]) -> None:
    now = timezone.now()
    latest = layer.epochs.select_for_update().order_by("-effective_from").first()
    if latest is not None and latest.effective_from >= now:
        # Added in this very instant (or, with a clock step back, "later"): it has not governed any
        # handoff that the new one would not, so it is replaced rather than stacked.
        latest.participants = participant_ids
        latest.save(update_fields=["participants"])
        return
    LayerEpoch.objects.create(layer=layer, effective_from=now, participants=participant_ids)


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | time):
        return value.isoformat()
    return value


@transaction.atomic
def layer_delete(*, layer: Layer, actor: Any) -> None:
    audit_record(actor=actor, action="layer.delete", obj=layer, data={"schedule": layer.schedule_id})
    layer.delete()


# --- overrides ------------------------------------------------------------------------------


def _aware(value: Any, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise ScheduleInvalid("Give a date and time.", field=field)
    if timezone.is_naive(value):
        raise ScheduleInvalid("Times need a zone or an offset, e.g. 2026-03-02T09:00:00+01:00.", field=field)
    return value


@transaction.atomic
def override_create(
    *,
    schedule: Schedule,
    user: Any,
    starts_at: datetime,
    ends_at: datetime,
    replaces: Any | None = None,
    actor: Any,
) -> Override:
    """`user` is on call over [starts_at, ends_at), ahead of every layer; with `replaces`, only
    while that person would be on call from the layers."""
    starts_at = _aware(starts_at, "starts_at")
    ends_at = _aware(ends_at, "ends_at")
    if ends_at <= starts_at:
        raise ScheduleInvalid("An override must end after it starts.", field="ends_at")
    if ends_at <= timezone.now():
        raise ScheduleInvalid(
            "That time is already over; an override must end in the future.", field="ends_at"
        )
    if not user.is_active or not has_role(user, schedule.team, Role.RESPONDER):
        raise ScheduleInvalid(
            f"{person_name(user)} is not a responder in team {schedule.team.name}, so they cannot "
            "be on call for it.",
            field="user",
        )
    if replaces is not None and replaces.pk == user.pk:
        raise ScheduleInvalid(f"{person_name(user)} cannot replace themselves.", field="replaces")
    override = Override.objects.create(
        schedule=schedule,
        user=user,
        replaces=replaces,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="override.create",
        obj=override,
        data={
            "schedule": schedule.pk,
            "user": user.get_username(),
            "replaces": replaces.get_username() if replaces is not None else None,
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
        },
    )
    return override


@transaction.atomic
def override_delete(*, override: Override, actor: Any) -> None:
    audit_record(
        actor=actor,
        action="override.delete",
        obj=override,
        data={
            "schedule": override.schedule_id,
            "user": override.user.get_username(),
            "starts_at": override.starts_at.isoformat(),
            "ends_at": override.ends_at.isoformat(),
        },
    )
    override.delete()
