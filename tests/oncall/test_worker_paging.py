"""A real Celery worker delivers the first page of a new incident, handed over on commit."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings

from incidents.ingest.events import AlertEvent
from incidents.services import alert_ingest
from oncall.models import Notification, NotificationStatus
from tests.factories import (
    ContactMethodFactory,
    EscalationPolicyFactory,
    EscalationStepFactory,
    IntegrationFactory,
    NotificationRuleFactory,
)
from tests.workers import celery_worker

SECRET = "worker-test-signing-secret"


class Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(expected, self.headers.get("X-Muster-Signature", ""))
        Receiver.received.append({"valid": valid, "body": json.loads(body), "at": time.monotonic()})
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_the_first_page_on_commit(team, service, responder, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.received = []
    responder.contact_methods.all().delete()  # only the webhook, instead of the default email at 0
    contact = ContactMethodFactory(
        user=responder, kind="webhook", address=f"http://127.0.0.1:{server.server_address[1]}/page"
    )
    NotificationRuleFactory(contact_method=contact)
    policy = EscalationPolicyFactory(team=team)
    EscalationStepFactory(policy=policy, users=[responder])
    service.escalation_policy = policy
    service.save()
    integration = IntegrationFactory(service=service)

    env = {
        "MUSTER_VAR_DIR": str(settings.VAR_DIR),  # the same filesystem broker as this process
        "MUSTER_WEBHOOK_SIGNING_SECRET": SECRET,
        "MUSTER_TICK_SECONDS": "60",  # so the page can only have come through the on-commit hand-over
    }
    try:
        with celery_worker(log=tmp_path / "worker.log", env=env, loglevel="WARNING") as worker:
            time.sleep(4)  # let the worker connect before the task is published
            started = time.monotonic()
            incident = alert_ingest(
                integration=integration,
                event=AlertEvent(action="trigger", dedup_key="k", group_key="k", summary="Checkout down"),
            ).incident
            deadline = started + 30
            while time.monotonic() < deadline and not Receiver.received:
                time.sleep(0.1)
            assert Receiver.received, "the worker never delivered the page\n" + worker.output()
            [page] = Receiver.received
            assert page["valid"], "the webhook signature did not verify"
            assert page["body"]["incident"]["reference"] == incident.reference
            assert page["at"] - started < 10
            deadline = time.monotonic() + 10
            while (
                time.monotonic() < deadline and Notification.objects.get().status != NotificationStatus.SENT
            ):
                time.sleep(0.1)
            assert Notification.objects.get().status == NotificationStatus.SENT
    finally:
        server.shutdown()
