"""End to end without a worker: an alert pages the on-call by email through a real SMTP server,
and the acknowledge link in that email stops the escalation."""

from __future__ import annotations

import email
import re

import pytest
from django.test import Client

from incidents.choices import IncidentStatus
from incidents.ingest.events import AlertEvent
from incidents.services import alert_ingest
from oncall.models import Notification, NotificationStatus
from tests.factories import EscalationPolicyFactory, EscalationStepFactory, IntegrationFactory
from tests.paging import run_engine_once

pytestmark = pytest.mark.django_db


def test_the_ack_link_in_a_delivered_email_acknowledges_the_incident(
    smtp_server, team, service, responder, manager
):
    policy = EscalationPolicyFactory(team=team)
    EscalationStepFactory(policy=policy, users=[responder], delay_minutes=0)
    EscalationStepFactory(policy=policy, users=[manager])
    service.escalation_policy = policy
    service.save()
    integration = IntegrationFactory(service=service)
    incident = alert_ingest(
        integration=integration,
        event=AlertEvent(action="trigger", dedup_key="k", group_key="k", summary="Checkout 5xx above 5%"),
    ).incident

    run_engine_once()

    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == [responder.email]
    message = email.message_from_bytes(envelope.original_content)
    assert incident.reference in message["Subject"]
    text = (
        next(p for p in message.walk() if p.get_content_type() == "text/plain")
        .get_payload(decode=True)
        .decode()
    )
    ack_url = re.search(r"http://\S+/ack/\S+/", text).group(0)

    client = Client()
    path = ack_url.removeprefix("http://127.0.0.1:8000")
    assert b"Acknowledge " + incident.reference.encode() in client.get(path).content
    client.post(path)

    incident.refresh_from_db()
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    assert incident.timeline.get(kind="acknowledged").actor_user == responder
    run_engine_once()  # step 2 was due at once (delay 0) but the acknowledgement closed the escalation
    assert len(smtp_server.envelopes) == 1
    assert Notification.objects.get().status == NotificationStatus.SENT
