"""One FilterSet per list, shared by the HTML page and the API viewset (same parameter names)."""

from __future__ import annotations

from typing import Any

import django_filters

from incidents.choices import IncidentStatus, Severity
from incidents.models import Incident, IncidentQuerySet

OPEN = "open"


class IncidentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[(OPEN, "Open (triggered or acknowledged)"), *IncidentStatus.choices],
        method="filter_status",
        empty_label="Any status",
    )
    severity = django_filters.TypedChoiceFilter(
        choices=Severity.choices, coerce=int, empty_label="Any severity"
    )
    service = django_filters.CharFilter(field_name="service__slug", label="Service")
    team = django_filters.CharFilter(field_name="service__team__slug", label="Team")

    class Meta:
        model = Incident
        fields = ["status", "severity", "service", "team"]

    def filter_status(self, queryset: IncidentQuerySet, name: str, value: Any) -> IncidentQuerySet:
        if value == OPEN:
            return queryset.open()
        return queryset.filter(status=value)
