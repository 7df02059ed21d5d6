"""The postmortem's timeline: copied from the incident, then edited by hand.

Imported entries remember their incident event. A re-import adds only events that have no entry
yet, and never touches an existing one, so edits and exclusions survive any number of re-imports.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from incidents.choices import TimelineKind
from incidents.models import TimelineEvent
from incidents.services.errors import DomainError
from postmortems.models import Postmortem, TimelineEntry
from postmortems.services.common import actor_display, ensure_editable

ACTOR_MAX_LENGTH = TimelineEntry._meta.get_field("actor").max_length or 150

# The postmortem's own events would only describe the postmortem to itself.
NOT_IMPORTED_KINDS = (
    TimelineKind.POSTMORTEM_STARTED,
    TimelineKind.POSTMORTEM_PUBLISHED,
    TimelineKind.ACTION_ITEM_ADDED,
)
# Kept for completeness, but hidden until someone includes them: they drown out the story.
NOISY_KINDS = frozenset(
    {
        TimelineKind.PAGED,
        TimelineKind.PAGE_FAILED,
        TimelineKind.ESCALATED,
        TimelineKind.CHECKLIST_TICKED,
        TimelineKind.ALERT_ADDED,
        TimelineKind.CHAT_CHANNEL,
    }
)


@transaction.atomic
def timeline_import(*, postmortem: Postmortem, actor: Any) -> int:
    """Copy the incident's timeline events that have no entry yet; returns how many were added.

    A constant number of queries however long the timeline. The postmortem's row lock serialises
    imports; the unique (postmortem, source_event) constraint with ignore_conflicts is the backstop,
    so two imports at once never duplicate an event.
    """
    ensure_editable(postmortem)
    already = TimelineEntry.objects.filter(postmortem=postmortem, source_event=OuterRef("pk"))
    events = (
        TimelineEvent.objects.filter(incident_id=postmortem.incident_id)
        .exclude(kind__in=NOT_IMPORTED_KINDS)
        .filter(~Exists(already))
        .select_related("actor_user", "actor_integration")
        .order_by("created_at", "pk")
    )
    now = timezone.now()
    entries = [
        TimelineEntry(
            postmortem=postmortem,
            occurred_at=event.created_at,
            text=event.text,
            source_event=event,
            source_text=event.text,
            kind=event.kind,
            actor=event.actor_name[:ACTOR_MAX_LENGTH],
            included=event.kind not in NOISY_KINDS,
            created_at=now,
        )
        for event in events
    ]
    if entries:
        TimelineEntry.objects.bulk_create(entries, ignore_conflicts=True)
    postmortem.timeline_imported_at = now
    postmortem.updated_at = now
    postmortem.save(update_fields=["timeline_imported_at", "updated_at"])
    return len(entries)


def _clean_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise DomainError("A timeline entry needs some text.")
    return text


def _check_moment(moment: datetime) -> None:
    if timezone.is_naive(moment):
        raise DomainError("A timeline entry's time needs a time zone.")


def _touch(postmortem: Postmortem) -> None:
    postmortem.updated_at = timezone.now()
    postmortem.save(update_fields=["updated_at"])


@transaction.atomic
def timeline_entry_add(
    *, postmortem: Postmortem, actor: Any, occurred_at: datetime, text: str
) -> TimelineEntry:
    """A hand-written entry: something the incident's timeline did not record."""
    ensure_editable(postmortem)
    _check_moment(occurred_at)
    entry = TimelineEntry.objects.create(
        postmortem=postmortem,
        occurred_at=occurred_at,
        text=_clean_text(text),
        actor=actor_display(actor)[:ACTOR_MAX_LENGTH],
    )
    _touch(postmortem)
    return entry


@transaction.atomic
def timeline_entry_update(
    *,
    entry: TimelineEntry,
    actor: Any,
    text: str | None = None,
    included: bool | None = None,
    occurred_at: datetime | None = None,
) -> TimelineEntry:
    """Edit an entry's text or time, or include/exclude it. None leaves a field as it is."""
    ensure_editable(entry.postmortem)
    changed: list[str] = []
    if text is not None:
        text = _clean_text(text)
        if text != entry.text:
            entry.text = text
            changed.append("text")
    if included is not None and included != entry.included:
        entry.included = included
        changed.append("included")
    if occurred_at is not None:
        _check_moment(occurred_at)
        if occurred_at != entry.occurred_at:
            entry.occurred_at = occurred_at
            changed.append("occurred_at")
    if changed:
        entry.save(update_fields=changed)
        _touch(entry.postmortem)
    return entry


@transaction.atomic
def timeline_entry_delete(*, entry: TimelineEntry, actor: Any) -> None:
    """Delete a hand-written entry. Imported ones are excluded instead: deleting them would only
    bring them back on the next import."""
    ensure_editable(entry.postmortem)
    if entry.source_event_id is not None:
        raise DomainError(
            "Imported entries cannot be deleted (a re-import would bring them back); exclude it instead."
        )
    entry.delete()
    _touch(entry.postmortem)
