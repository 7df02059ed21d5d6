"""Ingest endpoints: read the body, find the integration, parse with the sender's module, call the
service, answer in the sender's dialect. Everything accepted is committed before the response."""

from __future__ import annotations

import functools
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from incidents.choices import IntegrationKind
from incidents.ingest import alertmanager, native, opsgenie, pagerduty, webhook
from incidents.ingest.auth import authenticate
from incidents.ingest.events import IngestError
from incidents.ingest.http import GENERIC, OPSGENIE, PAGERDUTY_MAX_BODY_BYTES, ingest_endpoint
from incidents.ingest.parsing import load_json_object
from incidents.ingest.ratelimit import rate_limit_check
from incidents.models import Incident
from incidents.services import (
    alert_ingest,
    alert_ingest_batch,
    alert_update_text,
    change_event_record,
)

HOOK_KINDS = (IntegrationKind.ALERTMANAGER, IntegrationKind.GRAFANA, IntegrationKind.WEBHOOK)


def _incident_json(incident: Incident | None) -> dict[str, Any] | None:
    if incident is None:
        return None
    return {
        "number": incident.number,
        "reference": incident.reference,
        "url": settings.MUSTER_BASE_URL + incident.get_absolute_url(),
    }


# --- PagerDuty Events API v2 ----------------------------------------------------------------


@ingest_endpoint(style=pagerduty.STYLE, max_body=PAGERDUTY_MAX_BODY_BYTES)
def pagerduty_enqueue(request: HttpRequest, body: bytes) -> HttpResponse:
    data = pagerduty.load_event(body)
    key = pagerduty.routing_key(data)
    event = pagerduty.parse_alert_event(data)
    integration = authenticate(key, kinds=[IntegrationKind.PAGERDUTY])
    rate_limit_check(integration)
    result = alert_ingest(integration=integration, event=event)
    return JsonResponse(
        {"status": "success", "message": "Event processed", "dedup_key": result.dedup_key}, status=202
    )


@ingest_endpoint(style=pagerduty.STYLE, max_body=PAGERDUTY_MAX_BODY_BYTES)
def pagerduty_change_enqueue(request: HttpRequest, body: bytes) -> HttpResponse:
    data = pagerduty.load_event(body)
    key = pagerduty.routing_key(data)
    change = pagerduty.parse_change_event(data)
    integration = authenticate(key, kinds=[IntegrationKind.PAGERDUTY])
    rate_limit_check(integration)
    change_event_record(integration=integration, change=change)
    return JsonResponse({"status": "success", "message": "Change event processed"}, status=202)


# --- Alertmanager, Grafana and generic webhooks ---------------------------------------------


@ingest_endpoint(style=GENERIC, methods=("POST", "PUT"))
def hook(request: HttpRequest, body: bytes, key: str) -> HttpResponse:
    integration = authenticate(key, kinds=HOOK_KINDS, unknown_status=404)
    if integration.kind == IntegrationKind.WEBHOOK:
        rate_limit_check(integration)
        event = webhook.parse_webhook(load_json_object(body), config=integration.config or {})
        result = alert_ingest(integration=integration, event=event)
        incident = result.incident
        return JsonResponse(
            {
                "status": "accepted",
                "outcome": result.outcome,
                "dedup_key": result.dedup_key,
                "incident": incident.number if incident else None,
            },
            status=202,
        )

    # Alertmanager treats every status but 5xx as final, so "slow down" must be a 503 for it.
    rate_limit_check(integration, status=503)
    message = alertmanager.parse_group(
        load_json_object(body), grafana=integration.kind == IntegrationKind.GRAFANA
    )
    results = alert_ingest_batch(integration=integration, events=message.events)
    incident = next((r.incident for r in results if r.incident is not None), None)
    return JsonResponse(
        {
            "status": "ok",
            "incident": incident.number if incident else None,
            "alerts": len(results),
            "outcomes": dict(Counter(str(r.outcome) for r in results)),
            "truncated_alerts": message.truncated_alerts,
        }
    )


# --- Opsgenie Alert API ---------------------------------------------------------------------


def _opsgenie_accepted(started: float) -> JsonResponse:
    return JsonResponse(
        {
            "result": "Request will be processed",
            "took": round(time.monotonic() - started, 3),
            "requestId": str(uuid.uuid4()),
        },
        status=202,
    )


@ingest_endpoint(style=OPSGENIE)
def opsgenie_create(request: HttpRequest, body: bytes) -> HttpResponse:
    started = time.monotonic()
    integration = authenticate(opsgenie.api_key(request), kinds=[IntegrationKind.OPSGENIE])
    rate_limit_check(integration)
    event = opsgenie.parse_create(load_json_object(body))
    alert_ingest(integration=integration, event=event)
    return _opsgenie_accepted(started)


def _opsgenie_action(request: HttpRequest, body: bytes, identifier: str, action: str) -> HttpResponse:
    started = time.monotonic()
    integration = authenticate(opsgenie.api_key(request), kinds=[IntegrationKind.OPSGENIE])
    rate_limit_check(integration)
    kind = opsgenie.identifier_type(request)
    # Alertmanager's close sends a small body, curl users often none at all.
    fields = opsgenie.parse_action_body(load_json_object(body)) if body.strip() else {}
    dedup_key = opsgenie.dedup_key_for_identifier(integration=integration, identifier=identifier, kind=kind)
    event = opsgenie.action_event(
        action="resolve" if action == "close" else "acknowledge", dedup_key=dedup_key, fields=fields
    )
    alert_ingest(integration=integration, event=event)
    return _opsgenie_accepted(started)


@ingest_endpoint(style=OPSGENIE)
def opsgenie_close(request: HttpRequest, body: bytes, identifier: str) -> HttpResponse:
    return _opsgenie_action(request, body, identifier, "close")


@ingest_endpoint(style=OPSGENIE)
def opsgenie_acknowledge(request: HttpRequest, body: bytes, identifier: str) -> HttpResponse:
    return _opsgenie_action(request, body, identifier, "acknowledge")


@ingest_endpoint(style=OPSGENIE, methods=("PUT", "POST"))
def opsgenie_update(request: HttpRequest, body: bytes, identifier: str, field: str) -> HttpResponse:
    """Alertmanager's update_alerts. Always 202 once authenticated: an update Muster cannot apply is
    not worth a retry loop in the sender."""
    started = time.monotonic()
    integration = authenticate(opsgenie.api_key(request), kinds=[IntegrationKind.OPSGENIE])
    rate_limit_check(integration)
    try:
        kind = opsgenie.identifier_type(request)
        value = load_json_object(body).get(field)
    except IngestError:
        return _opsgenie_accepted(started)
    if isinstance(value, str) and value.strip():
        dedup_key = opsgenie.dedup_key_for_identifier(
            integration=integration, identifier=identifier, kind=kind
        )
        text = (
            {"summary": value[: opsgenie.MESSAGE_MAX]}
            if field == "message"
            else {"description": value[: opsgenie.DESCRIPTION_MAX]}
        )
        alert_update_text(integration=integration, dedup_key=dedup_key, **text)
    return _opsgenie_accepted(started)


# --- Muster's own API -----------------------------------------------------------------------


@ingest_endpoint(style=GENERIC)
def native_alert(request: HttpRequest, body: bytes) -> HttpResponse:
    integration = authenticate(native.bearer_key(request), kinds=[IntegrationKind.NATIVE])
    rate_limit_check(integration)
    event = native.parse_alert(load_json_object(body))
    result = alert_ingest(integration=integration, event=event)
    return JsonResponse(
        {
            "status": "accepted",
            "outcome": result.outcome,
            "dedup_key": result.dedup_key,
            "incident": _incident_json(result.incident),
        },
        status=202,
    )


@functools.cache
def _api_alert_list() -> Callable[..., HttpResponse]:
    # Imported on first use: ingestion must keep working even if the REST API fails to import.
    from incidents.api.views import AlertViewSet

    return AlertViewSet.as_view({"get": "list"})


@csrf_exempt
def native_alerts_path(request: HttpRequest) -> HttpResponse:
    """/api/v1/alerts/ is shared: senders POST alerts here, people read the REST API's alert list.
    This route is matched first, so it hands reads on instead of answering them with a 405."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return _api_alert_list()(request)
    return native_alert(request)
