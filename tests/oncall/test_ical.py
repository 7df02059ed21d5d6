"""The iCalendar feed as a calendar app reads it: parsed back with `icalendar`, every event checked
against the rotation math, the syntax checked line by line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import time_machine

from incidents.models import person_name
from oncall import ical, rotation
from oncall.selectors.calendar import feed_shifts
from oncall.selectors.schedules import schedule_spec
from oncall.services import calendar_feed_create
from tests.factories import MembershipFactory, UserFactory
from tests.oncall.schedule_rows import add_layer, add_override, make_schedule

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday; Berlin changes to summer time on Mar 29


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def people(team):
    names = [
        ("alice", "Alice", "Ng"),
        ("bob", "Bob", "Öztürk"),
        ("carol", "Carol", "Diaz"),
        ("dave", "Dave", "Li"),
    ]
    found = []
    for username, first, last in names:
        person = UserFactory(username=username, first_name=first, last_name=last)
        MembershipFactory(team=team, user=person)
        found.append(person)
    return found


@pytest.fixture
def schedule(team, people):
    alice, bob, carol, dave = people
    schedule = make_schedule(team)
    add_layer(schedule, [alice, bob, carol])
    # Business hours on weekdays: Dave, on top of the weekly rotation.
    add_layer(
        schedule,
        [dave],
        position=1,
        restrictions=[{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
    )
    add_override(schedule, carol, datetime(2026, 3, 7, 8, tzinfo=UTC), datetime(2026, 3, 8, 20, tzinfo=UTC))
    return schedule


def build(feed, now: datetime) -> bytes:
    events = [
        ical.shift_event(
            schedule_id=item.schedule.pk,
            schedule_name=item.schedule.name,
            person=item.person,
            shift=item.shift,
        )
        for item in feed_shifts(feed=feed, start=now - ical.FEED_PAST, end=now + ical.FEED_FUTURE)
    ]
    return ical.calendar_bytes(
        name="Payments primary on call", description="", time_zone="UTC", events=events, now=now
    )


def vevents(body: bytes) -> list[icalendar.Component]:
    return list(icalendar.Calendar.from_ical(body).walk("VEVENT"))


def expected_shifts(schedule, now: datetime) -> list[rotation.Shift]:
    """What rotation.shifts says for the feed's window, asked over a wider one so that the shifts at
    the window's edges are whole (none of these is longer than a week)."""
    start, end = now - ical.FEED_PAST, now + ical.FEED_FUTURE
    margin = timedelta(days=30)
    spec = schedule_spec(schedule=schedule, start=start - margin, end=end + margin)
    return [s for s in rotation.shifts(spec, start - margin, end + margin) if s.end > start and s.start < end]


def test_every_shift_in_the_window_is_one_event_with_the_same_times_and_person(schedule, people, team):
    feed, _ = calendar_feed_create(owner=people[0], schedule=schedule)

    events = vevents(build(feed, NOW))

    names = {person.pk: person_name(person) for person in people}
    want = [
        (s.start, s.end, f"On call: {names[s.user_id]} (Payments primary)")
        for s in expected_shifts(schedule, NOW)
    ]
    got = [(e.decoded("dtstart"), e.decoded("dtend"), str(e["summary"])) for e in events]
    assert got == want
    assert len(got) > 90  # weekly turns, weekday business hours and the override
    assert {e.decoded("dtstart").utcoffset() for e in events} == {timedelta(0)}
    assert all(str(e["transp"]) == "TRANSPARENT" for e in events)
    assert all(str(e["url"]) == f"http://127.0.0.1:8000/schedules/{schedule.pk}/" for e in events)


def test_times_are_written_in_utc_across_the_dst_change(schedule, people):
    feed, _ = calendar_feed_create(owner=people[0], schedule=schedule)

    body = build(feed, NOW).decode()

    # The weekly handoff is 09:00 in Berlin: 08:00 UTC in winter, 07:00 UTC in summer.
    assert "DTSTART:20260323T080000Z" in body
    assert "DTSTART:20260330T070000Z" in body
    assert "TZID" not in body
    assert "X-WR-TIMEZONE:UTC" in body


def test_calendar_properties_that_calendar_apps_read(schedule, people):
    feed, _ = calendar_feed_create(owner=people[0], schedule=schedule)

    calendar = icalendar.Calendar.from_ical(build(feed, NOW))

    assert str(calendar["version"]) == "2.0"
    assert str(calendar["prodid"]) == ical.PRODID
    assert str(calendar["calscale"]) == "GREGORIAN"
    assert str(calendar["method"]) == "PUBLISH"
    assert calendar["x-wr-calname"] == "Payments primary on call"
    assert calendar["refresh-interval"].to_ical() == b"PT1H"
    assert calendar["refresh-interval"].params["VALUE"] == "DURATION"
    assert calendar["x-published-ttl"] == "PT1H"
    for event in calendar.walk("VEVENT"):
        assert event.decoded("dtstamp") == NOW
        assert "dtend" in event
        assert "duration" not in event


def test_lines_end_in_crlf_and_long_ones_are_folded_without_splitting_characters(team, people):
    long_name = "Zahlungsverkehr für Überweisungen, Lastschriften; Échéances — Rufbereitschaft Süd-Ost"
    schedule = make_schedule(team, name=long_name)
    add_layer(schedule, people[:2])
    feed, _ = calendar_feed_create(owner=people[0], schedule=schedule)

    body = build(feed, NOW)

    assert body.endswith(b"\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")
    lines = body.split(b"\r\n")[:-1]
    assert all(len(line) <= 75 for line in lines)
    assert any(line.startswith(b" ") for line in lines), "the long summary must be folded"
    for line in lines:
        line.decode("utf-8")  # a fold inside a multi-byte character would not decode
    [first, *_] = vevents(body)
    assert str(first["summary"]) == f"On call: {person_name(people[1])} ({long_name})"


def test_uids_stay_the_same_across_refreshes_and_carry_no_personal_data(schedule, people, frozen):
    feed, _ = calendar_feed_create(owner=people[0], schedule=schedule)
    first = {str(e["uid"]): e.decoded("dtstart") for e in vevents(build(feed, NOW))}

    frozen.shift(timedelta(hours=30))
    later = {str(e["uid"]): e.decoded("dtstart") for e in vevents(build(feed, NOW + timedelta(hours=30)))}

    shared = first.keys() & later.keys()
    # Only the shifts that left or entered the window differ.
    assert len(shared) >= len(first) - 3
    assert all(first[uid] == later[uid] for uid in shared)
    assert len(first) == len(set(first))
    for uid in first:
        assert uid.startswith(f"oncall-{schedule.pk}-")
        assert uid.endswith("@127.0.0.1")
        for person in people:
            assert person.username not in uid
            assert person.last_name.lower() not in uid.lower()


def test_a_shift_running_when_the_window_starts_keeps_its_real_start(team, people):
    alice, bob = people[:2]
    schedule = make_schedule(team, time_zone="UTC")
    # Two-week turns: the one running at the window's start began long before it.
    add_layer(schedule, [alice, bob], start_date=datetime(2026, 1, 5).date(), count=2)
    feed, _ = calendar_feed_create(owner=alice, schedule=schedule)

    [first, *_] = vevents(build(feed, NOW))

    assert first.decoded("dtstart") == datetime(2026, 2, 16, 9, tzinfo=UTC)
    assert first.decoded("dtend") == datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_my_shifts_feed_has_only_my_shifts_across_schedules(team, people, schedule):
    alice, bob = people[:2]
    other_team_schedule = make_schedule(MembershipFactory(user=bob).team, name="Database secondary")
    add_layer(other_team_schedule, [alice, bob], unit="days")
    feed, _ = calendar_feed_create(owner=bob)

    events = vevents(build(feed, NOW))

    summaries = {str(e["summary"]) for e in events}
    assert summaries == {
        f"On call: {person_name(bob)} (Payments primary)",
        f"On call: {person_name(bob)} (Database secondary)",
    }
    want = sorted(
        [(s.start, s.end) for s in expected_shifts(schedule, NOW) if s.user_id == bob.pk]
        + [(s.start, s.end) for s in expected_shifts(other_team_schedule, NOW) if s.user_id == bob.pk]
    )
    assert sorted((e.decoded("dtstart"), e.decoded("dtend")) for e in events) == want
