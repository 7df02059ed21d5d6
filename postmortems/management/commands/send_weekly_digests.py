"""Run what the beat runs for postmortem reminders, now or as of a given time."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from postmortems.choices import ReminderKind
from postmortems.models import Reminder
from postmortems.reminders import reminders_send

EXAMPLE = "2026-11-30T09:00+09:00"
# How the summary line counts each kind: (one, many).
KIND_NAMES = {
    ReminderKind.DIGEST: ("digest", "digests"),
    ReminderKind.SUMMARY: ("manager summary", "manager summaries"),
    ReminderKind.ITEM_DUE: ("action-item nudge", "action-item nudges"),
    ReminderKind.POSTMORTEM_OVERDUE: ("postmortem nudge", "postmortem nudges"),
}


def parse_at(raw: str) -> datetime:
    """An ISO-8601 time with an offset or Z; a naive one is read in settings.TIME_ZONE."""
    try:
        at = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise CommandError(f"--at must be an ISO-8601 time such as {EXAMPLE}, got {raw!r}.") from None
    if timezone.is_naive(at):
        at = at.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
    return at


class Command(BaseCommand):
    help = (
        "Send the weekly action-item digests, the managers' summaries and the due-date nudges that "
        "are due and not sent yet: exactly what beat runs. Each email goes out once, so running it "
        "again for the same week sends nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--at",
            help=(
                f"run as of this time instead of now, e.g. {EXAMPLE} or 2026-11-30T00:00Z "
                f"(a time without an offset is read in {settings.TIME_ZONE})"
            ),
        )

    def handle(self, *args: Any, at: str | None = None, **options: Any) -> None:
        now = parse_at(at) if at is not None else timezone.now()
        keys = reminders_send(now=now)
        reminders = Reminder.objects.filter(key__in=keys)
        by_key = {reminder.key: reminder for reminder in reminders}
        kinds: Counter[str] = Counter()
        for key in keys:
            reminder = by_key[key]
            kinds[reminder.kind] += 1
            self.stdout.write(f"sent {key} to {reminder.data['to']}: {reminder.data['subject']}")
        counts = ", ".join(
            f"{kinds[kind]} {one if kinds[kind] == 1 else many}" for kind, (one, many) in KIND_NAMES.items()
        )
        total = f"{len(keys)} email{'' if len(keys) == 1 else 's'}"
        self.stdout.write(f"{total} sent as of {now.isoformat()}: {counts}")
