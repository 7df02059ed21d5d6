"""Start, edit and publish a postmortem; write its sections; work out when it is due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.choices import TimelineKind
from incidents.models import Incident, person_zone
from incidents.services.config import audit_record
from incidents.services.errors import DomainError
from incidents.services.lifecycle import timeline_record
from postmortems.blameless import BlamelessWarning, blameless_warnings
from postmortems.choices import PostmortemStatus, SectionKey
from postmortems.models import Postmortem, PostmortemSection
from postmortems.services.common import (
    UNSET,
    _Unset,
    actor_display,
    audit_changes,
    ensure_active_user,
    ensure_editable,
    user_or_none,
)
from postmortems.services.timeline import timeline_import

TITLE_MAX_LENGTH = Postmortem._meta.get_field("title").max_length or 200
SECTION_MAX_LENGTH = 100_000


@dataclass
class SectionUpdate:
    section: PostmortemSection
    warnings: list[BlamelessWarning]


# --- due dates ------------------------------------------------------------------------------


def add_business_days(start: date, days: int) -> date:
    """`days` working days (Monday to Friday) after `start`. A weekend start counts from Monday:
    five business days after a Saturday, like after the Friday before it, is the next Friday."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def postmortem_due_date(*, incident: Incident, owner: Any = None) -> date | None:
    """Severities named in MUSTER_POSTMORTEM_DUE_BUSINESS_DAYS are due that many business days
    after the day the incident resolved (today, while it is open), in the owner's time zone."""
    days = settings.MUSTER_POSTMORTEM_DUE_BUSINESS_DAYS.get(incident.severity)
    if days is None:
        return None
    moment = incident.resolved_at or timezone.now()
    return add_business_days(moment.astimezone(person_zone(owner)).date(), days)


# --- the postmortem -------------------------------------------------------------------------


def _clean_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise DomainError("A postmortem needs a title.")
    if len(title) > TITLE_MAX_LENGTH:
        raise DomainError(f"A title can be at most {TITLE_MAX_LENGTH} characters long.")
    return title


@transaction.atomic
def postmortem_create(*, incident: Incident, actor: Any, owner: Any = None, title: str = "") -> Postmortem:
    """Start the incident's postmortem: the template's sections, the incident's timeline, a due date."""
    if Postmortem.objects.filter(incident=incident).exists():
        raise DomainError(f"{incident.reference} already has a postmortem.")
    owner = owner if owner is not None else user_or_none(actor)
    if owner is not None:
        ensure_active_user(owner, role="owner")
    title = _clean_title(title) if title.strip() else incident.title[:TITLE_MAX_LENGTH]
    now = timezone.now()
    try:
        # Two people pressing "Start postmortem" at once: the one-to-one constraint picks one.
        with transaction.atomic():
            postmortem = Postmortem.objects.create(
                incident=incident,
                title=title,
                owner=owner,
                due_date=postmortem_due_date(incident=incident, owner=owner),
                created_by=user_or_none(actor),
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:
        raise DomainError(f"{incident.reference} already has a postmortem.") from None
    PostmortemSection.objects.bulk_create(
        PostmortemSection(postmortem=postmortem, key=key, updated_at=now) for key in SectionKey.values
    )
    timeline_import(postmortem=postmortem, actor=actor)
    timeline_record(
        incident=incident,
        kind=TimelineKind.POSTMORTEM_STARTED,
        text=f"{actor_display(actor)} started the postmortem",
        actor=user_or_none(actor),
        data={"postmortem_id": postmortem.pk},
        at=now,
    )
    audit_record(
        actor=user_or_none(actor),
        action="postmortem.create",
        obj=postmortem,
        data=audit_changes({"owner": (None, owner), "due_date": (None, postmortem.due_date)}),
    )
    return postmortem


@transaction.atomic
def postmortem_update(
    *,
    postmortem: Postmortem,
    actor: Any,
    title: str | None = None,
    owner: Any = UNSET,
    due_date: date | _Unset | None = UNSET,
) -> Postmortem:
    """Change the title, owner or due date. `owner=None` / `due_date=None` clear them; leaving
    them out (UNSET) keeps them."""
    ensure_editable(postmortem)
    changes: dict[str, tuple[Any, Any]] = {}
    if title is not None:
        title = _clean_title(title)
        if title != postmortem.title:
            changes["title"] = (postmortem.title, title)
    if owner is not UNSET:
        if owner is not None:
            ensure_active_user(owner, role="owner")
        if postmortem.owner_id != (owner.pk if owner is not None else None):
            changes["owner"] = (postmortem.owner, owner)
    if not isinstance(due_date, _Unset) and due_date != postmortem.due_date:
        changes["due_date"] = (postmortem.due_date, due_date)
    if not changes:
        return postmortem
    for field, (_old, new) in changes.items():
        setattr(postmortem, field, new)
    postmortem.updated_at = timezone.now()
    postmortem.save(update_fields=[*changes, "updated_at"])
    audit_record(
        actor=user_or_none(actor), action="postmortem.update", obj=postmortem, data=audit_changes(changes)
    )
    return postmortem


@transaction.atomic
def section_update(*, postmortem: Postmortem, key: str, body: str, actor: Any) -> SectionUpdate:
    """Save one section's Markdown. The blameless warnings come back for the editor to show; they
    never stop the save."""
    if key not in SectionKey.values:
        raise DomainError(f"There is no section {key!r}; sections are {', '.join(SectionKey.values)}.")
    ensure_editable(postmortem)
    body = body.replace("\r\n", "\n")
    if len(body) > SECTION_MAX_LENGTH:
        raise DomainError(
            f"A section can be at most {SECTION_MAX_LENGTH:,} characters long; this one has {len(body):,}."
        )
    section, _ = PostmortemSection.objects.select_for_update().get_or_create(postmortem=postmortem, key=key)
    warnings = blameless_warnings(body)
    if section.body == body:
        return SectionUpdate(section=section, warnings=warnings)
    now = timezone.now()
    section.body = body
    section.updated_at = now
    section.updated_by = user_or_none(actor)
    section.save(update_fields=["body", "updated_at", "updated_by"])
    postmortem.updated_at = now
    postmortem.save(update_fields=["updated_at"])
    return SectionUpdate(section=section, warnings=warnings)


@transaction.atomic
def postmortem_publish(*, postmortem: Postmortem, actor: Any) -> Postmortem:
    """Publish: from now on only its action items change."""
    try:
        ensure_editable(postmortem)
    except DomainError:
        raise DomainError("This postmortem is already published.") from None
    summary = postmortem.sections.filter(key=SectionKey.SUMMARY).values_list("body", flat=True).first()
    if not (summary or "").strip():
        raise DomainError("Write the summary before publishing: it is what most people will read.")
    now = timezone.now()
    postmortem.status = PostmortemStatus.PUBLISHED
    postmortem.published_at = now
    postmortem.published_by = user_or_none(actor)
    postmortem.updated_at = now
    postmortem.save(update_fields=["status", "published_at", "published_by", "updated_at"])
    timeline_record(
        incident=postmortem.incident,
        kind=TimelineKind.POSTMORTEM_PUBLISHED,
        text=f"{actor_display(actor)} published the postmortem",
        actor=user_or_none(actor),
        data={"postmortem_id": postmortem.pk},
        at=now,
    )
    audit_record(actor=user_or_none(actor), action="postmortem.publish", obj=postmortem)
    return postmortem
