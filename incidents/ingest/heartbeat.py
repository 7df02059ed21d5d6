"""Heartbeat pings: `GET`, `HEAD` or `POST /heartbeat/<key>`, body ignored.

Whatever a cron job or uptime monitor can send counts (`curl -fsS -m 10 --retry 3 <url>` is the
usual line). The answer says by when the next ping must arrive:
{"status": "ok", "next_expected_before": "2026-03-02T10:06:00+00:00"}.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from incidents.choices import IntegrationKind
from incidents.ingest.auth import authenticate
from incidents.ingest.http import GENERIC, ingest_endpoint
from incidents.ingest.ratelimit import rate_limit_check
from incidents.services.heartbeat import heartbeat_ping

METHODS = ("GET", "HEAD", "POST")


@ingest_endpoint(style=GENERIC, methods=METHODS, max_body=64 * 1024)
def heartbeat(request: HttpRequest, body: bytes, key: str) -> HttpResponse:
    integration = authenticate(key, kinds=[IntegrationKind.HEARTBEAT], unknown_status=404)
    rate_limit_check(integration)
    heartbeat_ping(integration=integration)
    due = integration.heartbeat_due_at
    response = JsonResponse({"status": "ok", "next_expected_before": due.isoformat() if due else None})
    # A ping is an action, not a document: no cache may answer it in Muster's place.
    response["Cache-Control"] = "no-store"
    return response
