"""Shift nudges on controlled time, delivered through a real SMTP server: one email before a shift,
one at its start, never twice, and a beat that was down catches up on what is still useful."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email.message import Message

import pytest
import time_machine
from django.utils import timezone

from incidents.models import Profile
from oncall import nudges, tasks
from oncall.models import NotificationStatus, NudgeKind, ShiftNudge
from tests.factories import MembershipFactory, UserFactory
from tests.oncall.schedule_rows import add_layer, add_override, make_schedule

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in the week of Monday, March 2 2026, in UTC."""
    return MONDAY.replace(day=day, hour=hour, minute=minute)


@pytest.fixture
def clock():
    with time_machine.travel(at(2, 7), tick=False) as traveller:
        yield traveller


@pytest.fixture
def alice(team):
    person = UserFactory(username="alice", first_name="Alice", last_name="Ng")
    MembershipFactory(team=team, user=person)
    return person


@pytest.fixture
def bob(team):
    person = UserFactory(username="bob", first_name="Bob", last_name="Li")
    MembershipFactory(team=team, user=person)
    return person


@pytest.fixture
def schedule(team, alice, bob):
    """Daily turns handed over at 09:00 UTC from Monday: Alice, Bob, Alice, …"""
    schedule = make_schedule(team, time_zone="UTC")
    add_layer(schedule, [alice, bob], start_date=MONDAY.date(), unit="days")
    return schedule


def beat(clock, *, until: datetime, every: timedelta = timedelta(minutes=1)) -> None:
    """What beat and a worker do: plan and deliver every minute, from now until `until`."""
    while True:
        nudges.nudges_plan()
        for nudge_id in nudges.nudges_due():
            nudges.nudge_deliver(nudge_id=nudge_id)
        if timezone.now() >= until:
            return
        clock.move_to(min(timezone.now() + every, until))


def received(smtp_server) -> list[Message]:
    messages = [email.message_from_bytes(envelope.original_content) for envelope in smtp_server.envelopes]
    smtp_server.envelopes.clear()
    return messages


def text_of(message: Message, kind: str = "text/plain") -> str:
    part = next(p for p in message.walk() if p.get_content_type() == kind)
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def set_profile(person, **fields) -> None:
    Profile.objects.update_or_create(user=person, defaults=fields)


def test_one_email_before_the_shift_and_one_when_it_starts(smtp_server, clock, schedule, alice):
    beat(clock, until=at(2, 7, 59))
    assert received(smtp_server) == []

    beat(clock, until=at(2, 8, 0))
    [before] = received(smtp_server)
    assert before["To"] == alice.email
    assert before["Subject"] == "On call in 1 h: Payments primary, until Tue 3 Mar 09:00 UTC"
    text = text_of(before)
    assert "Your on-call shift for Payments primary starts in 1 h." in text
    assert f"http://127.0.0.1:8000/schedules/{schedule.pk}/" in text
    assert "http://127.0.0.1:8000/my/shifts/" in text
    assert f'href="http://127.0.0.1:8000/schedules/{schedule.pk}/"' in text_of(before, "text/html")

    beat(clock, until=at(2, 8, 59))
    assert received(smtp_server) == []

    beat(clock, until=at(2, 9, 30))
    [start] = received(smtp_server)
    assert start["To"] == alice.email
    assert start["Subject"] == "You are on call now: Payments primary, until Tue 3 Mar 09:00 UTC"
    assert "You are now on call for Payments primary until Tue 3 Mar 09:00 UTC." in text_of(start)
    assert start["Auto-Submitted"] == "auto-generated"


def test_running_the_planner_again_sends_nothing_new(smtp_server, clock, schedule, alice):
    clock.move_to(at(2, 8, 10))
    beat(clock, until=at(2, 8, 10))
    beat(clock, until=at(2, 8, 10))
    nudges.nudges_plan()

    assert len(received(smtp_server)) == 1
    nudge = ShiftNudge.objects.get()
    assert nudge.status == NotificationStatus.SENT
    assert nudge.attempts == 1
    assert nudges.nudge_deliver(nudge_id=nudge.pk) == "not claimable"
    assert received(smtp_server) == []


def test_a_beat_back_before_the_shift_starts_still_sends_the_early_nudge(smtp_server, clock, schedule, alice):
    beat(clock, until=at(2, 7, 50))
    clock.move_to(at(2, 8, 40))  # beat was down over 08:00, when the nudge was due

    beat(clock, until=at(2, 8, 41))

    [before] = received(smtp_server)
    assert before["Subject"].startswith("On call in 20 min: Payments primary")
    beat(clock, until=at(2, 9, 0))
    [start] = received(smtp_server)
    assert start["Subject"].startswith("You are on call now")


def test_a_beat_back_after_the_shift_started_sends_only_the_start_nudge(smtp_server, clock, schedule, alice):
    beat(clock, until=at(2, 7, 50))
    clock.move_to(at(2, 9, 30))

    beat(clock, until=at(2, 9, 45))

    [start] = received(smtp_server)
    assert start["Subject"].startswith("You are on call now")
    assert not ShiftNudge.objects.filter(kind=NudgeKind.BEFORE).exists()


def test_a_beat_back_more_than_an_hour_after_the_start_sends_nothing(smtp_server, clock, schedule, alice):
    beat(clock, until=at(2, 7, 50))
    clock.move_to(at(2, 10, 1))

    beat(clock, until=at(2, 10, 5))

    assert received(smtp_server) == []
    assert not ShiftNudge.objects.exists()


def test_a_nudge_held_up_past_the_shift_start_is_cancelled_not_sent(smtp_server, clock, schedule, alice):
    clock.move_to(at(2, 8, 30))
    nudges.nudges_plan()
    clock.move_to(at(2, 9, 1))  # no worker picked it up in time

    [nudge_id] = nudges.nudges_due()
    assert nudges.nudge_deliver(nudge_id=nudge_id) == "cancelled"

    assert received(smtp_server) == []
    assert ShiftNudge.objects.get(pk=nudge_id).status == NotificationStatus.CANCELLED


def test_someone_who_turned_nudges_off_gets_none(smtp_server, clock, schedule, alice, bob):
    set_profile(alice, shift_nudges=False)

    beat(clock, until=at(2, 9, 30), every=timedelta(minutes=5))
    clock.move_to(at(3, 7, 55))
    beat(clock, until=at(3, 9, 5), every=timedelta(minutes=5))

    assert [m["To"] for m in received(smtp_server)] == [bob.email, bob.email]


def test_each_person_gets_the_nudge_as_early_as_they_asked(smtp_server, clock, schedule, alice, bob):
    set_profile(alice, shift_nudge_minutes=15)
    set_profile(bob, shift_nudge_minutes=120)

    beat(clock, until=at(2, 8, 44))
    assert received(smtp_server) == []
    beat(clock, until=at(2, 8, 45))
    [alice_before] = received(smtp_server)
    assert alice_before["Subject"].startswith("On call in 15 min")

    clock.move_to(at(3, 6, 59))
    beat(clock, until=at(3, 6, 59))
    assert received(smtp_server) == []
    beat(clock, until=at(3, 7, 0))
    [bob_before] = received(smtp_server)
    assert bob_before["To"] == bob.email
    assert bob_before["Subject"].startswith("On call in 2 h")


def test_a_person_without_a_profile_gets_the_default_hour(smtp_server, clock, schedule, alice):
    Profile.objects.filter(user=alice).delete()

    beat(clock, until=at(2, 7, 59))
    assert received(smtp_server) == []
    beat(clock, until=at(2, 8, 0))

    [before] = received(smtp_server)
    assert before["Subject"].startswith("On call in 1 h")


def test_back_to_back_turns_of_the_same_person_are_one_shift(smtp_server, clock, team, alice, bob):
    schedule = make_schedule(team, time_zone="UTC")
    add_layer(schedule, [alice, alice, bob], start_date=MONDAY.date(), unit="days")

    beat(clock, until=at(2, 9, 0), every=timedelta(minutes=10))
    [_before, start] = received(smtp_server)
    assert start["Subject"] == "You are on call now: Payments primary, until Wed 4 Mar 09:00 UTC"

    clock.move_to(at(3, 7, 55))
    beat(clock, until=at(3, 9, 30), every=timedelta(minutes=5))
    assert received(smtp_server) == []


def test_times_are_in_the_persons_time_zone(smtp_server, clock, schedule, alice):
    set_profile(alice, time_zone="Europe/Berlin")

    beat(clock, until=at(2, 8, 0), every=timedelta(minutes=30))

    [before] = received(smtp_server)
    assert before["Subject"] == "On call in 1 h: Payments primary, until Tue 3 Mar 10:00 CET"
    assert "Starts:   Mon 2 Mar 10:00 CET" in text_of(before)


def test_an_override_brings_its_own_nudges(smtp_server, clock, schedule, alice, bob):
    add_override(schedule, bob, at(2, 12), at(2, 14))

    clock.move_to(at(2, 11))
    beat(clock, until=at(2, 12, 0), every=timedelta(minutes=15))

    messages = received(smtp_server)
    assert [(m["To"], m["Subject"]) for m in messages] == [
        (bob.email, "On call in 1 h: Payments primary, until Mon 2 Mar 14:00 UTC"),
        (bob.email, "You are on call now: Payments primary, until Mon 2 Mar 14:00 UTC"),
    ]


def test_a_refused_address_fails_without_retrying(smtp_server, clock, schedule, alice):
    smtp_server.refuse[alice.email] = "550 5.1.1 no such user"

    beat(clock, until=at(2, 8, 5))

    nudge = ShiftNudge.objects.get()
    assert nudge.status == NotificationStatus.FAILED
    assert nudge.attempts == 1
    assert "refused" in nudge.last_error


def test_the_beat_task_plans_and_hands_nudges_to_workers(smtp_server, clock, schedule, alice, monkeypatch):
    monkeypatch.setattr(tasks.deliver_shift_nudge, "delay", lambda pk: tasks.deliver_shift_nudge(pk))
    clock.move_to(at(2, 8, 0))

    tasks.shift_nudges()
    tasks.shift_nudges()

    [before] = received(smtp_server)
    assert before["To"] == alice.email
