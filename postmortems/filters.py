"""One FilterSet per list, shared by the HTML page and the API viewset (same parameter names)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone

from postmortems.choices import (
    OPEN_ACTION_ITEM_STATUSES,
    ActionItemKind,
    ActionItemPriority,
    ActionItemStatus,
    PostmortemStatus,
)
from postmortems.dates import person_today
from postmortems.models import ActionItem, Postmortem

OPEN = "open"
CLOSED = "closed"


class ActionItemFilter(django_filters.FilterSet):
    owner = django_filters.CharFilter(field_name="owner__username", label="Owner (username)")
    team = django_filters.CharFilter(field_name="incident__service__team__slug", label="Team")
    status = django_filters.ChoiceFilter(
        choices=[
            (OPEN, "Open (open or in progress)"),
            (CLOSED, "Closed (done or won't do)"),
            *ActionItemStatus.choices,
        ],
        method="filter_status",
        empty_label="Any status",
    )
    overdue = django_filters.BooleanFilter(method="filter_overdue", label="Overdue")
    priority = django_filters.ChoiceFilter(choices=ActionItemPriority.choices, empty_label="Any priority")
    kind = django_filters.ChoiceFilter(choices=ActionItemKind.choices, empty_label="Any kind")
    incident = django_filters.NumberFilter(field_name="incident__number", label="Incident number")

    class Meta:
        model = ActionItem
        fields = ["owner", "team", "status", "overdue", "priority", "kind", "incident"]

    def filter_status(self, queryset: QuerySet[ActionItem], name: str, value: Any) -> QuerySet[ActionItem]:
        if value == OPEN:
            return queryset.filter(status__in=OPEN_ACTION_ITEM_STATUSES)
        if value == CLOSED:
            return queryset.exclude(status__in=OPEN_ACTION_ITEM_STATUSES)
        return queryset.filter(status=value)

    def filter_overdue(self, queryset: QuerySet[ActionItem], name: str, value: Any) -> QuerySet[ActionItem]:
        if value is None:
            return queryset
        # "Overdue" is judged by the date where the person asking is.
        today = person_today(getattr(self.request, "user", None), now=timezone.now())
        overdue = Q(status__in=OPEN_ACTION_ITEM_STATUSES, due_date__lt=today)
        return queryset.filter(overdue) if value else queryset.exclude(overdue)


class PostmortemFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PostmortemStatus.choices, empty_label="Any status")
    team = django_filters.CharFilter(field_name="incident__service__team__slug", label="Team")
    owner = django_filters.CharFilter(field_name="owner__username", label="Owner (username)")
    overdue = django_filters.BooleanFilter(method="filter_overdue", label="Past due")

    class Meta:
        model = Postmortem
        fields = ["status", "team", "owner", "overdue"]

    def filter_overdue(self, queryset: QuerySet[Postmortem], name: str, value: Any) -> QuerySet[Postmortem]:
        if value is None:
            return queryset
        today = person_today(getattr(self.request, "user", None), now=timezone.now())
        overdue = Q(due_date__lt=today) & ~Q(status=PostmortemStatus.PUBLISHED)
        return queryset.filter(overdue) if value else queryset.exclude(overdue)
