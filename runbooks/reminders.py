"""The weekly "runbooks due for review" email to each team that owns one.

Beat runs `review_reminders_send` hourly. The first run in an ISO week that finds a team with a
runbook past its review date (or with an open review request) claims that team's week by writing
its ReviewReminder row (unique key: team and week), then sends. A restarted or doubled beat finds
the row and sends nothing; a beat that was down on Monday still sends when it comes back that week.
A send that fails outright releases the claim so the next run tries again; a process that dies
mid-send keeps it (at most one email a week is the promise, not at least one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.choices import Role
from incidents.mail import automated_email
from incidents.models import Team
from runbooks.models import ReviewReminder, Runbook
from runbooks.selectors import runbooks_due_for_review, teams_with_runbooks_due

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DueRunbook:
    title: str
    url: str
    revision: int | None
    last_reviewed: str
    open_requests: int


def reminder_key(*, team: Team, now: datetime) -> str:
    iso_year, iso_week, _ = timezone.localtime(now).isocalendar()
    return f"review:{team.pk}:{iso_year}-W{iso_week}"


def reminder_recipients(team: Team) -> list[str]:
    """The team's managers (and admins); its responders when it has no manager with an address."""
    users = get_user_model().objects.filter(is_active=True, memberships__team=team).exclude(email="")
    for minimum in (Role.MANAGER, Role.RESPONDER):
        addresses = list(
            users.filter(memberships__role__gte=minimum)
            .order_by("email")
            .values_list("email", flat=True)
            .distinct()
        )
        if addresses:
            return addresses
    return []


def _days(count: int) -> str:
    if count <= 0:
        return "today"
    return "1 day ago" if count == 1 else f"{count} days ago"


def _last_reviewed(runbook: Runbook, now: datetime) -> str:
    if runbook.last_reviewed_at is None:
        return f"never reviewed (created {_days((now - runbook.created_at).days)})"
    return f"last reviewed {_days((now - runbook.last_reviewed_at).days)}"


def _due(runbook: Any, now: datetime) -> DueRunbook:
    return DueRunbook(
        title=runbook.title,
        # Built at send time: the page's URL belongs to the web UI.
        url=settings.MUSTER_BASE_URL.rstrip("/") + runbook.get_absolute_url(),
        revision=runbook.current_revision.number if runbook.current_revision else None,
        last_reviewed=_last_reviewed(runbook, now),
        open_requests=runbook.open_requests,
    )


def _claim(*, key: str, team: Team, recipients: list[str], runbook_ids: list[int]) -> ReviewReminder | None:
    try:
        with transaction.atomic():
            return ReviewReminder.objects.create(
                key=key, team=team, recipients=recipients, runbook_ids=runbook_ids
            )
    except IntegrityError:  # this week's email was claimed already (maybe by a beat running now)
        return None


def _send(*, team: Team, recipients: list[str], runbooks: list[DueRunbook]) -> None:
    count = len(runbooks)
    subject = f"{team.name}: {count} runbook{'s' if count != 1 else ''} due for review"
    context = {"team": team, "runbooks": runbooks, "subject": subject, "base_url": settings.MUSTER_BASE_URL}
    email = automated_email(
        to=recipients, subject=subject, template="runbooks/email/review_reminder", context=context
    )
    email.send(fail_silently=False)


def review_reminders_send(now: datetime | None = None) -> list[str]:
    """Send this week's review email to every team that needs one and has not had it; returns
    the keys of the emails sent."""
    now = now or timezone.now()
    sent: list[str] = []
    for team in teams_with_runbooks_due(now=now):
        key = reminder_key(team=team, now=now)
        if ReviewReminder.objects.filter(key=key).exists():
            continue
        recipients = reminder_recipients(team)
        if not recipients:
            logger.warning("team %s has runbooks due for review but nobody to tell", team.slug)
            continue
        runbooks = runbooks_due_for_review(team=team, now=now)
        if not runbooks:
            continue
        reminder = _claim(key=key, team=team, recipients=recipients, runbook_ids=[r.pk for r in runbooks])
        if reminder is None:
            continue
        try:
            _send(team=team, recipients=recipients, runbooks=[_due(runbook, now) for runbook in runbooks])
        except Exception:
            # Nothing went out, so the week is not used up: the next run tries again. One team's
            # bad mail setup must not keep the others from their email.
            logger.exception("review reminder %s failed; will retry", key)
            reminder.delete()
            continue
        ReviewReminder.objects.filter(pk=reminder.pk).update(sent_at=timezone.now())
        sent.append(key)
    return sent
