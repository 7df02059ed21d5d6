"""Reads. Every selector that takes a user returns only what that user may see: postmortems and
action items of the teams they belong to, and postmortems they were asked to review."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Case, F, Prefetch, Q, QuerySet, Value, When
from django.http import Http404

from incidents.models import Incident
from incidents.permissions import visible_team_ids
from postmortems.choices import OPEN_ACTION_ITEM_STATUSES
from postmortems.models import (
    ActionItem,
    ActionItemQuerySet,
    Postmortem,
    PostmortemReviewer,
    PostmortemSection,
    ReviewComment,
    TimelineEntry,
)


def postmortem_list_for_user(*, user: Any) -> QuerySet[Postmortem]:
    qs = Postmortem.objects.select_related(
        "incident", "incident__service", "incident__service__team", "owner"
    )
    team_ids = visible_team_ids(user)
    if team_ids is None:
        return qs
    if not user.is_authenticated:
        return qs.none()
    return qs.filter(Q(incident__service__team_id__in=team_ids) | Q(reviewers__user=user)).distinct()


def postmortem_get_for_user(*, user: Any, number: int) -> Postmortem:
    """The postmortem of incident `number`, with what its page shows prefetched; 404 when there is
    none or the user may not see it."""
    qs = postmortem_list_for_user(user=user).prefetch_related(
        Prefetch("sections", queryset=PostmortemSection.objects.select_related("updated_by")),
        Prefetch("reviewers", queryset=PostmortemReviewer.objects.select_related("user", "requested_by")),
        Prefetch("comments", queryset=ReviewComment.objects.select_related("author", "resolved_by")),
    )
    try:
        return qs.get(incident__number=number)
    except Postmortem.DoesNotExist:
        raise Http404(f"No postmortem for INC-{number} that you can see.") from None


def postmortem_timeline(*, postmortem: Postmortem, included_only: bool = False) -> QuerySet[TimelineEntry]:
    entries = postmortem.timeline_entries.order_by("occurred_at", "pk")
    return entries.filter(included=True) if included_only else entries


def incident_metrics(*, incident: Incident) -> list[tuple[str, timedelta | None, str]]:
    """The durations a postmortem reports: (label, duration or None, how it is measured)."""
    return [
        ("Time to detect", incident.time_to_detect, "From impact starting to the first alert or declaration"),
        ("Time to acknowledge", incident.time_to_acknowledge, "From detection to the first acknowledgement"),
        ("Time to mitigate", incident.time_to_mitigate, "From detection to impact mitigated"),
        ("Time to resolve", incident.time_to_resolve, "From detection to resolved"),
    ]


def action_item_list_for_user(*, user: Any) -> ActionItemQuerySet:
    """Action items of the user's teams, plus the ones they own: one query, whatever the page size."""
    qs = ActionItem.objects.select_related(
        "incident", "incident__service", "incident__service__team", "owner", "incident__postmortem"
    )
    team_ids = visible_team_ids(user)
    if team_ids is None:
        return qs
    if not user.is_authenticated:
        return qs.none()
    return qs.filter(Q(incident__service__team_id__in=team_ids) | Q(owner=user))


def action_item_get_for_user(*, user: Any, pk: int) -> ActionItem:
    try:
        return action_item_list_for_user(user=user).get(pk=pk)
    except ActionItem.DoesNotExist:
        raise Http404(f"No action item #{pk} that you can see.") from None


def incident_action_items(*, incident: Incident) -> QuerySet[ActionItem]:
    """The incident's items: open ones first, soonest due first (no due date last), then closed."""
    still_open = Case(When(status__in=OPEN_ACTION_ITEM_STATUSES, then=Value(0)), default=Value(1))
    return incident.action_items.select_related("owner").order_by(
        still_open, F("due_date").asc(nulls_last=True), "pk"
    )
