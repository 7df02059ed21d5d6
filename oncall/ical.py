"""On-call shifts as an iCalendar (RFC 5545) subscription feed, built with the `icalendar` library.

Choices (INTEROP.md §7): every time is in UTC, so no VTIMEZONE is needed and every client agrees;
the zone goes in X-WR-TIMEZONE only as a display hint. A shift's UID is derived from the schedule,
the layer or override it comes from and its start, never from a person, so the same shift keeps the
same event across refreshes and a handed-over shift becomes a new one. Shifts are TRANSPARENT:
being on call is not being busy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import icalendar
from django.conf import settings

from oncall import rotation

PRODID = "-//Muster//On-call shifts//EN"
# A hint: Google ignores it and polls every 8-24 h; Apple and Outlook honour it.
REFRESH_INTERVAL = timedelta(hours=1)
FEED_PAST = timedelta(days=7)
FEED_FUTURE = timedelta(days=90)


@dataclass(frozen=True)
class ShiftEvent:
    uid: str
    start: datetime
    end: datetime
    summary: str
    url: str
    description: str


def schedule_url(schedule_id: int) -> str:
    return f"{settings.MUSTER_BASE_URL}/schedules/{schedule_id}/"


def _uid_domain() -> str:
    return urlsplit(settings.MUSTER_BASE_URL).hostname or "muster.invalid"


def _utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def shift_uid(*, schedule_id: int, shift: rotation.Shift) -> str:
    source = f"o{shift.override_id}" if shift.override_id is not None else f"l{shift.layer_index or 0}"
    return f"oncall-{schedule_id}-{source}-{_utc_stamp(shift.start)}@{_uid_domain()}"


def shift_event(*, schedule_id: int, schedule_name: str, person: str, shift: rotation.Shift) -> ShiftEvent:
    url = schedule_url(schedule_id)
    source = "an override" if shift.override_id is not None else "the rotation"
    return ShiftEvent(
        uid=shift_uid(schedule_id=schedule_id, shift=shift),
        start=shift.start.astimezone(UTC),
        end=shift.end.astimezone(UTC),
        summary=f"On call: {person} ({schedule_name})",
        url=url,
        description=f"{person} is on call for {schedule_name} ({source}).\n{url}",
    )


def feed_etag(*, name: str, events: Sequence[ShiftEvent]) -> str:
    """Weak: the body also carries DTSTAMP, the time it was built, which does not change its meaning."""
    digest = hashlib.sha256(name.encode())
    for event in events:
        digest.update(
            "\x1f".join(
                (event.uid, event.start.isoformat(), event.end.isoformat(), event.summary, event.url)
            ).encode()
        )
    return f'W/"{digest.hexdigest()[:32]}"'


def calendar_bytes(
    *, name: str, description: str, time_zone: str, events: Sequence[ShiftEvent], now: datetime
) -> bytes:
    """The feed, CRLF line endings and folding included (the library's serialiser does both)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # X- properties have no type the library knows, so they are given as TEXT to get escaping.
    calendar.add("x-wr-calname", icalendar.vText(name))
    calendar.add("x-wr-caldesc", icalendar.vText(description))
    calendar.add("x-wr-timezone", icalendar.vText(time_zone))
    calendar.add("refresh-interval", icalendar.vDuration(REFRESH_INTERVAL), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", icalendar.vDuration(REFRESH_INTERVAL))
    stamp = now.astimezone(UTC)
    for shift in events:
        event = icalendar.Event()
        event.add("uid", shift.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        event.add("summary", shift.summary)
        event.add("description", shift.description)
        event.add("url", shift.url)
        event.add("transp", "TRANSPARENT")
        event.add("status", "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical()
