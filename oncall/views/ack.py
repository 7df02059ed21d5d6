"""One-tap acknowledge: the link in every page. The token is the credential (the page is opened
from a phone's mail or push app, often without a Muster session)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from incidents.choices import IncidentStatus
from incidents.models import Incident
from incidents.permissions import can_act_on_incident
from incidents.services import DomainError, incident_acknowledge
from oncall.acklinks import AckGrant, AckLinkError, read_token


def _resolve(token: str) -> tuple[Incident, object]:
    grant: AckGrant = read_token(token)
    incident = Incident.objects.select_related("service").filter(pk=grant.incident_id).first()
    user = get_user_model().objects.filter(pk=grant.user_id, is_active=True).first()
    if incident is None or user is None:
        raise AckLinkError("This acknowledge link points at an incident or a person that no longer exists.")
    if not can_act_on_incident(user, incident):
        raise AckLinkError("You no longer have a responder role on this incident's team.")
    return incident, user


def _already(incident: Incident) -> str | None:
    if incident.status == IncidentStatus.ACKNOWLEDGED:
        who = (
            incident.timeline.filter(kind="acknowledged")
            .select_related("actor_user", "actor_integration")
            .last()
        )
        by = f" by {who.actor_name}" if who else ""
        return f"{incident.reference} was already acknowledged{by}. Nobody else is being paged for it."
    if incident.status == IncidentStatus.RESOLVED:
        return f"{incident.reference} is already resolved."
    return None


@require_http_methods(["GET", "HEAD", "POST"])
def acknowledge_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        incident, user = _resolve(token)
    except AckLinkError as exc:
        return render(request, "oncall/ack.html", {"error": str(exc)}, status=410)
    context = {"incident": incident, "token": token, "notice": _already(incident)}
    if request.method == "POST" and context["notice"] is None:
        try:
            incident = incident_acknowledge(incident=incident, actor=user)
        except DomainError as exc:
            context["notice"] = str(exc)
        else:
            context.update(incident=incident, done=True)
    return render(request, "oncall/ack.html", context)


@csrf_exempt  # called by the ntfy app on the phone, which holds no CSRF cookie; the token is the credential
@require_POST
def acknowledge_api(request: HttpRequest, token: str) -> HttpResponse:
    try:
        incident, user = _resolve(token)
    except AckLinkError as exc:
        return JsonResponse({"detail": str(exc)}, status=410)
    notice = _already(incident)
    if notice is None:
        try:
            incident = incident_acknowledge(incident=incident, actor=user)
        except DomainError as exc:
            return JsonResponse({"detail": str(exc)}, status=409)
    return JsonResponse(
        {"status": incident.status, "incident": incident.reference, "detail": notice or "Acknowledged"}
    )
