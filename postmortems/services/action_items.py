"""Action items: follow-up work from an incident, written down and chased until done.

They belong to the incident, so they can be added during the incident and stay editable after the
postmortem is published.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from incidents.choices import TimelineKind
from incidents.models import Incident
from incidents.services.config import audit_record
from incidents.services.errors import DomainError, InvalidTransition
from incidents.services.lifecycle import timeline_record
from postmortems.choices import ActionItemKind, ActionItemPriority, ActionItemStatus
from postmortems.models import ActionItem
from postmortems.services.common import (
    UNSET,
    _Unset,
    actor_display,
    audit_changes,
    ensure_active_user,
    user_or_none,
)

TITLE_MAX_LENGTH = ActionItem._meta.get_field("title").max_length or 200
TRACKER_URL_MAX_LENGTH = ActionItem._meta.get_field("tracker_url").max_length or 500
DESCRIPTION_MAX_LENGTH = 20_000
_http_url = URLValidator(schemes=["http", "https"])


def _clean_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise DomainError("An action item needs a title.")
    if len(title) > TITLE_MAX_LENGTH:
        raise DomainError(f"A title can be at most {TITLE_MAX_LENGTH} characters long.")
    return title


def _clean_description(description: str) -> str:
    description = description.replace("\r\n", "\n").strip()
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise DomainError(f"A description can be at most {DESCRIPTION_MAX_LENGTH:,} characters long.")
    return description


def _clean_tracker_url(url: str) -> str:
    url = url.strip()
    if not url:
        return ""
    if len(url) > TRACKER_URL_MAX_LENGTH:
        raise DomainError(f"A tracker link can be at most {TRACKER_URL_MAX_LENGTH} characters long.")
    try:
        _http_url(url)
    except ValidationError:
        raise DomainError("The tracker link must be an http:// or https:// address.") from None
    return url


def _check_priority(priority: str) -> str:
    if priority not in ActionItemPriority.values:
        raise DomainError(f"Priority must be one of {', '.join(ActionItemPriority.values)}.")
    return priority


def _check_kind(kind: str) -> str:
    if kind not in ActionItemKind.values:
        raise DomainError(f"Kind must be one of {', '.join(ActionItemKind.values)}.")
    return kind


@transaction.atomic
def action_item_create(
    *,
    incident: Incident,
    actor: Any,
    title: str,
    description: str = "",
    owner: Any = None,
    due_date: date | None = None,
    priority: str = ActionItemPriority.MEDIUM,
    kind: str = ActionItemKind.PREVENT,
    tracker_url: str = "",
) -> ActionItem:
    if owner is not None:
        ensure_active_user(owner, role="owner")
    now = timezone.now()
    item = ActionItem.objects.create(
        incident=incident,
        title=_clean_title(title),
        description=_clean_description(description),
        owner=owner,
        due_date=due_date,
        priority=_check_priority(priority),
        kind=_check_kind(kind),
        tracker_url=_clean_tracker_url(tracker_url),
        created_by=user_or_none(actor),
        created_at=now,
        updated_at=now,
    )
    timeline_record(
        incident=incident,
        kind=TimelineKind.ACTION_ITEM_ADDED,
        text=f"{actor_display(actor)} added action item: {item.title}",
        actor=user_or_none(actor),
        data={"action_item_id": item.pk},
        at=now,
    )
    audit_record(
        actor=user_or_none(actor),
        action="action_item.create",
        obj=item,
        data=audit_changes(
            {"owner": (None, owner), "due_date": (None, due_date), "priority": (None, priority)}
        ),
    )
    return item


@transaction.atomic
def action_item_update(
    *,
    item: ActionItem,
    actor: Any,
    title: str | _Unset = UNSET,
    description: str | _Unset = UNSET,
    owner: Any = UNSET,
    due_date: date | _Unset | None = UNSET,
    priority: str | _Unset = UNSET,
    kind: str | _Unset = UNSET,
    tracker_url: str | _Unset = UNSET,
) -> ActionItem:
    """Change any of the given fields (left out = kept; `owner=None` / `due_date=None` clear)."""
    wanted: dict[str, Any] = {}
    if not isinstance(title, _Unset):
        wanted["title"] = _clean_title(title)
    if not isinstance(description, _Unset):
        wanted["description"] = _clean_description(description)
    if not isinstance(due_date, _Unset):
        wanted["due_date"] = due_date
    if not isinstance(priority, _Unset):
        wanted["priority"] = _check_priority(priority)
    if not isinstance(kind, _Unset):
        wanted["kind"] = _check_kind(kind)
    if not isinstance(tracker_url, _Unset):
        wanted["tracker_url"] = _clean_tracker_url(tracker_url)
    changes: dict[str, tuple[Any, Any]] = {
        field: (getattr(item, field), value)
        for field, value in wanted.items()
        if getattr(item, field) != value
    }
    if owner is not UNSET:
        if owner is not None:
            ensure_active_user(owner, role="owner")
        if item.owner_id != (owner.pk if owner is not None else None):
            changes["owner"] = (item.owner, owner)
    if not changes:
        return item
    for field, (_old, new) in changes.items():
        setattr(item, field, new)
    item.updated_at = timezone.now()
    item.save(update_fields=[*changes, "updated_at"])
    # The description can be long; the audit entry says that it changed, not what it says.
    data = audit_changes({f: c for f, c in changes.items() if f != "description"})
    if "description" in changes:
        data["description"] = ["…", "…"]
    audit_record(actor=user_or_none(actor), action="action_item.update", obj=item, data=data)
    return item


@transaction.atomic
def action_item_set_status(
    *, item: ActionItem, actor: Any, status: str, reason: str = "", verification: str = ""
) -> ActionItem:
    """Move the item along ActionItem.ALLOWED_TRANSITIONS.

    Won't do needs a reason; done on a high-priority item needs a note on how we know the fix works.
    Closing records who and when; reopening clears that but keeps the reason and verification text.
    """
    if status not in ActionItemStatus.values:
        raise DomainError(f"Status must be one of {', '.join(ActionItemStatus.values)}.")
    current = ActionItem.objects.select_for_update().values_list("status", flat=True).get(pk=item.pk)
    item.status = current
    if status == current:
        return item
    if not item.can_transition_to(status):
        raise InvalidTransition(
            f"An action item that is {ActionItemStatus(current).label.lower()} cannot become "
            f"{ActionItemStatus(status).label.lower()}; reopen it first."
        )
    reason, verification = reason.strip(), verification.strip()
    now = timezone.now()
    fields = ["status", "updated_at"]
    if status == ActionItemStatus.WONT_DO:
        if not reason:
            raise DomainError("Say why this action item won't be done: the reason is kept with it.")
        item.wont_do_reason = reason
        fields.append("wont_do_reason")
    if status == ActionItemStatus.DONE:
        if item.priority == ActionItemPriority.HIGH and not verification:
            raise DomainError(
                "A high-priority action item needs a verification to be done: say how we know the fix works."
            )
        if verification:
            item.verification = verification
            fields.append("verification")
    if status in (ActionItemStatus.DONE, ActionItemStatus.WONT_DO):
        item.closed_at, item.closed_by = now, user_or_none(actor)
        fields += ["closed_at", "closed_by"]
    elif current in (ActionItemStatus.DONE, ActionItemStatus.WONT_DO):
        item.closed_at, item.closed_by = None, None
        fields += ["closed_at", "closed_by"]
    item.status = status
    item.updated_at = now
    item.save(update_fields=fields)
    data: dict[str, Any] = {"status": [current, status]}
    if reason and status == ActionItemStatus.WONT_DO:
        data["reason"] = reason[:500]
    audit_record(actor=user_or_none(actor), action="action_item.status", obj=item, data=data)
    return item
