"""The weekly emails: each owner's digest of their open action items, and each manager's summary of
the teams they manage. Both are due from MUSTER_DIGEST_WEEKDAY at MUSTER_DIGEST_TIME in the
recipient's own time zone until their ISO week ends, and keyed by person and week."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Min
from django.urls import reverse
from django.utils import timezone

from incidents.choices import Role
from incidents.models import Membership, Team, person_zone
from postmortems.choices import PostmortemStatus, ReminderKind
from postmortems.models import ActionItem, Postmortem
from postmortems.reminders.common import (
    Due,
    TeamSummary,
    common_context,
    day_text,
    deliver,
    digest_period,
    item_line,
    link,
    plural,
    postmortem_line,
    unsent,
)

# A manager of a team with hundreds of overdue items gets the first ones and a link to the rest.
SUMMARY_ITEMS_PER_TEAM = 20


def _digest_candidates(now: datetime) -> list[Due]:
    """Owners whose digest for their current week is due: active, with an address, not opted out,
    owning at least one open item."""
    owners = (
        get_user_model()
        .objects.filter(is_active=True, pk__in=ActionItem.objects.open().values("owner_id"))
        .exclude(email="")
        .exclude(profile__action_item_digest=False)
        .select_related("profile")
        .order_by("pk")
    )
    due = []
    for user in owners:
        local = now.astimezone(person_zone(user))
        period = digest_period(local)
        if period is not None:
            key = f"{ReminderKind.DIGEST}:{user.pk}:{period}"
            due.append(Due(key=key, kind=ReminderKind.DIGEST, user=user, period=period, today=local.date()))
    return due


@dataclass
class _TeamFigures:
    open_counts: dict[int, int]
    earliest_postmortem_due: dict[int, date]


def _team_figures(team_ids: set[int]) -> _TeamFigures:
    open_counts = (
        ActionItem.objects.open()
        .filter(incident__service__team_id__in=team_ids)
        .values("incident__service__team_id")
        .annotate(count=Count("pk"))
        .order_by()
        .values_list("incident__service__team_id", "count")
    )
    earliest = (
        Postmortem.objects.exclude(status=PostmortemStatus.PUBLISHED)
        .filter(incident__service__team_id__in=team_ids, due_date__isnull=False)
        .values("incident__service__team_id")
        .annotate(earliest=Min("due_date"))
        .order_by()
        .values_list("incident__service__team_id", "earliest")
    )
    return _TeamFigures(open_counts=dict(open_counts), earliest_postmortem_due=dict(earliest))


def _summary_candidates(now: datetime) -> tuple[list[Due], _TeamFigures]:
    """Managers (Membership role manager or admin) whose summary for their current week is due and
    who have something to report. Opting out of the digest does not opt out of this."""
    memberships = (
        Membership.objects.filter(role__gte=Role.MANAGER, user__is_active=True)
        .exclude(user__email="")
        .select_related("user__profile", "team")
        .order_by("user_id", "team__name")
    )
    teams_of: dict[int, list[Team]] = defaultdict(list)
    users: dict[int, Any] = {}
    for membership in memberships:
        teams_of[membership.user_id].append(membership.team)
        users[membership.user_id] = membership.user
    waiting = []
    for user in users.values():
        local = now.astimezone(person_zone(user))
        period = digest_period(local)
        if period is not None:
            waiting.append((user, period, local.date()))
    if not waiting:
        return [], _TeamFigures({}, {})
    figures = _team_figures({team.pk for user, _, _ in waiting for team in teams_of[user.pk]})
    due = []
    for user, period, today in waiting:
        teams = [team for team in teams_of[user.pk] if _team_has_news(team, figures, today)]
        if teams:
            key = f"{ReminderKind.SUMMARY}:{user.pk}:{period}"
            due.append(
                Due(key=key, kind=ReminderKind.SUMMARY, user=user, period=period, today=today, teams=teams)
            )
    return due, figures


def _team_has_news(team: Team, figures: _TeamFigures, today: date) -> bool:
    earliest = figures.earliest_postmortem_due.get(team.pk)
    return figures.open_counts.get(team.pk, 0) > 0 or (earliest is not None and earliest < today)


def _digest_send(due: Due) -> bool:
    items = list(ActionItem.objects.open().filter(owner=due.user).select_related("incident", "owner"))
    if not items:  # closed since the candidates were read
        return False
    # Earliest due date first: that is the most overdue first, then the next due; no date last.
    items.sort(key=lambda item: (item.due_date is None, item.due_date or date.max, item.pk))
    lines = [item_line(item, due.today) for item in items]
    overdue = sum(line.overdue for line in lines)
    subject = f"Your action items: {len(lines)} open" + (f", {overdue} overdue" if overdue else "")
    context = {
        **common_context(due.user),
        "items": lines,
        "open_count": len(lines),
        "overdue_count": overdue,
        "today": day_text(due.today),
    }
    data = {"items": [item.pk for item in items], "overdue": overdue}
    return deliver(due, subject=subject, template="digest", context=context, data=data)


def _summary_send(due: Due, figures: _TeamFigures) -> bool:
    team_ids = [team.pk for team in due.teams]
    overdue_by_team: dict[int, list[ActionItem]] = defaultdict(list)
    overdue_items = (
        ActionItem.objects.overdue(due.today)
        .filter(incident__service__team_id__in=team_ids)
        .select_related("incident__service", "owner")
        .order_by("due_date", "pk")
    )
    for item in overdue_items:
        overdue_by_team[item.incident.service.team_id].append(item)
    postmortems_by_team: dict[int, list[Postmortem]] = defaultdict(list)
    postmortems = (
        Postmortem.objects.exclude(status=PostmortemStatus.PUBLISHED)
        .filter(incident__service__team_id__in=team_ids, due_date__lt=due.today)
        .select_related("incident__service", "owner")
        .order_by("due_date", "pk")
    )
    for postmortem in postmortems:
        postmortems_by_team[postmortem.incident.service.team_id].append(postmortem)

    summaries = []
    for team in due.teams:
        open_count = figures.open_counts.get(team.pk, 0)
        late_items = overdue_by_team[team.pk]
        late_postmortems = postmortems_by_team[team.pk]
        if not open_count and not late_postmortems:
            continue
        summaries.append(
            TeamSummary(
                name=team.name,
                url=link(reverse("postmortems:team_action_items", kwargs={"slug": team.slug})),
                open_count=open_count,
                overdue_count=len(late_items),
                overdue=[item_line(item, due.today) for item in late_items[:SUMMARY_ITEMS_PER_TEAM]],
                postmortems=[postmortem_line(p, due.today) for p in late_postmortems],
            )
        )
    if not summaries:
        return False
    open_total = sum(s.open_count for s in summaries)
    overdue_total = sum(s.overdue_count for s in summaries)
    late_total = sum(len(s.postmortems) for s in summaries)
    names = ", ".join(s.name for s in summaries) if len(summaries) <= 3 else f"{len(summaries)} teams"
    subject = f"{names}: {plural(open_total, 'open action item')}, {overdue_total} overdue"
    if late_total:
        subject += f", {plural(late_total, 'postmortem')} past due"
    context = {**common_context(due.user), "teams": summaries, "today": day_text(due.today)}
    data = {
        "teams": team_ids,
        "open": open_total,
        "overdue": overdue_total,
        "postmortems_past_due": late_total,
    }
    return deliver(due, subject=subject, template="manager_summary", context=context, data=data)


def digests_send(*, now: datetime | None = None) -> list[str]:
    """Send every owner digest and manager summary that is due as of `now` and not sent yet this
    week (in each person's own time zone); returns the keys of the emails sent."""
    now = now or timezone.now()
    digests = _digest_candidates(now)
    summaries, figures = _summary_candidates(now)
    sent = []
    for due in unsent(digests + summaries):
        done = _digest_send(due) if due.kind == ReminderKind.DIGEST else _summary_send(due, figures)
        if done:
            sent.append(due.key)
    return sent
