"""Runbooks and their revisions: create, edit metadata, add/restore revisions, review, delete.

A runbook's text is only ever added to: each edit is a new numbered revision and the runbook points
at the newest one. Edits carry the revision number they started from, and saving on top of a
revision that is no longer the latest is refused rather than silently overwriting someone's work.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from incidents.models import Service, Team
from incidents.services.config import audit_record
from incidents.services.errors import DomainError
from runbooks.models import DEFAULT_REVIEW_INTERVAL_DAYS, ReviewRequest, Runbook, RunbookRevision
from runbooks.services.errors import NothingChanged, StaleRevision

TITLE_MAX_LENGTH = Runbook._meta.get_field("title").max_length or 200
SLUG_MAX_LENGTH = Runbook._meta.get_field("slug").max_length or 200
NOTE_MAX_LENGTH = RunbookRevision._meta.get_field("note").max_length or 300
MAX_REVIEW_INTERVAL_DAYS = 3650
# Prometheus label names; values may be anything but empty.
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# --- validation -----------------------------------------------------------------------------


def author_or_none(actor: Any) -> Any:
    """Revisions and reviews are authored by people; Muster itself (None) or anything else is
    recorded as no one."""
    return actor if isinstance(actor, get_user_model()) else None


def parse_labels(text: str) -> dict[str, str]:
    """`"alertname=PgReplicationLag, team=db"` → `{"alertname": "PgReplicationLag", "team": "db"}`."""
    labels: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, equals, value = part.partition("=")
        name, value = name.strip(), value.strip().strip('"')
        if not equals or not value:
            raise DomainError(f"Write each label as name=value (got {part.strip()!r}).")
        if name in labels:
            raise DomainError(f"The label {name!r} is given twice.")
        labels[name] = value
    return clean_labels(labels)


def clean_labels(labels: Mapping[str, Any] | str | None) -> dict[str, str]:
    if labels is None:
        return {}
    if isinstance(labels, str):
        return parse_labels(labels)
    if not isinstance(labels, Mapping):
        raise DomainError("Labels must be name=value pairs.")
    cleaned: dict[str, str] = {}
    for name, value in labels.items():
        if not isinstance(name, str) or not _LABEL_NAME.match(name):
            raise DomainError(
                f"{name!r} is not a valid label name (letters, digits and _, not first a digit)."
            )
        if not isinstance(value, str) or not value.strip():
            raise DomainError(f"The label {name!r} needs a text value.")
        cleaned[name] = value.strip()
    return cleaned


def _clean_title(title: str) -> str:
    title = (title or "").strip()
    if not title:
        raise DomainError("A runbook needs a title.")
    if len(title) > TITLE_MAX_LENGTH:
        raise DomainError(f"The title is longer than {TITLE_MAX_LENGTH} characters.")
    return title


def clean_body(body: str) -> str:
    """Browsers submit CRLF and editors add or drop the final newline; neither is a change."""
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n")
    body = body.lstrip("\n").rstrip()
    if not body:
        raise DomainError("A runbook needs some text.")
    return body


def _clean_note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise DomainError(f"The change note is longer than {NOTE_MAX_LENGTH} characters.")
    return note


def _clean_interval(days: Any) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_REVIEW_INTERVAL_DAYS:
        raise DomainError(
            f"The review interval must be a whole number of days from 1 to {MAX_REVIEW_INTERVAL_DAYS}."
        )
    return days


def clean_services(services: Iterable[Service | str]) -> list[Service]:
    """Services given as Service rows or as slugs (the API and imported files use slugs)."""
    rows = [s for s in services if isinstance(s, Service)]
    slugs = [s for s in services if isinstance(s, str)]
    if len(rows) + len(slugs) != len(list(services)):
        raise DomainError("Services must be given as services or their slugs.")
    if slugs:
        found = {service.slug: service for service in Service.objects.filter(slug__in=slugs)}
        unknown = sorted(set(slugs) - set(found))
        if unknown:
            raise DomainError(f"Unknown service{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.")
        rows.extend(found[slug] for slug in dict.fromkeys(slugs))
    return list({service.pk: service for service in rows}.values())


# Page addresses under /runbooks/ that a runbook's slug would shadow.
RESERVED_SLUGS = frozenset({"new", "import", "on"})


def _unique_slug(title: str) -> str:
    base = slugify(title)[: SLUG_MAX_LENGTH - 8].strip("-") or "runbook"
    taken = set(Runbook.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    taken |= RESERVED_SLUGS
    slug, suffix = base, 2
    while slug in taken:
        slug, suffix = f"{base}-{suffix}", suffix + 1
    return slug


def clean_slug(slug: str) -> str:
    if slugify(slug) != slug or len(slug) > SLUG_MAX_LENGTH:
        raise DomainError(f"{slug!r} is not a valid slug (lowercase letters, digits, - and _).")
    if slug in RESERVED_SLUGS:
        raise DomainError(f"{slug!r} cannot be a runbook's slug: /runbooks/{slug}/ is a page of its own.")
    return slug


# --- runbooks -------------------------------------------------------------------------------


@transaction.atomic
def runbook_create(
    *,
    team: Team,
    title: str,
    body: str,
    actor: Any,
    services: Iterable[Service | str] = (),
    labels: Mapping[str, Any] | str | None = None,
    slug: str | None = None,
    review_interval_days: int = DEFAULT_REVIEW_INTERVAL_DAYS,
    note: str = "",
) -> Runbook:
    """A new runbook with its text as revision 1. The slug comes from the title unless given."""
    title = _clean_title(title)
    body = clean_body(body)
    note = _clean_note(note)
    service_rows = clean_services(list(services))
    labels = clean_labels(labels)
    review_interval_days = _clean_interval(review_interval_days)
    if slug:
        slug = clean_slug(slug)
        if Runbook.objects.filter(slug=slug).exists():
            raise DomainError(f"A runbook with slug {slug!r} already exists.")
    else:
        slug = _unique_slug(title)
    now = timezone.now()
    runbook = Runbook.objects.create(
        team=team,
        title=title,
        slug=slug,
        labels=labels,
        review_interval_days=review_interval_days,
        created_at=now,
        updated_at=now,
    )
    runbook.services.set(service_rows)
    revision = RunbookRevision.objects.create(
        runbook=runbook, number=1, body=body, note=note, author=author_or_none(actor), created_at=now
    )
    runbook.current_revision = revision
    runbook.save(update_fields=["current_revision"])
    audit_record(
        actor=actor,
        action="runbook.create",
        obj=runbook,
        data={"team": team.slug, "services": [s.slug for s in service_rows], "labels": labels},
    )
    return runbook


@transaction.atomic
def runbook_update(
    *,
    runbook: Runbook,
    actor: Any,
    title: str | None = None,
    services: Iterable[Service | str] | None = None,
    labels: Mapping[str, Any] | str | None = None,
    review_interval_days: int | None = None,
    team: Team | None = None,
) -> Runbook:
    """Metadata only (arguments left as None stay as they are); the text changes by revisions."""
    changed: dict[str, list[Any]] = {}
    fields: list[str] = []

    def apply(field: str, new: Any, shown_old: Any = None, shown_new: Any = None) -> None:
        old = getattr(runbook, field)
        if old != new:
            changed[field] = [
                old if shown_old is None else shown_old,
                new if shown_new is None else shown_new,
            ]
            setattr(runbook, field, new)
            fields.append(field)

    if title is not None:
        apply("title", _clean_title(title))
    if labels is not None:
        apply("labels", clean_labels(labels))
    if review_interval_days is not None:
        apply("review_interval_days", _clean_interval(review_interval_days))
    if team is not None and team.pk != runbook.team_id:
        changed["team"] = [runbook.team.slug, team.slug]
        runbook.team = team
        fields.append("team")
    if services is not None:
        new_services = clean_services(list(services))
        old_slugs = sorted(runbook.services.values_list("slug", flat=True))
        new_slugs = sorted(s.slug for s in new_services)
        if old_slugs != new_slugs:
            runbook.services.set(new_services)
            changed["services"] = [old_slugs, new_slugs]
    if not changed:
        return runbook
    runbook.updated_at = timezone.now()
    runbook.save(update_fields=[*fields, "updated_at"])
    audit_record(actor=actor, action="runbook.update", obj=runbook, data=changed)
    return runbook


@transaction.atomic
def runbook_delete(*, runbook: Runbook, actor: Any) -> None:
    audit_record(
        actor=actor,
        action="runbook.delete",
        obj=runbook,
        data={"slug": runbook.slug, "team": runbook.team.slug, "revisions": runbook.revisions.count()},
    )
    runbook.delete()


# --- revisions ------------------------------------------------------------------------------


def _revision_add(
    *,
    runbook: Runbook,
    body: str,
    actor: Any,
    note: str,
    base_number: int | None,
    restored_from: int | None = None,
) -> RunbookRevision:
    """Must run inside a transaction. The runbook row lock serialises concurrent saves: the second
    one waits, then sees the first one's revision as the latest and is refused as stale."""
    Runbook.objects.select_for_update().filter(pk=runbook.pk).values_list("pk").get()
    latest = (
        RunbookRevision.objects.filter(runbook=runbook).select_related("author").order_by("-number").first()
    )
    if latest is not None and base_number is not None and base_number != latest.number:
        raise StaleRevision(latest=latest, base_number=base_number, body=body)
    if latest is not None and latest.body == body:
        raise NothingChanged()
    now = timezone.now()
    revision = RunbookRevision.objects.create(
        runbook=runbook,
        number=(latest.number if latest else 0) + 1,
        body=body,
        note=note,
        author=author_or_none(actor),
        created_at=now,
        restored_from=restored_from,
    )
    Runbook.objects.filter(pk=runbook.pk).update(current_revision=revision, updated_at=now)
    runbook.current_revision = revision
    runbook.updated_at = now
    return revision


@transaction.atomic
def revision_create(
    *, runbook: Runbook, body: str, actor: Any, note: str = "", base_number: int | None = None
) -> RunbookRevision:
    """Add a revision with new text. Pass `base_number`, the revision the editor started from, so
    that an edit made on top of an older revision is refused (StaleRevision) instead of winning."""
    revision = _revision_add(
        runbook=runbook, body=clean_body(body), actor=actor, note=_clean_note(note), base_number=base_number
    )
    audit_record(
        actor=actor,
        action="runbook.revision",
        obj=runbook,
        data={"number": revision.number, "note": revision.note},
    )
    return revision


@transaction.atomic
def revision_restore(*, runbook: Runbook, number: int, actor: Any) -> RunbookRevision:
    """A new revision with an old revision's text; the history in between is kept."""
    old = RunbookRevision.objects.filter(runbook=runbook, number=number).first()
    if old is None:
        raise DomainError(f"{runbook.title} has no revision {number}.")
    try:
        revision = _revision_add(
            runbook=runbook,
            body=old.body,
            actor=actor,
            note=f"Restored revision {number}",
            base_number=None,
            restored_from=number,
        )
    except NothingChanged:
        raise NothingChanged(
            f"Revision {number} has the same text as the latest revision; nothing to restore."
        ) from None
    audit_record(
        actor=actor,
        action="runbook.restore",
        obj=runbook,
        data={"number": revision.number, "restored_from": number},
    )
    return revision


# --- review ---------------------------------------------------------------------------------


@transaction.atomic
def runbook_mark_reviewed(*, runbook: Runbook, actor: Any) -> Runbook:
    """Someone checked the runbook is still right: its review clock restarts and the open review
    requests are answered."""
    now = timezone.now()
    runbook.last_reviewed_at = now
    runbook.last_reviewed_by = author_or_none(actor)
    runbook.save(update_fields=["last_reviewed_at", "last_reviewed_by"])
    closed = ReviewRequest.objects.filter(runbook=runbook, closed_at__isnull=True).update(
        closed_at=now, closed_by=author_or_none(actor)
    )
    audit_record(
        actor=actor,
        action="runbook.review",
        obj=runbook,
        data={
            "revision": runbook.current_revision.number if runbook.current_revision else None,
            "closed_requests": closed,
        },
    )
    return runbook
