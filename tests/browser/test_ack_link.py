"""The one-tap acknowledge link, end to end: the page goes out by email through a real SMTP server,
the link is taken out of the delivered message and opened in Chromium the way a phone would."""

from __future__ import annotations

import email
import json
import re
import urllib.request
from email.message import Message

from playwright.sync_api import Page, expect

from incidents.choices import IncidentStatus, IntegrationKind, Role
from incidents.models import Incident
from tests.factories import (
    DEFAULT_PASSWORD,
    EscalationPolicyFactory,
    EscalationStepFactory,
    IntegrationFactory,
    MembershipFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)
from tests.paging import run_engine_once


def send_trigger(url: str, routing_key: str) -> None:
    event = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": "db-eu1/replication-lag",
        "payload": {
            "summary": "Replication lag 312s on db-eu1",
            "source": "db-eu1.int.example.net",
            "severity": "critical",
        },
    }
    request = urllib.request.Request(
        url + "/v2/enqueue",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202


def run_engine() -> None:
    """What the worker does: fire the due step and send its pages."""
    _, outcomes = run_engine_once()
    assert outcomes == ["sent"]


def part(message: Message, content_type: str) -> str:
    found = next(p for p in message.walk() if p.get_content_type() == content_type)
    payload = found.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(found.get_content_charset() or "utf-8")


def test_the_ack_link_in_a_paging_email_acknowledges_in_the_browser(
    live_server, page: Page, smtp_server, settings
):
    settings.MUSTER_BASE_URL = live_server.url  # the links in the email point at this server
    team = TeamFactory(name="Payments", slug="payments")
    responder = UserFactory(username="rosa", first_name="Rosa", last_name="Diaz", email="rosa@example.org")
    MembershipFactory(team=team, user=responder, role=Role.RESPONDER)
    policy = EscalationPolicyFactory(team=team)
    EscalationStepFactory(policy=policy, users=[responder], delay_minutes=30)
    service = ServiceFactory(name="Checkout", slug="checkout", team=team, escalation_policy=policy)
    integration = IntegrationFactory(service=service, kind=IntegrationKind.PAGERDUTY, name="Checkmon")

    send_trigger(live_server.url, integration.plain_key)  # type: ignore[attr-defined]  # set by the factory
    run_engine()

    incident = Incident.objects.get()
    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == ["rosa@example.org"]
    message = email.message_from_bytes(envelope.original_content)
    assert incident.reference in message["Subject"]
    link = re.compile(re.escape(live_server.url) + r"/ack/[^\s\"'<>]+/")
    found = link.search(part(message, "text/plain"))
    assert found, "no acknowledge link in the text part"
    ack_url = found.group(0)
    assert f'href="{ack_url}"' in part(message, "text/html"), "the HTML part links elsewhere"

    page.goto(ack_url)
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(incident.reference)
    expect(heading).to_contain_text("Replication lag 312s on db-eu1")
    expect(page.get_by_text("Checkout")).to_be_visible()
    # Opening the link (as a mail scanner would) changes nothing; only the button does.
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.TRIGGERED

    page.get_by_role("button", name=f"Acknowledge {incident.reference}").click()
    expect(page.get_by_text("Acknowledged.")).to_be_visible()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.ACKNOWLEDGED

    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill("rosa")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(live_server.url + incident.get_absolute_url())
    expect(page.locator("#incident-header")).to_contain_text("Acknowledged")
    expect(page.locator("#incident-timeline")).to_contain_text("Acknowledged by Rosa Diaz")
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)

    run_engine_once()  # the acknowledgement closed the escalation: nobody else is paged
    assert len(smtp_server.envelopes) == 1
