"""Reads. Every selector that takes a user returns only what that user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404

from incidents.choices import AlertStatus, Role
from incidents.models import Alert, Incident, IncidentQuerySet, IncidentRole, Integration, Service, Team
from incidents.permissions import visible_team_ids


def service_list_for_user(*, user: Any) -> QuerySet[Service]:
    qs = (
        Service.objects.select_related("team")
        .annotate(open_incident_count=Count("incidents", filter=~Q(incidents__status="resolved")))
        .order_by("name")
    )
    team_ids = visible_team_ids(user)
    return qs if team_ids is None else qs.filter(team_id__in=team_ids)


def service_list_for_role(*, user: Any, minimum: Role) -> QuerySet[Service]:
    """Services where the user holds at least `minimum` (e.g. those they may declare on)."""
    qs = Service.objects.select_related("team")
    if user.is_superuser:
        return qs
    return qs.filter(team__memberships__user=user, team__memberships__role__gte=minimum)


def service_get_for_user(*, user: Any, slug: str) -> Service:
    try:
        return service_list_for_user(user=user).get(slug=slug)
    except Service.DoesNotExist:
        raise Http404(f"No service {slug!r} you can see.") from None


def team_list_for_user(*, user: Any) -> QuerySet[Team]:
    team_ids = visible_team_ids(user)
    return Team.objects.all() if team_ids is None else Team.objects.filter(pk__in=team_ids)


def incident_list_for_user(*, user: Any) -> IncidentQuerySet:
    """The base queryset for list pages and the API list: one query, whatever the page size."""
    qs = Incident.objects.select_related("service", "service__team").prefetch_related(
        Prefetch("roles", queryset=IncidentRole.objects.select_related("user"))
    )
    team_ids = visible_team_ids(user)
    return qs if team_ids is None else qs.filter(service__team_id__in=team_ids)


def incident_get_for_user(*, user: Any, number: int) -> Incident:
    try:
        return incident_list_for_user(user=user).get(number=number)
    except Incident.DoesNotExist:
        raise Http404(f"No incident INC-{number} you can see.") from None


def incident_timeline(*, incident: Incident) -> QuerySet[Any]:
    return incident.timeline.select_related("actor_user", "actor_integration").order_by("created_at", "pk")


def incident_alerts(*, incident: Incident) -> QuerySet[Alert]:
    return incident.alerts.select_related("integration").order_by("status", "-last_seen")


def alert_list_for_user(*, user: Any) -> QuerySet[Alert]:
    qs = Alert.objects.select_related("integration", "incident", "incident__service")
    team_ids = visible_team_ids(user)
    return qs if team_ids is None else qs.filter(incident__service__team_id__in=team_ids)


def integration_list_for_user(*, user: Any) -> QuerySet[Integration]:
    qs = Integration.objects.select_related("service", "service__team")
    team_ids = visible_team_ids(user)
    return qs if team_ids is None else qs.filter(service__team_id__in=team_ids)


def firing_alert_count(*, incident: Incident) -> int:
    return incident.alerts.filter(status=AlertStatus.FIRING).count()
