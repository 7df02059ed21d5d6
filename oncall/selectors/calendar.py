"""Reads for calendar feeds and shift nudges: shifts with their real edges, and who may read a feed.

`rotation.shifts` clips shifts to the window it is asked about. A calendar feed cannot use a clipped
shift (the event's start, and so its UID, would move with every refresh), and a nudge needs to know
when a shift really starts and ends. `whole_shifts` asks beyond the window for the true edges.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import Http404

from incidents.choices import Role
from incidents.models import hash_secret, person_name
from incidents.permissions import has_role, visible_team_ids
from oncall import rotation
from oncall.models import CalendarFeed, LayerEpoch, Override, Schedule
from oncall.selectors.schedules import schedule_spec

# A shift longer than this beyond the window keeps its edge here: months-long shifts are rare, and
# the edge stays put across refreshes whatever the window (so does the calendar event).
EDGE_REACH = timedelta(days=62)
_FIRST_STEP = timedelta(days=1)

# --- shifts with their real edges -----------------------------------------------------------


def _extend_back(spec: rotation.Schedule, shift: rotation.Shift, floor: datetime) -> rotation.Shift:
    step = _FIRST_STEP
    while shift.start > floor:
        lo = max(shift.start - step, floor)
        before = rotation.shifts(spec, lo, shift.start)
        if not before or before[-1].end != shift.start or before[-1].user_id != shift.user_id:
            return shift
        piece = before[-1]
        # A merged shift is known by the stretch it begins with, as in rotation.shifts.
        shift = replace(
            shift, start=piece.start, layer_index=piece.layer_index, override_id=piece.override_id
        )
        if piece.start > lo:
            return shift
        step *= 2
    return shift


def _extend_forward(spec: rotation.Schedule, shift: rotation.Shift, ceiling: datetime) -> rotation.Shift:
    step = _FIRST_STEP
    while shift.end < ceiling:
        hi = min(shift.end + step, ceiling)
        after = rotation.shifts(spec, shift.end, hi)
        if not after or after[0].start != shift.end or after[0].user_id != shift.user_id:
            return shift
        shift = replace(shift, end=after[0].end)
        if after[0].end < hi:
            return shift
        step *= 2
    return shift


def whole_shifts(
    *, schedule: Schedule, start: datetime, end: datetime, reach: timedelta = EDGE_REACH
) -> list[rotation.Shift]:
    """The shifts that overlap [start, end), each with its real start and end (looked for at most
    `reach` beyond the window). Same users merged as in `rotation.shifts`; one read of the rows."""
    spec = schedule_spec(schedule=schedule, start=start - reach, end=end + reach)
    found = rotation.shifts(spec, start, end)
    if not found:
        return found
    if found[0].start == start:
        found[0] = _extend_back(spec, found[0], start - reach)
    if found[-1].end == end:
        found[-1] = _extend_forward(spec, found[-1], end + reach)
    return found


def schedules_with_user(*, user_id: int, start: datetime, end: datetime) -> QuerySet[Schedule]:
    """Schedules the user rotates in (in any epoch) or has an override in during [start, end)."""
    # Participants are a JSON list, which SQLite cannot search; the epochs are few, so scan them.
    rotating = {
        schedule_id
        for schedule_id, participants in LayerEpoch.objects.values_list("layer__schedule_id", "participants")
        if user_id in participants
    }
    overriding = Override.objects.filter(user_id=user_id, starts_at__lt=end, ends_at__gt=start).values_list(
        "schedule_id", flat=True
    )
    return Schedule.objects.filter(pk__in=rotating | set(overriding)).order_by("name", "pk")


# --- feeds ----------------------------------------------------------------------------------


def feed_schedules_for_user(*, user: Any) -> QuerySet[Schedule]:
    """Schedules a person may subscribe to: those of the teams they belong to."""
    qs = Schedule.objects.select_related("team").order_by("name", "pk")
    team_ids = visible_team_ids(user)
    return qs if team_ids is None else qs.filter(team_id__in=team_ids)


def calendar_feed_list_for_user(*, user: Any) -> QuerySet[CalendarFeed]:
    return (
        CalendarFeed.objects.filter(owner=user, revoked_at__isnull=True)
        .select_related("schedule")
        .order_by("-created_at", "-pk")
    )


def calendar_feed_get_for_user(*, user: Any, pk: int) -> CalendarFeed:
    try:
        return calendar_feed_list_for_user(user=user).get(pk=pk)
    except CalendarFeed.DoesNotExist:
        raise Http404(f"No calendar feed {pk} of yours.") from None


def calendar_feed_for_token(*, token: str) -> CalendarFeed | None:
    """The feed a token opens, or None when it is unknown, revoked, or its owner may no longer
    read what it shows (left the team, deactivated)."""
    if not token:
        return None
    feed = (
        CalendarFeed.objects.select_related("owner", "schedule")
        .filter(token_hash=hash_secret(token), revoked_at__isnull=True)
        .first()
    )
    if feed is None or not feed.owner.is_active:
        return None
    if feed.schedule is not None and not has_role(feed.owner, feed.schedule.team_id, Role.VIEWER):
        return None
    return feed


@dataclass(frozen=True)
class FeedShift:
    schedule: Schedule
    shift: rotation.Shift
    person: str


def feed_shifts(*, feed: CalendarFeed, start: datetime, end: datetime) -> list[FeedShift]:
    """What the feed shows in [start, end): every shift of its schedule, or the owner's shifts in
    every schedule they are in; whole shifts, in time order, with the person's name."""
    mine_only = feed.schedule is None
    if feed.schedule is not None:
        schedules: list[Schedule] = [feed.schedule]
    else:
        schedules = list(
            schedules_with_user(user_id=feed.owner_id, start=start - EDGE_REACH, end=end + EDGE_REACH)
        )
    found = [
        (schedule, shift)
        for schedule in schedules
        for shift in whole_shifts(schedule=schedule, start=start, end=end)
        if not mine_only or shift.user_id == feed.owner_id
    ]
    names = {
        user.pk: person_name(user)
        for user in get_user_model().objects.filter(pk__in={shift.user_id for _, shift in found})
    }
    return sorted(
        (
            FeedShift(schedule=schedule, shift=shift, person=names.get(shift.user_id, "(deleted user)"))
            for schedule, shift in found
        ),
        key=lambda item: (item.shift.start, item.schedule.pk),
    )
