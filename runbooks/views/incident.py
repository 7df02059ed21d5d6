"""Runbooks on the incident page: the attached runbooks with their checklists, the runbooks that
match the incident, attaching one, ticking a checklist item and, afterwards, "was it accurate?".

Views parse input, check permissions, call one service and respond. htmx gets the part of the card
that changed plus the refreshed timeline (the forms select it out of band); a plain form post is
redirected back to the incident page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from incidents.models import Incident
from incidents.permissions import can_act_on_incident
from incidents.responses import forbidden, wants_partial
from incidents.selectors import incident_get_for_user, incident_timeline
from incidents.services import DomainError
from runbooks.markdown import checklist_items, render_markdown
from runbooks.matching import (
    runbook_use_get,
    runbook_uses_for_incident,
    runbooks_attachable,
    runbooks_for_incident,
)
from runbooks.models import ChecklistTick, Runbook, RunbookUse
from runbooks.permissions import can_read_runbook
from runbooks.services.usage import (
    checklist_tick,
    checklist_untick,
    feedback_open,
    runbook_attach,
    runbook_use_feedback,
)

# htmx answers: the part of the card that changed, followed by the timeline (selected out of band).
CARD_RESPONSE = "runbooks/incident/card_response.html"
CHECKLIST_RESPONSE = "runbooks/incident/checklist_response.html"
CARD_ANCHOR = "#runbooks"


# --- what the card shows --------------------------------------------------------------------


@dataclass(frozen=True)
class ChecklistItem:
    index: int
    text: str
    tick: ChecklistTick | None


@dataclass(frozen=True)
class AttachedRunbook:
    use: RunbookUse
    body_html: SafeString
    checklist: list[ChecklistItem]
    review_overdue: bool
    review_text: str

    @property
    def ticked_count(self) -> int:
        return sum(1 for item in self.checklist if item.tick is not None)


def review_text(runbook: Runbook, now: datetime) -> str:
    """How long ago the runbook was reviewed, as in "last reviewed 140 days ago"."""
    if runbook.last_reviewed_at is None:
        return f"never reviewed (created {_days_ago(runbook.created_at, now)})"
    return f"last reviewed {_days_ago(runbook.last_reviewed_at, now)}"


def _days_ago(moment: datetime, now: datetime) -> str:
    days = (now - moment).days
    if days <= 0:
        return "today"
    return "1 day ago" if days == 1 else f"{days} days ago"


def _attached(use: RunbookUse, now: datetime) -> AttachedRunbook:
    body = use.revision.body
    ticks = {tick.item: tick for tick in use.ticks.all()}
    return AttachedRunbook(
        use=use,
        # render_markdown sanitises with nh3: its output is safe to show as it is.
        body_html=mark_safe(render_markdown(body)),  # noqa: S308
        checklist=[
            ChecklistItem(index, text, ticks.get(index)) for index, text in enumerate(checklist_items(body))
        ],
        review_overdue=use.runbook.review_overdue(now),
        review_text=review_text(use.runbook, now),
    )


@dataclass(frozen=True)
class SuggestedRunbook:
    """A matching runbook not attached yet, shown rendered so a responder can judge it at once."""

    runbook: Runbook
    reasons: tuple[str, ...]
    body_html: SafeString


@dataclass(frozen=True)
class RunbooksCard:
    incident: Incident
    attached: list[AttachedRunbook]
    suggestions: list[SuggestedRunbook]
    attachable: list[Runbook]
    can_act: bool
    asks_feedback: bool


def runbooks_card(*, user: Any, incident: Incident, can_act: bool) -> RunbooksCard:
    """Everything the card shows, in a fixed number of queries: the uses (with revisions and ticks),
    the alerts' labels, the matching runbooks and, for responders, the runbooks they may attach."""
    now = timezone.now()
    uses = list(runbook_uses_for_incident(incident=incident))
    attached_ids = {use.runbook_id for use in uses}
    suggestions = [
        SuggestedRunbook(
            runbook=match.runbook,
            reasons=match.reasons,
            body_html=mark_safe(render_markdown(match.runbook.current_revision.body)),  # noqa: S308
        )
        for match in runbooks_for_incident(incident)
        if match.runbook.pk not in attached_ids
        and can_read_runbook(user, match.runbook)
        and match.runbook.current_revision is not None
    ]
    attachable: list[Runbook] = []
    if can_act:
        suggested_ids = {match.runbook.pk for match in suggestions}
        attachable = list(runbooks_attachable(exclude_ids=attached_ids | suggested_ids))
    return RunbooksCard(
        incident=incident,
        attached=[_attached(use, now) for use in uses],
        suggestions=suggestions,
        attachable=attachable,
        can_act=can_act,
        asks_feedback=feedback_open(incident),
    )


def incident_runbooks_context(*, user: Any, incident: Incident, can_act: bool) -> dict[str, Any]:
    """The incident page's context for the card (`incidents.views._incident_context` adds it)."""
    return {"runbooks_card": runbooks_card(user=user, incident=incident, can_act=can_act)}


# --- actions --------------------------------------------------------------------------------


class AttachForm(forms.Form):
    runbook = forms.IntegerField(min_value=1)


class TickForm(forms.Form):
    ticked = forms.BooleanField(required=False)


class FeedbackForm(forms.Form):
    accurate = forms.TypedChoiceField(
        choices=[("yes", "Yes"), ("no", "No")], coerce=lambda value: value == "yes"
    )
    reason = forms.CharField(required=False, max_length=2000, strip=True)


def _actionable(request: HttpRequest, number: int) -> Incident | HttpResponse:
    incident = incident_get_for_user(user=request.user, number=number)
    if not can_act_on_incident(request.user, incident):
        return forbidden(
            request, f"Using runbooks on {incident.reference} needs the responder role in its team."
        )
    return incident


def _respond(request: HttpRequest, incident: Incident, partial: str, context: dict[str, Any]) -> HttpResponse:
    """htmx: the changed part of the card, with the timeline its forms select out of band."""
    if not wants_partial(request):
        return redirect(incident.get_absolute_url() + CARD_ANCHOR)
    context = {"incident": incident, "timeline": incident_timeline(incident=incident), **context}
    return render(request, partial, context)


def _card(request: HttpRequest, incident: Incident, error: str = "") -> HttpResponse:
    context = incident_runbooks_context(user=request.user, incident=incident, can_act=True)
    return _respond(request, incident, CARD_RESPONSE, {**context, "runbooks_error": error})


def _refused(request: HttpRequest, incident: Incident, message: str) -> HttpResponse:
    if wants_partial(request):
        return _card(request, incident, error=message)
    messages.error(request, message)
    return redirect(incident.get_absolute_url() + CARD_ANCHOR)


@login_required
@require_POST
def runbook_attach_view(request: HttpRequest, number: int) -> HttpResponse:
    incident = _actionable(request, number)
    if isinstance(incident, HttpResponse):
        return incident
    form = AttachForm(request.POST)
    if not form.is_valid():
        return _refused(request, incident, "Choose a runbook to attach.")
    runbook = runbooks_attachable().filter(pk=form.cleaned_data["runbook"]).first()
    if runbook is None or not can_read_runbook(request.user, runbook):
        return _refused(request, incident, "That runbook does not exist, or has no text yet.")
    try:
        runbook_attach(incident=incident, runbook=runbook, actor=request.user)
    except DomainError as exc:
        return _refused(request, incident, str(exc))
    return _card(request, incident)


@login_required
@require_POST
def checklist_tick_view(request: HttpRequest, number: int, use_id: int, item: int) -> HttpResponse:
    """Sets the item to the state the checkbox shows (`ticked` present or not), so a repeated or
    delayed request cannot flip it back."""
    incident = _actionable(request, number)
    if isinstance(incident, HttpResponse):
        return incident
    use = runbook_use_get(incident=incident, pk=use_id)
    form = TickForm(request.POST)
    form.is_valid()  # a BooleanField that is not required always is
    try:
        if form.cleaned_data.get("ticked"):
            checklist_tick(use=use, item=item, actor=request.user)
        else:
            checklist_untick(use=use, item=item, actor=request.user)
    except DomainError as exc:
        raise Http404(str(exc)) from None
    if not wants_partial(request):
        return redirect(incident.get_absolute_url() + f"#runbook-use-{use.pk}")
    attached = _attached(runbook_use_get(incident=incident, pk=use_id), timezone.now())
    return _respond(request, incident, CHECKLIST_RESPONSE, {"attached": attached, "can_act": True})


@login_required
@require_POST
def runbook_feedback_view(request: HttpRequest, number: int, use_id: int) -> HttpResponse:
    incident = _actionable(request, number)
    if isinstance(incident, HttpResponse):
        return incident
    use = runbook_use_get(incident=incident, pk=use_id)
    form = FeedbackForm(request.POST)
    if not form.is_valid():
        return _refused(request, incident, "Answer yes or no.")
    try:
        runbook_use_feedback(
            use=use,
            accurate=form.cleaned_data["accurate"],
            reason=form.cleaned_data["reason"],
            actor=request.user,
        )
    except DomainError as exc:
        return _refused(request, incident, str(exc))
    return _card(request, incident)
