"""Weekly action-item emails and due-date nudges.

Beat runs `reminders_send` every MUSTER_REMINDERS_CHECK_SECONDS. Three kinds of email go out:

* the owner's weekly digest of their open action items, and
* the manager's weekly summary of each team they manage (open and overdue items, postmortems past
  due), both due from MUSTER_DIGEST_WEEKDAY at MUSTER_DIGEST_TIME in the recipient's own time zone
  until their ISO week ends;
* one nudge when an action item reaches its due date, and one when a postmortem is past its due date.

Every email is a Reminder row with a unique key (`digest:7:2026-W48`, `item_due:31:2026-11-30`),
written before the send. A restarted or doubled beat finds the row and sends nothing; a beat that was
down catches up when it comes back (the same week, for the weekly ones). A send that fails outright
releases the claim so the next run tries again; a process that dies mid-send keeps it: at most one
email per key is the promise, as in runbooks/reminders.py.

A run where nothing is due costs a fixed handful of queries, however many people and items there
are: candidates are fetched in bulk, their keys computed in Python and the keys already written read
at once. Building and sending one email costs a fixed number of queries more, not one per item.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from postmortems.reminders.digests import digests_send
from postmortems.reminders.nudges import nudges_send

__all__ = ["digests_send", "nudges_send", "reminders_send"]


def reminders_send(*, now: datetime | None = None) -> list[str]:
    """Everything beat runs: weekly digests and manager summaries, then nudges. Returns the keys
    of the emails sent."""
    now = now or timezone.now()
    return digests_send(now=now) + nudges_send(now=now)
