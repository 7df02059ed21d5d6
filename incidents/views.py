"""Browser UI for incidents and services.

Views parse input, check permissions, call one service function and respond. Each page view returns
its full template, or the partial the page includes when htmx asks for it (the live list, the live
timeline, the incident body after an action). Every action also works as a plain POST + redirect.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.chatops.selectors import announcement_channels_for_service, incident_chat_channels
from incidents.choices import IncidentRoleKind, IntegrationKind, Role
from incidents.filters import OPEN, IncidentFilter
from incidents.forms import (
    IncidentDeclareForm,
    IntegrationCreateForm,
    MaintenanceWindowForm,
    NoteForm,
    ResolveForm,
    RoleAssignForm,
    SeverityForm,
)
from incidents.ingest.links import ingest_url, opsgenie_api_url, pagerduty_change_url
from incidents.models import Incident, Integration, Service, TimelineEvent
from incidents.permissions import can_act_on_incident, can_manage_service, can_respond
from incidents.responses import forbidden, htmx_details, render_page, wants_partial
from incidents.selectors import (
    incident_alerts,
    incident_get_for_user,
    incident_list_for_user,
    incident_timeline,
    service_get_for_user,
    service_list_for_role,
    service_list_for_user,
    team_list_for_user,
)
from incidents.services import (
    DomainError,
    incident_acknowledge,
    incident_add_note,
    incident_assign_role,
    incident_declare,
    incident_mark_mitigated,
    incident_post_status_update,
    incident_resolve,
    incident_set_severity,
    integration_create,
    maintenance_window_create,
)
from oncall.selectors.schedules import service_oncall

PAGE_SIZE = 50
LIST_PARTIAL = "incidents/partials/_incident_list.html"
BODY_PARTIAL = "incidents/partials/_incident_body.html"
TIMELINE_PARTIAL = "incidents/partials/_timeline.html"
TIMELINE_TARGET = "incident-timeline"


# --- incident list --------------------------------------------------------------------------


@login_required
@require_GET
def incident_list(request: HttpRequest) -> HttpResponse:
    data = request.GET.copy()
    # Open incidents are what someone opening Muster wants; "Any status" is an explicit empty value.
    data.setdefault("status", OPEN)
    filterset = IncidentFilter(data, queryset=incident_list_for_user(user=request.user))
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    filters_active = any(data.get(name) for name in ("severity", "service", "team")) or data["status"] != OPEN
    query_without_page = data.copy()
    query_without_page.pop("page", None)
    context: dict[str, Any] = {
        "filterset": filterset,
        "page": page,
        "incidents": page.object_list,
        "filters_active": filters_active,
        "query": query_without_page.urlencode(),
        "selected": {name: data.get(name, "") for name in ("status", "severity", "service", "team")},
    }
    if not wants_partial(request):
        context["services"] = list(service_list_for_user(user=request.user))
        context["teams"] = list(team_list_for_user(user=request.user))
    return render_page(request, "incidents/incident_list.html", LIST_PARTIAL, context)


# --- incident page --------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleSlot:
    kind: str
    label: str
    user: Any


def _incident_context(request: HttpRequest, incident: Incident, **forms_: forms.Form) -> dict[str, Any]:
    can_act = can_act_on_incident(request.user, incident)
    holders = {assignment.role: assignment.user for assignment in incident.roles.all()}
    context: dict[str, Any] = {
        "incident": incident,
        "can_act": can_act,
        "timeline": incident_timeline(incident=incident),
        "alerts": incident_alerts(incident=incident),
        "roles": [RoleSlot(kind, str(label), holders.get(kind)) for kind, label in IncidentRoleKind.choices],
        "durations": [
            ("Time to detect", incident.time_to_detect, "from impact start to detection"),
            ("Time to acknowledge", incident.time_to_acknowledge, "from detection"),
            ("Time to mitigate", incident.time_to_mitigate, "from detection"),
            ("Time to resolve", incident.time_to_resolve, "from detection"),
        ],
        "chat_channels": incident_chat_channels(incident=incident),
    }
    # --- runbooks on the incident ---
    # Imported here, not at the top: this section belongs to the runbooks app, which builds on incidents.
    from runbooks.views.incident import incident_runbooks_context

    context.update(incident_runbooks_context(user=request.user, incident=incident, can_act=can_act))
    # --- end runbooks on the incident ---
    # --- postmortem and action items on the incident ---
    from postmortems.views.incident import incident_postmortem_context

    context.update(incident_postmortem_context(user=request.user, incident=incident))
    # --- end postmortem and action items on the incident ---
    if can_act:
        context["severity_form"] = forms_.get("severity_form") or SeverityForm(
            initial={"severity": incident.severity}
        )
        context["resolve_form"] = forms_.get("resolve_form") or ResolveForm()
        context["note_form"] = forms_.get("note_form") or NoteForm()
        context["role_form"] = forms_.get("role_form") or RoleAssignForm(incident=incident)
    return context


@login_required
@require_GET
def incident_detail(request: HttpRequest, number: int) -> HttpResponse:
    incident = incident_get_for_user(user=request.user, number=number)
    htmx = htmx_details(request)
    if wants_partial(request) and htmx is not None and htmx.target == TIMELINE_TARGET:
        context = {"incident": incident, "timeline": incident_timeline(incident=incident), "oob": True}
        return render_page(request, "incidents/incident_detail.html", TIMELINE_PARTIAL, context)
    return render_page(
        request, "incidents/incident_detail.html", BODY_PARTIAL, _incident_context(request, incident)
    )


def _actionable_incident(request: HttpRequest, number: int) -> Incident | HttpResponse:
    incident = incident_get_for_user(user=request.user, number=number)
    if not can_act_on_incident(request.user, incident):
        return forbidden(request, f"Acting on {incident.reference} needs the responder role in its team.")
    return incident


def _after_action(
    request: HttpRequest, number: int, invalid_form: tuple[str, forms.Form] | None = None
) -> HttpResponse:
    """htmx gets the refreshed incident body; a plain form post is redirected back to the page."""
    if invalid_form is None and not wants_partial(request):
        return redirect("incidents:detail", number=number)
    incident = incident_get_for_user(user=request.user, number=number)
    extra = dict([invalid_form]) if invalid_form else {}
    context = _incident_context(request, incident, **extra)
    status = 400 if invalid_form and not wants_partial(request) else 200
    return render_page(request, "incidents/incident_detail.html", BODY_PARTIAL, context, status=status)


def _perform(request: HttpRequest, number: int, action: Callable[[Incident], object]) -> HttpResponse:
    incident = _actionable_incident(request, number)
    if isinstance(incident, HttpResponse):
        return incident
    try:
        action(incident)
    except DomainError as exc:
        messages.error(request, str(exc))
    return _after_action(request, number)


def _perform_with_form(
    request: HttpRequest,
    number: int,
    form_name: str,
    make_form: Callable[[Incident], forms.Form],
    action: Callable[[Incident, dict[str, Any]], object],
) -> HttpResponse:
    incident = _actionable_incident(request, number)
    if isinstance(incident, HttpResponse):
        return incident
    form = make_form(incident)
    if not form.is_valid():
        return _after_action(request, number, invalid_form=(form_name, form))
    try:
        action(incident, form.cleaned_data)
    except DomainError as exc:
        messages.error(request, str(exc))
    return _after_action(request, number)


@login_required
@require_POST
def incident_acknowledge_view(request: HttpRequest, number: int) -> HttpResponse:
    return _perform(
        request, number, lambda incident: incident_acknowledge(incident=incident, actor=request.user)
    )


@login_required
@require_POST
def incident_mitigate_view(request: HttpRequest, number: int) -> HttpResponse:
    return _perform(
        request, number, lambda incident: incident_mark_mitigated(incident=incident, actor=request.user)
    )


@login_required
@require_POST
def incident_resolve_view(request: HttpRequest, number: int) -> HttpResponse:
    return _perform_with_form(
        request,
        number,
        "resolve_form",
        lambda incident: ResolveForm(request.POST),
        lambda incident, data: incident_resolve(incident=incident, actor=request.user, note=data["note"]),
    )


@login_required
@require_POST
def incident_severity_view(request: HttpRequest, number: int) -> HttpResponse:
    return _perform_with_form(
        request,
        number,
        "severity_form",
        lambda incident: SeverityForm(request.POST),
        lambda incident, data: incident_set_severity(
            incident=incident, severity=data["severity"], actor=request.user
        ),
    )


@login_required
@require_POST
def incident_note_view(request: HttpRequest, number: int) -> HttpResponse:
    return _perform_with_form(
        request,
        number,
        "note_form",
        lambda incident: NoteForm(request.POST),
        lambda incident, data: _note_or_status_update(request, incident, data["text"]),
    )


def _note_or_status_update(request: HttpRequest, incident: Incident, text: str) -> TimelineEvent:
    """The note form has two buttons: a working note, or a stakeholder update that is also posted
    to the announcement channels."""
    if request.POST.get("kind") == "status_update":
        return incident_post_status_update(incident=incident, text=text, actor=request.user)
    return incident_add_note(incident=incident, text=text, actor=request.user)


@login_required
@require_POST
def incident_assign_role_view(request: HttpRequest, number: int) -> HttpResponse:
    return _perform_with_form(
        request,
        number,
        "role_form",
        lambda incident: RoleAssignForm(request.POST, incident=incident),
        lambda incident, data: incident_assign_role(
            incident=incident, role=data["role"], user=data["user"], actor=request.user
        ),
    )


# --- declare --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def incident_declare_view(request: HttpRequest) -> HttpResponse:
    services = service_list_for_role(user=request.user, minimum=Role.RESPONDER)
    if not services.exists():
        return forbidden(
            request, "Declaring an incident needs the responder role in a team that owns a service."
        )
    if request.method == "POST":
        form = IncidentDeclareForm(request.POST, services=services)
        if form.is_valid():
            data = form.cleaned_data
            service: Service = data["service"]
            # The form only offers services the user may respond on; this guards a hand-made POST.
            if not can_respond(request.user, service):
                return forbidden(request, f"Declaring on {service.name} needs the responder role.")
            try:
                incident = incident_declare(
                    service=service,
                    title=data["title"],
                    actor=request.user,
                    severity=data["severity"],
                    urgency=data["urgency"],
                    description=data["description"],
                    impact_started_at=data["impact_started_at"],
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect(incident)
    else:
        preselected = services.filter(slug=request.GET.get("service", "")).first()
        form = IncidentDeclareForm(services=services, initial={"service": preselected})
    status = 400 if form.is_bound else 200
    return render(request, "incidents/incident_declare.html", {"form": form}, status=status)


# --- services -------------------------------------------------------------------------------


@login_required
@require_GET
def service_list(request: HttpRequest) -> HttpResponse:
    services = service_list_for_user(user=request.user)
    return render(request, "incidents/service_list.html", {"services": services})


def _service_context(request: HttpRequest, service: Service, **forms_: forms.Form) -> dict[str, Any]:
    can_manage = can_manage_service(request.user, service)
    context: dict[str, Any] = {
        "service": service,
        "can_manage": can_manage,
        "can_respond": can_respond(request.user, service),
        # The selector is typed as a plain QuerySet but returns the model's IncidentQuerySet.
        "open_incidents": incident_list_for_user(user=request.user).filter(service=service).open(),
        "integrations": service.integrations.all(),
        "maintenance_windows": service.maintenance_windows.select_related("created_by")[:20],
        "change_events": service.change_events.all()[:20],
        "oncall_now": service_oncall(service=service, at=timezone.now()),
        "announcement_channels": announcement_channels_for_service(service=service),
    }
    if can_manage:
        context["integration_form"] = forms_.get("integration_form") or IntegrationCreateForm()
        context["maintenance_form"] = forms_.get("maintenance_form") or MaintenanceWindowForm()
    return context


@login_required
@require_GET
def service_detail(request: HttpRequest, slug: str) -> HttpResponse:
    service = service_get_for_user(user=request.user, slug=slug)
    return render(request, "incidents/service_detail.html", _service_context(request, service))


@never_cache
@login_required
@require_POST
def integration_create_view(request: HttpRequest, slug: str) -> HttpResponse:
    service = service_get_for_user(user=request.user, slug=slug)
    if not can_manage_service(request.user, service):
        return forbidden(request, f"Adding integrations to {service.name} needs the manager role.")
    form = IntegrationCreateForm(request.POST)
    if form.is_valid():
        try:
            integration, key = integration_create(
                service=service,
                kind=form.cleaned_data["kind"],
                name=form.cleaned_data["name"],
                config=form.cleaned_data["config"],
                heartbeat_interval_minutes=form.cleaned_data["heartbeat_interval_minutes"],
                actor=request.user,
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            # Rendered straight into this response and never stored: only the key's hash is kept, so
            # this is the one moment the key exists outside the sender's configuration.
            context = {
                "service": service,
                "integration": integration,
                "key": key,
                "snippets": integration_snippets(integration=integration, key=key),
            }
            return render(request, "incidents/integration_created.html", context)
    context = _service_context(request, service, integration_form=form)
    return render(request, "incidents/service_detail.html", context, status=400)


@login_required
@require_POST
def maintenance_window_create_view(request: HttpRequest, slug: str) -> HttpResponse:
    service = service_get_for_user(user=request.user, slug=slug)
    if not can_manage_service(request.user, service):
        return forbidden(request, f"Scheduling maintenance on {service.name} needs the manager role.")
    form = MaintenanceWindowForm(request.POST)
    if form.is_valid():
        try:
            maintenance_window_create(
                service=service,
                starts_at=form.cleaned_data["starts_at"],
                ends_at=form.cleaned_data["ends_at"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Maintenance window scheduled: incidents opened during it page nobody.")
            return HttpResponseRedirect(
                reverse("incidents:service_detail", kwargs={"slug": slug}) + "#maintenance"
            )
    context = _service_context(request, service, maintenance_form=form)
    return render(request, "incidents/service_detail.html", context, status=400)


# --- ready-to-paste configuration -----------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    title: str
    text: str
    hint: str = ""


def _curl(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> str:
    lines = [f"curl -sS -X POST {shlex.quote(url)}", "  -H 'Content-Type: application/json'"]
    lines += [f"  -H {shlex.quote(f'{name}: {value}')}" for name, value in (headers or {}).items()]
    lines.append(f"  -d {shlex.quote(json.dumps(body, indent=2))}")
    return " \\\n".join(lines)


def _cron_at_least_every(minutes: int) -> str:
    """A crontab schedule that runs at least once per `minutes`, for the heartbeat example."""
    if minutes < 60:
        step = max(d for d in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) if d <= minutes)
        return "* * * * *" if step == 1 else f"*/{step} * * * *"
    if minutes < 24 * 60:
        hours = max(d for d in (1, 2, 3, 4, 6, 8, 12) if d <= minutes // 60)
        return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
    return "0 3 * * *" if minutes < 7 * 24 * 60 else "0 3 * * 1"


def integration_snippets(*, integration: Integration, key: str) -> list[Snippet]:
    """What to paste into each sender so that it posts to this integration, key included."""
    kind = integration.kind
    url = ingest_url(kind=kind, key=key)
    receiver = f"muster-{integration.service.slug}"
    test_summary = f"Test alert for {integration.service.name} from curl"
    if kind == IntegrationKind.ALERTMANAGER:
        return [
            Snippet(
                "Alertmanager receiver (alertmanager.yml)",
                f"receivers:\n  - name: {receiver}\n    webhook_configs:\n"
                f'      - url: "{url}"\n        send_resolved: true\n',
                f"Then route alerts to it, e.g. `receiver: {receiver}` on a route.",
            ),
        ]
    if kind == IntegrationKind.PAGERDUTY:
        return [
            Snippet(
                "Alertmanager receiver (alertmanager.yml)",
                f"receivers:\n  - name: {receiver}\n    pagerduty_configs:\n"
                f'      - url: "{url}"\n        routing_key: "{key}"\n',
            ),
            Snippet(
                "Grafana PagerDuty contact point",
                f"Integration Key: {key}\nURL (optional settings): {url}",
            ),
            Snippet(
                "Trigger a test alert",
                _curl(
                    url,
                    {
                        "routing_key": key,
                        "event_action": "trigger",
                        "dedup_key": "muster-test",
                        "payload": {"summary": test_summary, "source": "curl", "severity": "warning"},
                    },
                ),
                'Send it again with "event_action": "resolve" to close it.',
            ),
            Snippet(
                "Change events (deploys)",
                _curl(
                    pagerduty_change_url(),
                    {"routing_key": key, "payload": {"summary": "Deployed checkout v1.2.3", "source": "ci"}},
                ),
                "Shown on the service and its open incidents; nobody is paged.",
            ),
        ]
    if kind == IntegrationKind.OPSGENIE:
        return [
            Snippet(
                "Alertmanager receiver (alertmanager.yml)",
                f"receivers:\n  - name: {receiver}\n    opsgenie_configs:\n"
                f'      - api_url: "{opsgenie_api_url()}"\n        api_key: "{key}"\n',
            ),
            Snippet(
                "Trigger a test alert",
                _curl(
                    url,
                    {"message": test_summary, "alias": "muster-test", "priority": "P3"},
                    headers={"Authorization": f"GenieKey {key}"},
                ),
            ),
        ]
    if kind == IntegrationKind.GRAFANA:
        return [
            Snippet(
                "Grafana webhook contact point URL",
                url,
                "Alerting → Contact points → Add contact point → Integration: Webhook, then paste the URL.",
            ),
            Snippet(
                "Grafana provisioning (contact point)",
                "apiVersion: 1\ncontactPoints:\n  - orgId: 1\n"
                f"    name: {receiver}\n    receivers:\n      - uid: {receiver}\n        type: webhook\n"
                f'        settings:\n          url: "{url}"\n          httpMethod: POST\n',
            ),
        ]
    if kind == IntegrationKind.HEARTBEAT:
        minutes = integration.heartbeat_interval_minutes or 60
        every = _cron_at_least_every(minutes)
        return [
            Snippet(
                "Ping URL",
                url,
                f"GET, HEAD or POST at least every {minutes} min. Monitoring starts with the first ping; "
                "after that, a missed ping opens an incident and the next ping resolves it.",
            ),
            Snippet(
                "Ping from a cron job (crontab)",
                f"{every} /usr/local/bin/backup.sh && curl -fsS -m 10 --retry 3 -o /dev/null {shlex.quote(url)}",
                "Ping after the job succeeds (&&), so a failing job is as loud as one that never ran.",
            ),
            Snippet("Test it with curl", f"curl -fsS -m 10 {shlex.quote(url)}"),
        ]
    if kind == IntegrationKind.NATIVE:
        return [
            Snippet(
                "Trigger a test alert",
                _curl(
                    url,
                    {"summary": test_summary, "severity": "warning", "dedup_key": "muster-test"},
                    headers={"Authorization": f"Bearer {key}"},
                ),
            ),
        ]
    return [
        Snippet("Webhook URL", url, "Post any JSON here; the key in the URL identifies this integration."),
        Snippet("Send a test event", _curl(url, {"title": test_summary, "status": "firing"})),
    ]
