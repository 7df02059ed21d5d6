"""What every postmortem service shares: the UNSET sentinel, the read-only rule for published
postmortems, and small conversions for audit entries and names."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from django.contrib.auth import get_user_model

from incidents.models import person_name
from incidents.services.errors import DomainError
from postmortems.models import Postmortem


class _Unset(enum.Enum):
    """Marks an argument that was not given, where None means "clear it"."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset.UNSET

READ_ONLY_MESSAGE = "Published postmortems are read-only; their action items can still be changed."


class PostmortemReadOnly(DomainError):
    """The postmortem is published, so its text, timeline, reviewers and comments are final."""

    def __init__(self) -> None:
        super().__init__(READ_ONLY_MESSAGE)


def ensure_editable(postmortem: Postmortem) -> None:
    """Refuse changes to a published postmortem. Reads the status under a row lock, so a change and
    a publish that race are serialised: the change either lands before the publish or is refused."""
    status = Postmortem.objects.select_for_update().values_list("status", flat=True).get(pk=postmortem.pk)
    postmortem.status = status
    if postmortem.is_published:
        raise PostmortemReadOnly()


def user_or_none(actor: Any) -> Any:
    """The person behind an action; Muster itself (None) or anything else is recorded as no one."""
    return actor if isinstance(actor, get_user_model()) else None


def actor_display(actor: Any) -> str:
    user = user_or_none(actor)
    return person_name(user) if user is not None else "Muster"


def ensure_active_user(user: Any, *, role: str) -> None:
    if not isinstance(user, get_user_model()) or not user.is_active:
        name = person_name(user) if isinstance(user, get_user_model()) else str(user)
        raise DomainError(f"{name} cannot be the {role}: only active users can.")


def audit_value(value: Any) -> Any:
    """Audit entries are JSON: people become usernames, dates ISO strings."""
    if isinstance(value, get_user_model()):
        return value.get_username()
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def audit_changes(changes: dict[str, tuple[Any, Any]]) -> dict[str, list[Any]]:
    return {field: [audit_value(old), audit_value(new)] for field, (old, new) in changes.items()}
