"""Dates as a person reads them: "today" where they are, and when something is due."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.utils import timezone

from incidents.models import person_zone


def person_today(user: Any, *, now: datetime | None = None) -> date:
    """Today's date where the person is (their profile's time zone, else the installation's)."""
    return (now or timezone.now()).astimezone(person_zone(user)).date()


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def due_phrase(due: date | None, today: date, *, closed: bool = False) -> str:
    """When something is due, on the reader's `today`: "due in 3 days", "due today", "2 days
    overdue". A closed item or a published postmortem is never overdue; it just names the date."""
    if due is None:
        return "no due date"
    if closed:
        return f"was due {due.day} {due:%b %Y}"
    days = (due - today).days
    if days < 0:
        return f"{_days(-days)} overdue"
    if days == 0:
        return "due today"
    if days == 1:
        return "due tomorrow"
    return f"due in {_days(days)}"
