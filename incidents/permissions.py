"""Who may do what. Roles are per team (viewer < responder < manager < admin); a user's role on a
service or incident is their role in the team that owns the service. Superusers are admins everywhere.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from incidents.choices import Role
from incidents.models import Incident, Membership, Service, Team


def role_in_team(user: Any, team: Team | int) -> int | None:
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    team_id = team if isinstance(team, int) else team.pk
    cached: dict[int, int] | None = getattr(user, "_muster_roles", None)
    if cached is None:
        cached = dict(Membership.objects.filter(user=user).values_list("team_id", "role"))
        user._muster_roles = cached
    return cached.get(team_id)


def has_role(user: Any, team: Team | int, minimum: Role) -> bool:
    role = role_in_team(user, team)
    return role is not None and role >= minimum


def can_view_service(user: Any, service: Service) -> bool:
    return has_role(user, service.team_id, Role.VIEWER)


def can_respond(user: Any, service: Service) -> bool:
    """Acknowledge, resolve, annotate and declare incidents on this service."""
    return has_role(user, service.team_id, Role.RESPONDER)


def can_manage_service(user: Any, service: Service) -> bool:
    """Change the service: integrations, maintenance windows."""
    return has_role(user, service.team_id, Role.MANAGER)


def can_view_incident(user: Any, incident: Incident) -> bool:
    return has_role(user, incident.service.team_id, Role.VIEWER)


def can_act_on_incident(user: Any, incident: Incident) -> bool:
    return has_role(user, incident.service.team_id, Role.RESPONDER)


def visible_team_ids(user: Any) -> QuerySet[Membership, int] | None:
    """Team ids whose services the user may see, as a subquery (no query of its own); None means
    every team (superusers)."""
    if not user.is_authenticated:
        return Membership.objects.none().values_list("team_id", flat=True)
    if user.is_superuser:
        return None
    return Membership.objects.filter(user=user).values_list("team_id", flat=True)
