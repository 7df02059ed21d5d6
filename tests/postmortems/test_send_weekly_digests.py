"""`manage.py send_weekly_digests [--at …]`: what beat runs, for operators."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from postmortems.models import Reminder
from tests.factories import ActionItemFactory, IncidentFactory, PostmortemFactory
from tests.postmortems.test_reminders import MONDAY, in_zone, messages, parts

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reminder_settings(settings):
    settings.MUSTER_BASE_URL = "https://muster.example.org"
    settings.MUSTER_DIGEST_WEEKDAY = 0
    settings.MUSTER_DIGEST_TIME = time(9, 0)
    settings.TIME_ZONE = "UTC"


def _run(*args: str) -> list[str]:
    out = StringIO()
    call_command("send_weekly_digests", *args, stdout=out)
    return out.getvalue().splitlines()


@pytest.fixture
def work(service, responder, sam, manager):
    """Rosa in Tokyo owns an item due on Monday; Sam in UTC owns a postmortem due on Friday."""
    in_zone(responder, "Asia/Tokyo")
    item = ActionItemFactory(incident=IncidentFactory(service=service), owner=responder, due_date=MONDAY)
    postmortem = PostmortemFactory(
        incident=IncidentFactory(service=service, number=7, title="Checkout down"),
        owner=sam,
        due_date=MONDAY - timedelta(days=3),
    )
    return {"item": item, "postmortem": postmortem}


def test_the_command_sends_what_is_due_as_of_at_and_prints_a_line_per_email(
    smtp_server, work, responder, sam, manager
):
    lines = _run("--at", "2026-11-30T09:00+09:00")  # Monday 09:00 in Tokyo, 00:00 in UTC

    item, postmortem = work["item"], work["postmortem"]
    assert lines == [
        f"sent digest:{responder.pk}:2026-W49 to {responder.email}: Your action items: 1 open",
        f"sent item_due:{item.pk}:2026-11-30 to {responder.email}: Action item due today: {item.title}",
        f"sent postmortem_overdue:{postmortem.pk}:2026-11-27 to {sam.email}: "
        "Postmortem past due: INC-7 Checkout down",
        "3 emails sent as of 2026-11-30T09:00:00+09:00: 1 digest, 0 manager summaries, "
        "1 action-item nudge, 1 postmortem nudge",
    ]
    received = messages(smtp_server)
    assert sorted(received) == sorted([responder.email, sam.email])
    assert all(parts(message) for found in received.values() for message in found)


def test_running_the_command_twice_for_the_same_week_sends_nothing_the_second_time(
    smtp_server, work, manager
):
    first = _run("--at", "2026-11-30T09:00Z")
    second = _run("--at", "2026-12-02T18:30Z")

    assert first[-1].startswith("4 emails sent as of 2026-11-30T09:00:00+00:00: 1 digest, 1 manager summary")
    assert second == [
        "0 emails sent as of 2026-12-02T18:30:00+00:00: 0 digests, 0 manager summaries, "
        "0 action-item nudges, 0 postmortem nudges"
    ]
    assert len(smtp_server.envelopes) == 4


def test_a_time_without_an_offset_is_read_in_the_installation_time_zone(
    smtp_server, settings, service, responder
):
    settings.TIME_ZONE = "Asia/Tokyo"
    in_zone(responder, "Asia/Tokyo")
    ActionItemFactory(incident=IncidentFactory(service=service), owner=responder, due_date=None)

    assert _run("--at", "2026-11-30T08:59")[-1].startswith("0 emails")
    lines = _run("--at", "2026-11-30T09:00")

    assert lines == [
        f"sent digest:{responder.pk}:2026-W49 to {responder.email}: Your action items: 1 open",
        "1 email sent as of 2026-11-30T09:00:00+09:00: 1 digest, 0 manager summaries, "
        "0 action-item nudges, 0 postmortem nudges",
    ]


def test_without_at_the_command_runs_as_of_now(smtp_server, work, responder):
    with time_machine.travel(datetime(2026, 11, 30, 0, 0, tzinfo=UTC), tick=False):
        lines = _run()

    assert lines[-1].startswith("3 emails sent as of 2026-11-30T00:00:00+00:00")
    assert Reminder.objects.filter(sent_at=datetime(2026, 11, 30, tzinfo=UTC)).count() == 3


@pytest.mark.parametrize("value", ["next monday", "2026-13-01T09:00Z", "2026-11-30T25:00", ""])
def test_a_bad_at_is_refused_naming_the_problem(smtp_server, work, value):
    with pytest.raises(CommandError) as refused:
        _run("--at", value)

    assert str(refused.value) == (
        f"--at must be an ISO-8601 time such as 2026-11-30T09:00+09:00, got {value!r}."
    )
    assert smtp_server.envelopes == []
    assert not Reminder.objects.exists()
