from __future__ import annotations

import json
import re
import tempfile
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, expect

from incidents.choices import IntegrationKind, Role
from incidents.models import Incident
from tests.factories import (
    DEFAULT_PASSWORD,
    IntegrationFactory,
    MembershipFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)

LIVE_TIMEOUT_MS = 15_000
SCREENSHOT_WIDTHS = {"desktop": 1280, "phone": 390}
SCREENSHOT_DIR = Path(tempfile.gettempdir())


def post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def screenshot(page: Page, name: str) -> None:
    """Both widths, for judging the layout by eye; the phone one must not scroll sideways."""
    for label, width in SCREENSHOT_WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=SCREENSHOT_DIR / f"muster-{name}-{label}.png", full_page=True)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {width}px wide"
    page.set_viewport_size({"width": 1280, "height": 900})


def test_pagerduty_trigger_shows_up_live_and_is_acknowledged_in_the_browser(live_server, page: Page):
    team = TeamFactory(name="Payments", slug="payments")
    service = ServiceFactory(name="Checkout", slug="checkout", team=team)
    responder = UserFactory(username="rosa", first_name="Rosa", last_name="Diaz")
    MembershipFactory(team=team, user=responder, role=Role.RESPONDER)
    integration = IntegrationFactory(service=service, kind=IntegrationKind.PAGERDUTY, name="Checkmon")

    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill("rosa")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Incidents", exact=True)).to_be_visible()
    expect(page.get_by_text("No open incidents")).to_be_visible()
    # Survives only if the incident arrives by htmx swap rather than a page load.
    page.evaluate("window.loadedOnce = true")

    status, answer = post_json(
        live_server.url + "/v2/enqueue",
        {
            "routing_key": integration.plain_key,  # type: ignore[attr-defined]  # set by the factory
            "event_action": "trigger",
            "dedup_key": "db-eu1/replication-lag",
            "payload": {
                "summary": "Replication lag 312s on db-eu1",
                "source": "db-eu1.int.example.net",
                "severity": "critical",
                "custom_details": {"lag_seconds": 312},
            },
        },
    )
    assert status == 202
    assert answer["dedup_key"] == "db-eu1/replication-lag"

    row = page.get_by_role("link", name=re.compile("Replication lag 312s on db-eu1"))
    expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    assert page.evaluate("window.loadedOnce") is True
    screenshot(page, "list")

    row.click()
    incident = Incident.objects.get()
    expect(page).to_have_url(re.compile(f"/incidents/{incident.number}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Replication lag 312s")
    expect(page.locator("#incident-timeline")).to_contain_text("Triggered by Checkmon")

    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#incident-timeline")).to_contain_text("Acknowledged by Rosa Diaz")
    expect(page.locator("#incident-header")).to_contain_text("Acknowledged")
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    incident.refresh_from_db()
    assert incident.acknowledged_at is not None
    screenshot(page, "incident")
