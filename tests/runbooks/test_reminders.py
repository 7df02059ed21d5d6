from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings

from incidents.choices import Role
from runbooks.models import ReviewReminder, Runbook
from runbooks.reminders import review_reminders_send
from runbooks.services import review_request_create, runbook_mark_reviewed
from runbooks.tasks import review_reminders
from tests.factories import MembershipFactory, RunbookFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # ISO week 2026-W10


def _runbook(team, *, title, created_days_ago, reviewed_days_ago=None, interval=90):
    runbook = RunbookFactory(team=team, title=title)
    Runbook.objects.filter(pk=runbook.pk).update(
        created_at=MONDAY - timedelta(days=created_days_ago),
        review_interval_days=interval,
        last_reviewed_at=MONDAY - timedelta(days=reviewed_days_ago)
        if reviewed_days_ago is not None
        else None,
    )
    return runbook


def _messages(smtp_server):
    return [email.message_from_bytes(envelope.content) for envelope in smtp_server.envelopes]


def _text(message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode().replace("\r\n", "\n")


@pytest.fixture
def due_team(team, manager, responder):
    _runbook(team, title="Postgres replication lag", created_days_ago=400, reviewed_days_ago=140)
    _runbook(team, title="Disk full", created_days_ago=100)
    _runbook(team, title="Fresh one", created_days_ago=400, reviewed_days_ago=10)
    return team


def test_the_weekly_email_lists_each_due_runbook_with_its_age_and_link(smtp_server, due_team, manager):
    with time_machine.travel(MONDAY, tick=False):
        review_reminders()

    [message] = _messages(smtp_server)
    assert smtp_server.envelopes[0].rcpt_tos == [manager.email]
    assert message["Subject"] == "Payments: 2 runbooks due for review"
    text = _text(message)
    assert "* Postgres replication lag (revision 1)\n  last reviewed 140 days ago" in text
    assert "* Disk full (revision 1)\n  never reviewed (created 100 days ago)" in text
    assert "Fresh one" not in text
    disk_full = Runbook.objects.get(title="Disk full")
    assert f"{settings.MUSTER_BASE_URL.rstrip('/')}/runbooks/{disk_full.slug}/" in text
    reminder = ReviewReminder.objects.get()
    assert reminder.key == f"review:{due_team.pk}:2026-W10"
    assert reminder.sent_at == MONDAY
    assert reminder.recipients == [manager.email]


def test_running_again_in_the_same_week_sends_nothing(smtp_server, due_team, manager):
    with time_machine.travel(MONDAY, tick=False):
        review_reminders_send()
    with time_machine.travel(MONDAY + timedelta(days=4, hours=3), tick=False):
        review_reminders_send()

    assert len(smtp_server.envelopes) == 1


def test_the_next_week_sends_again(smtp_server, due_team, manager):
    review_reminders_send(MONDAY)
    review_reminders_send(MONDAY + timedelta(days=7))

    assert len(smtp_server.envelopes) == 2
    assert sorted(ReviewReminder.objects.values_list("key", flat=True)) == [
        f"review:{due_team.pk}:2026-W10",
        f"review:{due_team.pk}:2026-W11",
    ]


def test_a_beat_that_was_down_on_monday_still_sends_later_that_week(smtp_server, due_team, manager):
    review_reminders_send(MONDAY + timedelta(days=5, hours=14))  # Saturday afternoon, same week

    assert len(smtp_server.envelopes) == 1


def test_a_failed_send_releases_the_week_so_the_next_run_retries(smtp_server, due_team, manager, settings):
    good_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = 1  # nothing listens there: the connection is refused

    review_reminders_send(MONDAY)

    assert not ReviewReminder.objects.exists()
    settings.EMAIL_PORT = good_port
    review_reminders_send(MONDAY + timedelta(hours=1))
    assert len(smtp_server.envelopes) == 1


def test_reviewed_runbooks_drop_out_and_teams_with_nothing_due_get_nothing(smtp_server, due_team, manager):
    for runbook in Runbook.objects.all():
        with time_machine.travel(MONDAY - timedelta(days=1), tick=False):
            runbook_mark_reviewed(runbook=runbook, actor=manager)

    assert review_reminders_send(MONDAY) == []
    assert smtp_server.envelopes == []


def test_an_open_review_request_is_reason_enough(smtp_server, team, manager, responder):
    runbook = _runbook(team, title="Cache flush", created_days_ago=5)
    review_request_create(runbook=runbook, actor=responder, reason="Step 2 is wrong")

    review_reminders_send(MONDAY)

    [message] = _messages(smtp_server)
    assert "Cache flush (revision 1)\n  never reviewed (created 5 days ago); 1 open review request" in _text(
        message
    )


def test_without_managers_the_responders_are_told(smtp_server, team, responder, viewer):
    _runbook(team, title="Disk full", created_days_ago=100)

    review_reminders_send(MONDAY)

    assert smtp_server.envelopes[0].rcpt_tos == [responder.email]


def test_each_team_gets_its_own_email(smtp_server, due_team, manager):
    other = TeamFactory(name="Databases", slug="databases")
    dba = UserFactory(username="dba")
    MembershipFactory(team=other, user=dba, role=Role.ADMIN)
    _runbook(other, title="Vacuum", created_days_ago=200)

    review_reminders_send(MONDAY)

    by_recipient = {env.rcpt_tos[0]: email.message_from_bytes(env.content) for env in smtp_server.envelopes}
    assert by_recipient[dba.email]["Subject"] == "Databases: 1 runbook due for review"
    assert by_recipient[manager.email]["Subject"] == "Payments: 2 runbooks due for review"
    assert "Vacuum" not in _text(by_recipient[manager.email])
