"""Review requests: someone asks a runbook's owners to check it (e.g. "it was not accurate")."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents.models import Incident
from incidents.services.config import audit_record
from runbooks.models import ReviewRequest, Runbook
from runbooks.services.runbooks import author_or_none


@transaction.atomic
def review_request_create(
    *, runbook: Runbook, actor: Any, reason: str = "", incident: Incident | None = None
) -> ReviewRequest:
    """One open request per runbook and incident: answering "no" twice for the same incident
    (a double click, a second responder) adds its reason to the request already open."""
    reason = (reason or "").strip()
    if incident is not None:
        existing = (
            ReviewRequest.objects.select_for_update()
            .filter(runbook=runbook, incident=incident, closed_at__isnull=True)
            .first()
        )
        if existing is not None:
            if reason and reason not in existing.reason:
                existing.reason = f"{existing.reason}\n\n{reason}".strip()
                existing.save(update_fields=["reason"])
            return existing
    request = ReviewRequest.objects.create(
        runbook=runbook, incident=incident, requested_by=author_or_none(actor), reason=reason
    )
    audit_record(
        actor=actor,
        action="runbook.review_request",
        obj=runbook,
        data={"request": request.pk, "incident": incident.number if incident else None, "reason": reason},
    )
    return request


@transaction.atomic
def review_request_close(*, request: ReviewRequest, actor: Any) -> ReviewRequest:
    if request.closed_at is not None:
        return request
    request.closed_at = timezone.now()
    request.closed_by = author_or_none(actor)
    request.save(update_fields=["closed_at", "closed_by"])
    audit_record(
        actor=actor, action="runbook.review_request_close", obj=request.runbook, data={"request": request.pk}
    )
    return request
