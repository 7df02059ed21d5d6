"""Reads for runbooks on an incident: which runbooks match it, and which are attached to it.

The incident page is the hottest page in Muster, so each read here is a fixed number of queries
whatever the number of runbooks, alerts or ticked checklist items.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404

from incidents.models import Incident
from runbooks.models import ChecklistTick, Runbook, RunbookUse

# A label selector names the failure precisely; a service only says where it happened. So a
# runbook matching both beats one matching the labels, which beats one covering the service.
LABELS_SCORE = 2
SERVICE_SCORE = 1


@dataclass(frozen=True)
class Match:
    runbook: Runbook
    score: int
    reasons: tuple[str, ...]


def labels_match(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """Every key=value pair of a non-empty selector is among the labels (compared as text: senders
    disagree on whether `severity` is "2" or 2)."""
    if not selector:
        return False
    return all(key in labels and str(labels[key]) == str(value) for key, value in selector.items())


def selector_text(selector: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(selector.items()))


def runbooks_for_incident(
    incident: Incident, *, alert_labels: Iterable[Mapping[str, Any]] | None = None
) -> list[Match]:
    """The runbooks that cover the incident's service or whose label selector matches one of its
    alerts, best match first, then by title. Runbooks without any text yet are left out.

    Two queries: the alerts' labels (skipped when the caller already has them) and the candidates.
    """
    if alert_labels is None:
        alert_labels = incident.alerts.values_list("labels", flat=True)
    label_sets = [labels for labels in alert_labels if isinstance(labels, Mapping) and labels]
    covers_service = Runbook.services.through.objects.filter(
        runbook_id=OuterRef("pk"), service_id=incident.service_id
    )
    candidates = Runbook.objects.filter(current_revision__isnull=False).annotate(
        covers_service=Exists(covers_service)
    )
    if label_sets:
        candidates = candidates.filter(Q(covers_service=True) | ~Q(labels={}))
    else:
        candidates = candidates.filter(covers_service=True)

    matches = []
    for runbook in candidates.select_related("team", "current_revision"):
        score = 0
        reasons = []
        if runbook.covers_service:
            score += SERVICE_SCORE
            reasons.append(f"covers {incident.service.name}")
        selector = runbook.labels if isinstance(runbook.labels, Mapping) else {}
        if any(labels_match(selector, labels) for labels in label_sets):
            score += LABELS_SCORE
            reasons.insert(0, f"labels {selector_text(selector)} match")
        if score:
            matches.append(Match(runbook=runbook, score=score, reasons=tuple(reasons)))
    matches.sort(key=lambda match: (-match.score, match.runbook.title.casefold(), match.runbook.pk))
    return matches


def runbook_uses_for_incident(*, incident: Incident) -> QuerySet[RunbookUse]:
    """The runbooks attached to the incident, in the order they were attached, with their revision,
    who attached them and every tick (with who ticked it): three queries in all."""
    ticks = ChecklistTick.objects.select_related("ticked_by").order_by("item")
    return (
        RunbookUse.objects.filter(incident=incident)
        .select_related(
            "runbook", "runbook__team", "runbook__current_revision", "revision", "attached_by", "answered_by"
        )
        .prefetch_related(Prefetch("ticks", queryset=ticks))
        .order_by("attached_at", "pk")
    )


def runbook_use_get(*, incident: Incident, pk: int) -> RunbookUse:
    """One runbook attached to this incident; the incident was already checked against the user."""
    try:
        return runbook_uses_for_incident(incident=incident).get(pk=pk)
    except RunbookUse.DoesNotExist:
        raise Http404(f"No runbook {pk} on {incident.reference}.") from None


def runbooks_attachable(*, exclude_ids: Iterable[int] = ()) -> QuerySet[Runbook]:
    """Runbooks that have text, for "attach another runbook" (callers check the user may read
    them: responders of any team read every runbook)."""
    return (
        Runbook.objects.filter(current_revision__isnull=False)
        .exclude(pk__in=list(exclude_ids))
        .select_related("team")
        .order_by("title", "pk")
    )
