"""What the reminder emails share: the recipient's time and week, the lines the emails show, and
claiming a Reminder row before the send."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from incidents.mail import automated_email
from incidents.models import Team, person_name
from postmortems.dates import due_phrase
from postmortems.models import ActionItem, Postmortem, Reminder

logger = logging.getLogger("postmortems.reminders")

# How many keys go into one "already written?" query; far above any real run, far below the
# databases' parameter limits.
KEYS_PER_QUERY = 5000


# --- time -----------------------------------------------------------------------------------


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def reached(local: datetime, day: date) -> bool:
    """Whether the wall clock `local` shows `day` at MUSTER_DIGEST_TIME or later."""
    return local.replace(tzinfo=None) >= datetime.combine(day, settings.MUSTER_DIGEST_TIME)


def digest_period(local: datetime) -> str | None:
    """The ISO week whose weekly email is due at the wall-clock time `local`, or None while this
    week's digest day and time have not come yet."""
    today = local.date()
    digest_day = today + timedelta(days=settings.MUSTER_DIGEST_WEEKDAY - today.weekday())
    return iso_week(today) if reached(local, digest_day) else None


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def day_text(value: date) -> str:
    return f"{value:%a} {value.day} {value:%b %Y}"


# --- what the emails show -------------------------------------------------------------------


def link(path: str) -> str:
    return settings.MUSTER_BASE_URL.rstrip("/") + path


@dataclass(frozen=True)
class ItemLine:
    title: str
    url: str
    incident: str
    priority: str
    status: str
    due: str
    due_date: str
    overdue: bool
    owner: str


def item_line(item: ActionItem, today: date) -> ItemLine:
    return ItemLine(
        title=item.title,
        url=link(item.get_absolute_url()),
        incident=f"{item.incident.reference} {item.incident.title}",
        priority=item.get_priority_display(),
        status=item.get_status_display(),
        due=due_phrase(item.due_date, today),
        due_date=day_text(item.due_date) if item.due_date else "",
        overdue=item.is_overdue(today),
        owner=person_name(item.owner) if item.owner else "nobody",
    )


@dataclass(frozen=True)
class PostmortemLine:
    title: str
    url: str
    incident: str
    severity: str
    owner: str
    status: str
    past_due: str
    due_date: str


def postmortem_line(postmortem: Postmortem, today: date) -> PostmortemLine:
    assert postmortem.due_date is not None
    return PostmortemLine(
        title=postmortem.title,
        url=link(postmortem.get_absolute_url()),
        incident=postmortem.incident.reference,
        severity=postmortem.incident.get_severity_display(),
        owner=person_name(postmortem.owner) if postmortem.owner else "nobody",
        status=postmortem.get_status_display(),
        past_due=f"{plural((today - postmortem.due_date).days, 'day')} past due",
        due_date=day_text(postmortem.due_date),
    )


@dataclass(frozen=True)
class TeamSummary:
    name: str
    url: str
    open_count: int
    overdue_count: int
    overdue: list[ItemLine]
    postmortems: list[PostmortemLine]

    @property
    def more_overdue(self) -> int:
        return self.overdue_count - len(self.overdue)


def common_context(user: Any) -> dict[str, Any]:
    return {
        "name": person_name(user),
        "my_items_url": link(reverse("postmortems:my_action_items")),
        "settings_url": link(reverse("oncall:my_notifications")),
        "base_url": settings.MUSTER_BASE_URL.rstrip("/"),
    }


# --- claiming and sending -------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """One email whose time has come; sent unless its key is already written."""

    key: str
    kind: str
    user: Any
    period: str
    today: date
    about: Any = None  # the item or postmortem a nudge is about
    teams: list[Team] = field(default_factory=list)  # the teams a summary covers


def _existing(keys: Iterable[str]) -> set[str]:
    wanted = list(keys)
    found: set[str] = set()
    for start in range(0, len(wanted), KEYS_PER_QUERY):
        chunk = wanted[start : start + KEYS_PER_QUERY]
        found.update(Reminder.objects.filter(key__in=chunk).values_list("key", flat=True))
    return found


def unsent(candidates: list[Due]) -> list[Due]:
    if not candidates:
        return []
    existing = _existing(c.key for c in candidates)
    return [c for c in candidates if c.key not in existing]


def _send_email(*, to: str, subject: str, template: str, context: dict[str, Any], kind: str) -> None:
    context = {**context, "subject": subject}
    email = automated_email(
        to=[to],
        subject=subject,
        template=f"postmortems/email/{template}",
        context=context,
        headers={"X-Muster-Reminder": kind},
    )
    email.send(fail_silently=False)


def _one_line(text: str, limit: int = 120) -> str:
    """Header-safe: titles typed through the API may hold newlines, which a subject must not."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def deliver(due: Due, *, subject: str, template: str, context: dict[str, Any], data: dict[str, Any]) -> bool:
    """Claim the key, send, mark it sent. False when another run had it or the send failed."""
    subject = _one_line(subject)
    try:
        with transaction.atomic():
            reminder = Reminder.objects.create(
                key=due.key,
                kind=due.kind,
                user=due.user,
                period=due.period,
                data={**data, "to": due.user.email, "subject": subject},
            )
    except IntegrityError:  # claimed since we looked, maybe by a beat running right now
        return False
    try:
        _send_email(to=due.user.email, subject=subject, template=template, context=context, kind=due.kind)
    except Exception:
        # Nothing went out, so the key is not used up: the next run tries again. One person's bad
        # address or a mail server hiccup must not keep the others from their email.
        logger.exception("reminder %s failed; will retry", due.key)
        reminder.delete()
        return False
    Reminder.objects.filter(pk=reminder.pk).update(sent_at=timezone.now())
    return True
