"""Who may do what with runbooks. A runbook is shared knowledge: every responder of any team may
read every runbook (the incident that needs it is often another team's), members of the owning
team read it too; responders of the owning team edit it; its managers delete it."""

from __future__ import annotations

from typing import Any

from incidents.choices import Role
from incidents.permissions import has_role, role_in_team
from runbooks.models import Runbook


def can_read_runbooks(user: Any) -> bool:
    """Responders of any team read every runbook."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    role_in_team(user, 0)  # fills the per-request role cache
    return any(role >= Role.RESPONDER for role in user._muster_roles.values())


def can_read_runbook(user: Any, runbook: Runbook) -> bool:
    return can_read_runbooks(user) or has_role(user, runbook.team_id, Role.VIEWER)


def can_edit_runbook(user: Any, runbook: Runbook) -> bool:
    return has_role(user, runbook.team_id, Role.RESPONDER)


def can_delete_runbook(user: Any, runbook: Runbook) -> bool:
    return has_role(user, runbook.team_id, Role.MANAGER)
