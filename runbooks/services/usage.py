"""Runbooks used on incidents: attaching one, ticking its checklist, and saying afterwards whether it
was accurate. Each writes its timeline event in the same transaction; the runbook's own text is
never touched (the checklist lives on the RunbookUse, at the revision that was attached).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents.choices import TimelineKind
from incidents.models import Incident, Integration, person_name
from incidents.services import DomainError, timeline_record
from runbooks.markdown import checklist_items
from runbooks.models import ChecklistTick, Runbook, RunbookUse
from runbooks.services.reviews import review_request_create


def _name(actor: Any) -> str:
    if actor is None:
        return "Muster"
    if isinstance(actor, Integration):
        return actor.name
    return person_name(actor)


def _user(actor: Any) -> Any:
    return None if actor is None or isinstance(actor, Integration) else actor


def _lock_use(use: RunbookUse) -> RunbookUse:
    return (
        RunbookUse.objects.select_for_update(of=("self",))
        .select_related("incident", "runbook", "revision")
        .get(pk=use.pk)
    )


@transaction.atomic
def runbook_attach(*, incident: Incident, runbook: Runbook, actor: Any) -> RunbookUse:
    """Attach the runbook at its current revision. Attaching it again returns the first use: the
    responders keep the revision (and the ticks) they started with."""
    # Serialises attaches to one incident, so a double click cannot hit the unique constraint.
    Incident.objects.select_for_update().filter(pk=incident.pk).values_list("pk").get()
    existing = RunbookUse.objects.filter(incident=incident, runbook=runbook).first()
    if existing is not None:
        return existing
    runbook = Runbook.objects.select_related("current_revision").get(pk=runbook.pk)
    revision = runbook.current_revision
    if revision is None:
        raise DomainError(f"Runbook '{runbook.title}' has no text yet.")
    now = timezone.now()
    use = RunbookUse.objects.create(
        incident=incident, runbook=runbook, revision=revision, attached_by=_user(actor), attached_at=now
    )
    timeline_record(
        incident=incident,
        kind=TimelineKind.RUNBOOK_ATTACHED,
        text=f"Runbook '{runbook.title}' (revision {revision.number}) attached by {_name(actor)}",
        actor=actor,
        data={"runbook_id": runbook.pk, "revision": revision.number, "use_id": use.pk},
        at=now,
    )
    return use


def _checklist_text(use: RunbookUse, item: int) -> str:
    items = checklist_items(use.revision.body)
    if not 0 <= item < len(items):
        raise DomainError(f"Runbook '{use.runbook.title}' has no checklist item {item + 1}.")
    return items[item]


@transaction.atomic
def checklist_tick(*, use: RunbookUse, item: int, actor: Any) -> ChecklistTick:
    """Tick item `item` (0-based) of the attached revision's checklist; ticking it again is a no-op."""
    use = _lock_use(use)
    text = _checklist_text(use, item)
    existing = ChecklistTick.objects.filter(use=use, item=item).first()
    if existing is not None:
        return existing
    now = timezone.now()
    tick = ChecklistTick.objects.create(
        use=use, item=item, text=text[:500], ticked_by=_user(actor), ticked_at=now
    )
    timeline_record(
        incident=use.incident,
        kind=TimelineKind.CHECKLIST_TICKED,
        text=f"\u2713 {text} ({use.runbook.title}) \u2014 ticked by {_name(actor)}",
        actor=actor,
        data={"use_id": use.pk, "item": item, "ticked": True},
        at=now,
    )
    return tick


@transaction.atomic
def checklist_untick(*, use: RunbookUse, item: int, actor: Any) -> None:
    """Take a tick back (a mis-tap at 03:00 happens); the timeline keeps both."""
    use = _lock_use(use)
    text = _checklist_text(use, item)
    deleted, _ = ChecklistTick.objects.filter(use=use, item=item).delete()
    if not deleted:
        return
    timeline_record(
        incident=use.incident,
        kind=TimelineKind.CHECKLIST_TICKED,
        text=f"\u2610 {text} ({use.runbook.title}) \u2014 unticked by {_name(actor)}",
        actor=actor,
        data={"use_id": use.pk, "item": item, "ticked": False},
    )


def feedback_open(incident: Incident) -> bool:
    """ "Was this runbook accurate?" is asked once the impact has stopped."""
    return not incident.is_open or incident.mitigated_at is not None


@transaction.atomic
def runbook_use_feedback(*, use: RunbookUse, accurate: bool, actor: Any, reason: str = "") -> RunbookUse:
    """Record whether the runbook was accurate during the incident. "No" asks its owners to review
    it, with what was wrong and the incident it went wrong on."""
    use = _lock_use(use)
    incident = use.incident
    if not feedback_open(incident):
        raise DomainError("Runbook feedback is asked once the incident is mitigated or resolved.")
    reason = reason.strip()
    if not accurate and not reason:
        raise DomainError("Say what was wrong, so that the owners know what to fix.")
    if use.accurate is accurate:  # a double submit, or the same answer again
        return use
    now = timezone.now()
    use.accurate = accurate
    use.answered_by = _user(actor)
    use.answered_at = now
    use.save(update_fields=["accurate", "answered_by", "answered_at"])
    title = f"Runbook '{use.runbook.title}' (revision {use.revision.number})"
    if accurate:
        text = f"{title} was accurate \u2014 {_name(actor)}"
    else:
        review_request_create(runbook=use.runbook, actor=actor, reason=reason, incident=incident)
        text = f"{title} was not accurate: {reason} \u2014 {_name(actor)}; review requested"
    timeline_record(
        incident=incident,
        kind=TimelineKind.RUNBOOK_FEEDBACK,
        text=text,
        actor=actor,
        data={"use_id": use.pk, "accurate": accurate, "reason": reason},
        at=now,
    )
    return use
