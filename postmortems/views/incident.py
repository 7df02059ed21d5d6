"""A postmortem and its action items as seen from one incident: the card in the incident page's side
column, and the action-items panel that the card and the postmortem page both show.

Action items belong to the incident, so the panel works before any postmortem exists (written down
while the incident is still open) and after it is published. Everything here is read in a fixed
number of queries, whatever the number of items.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from incidents.models import Incident
from postmortems.choices import ActionItemStatus
from postmortems.dates import due_phrase, person_today
from postmortems.forms import ActionItemForm
from postmortems.models import ActionItem, Postmortem
from postmortems.permissions import can_add_action_item, can_change_action_item, can_write_postmortem
from postmortems.selectors import incident_action_items, postmortem_list_for_user
from postmortems.services import postmortem_due_date

CARD_TEMPLATE = "postmortems/incident/_card.html"
PANEL_TEMPLATE = "postmortems/partials/_action_items_panel.html"


# --- small shared helpers -------------------------------------------------------------------


def tracker_host(url: str) -> str:
    return (urlsplit(url).hostname or url) if url else ""


@dataclass(frozen=True)
class ItemLine:
    """An action item with what its row says about it on the viewer's today."""

    item: ActionItem
    today: date
    can_change: bool = False
    # A refused status change on this item, and whether its status controls stay open to show it.
    error: str = ""
    expanded: bool = False

    @property
    def overdue(self) -> bool:
        return self.item.is_overdue(self.today)

    @property
    def days_overdue(self) -> int:
        return self.item.days_overdue(self.today)

    @property
    def due_text(self) -> str:
        return due_phrase(self.item.due_date, self.today, closed=not self.item.is_open)

    @property
    def tracker_host(self) -> str:
        return tracker_host(self.item.tracker_url)

    @property
    def needs_verification(self) -> bool:
        """Closing it as done asks how we know the fix works (high priority only)."""
        return self.item.priority == "high"

    @property
    def next_statuses(self) -> list[str]:
        return [status for status in ActionItemStatus.values if self.item.can_transition_to(status)]


def item_lines(items: Any, *, user: Any, today: date) -> list[ItemLine]:
    return [ItemLine(item, today, can_change_action_item(user, item)) for item in items]


# --- the action-items panel (incident card and postmortem page) -----------------------------


@dataclass
class ActionItemsPanel:
    incident: Incident
    lines: list[ItemLine]
    can_add: bool
    form: ActionItemForm | None
    done: str = ""
    # On the postmortem page (a plain form post goes back there, not to the incident).
    on_postmortem: bool = False
    # What was typed into a refused status change, shown again on its item.
    typed: Any = None

    @property
    def open_count(self) -> int:
        return sum(1 for line in self.lines if line.item.is_open)

    @property
    def overdue_count(self) -> int:
        return sum(1 for line in self.lines if line.overdue)


def action_items_panel(
    *,
    user: Any,
    incident: Incident,
    form: ActionItemForm | None = None,
    today: date | None = None,
    errors: dict[int, str] | None = None,
    **extra: Any,
) -> ActionItemsPanel:
    today = today or person_today(user)
    errors = errors or {}
    can_add = can_add_action_item(user, incident)
    if can_add and form is None:
        form = ActionItemForm(team=incident.service.team_id, initial={"owner": user.pk}, auto_id="item-%s")
    items = list(incident_action_items(incident=incident))
    lines = [
        replace(line, error=errors.get(line.item.pk, ""), expanded=line.item.pk in errors)
        for line in item_lines(items, user=user, today=today)
    ]
    return ActionItemsPanel(
        incident=incident, lines=lines, can_add=can_add, form=form if can_add else None, **extra
    )


# --- the card on the incident page ----------------------------------------------------------


@dataclass(frozen=True)
class PostmortemCard:
    incident: Incident
    postmortem: Postmortem | None
    can_write: bool
    today: date
    # Without a postmortem: when one would be due if started now (None: not required).
    due_if_started: date | None
    required_severities: str
    business_days: int | None

    @property
    def required(self) -> bool:
        return self.business_days is not None

    @property
    def overdue(self) -> bool:
        return self.postmortem is not None and self.postmortem.is_overdue(self.today)

    @property
    def due_text(self) -> str:
        if self.postmortem is not None:
            return due_phrase(self.postmortem.due_date, self.today, closed=self.postmortem.is_published)
        return due_phrase(self.due_if_started, self.today)


def _required_severities() -> tuple[dict[int, int], str]:
    days_by_severity = {
        int(sev): int(days) for sev, days in settings.MUSTER_POSTMORTEM_DUE_BUSINESS_DAYS.items()
    }
    names = [f"SEV{sev}" for sev in sorted(days_by_severity)]
    return days_by_severity, " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def incident_postmortem_context(*, user: Any, incident: Incident) -> dict[str, Any]:
    """The incident page's context for the card (`incidents.views._incident_context` adds it)."""
    today = person_today(user)
    postmortem = postmortem_list_for_user(user=user).filter(incident=incident).first()
    days_by_severity, required_names = _required_severities()
    due_if_started = None
    if postmortem is None and incident.severity in days_by_severity:
        due_if_started = postmortem_due_date(incident=incident, owner=user)
    card = PostmortemCard(
        incident=incident,
        postmortem=postmortem,
        can_write=can_write_postmortem(user, incident),
        today=today,
        due_if_started=due_if_started,
        required_severities=required_names,
        business_days=days_by_severity.get(incident.severity),
    )
    return {
        "postmortem_card": card,
        "ai_panel": action_items_panel(user=user, incident=incident, today=today),
    }
