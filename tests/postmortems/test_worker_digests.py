"""A real Celery worker with embedded beat sends the weekly emails to a real SMTP server, once."""

from __future__ import annotations

import email
import email.policy
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from postmortems.models import Reminder
from tests.factories import ActionItemFactory, IncidentFactory
from tests.postmortems.test_reminders import in_zone
from tests.workers import celery_worker

ROOT = Path(__file__).resolve().parents[2]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
# Zones on both sides of UTC: at any moment at least one of them has the same date as UTC.
OTHER_ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "America/Los_Angeles"]


def _utc_today_settled() -> datetime:
    """Now in UTC, waiting past midnight if it is close: the test needs one date all along."""
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    if midnight - now < timedelta(minutes=2):
        time.sleep((midnight - now).total_seconds() + 2)
        now = datetime.now(UTC)
    return now


def _zone_with_the_same_date(now: datetime) -> str:
    """A zone other than UTC where it is the same day, so its digest is due as well."""
    return next(name for name in OTHER_ZONES if now.astimezone(ZoneInfo(name)).date() == now.date())


def _runs_finished(log: Path) -> int:
    """How many times the worker has finished the reminders task, from its log."""
    lines = log.read_text(errors="replace").splitlines()
    return sum("postmortems.tasks.send_reminders[" in line and "succeeded" in line for line in lines)


def _received(smtp_server) -> list[tuple[list[str], str]]:
    return [
        (
            list(envelope.rcpt_tos),
            email.message_from_bytes(envelope.content, policy=email.policy.default)["Subject"],
        )
        for envelope in smtp_server.envelopes
    ]


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_each_weekly_email_exactly_once(
    smtp_server, tmp_path, service, responder, sam, manager
):
    now = _utc_today_settled()
    today = now.date()
    in_zone(sam, _zone_with_the_same_date(now))
    ActionItemFactory(
        incident=IncidentFactory(service=service), owner=responder, due_date=today - timedelta(days=10)
    )
    ActionItemFactory(incident=IncidentFactory(service=service), owner=responder, due_date=None)
    # Far from its due date, so no nudge joins the weekly emails.
    ActionItemFactory(
        incident=IncidentFactory(service=service), owner=sam, due_date=today + timedelta(days=30)
    )
    expected = sorted(
        [
            ([responder.email], "Your action items: 2 open, 1 overdue"),
            ([sam.email], "Your action items: 1 open"),
            ([manager.email], "Payments: 3 open action items, 1 overdue"),
        ]
    )

    env = {
        # Its own broker folder and beat schedule: nothing queued by an earlier run gets in the way.
        "MUSTER_VAR_DIR": str(tmp_path),
        "EMAIL_URL": f"smtp://127.0.0.1:{settings.EMAIL_PORT}",
        "MUSTER_BASE_URL": "https://muster.example.org",
        "TIME_ZONE": "UTC",
        "MUSTER_REMINDERS_CHECK_SECONDS": "1",
        "MUSTER_TICK_SECONDS": "60",
        # Due since midnight today, in UTC and in Sam's zone.
        "MUSTER_DIGEST_WEEKDAY": WEEKDAYS[today.weekday()],
        "MUSTER_DIGEST_TIME": "00:00",
    }
    with celery_worker(log=tmp_path / "worker.log", env=env, beat=True) as worker:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(smtp_server.envelopes) < len(expected):
            assert worker.alive(), worker.output()
            time.sleep(0.2)
        assert sorted(_received(smtp_server)) == expected, worker.output()

        # Beat goes on running the check every second: wait for three more runs; none may send.
        runs = _runs_finished(worker.log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _runs_finished(worker.log) < runs + 3:
            time.sleep(0.2)
        assert _runs_finished(worker.log) >= runs + 3, worker.output()
        assert sorted(_received(smtp_server)) == expected
        assert Reminder.objects.filter(sent_at__isnull=False).count() == 3
