"""Due-date nudges: one email when an action item reaches its due date, one when a postmortem is
past its due date, at MUSTER_DIGEST_TIME in the owner's time zone. Keyed by the item or postmortem
and the due date, so a changed due date nudges again."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.utils import timezone

from incidents.models import person_zone
from postmortems.choices import PostmortemStatus, ReminderKind
from postmortems.models import ActionItem, Postmortem
from postmortems.reminders.common import (
    Due,
    common_context,
    deliver,
    item_line,
    postmortem_line,
    reached,
    unsent,
)

# Nudges this late are news to nobody: the weekly digest lists the item as overdue anyway, and a
# beat that comes back after a long outage should not bury people in stale nudges.
NUDGE_STALE_AFTER = timedelta(days=7)


def _nudge_window(now: datetime) -> tuple[date, date]:
    """Due dates worth looking at: every zone's date lies within a day of UTC's."""
    utc_today = now.astimezone(UTC).date()
    return utc_today - NUDGE_STALE_AFTER - timedelta(days=2), utc_today + timedelta(days=1)


def _nudge_candidates(now: datetime) -> list[Due]:
    earliest, latest = _nudge_window(now)
    due: list[Due] = []
    items = (
        ActionItem.objects.open()
        .filter(due_date__range=(earliest, latest), owner__is_active=True)
        .exclude(owner__email="")
        .select_related("owner__profile", "incident")
        .order_by("due_date", "pk")
    )
    for item in items:
        assert item.due_date is not None
        local = now.astimezone(person_zone(item.owner))
        if reached(local, item.due_date) and item.due_date >= local.date() - NUDGE_STALE_AFTER:
            period = item.due_date.isoformat()
            due.append(
                Due(
                    key=f"{ReminderKind.ITEM_DUE}:{item.pk}:{period}",
                    kind=ReminderKind.ITEM_DUE,
                    user=item.owner,
                    period=period,
                    today=local.date(),
                    about=item,
                )
            )
    postmortems = (
        Postmortem.objects.exclude(status=PostmortemStatus.PUBLISHED)
        .filter(due_date__range=(earliest, latest), owner__is_active=True)
        .exclude(owner__email="")
        .select_related("owner__profile", "incident")
        .order_by("due_date", "pk")
    )
    for postmortem in postmortems:
        assert postmortem.due_date is not None
        local = now.astimezone(person_zone(postmortem.owner))
        # Past due means the due date is over: the nudge comes the day after.
        day_after = postmortem.due_date + timedelta(days=1)
        if reached(local, day_after) and postmortem.due_date >= local.date() - NUDGE_STALE_AFTER:
            period = postmortem.due_date.isoformat()
            due.append(
                Due(
                    key=f"{ReminderKind.POSTMORTEM_OVERDUE}:{postmortem.pk}:{period}",
                    kind=ReminderKind.POSTMORTEM_OVERDUE,
                    user=postmortem.owner,
                    period=period,
                    today=local.date(),
                    about=postmortem,
                )
            )
    return due


def _item_nudge_send(due: Due) -> bool:
    item: ActionItem = due.about
    line = item_line(item, due.today)
    if line.overdue:
        subject = f"Action item {line.due}: {item.title}"
    else:
        subject = f"Action item due today: {item.title}"
    context = {**common_context(due.user), "item": line}
    return deliver(due, subject=subject, template="item_due", context=context, data={"item": item.pk})


def _postmortem_nudge_send(due: Due) -> bool:
    postmortem: Postmortem = due.about
    line = postmortem_line(postmortem, due.today)
    subject = f"Postmortem past due: {line.incident} {postmortem.title}"
    context = {**common_context(due.user), "postmortem": line}
    data = {"postmortem": postmortem.pk}
    return deliver(due, subject=subject, template="postmortem_overdue", context=context, data=data)


def nudges_send(*, now: datetime | None = None) -> list[str]:
    """Send one nudge per action item that reached its due date and per postmortem past its due
    date (in the owner's time zone, from MUSTER_DIGEST_TIME), unless sent already; returns the
    keys sent. A changed due date is a new key, so it nudges again."""
    now = now or timezone.now()
    sent = []
    for due in unsent(_nudge_candidates(now)):
        done = _item_nudge_send(due) if due.kind == ReminderKind.ITEM_DUE else _postmortem_nudge_send(due)
        if done:
            sent.append(due.key)
    return sent
