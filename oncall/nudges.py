"""Shift nudges: an email before a shift starts ("you are on call in 60 min") and one at the handoff
("you are on call now, until …").

Time is data here too. The planner runs every minute and writes a ShiftNudge row for every nudge
whose window it is inside: a "before" nudge from (start - the person's lead time) until the shift
starts, a "start" nudge from the start until an hour later (or the shift's end). Rows are keyed by
kind, schedule, person and shift start, so running the planner again writes nothing new, and a beat
that was down catches up on whatever is still worth sending instead of skipping it. Nothing is
planned ahead, so a schedule edited an hour before a shift nudges the person really on call.

A delivery claims its row before the send (incidents/outbox.py), like a page in oncall/engine.py,
so a duplicate task does nothing.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Max
from django.utils import timezone

from incidents import outbox
from incidents.mail import automated_email
from incidents.models import Profile, person_name
from oncall import ical, rotation
from oncall.models import NudgeKind, Schedule, ShiftNudge
from oncall.selectors.calendar import EDGE_REACH, whole_shifts
from oncall.selectors.schedules import schedule_spec

logger = logging.getLogger(__name__)

# A "start" nudge later than this is news to nobody: the person has been on call for an hour.
START_NUDGE_LATEST = timedelta(hours=1)
# Nobody needs a week's notice by email every minute of the week; longer leads are cut to this.
MAX_LEAD = timedelta(days=7)
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = (60, 300)
DELIVERY_DEADLINE = timedelta(minutes=2)
BATCH = 500


def _profile(user: Any) -> Profile:
    """The person's preferences; the model's defaults for a person without a profile row."""
    profile = getattr(user, "profile", None)
    return profile if profile is not None else Profile()


def nudge_key(*, kind: str, schedule_id: int, user_id: int, shift_start: datetime) -> str:
    return f"{kind}:{schedule_id}:{user_id}:{shift_start.astimezone(UTC).isoformat()}"


def _lead(profile: Profile) -> timedelta:
    return min(timedelta(minutes=profile.shift_nudge_minutes), MAX_LEAD)


def _longest_lead() -> timedelta:
    longest = Profile.objects.filter(shift_nudges=True).aggregate(longest=Max("shift_nudge_minutes"))[
        "longest"
    ]
    return min(timedelta(minutes=max(longest or 0, Profile().shift_nudge_minutes)), MAX_LEAD)


@dataclass(frozen=True)
class _Candidate:
    kind: str
    schedule: Schedule
    shift: rotation.Shift
    due_at: datetime
    key: str


def _candidates(
    schedule: Schedule, found: list[rotation.Shift], people: dict[int, Any], now: datetime
) -> list[_Candidate]:
    wanted = []
    for shift in found:
        person = people.get(shift.user_id)
        if person is None:
            continue
        profile = _profile(person)
        if not profile.shift_nudges:
            continue
        lead = _lead(profile)
        if lead > timedelta(0) and shift.start - lead <= now < shift.start:
            kind, due_at = NudgeKind.BEFORE, shift.start - lead
        elif shift.start <= now < min(shift.start + START_NUDGE_LATEST, shift.end):
            kind, due_at = NudgeKind.START, shift.start
        else:
            continue
        key = nudge_key(kind=kind, schedule_id=schedule.pk, user_id=shift.user_id, shift_start=shift.start)
        wanted.append(_Candidate(kind, schedule, shift, due_at, key))
    return wanted


def nudges_plan(*, now: datetime | None = None) -> int:
    """Write the nudges whose window `now` is inside and that are not written yet. Returns how many."""
    now = now or timezone.now()
    window_start = now - START_NUDGE_LATEST
    # One second past the longest lead, so a shift starting exactly then is seen.
    window_end = now + _longest_lead() + timedelta(seconds=1)
    written = 0
    for schedule in Schedule.objects.order_by("pk"):
        spec = schedule_spec(schedule=schedule, start=window_start, end=window_end)
        # A shift that begins at the window's start was cut there: it started earlier.
        found = [s for s in rotation.shifts(spec, window_start, window_end) if s.start > window_start]
        if not found:
            continue
        people = {
            user.pk: user
            for user in get_user_model()
            .objects.filter(pk__in={s.user_id for s in found}, is_active=True)
            .exclude(email="")
            .select_related("profile")
        }
        wanted = _candidates(schedule, found, people, now)
        if not wanted:
            continue
        existing = set(
            ShiftNudge.objects.filter(key__in=[c.key for c in wanted]).values_list("key", flat=True)
        )
        rows = [_row(candidate) for candidate in wanted if candidate.key not in existing]
        # ignore_conflicts: a planner running at the same moment may have written the same keys.
        ShiftNudge.objects.bulk_create(rows, ignore_conflicts=True)
        written += len(rows)
    return written


def _row(candidate: _Candidate) -> ShiftNudge:
    shift = candidate.shift
    # The shift seen by the planner is cut at its window; the email says when it really ends.
    found = whole_shifts(
        schedule=candidate.schedule, start=shift.start, end=shift.start + timedelta(microseconds=1)
    )
    whole = found[0] if found else shift
    return ShiftNudge(
        key=candidate.key,
        kind=candidate.kind,
        user_id=shift.user_id,
        schedule=candidate.schedule,
        shift_start=shift.start,
        shift_end=whole.end,
        due_at=candidate.due_at,
    )


def nudges_due(*, now: datetime | None = None) -> list[int]:
    """Fail sends that died past their deadline, and list the queued nudges that are due."""
    return outbox.due(
        ShiftNudge,
        now=now or timezone.now(),
        expired_error="no answer from the mail server before the deadline",
        batch=BATCH,
    )


# --- delivery -------------------------------------------------------------------------------


class _Transient(Exception):
    pass


class _Permanent(Exception):
    pass


def _stale(nudge: ShiftNudge, now: datetime) -> str:
    """Why the nudge should no longer go out, or "" when it should."""
    user = nudge.user
    if not user.is_active or not user.email:
        return "the person is deactivated or has no email address"
    profile = _profile(user)
    if not profile.shift_nudges:
        return "the person turned shift nudges off"
    if nudge.kind == NudgeKind.BEFORE and now >= nudge.shift_start:
        return "the shift has started; the start nudge covers it"
    if nudge.kind == NudgeKind.START and now >= min(nudge.shift_start + START_NUDGE_LATEST, nudge.shift_end):
        return "too late to be useful"
    return ""


def nudge_deliver(*, nudge_id: int, now: datetime | None = None) -> str:
    """Send one nudge at most once. Returns what happened, for logs and tests."""
    now = now or timezone.now()
    if not outbox.claim(ShiftNudge, nudge_id, now=now, deadline=DELIVERY_DEADLINE):
        return "not claimable"
    nudge = ShiftNudge.objects.select_related("user__profile", "schedule").get(pk=nudge_id)
    if reason := _stale(nudge, now):
        outbox.finish(ShiftNudge, nudge.pk, outbox.CANCELLED, error=f"cancelled: {reason}")
        return "cancelled"
    try:
        _send(nudge, now)
    except _Permanent as exc:
        outbox.finish(ShiftNudge, nudge.pk, outbox.FAILED, error=str(exc))
        return "failed"
    except Exception as exc:  # transient, or a bug: retry a few times rather than drop it silently
        if not isinstance(exc, _Transient):
            logger.exception("shift nudge %s raised unexpectedly", nudge_id)
        if nudge.attempts >= MAX_ATTEMPTS:
            error = f"gave up after {nudge.attempts} attempts: {exc}"
            outbox.finish(ShiftNudge, nudge.pk, outbox.FAILED, error=error)
            return "failed"
        retry_after = BACKOFF_SECONDS[min(nudge.attempts, len(BACKOFF_SECONDS)) - 1]
        outbox.retry_later(ShiftNudge, nudge.pk, due_at=now + timedelta(seconds=retry_after), error=str(exc))
        return "retry"
    outbox.finish(ShiftNudge, nudge.pk, outbox.SENT, sent_at=timezone.now())
    return "sent"


def _local(moment: datetime, zone: ZoneInfo) -> str:
    here = moment.astimezone(zone)
    return f"{here:%a} {here.day} {here:%b %H:%M %Z}"


def _zone(name: str) -> ZoneInfo:
    try:
        return rotation.to_zone(name)
    except ValueError:
        return ZoneInfo("UTC")


def _minutes(delta: timedelta) -> str:
    minutes = max(1, round(delta.total_seconds() / 60))
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def nudge_message(nudge: ShiftNudge, now: datetime) -> tuple[str, dict[str, Any]]:
    """The subject and the template context of one nudge, times in the person's zone."""
    profile = _profile(nudge.user)
    zone = _zone(profile.time_zone)
    schedule = nudge.schedule
    starts, ends = _local(nudge.shift_start, zone), _local(nudge.shift_end, zone)
    if nudge.shift_end - nudge.shift_start >= EDGE_REACH:
        ends = f"at least {ends}"  # the end lies beyond what whole_shifts looks at
    if nudge.kind == NudgeKind.BEFORE:
        subject = f"On call in {_minutes(nudge.shift_start - now)}: {schedule.name}, until {ends}"
        lead = f"Your on-call shift for {schedule.name} starts in {_minutes(nudge.shift_start - now)}."
    else:
        subject = f"You are on call now: {schedule.name}, until {ends}"
        lead = f"You are now on call for {schedule.name} until {ends}."
    context = {
        "subject": subject,
        "lead": lead,
        "name": person_name(nudge.user),
        "schedule_name": schedule.name,
        "starts": starts,
        "ends": ends,
        "time_zone": str(zone),
        "schedule_url": ical.schedule_url(schedule.pk),
        "my_shifts_url": f"{settings.MUSTER_BASE_URL}/my/shifts/",
    }
    return subject, context


def _send(nudge: ShiftNudge, now: datetime) -> None:
    subject, context = nudge_message(nudge, now)
    email = automated_email(
        to=[nudge.user.email],
        subject=subject,
        template="oncall/email/shift_nudge",
        context=context,
        headers={"X-Muster-Shift-Nudge": str(nudge.pk)},
    )
    try:
        email.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(400 <= code < 500 for code in codes):
            raise _Transient(f"the mail server deferred {nudge.user.email}") from exc
        raise _Permanent(f"the mail server refused {nudge.user.email}") from exc
    except smtplib.SMTPResponseException as exc:
        text = f"the mail server answered {exc.smtp_code}"
        raise (_Transient(text) if 400 <= exc.smtp_code < 500 else _Permanent(text)) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise _Transient(f"could not reach the mail server: {str(exc) or type(exc).__name__}") from exc
