"""DRF adapters over incidents.permissions, so the API and the UI answer "may they?" the same way.

Objects a user cannot see never reach these checks: the selectors already answered 404 for them.
What is left is "seen, but not allowed", which is a 403 whose detail names the role needed.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.request import Request
from rest_framework.views import APIView

from incidents import permissions as rules
from incidents.choices import Role
from incidents.models import Incident, Integration, Service, Team


def _needs(role: Role, team: Team) -> str:
    return f"This needs the {role.label.lower()} role in team {team.name}."


def require_responder(user: Any, service: Service) -> None:
    if not rules.can_respond(user, service):
        raise exceptions.PermissionDenied(_needs(Role.RESPONDER, service.team))


def require_manager(user: Any, team: Team) -> None:
    if not rules.has_role(user, team, Role.MANAGER):
        raise exceptions.PermissionDenied(_needs(Role.MANAGER, team))


class IncidentAccess(permissions.BasePermission):
    """Viewers read an incident; responders change it."""

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        assert isinstance(obj, Incident)
        if request.method in permissions.SAFE_METHODS:
            return rules.can_view_incident(request.user, obj)
        require_responder(request.user, obj.service)
        return True


class ServiceAccess(permissions.BasePermission):
    """Viewers read a service; managers of its team change it and its integrations."""

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        assert isinstance(obj, Service | Integration)
        service = obj if isinstance(obj, Service) else obj.service
        if request.method in permissions.SAFE_METHODS:
            return rules.can_view_service(request.user, service)
        require_manager(request.user, service.team)
        return True
