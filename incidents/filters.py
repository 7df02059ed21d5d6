"""One FilterSet per list, shared by the HTML page and the API viewset (same parameter names)."""

from __future__ import annotations

from typing import Any

import django_filters

from incidents.choices import AlertStatus, IncidentStatus, Severity
from incidents.models import Alert, Incident, IncidentQuerySet, Integration

OPEN = "open"


class IncidentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[(OPEN, "Open (triggered or acknowledged)"), *IncidentStatus.choices],
        method="filter_status",
        empty_label="Any status",
    )
    # A ChoiceFilter, not TypedChoiceFilter (whose Django field takes no empty_label); the ORM turns
    # "1" into the integer column's value itself.
    severity = django_filters.ChoiceFilter(choices=Severity.choices, empty_label="Any severity")
    service = django_filters.CharFilter(field_name="service__slug", label="Service")
    team = django_filters.CharFilter(field_name="service__team__slug", label="Team")

    class Meta:
        model = Incident
        fields = ["status", "severity", "service", "team"]

    def filter_status(self, queryset: IncidentQuerySet, name: str, value: Any) -> IncidentQuerySet:
        if value == OPEN:
            return queryset.open()
        return queryset.filter(status=value)


class AlertFilter(django_filters.FilterSet):
    incident = django_filters.NumberFilter(field_name="incident__number", label="Incident number")
    status = django_filters.ChoiceFilter(choices=AlertStatus.choices)
    service = django_filters.CharFilter(field_name="incident__service__slug", label="Service")
    team = django_filters.CharFilter(field_name="incident__service__team__slug", label="Team")

    class Meta:
        model = Alert
        fields = ["incident", "status", "service", "team"]


class IntegrationFilter(django_filters.FilterSet):
    service = django_filters.CharFilter(field_name="service__slug", label="Service")

    class Meta:
        model = Integration
        fields = ["service", "kind", "enabled"]
