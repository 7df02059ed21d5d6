"""Who may do what with postmortems and action items.

A postmortem is read by everyone in the incident's team and by the people asked to review it (often
from another team); its responders write it; its owner or a manager publishes it. Action items are
changed by the team's responders and by their owner, whatever the owner's team.
"""

from __future__ import annotations

from typing import Any

from incidents.choices import Role
from incidents.models import Incident
from incidents.permissions import has_role
from postmortems.models import ActionItem, Postmortem


def _team_id(incident: Incident) -> int:
    return int(incident.service.team_id)


def is_reviewer(user: Any, postmortem: Postmortem) -> bool:
    if not user.is_authenticated:
        return False
    return any(reviewer.user_id == user.pk for reviewer in postmortem.reviewers.all())


def can_view_postmortem(user: Any, postmortem: Postmortem) -> bool:
    return has_role(user, _team_id(postmortem.incident), Role.VIEWER) or is_reviewer(user, postmortem)


def can_write_postmortem(user: Any, incident: Incident) -> bool:
    """Start the incident's postmortem, and edit it while it is not published."""
    return has_role(user, _team_id(incident), Role.RESPONDER)


def can_edit_postmortem(user: Any, postmortem: Postmortem) -> bool:
    return not postmortem.is_published and can_write_postmortem(user, postmortem.incident)


def can_comment_on_postmortem(user: Any, postmortem: Postmortem) -> bool:
    """Reviewers and the team's responders comment on sections."""
    return is_reviewer(user, postmortem) or can_write_postmortem(user, postmortem.incident)


def can_publish_postmortem(user: Any, postmortem: Postmortem) -> bool:
    """The owner (a responder of the team) or a manager of the team."""
    if postmortem.is_published:
        return False
    team_id = _team_id(postmortem.incident)
    if has_role(user, team_id, Role.MANAGER):
        return True
    return postmortem.owner_id == user.pk and has_role(user, team_id, Role.RESPONDER)


def can_add_action_item(user: Any, incident: Incident) -> bool:
    return has_role(user, _team_id(incident), Role.RESPONDER)


def can_change_action_item(user: Any, item: ActionItem) -> bool:
    if user.is_authenticated and item.owner_id == user.pk:
        return True
    return has_role(user, _team_id(item.incident), Role.RESPONDER)
