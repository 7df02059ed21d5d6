from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, cast

from playwright.sync_api import Page, expect

from incidents.choices import Role, Severity
from incidents.models import Incident, Profile
from incidents.services import incident_acknowledge, incident_add_note, incident_resolve
from postmortems.models import ActionItem, Postmortem
from tests.factories import (
    DEFAULT_PASSWORD,
    IncidentFactory,
    MembershipFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)


def new_incident(**fields) -> Incident:
    return cast(Incident, IncidentFactory(**fields))


# Looked at by eye to judge the layout on a phone and a laptop.
SHOTS = Path(tempfile.gettempdir()) / "helperC-shots"
BLAMING = "The deploy went out without a canary because of human error."
BLAMELESS = "A config change reached every checkout pod at once: the pipeline had no canary stage."


def no_sideways_scroll(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def test_write_a_postmortem_add_an_action_item_and_close_it(live_server, page: Page):
    team = TeamFactory(name="Payments", slug="payments")
    service = ServiceFactory(name="Checkout", slug="checkout", team=team)
    rosa: Any = UserFactory(username="rosa", first_name="Rosa", last_name="Diaz")
    MembershipFactory(team=team, user=rosa, role=Role.RESPONDER)
    Profile.objects.update_or_create(user=rosa, defaults={"time_zone": "Europe/Berlin"})
    incident = new_incident(service=service, title="Checkout returns 502s", severity=Severity.SEV2)
    incident_acknowledge(incident=incident, actor=rosa)
    incident_add_note(incident=incident, text="Rolled back config v42", actor=rosa)
    incident_resolve(incident=incident, actor=rosa, note="Error rate back to normal")

    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill("rosa")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # The resolved incident asks for its postmortem.
    page.goto(live_server.url + incident.get_absolute_url())
    card = page.locator("#postmortem-card")
    expect(card).to_contain_text("Required for SEV1 and SEV2 incidents")
    card.get_by_role("button", name="Write postmortem").click()
    expect(page.get_by_role("heading", name="Checkout returns 502s", level=1)).to_be_visible()
    expect(page.get_by_text("Postmortem started with the incident's timeline")).to_be_visible()
    timeline = page.locator("#pm-timeline")
    expect(timeline).to_contain_text("Rolled back config v42")
    expect(timeline).to_contain_text("Times in Europe/Berlin")

    # The summary: the live blameless check warns while typing, and the warning goes once reworded.
    page.get_by_role("link", name="Edit Summary").click()
    editor = page.get_by_role("textbox", name="Summary", exact=True)
    expect(editor).to_be_focused()
    # Typed as a person types: the check runs on keyup, once the typing pauses.
    editor.fill(BLAMING.removesuffix(" human error."))
    editor.press_sequentially(" human error.", delay=60)
    check = page.locator("#check-summary")
    expect(check).to_contain_text("Blameless check")
    expect(check).to_contain_text("“human error”")
    expect(check).to_contain_text("Ask what made the action easy to get wrong")
    editor.fill(BLAMELESS.removesuffix(" stage."))
    editor.press_sequentially(" stage.", delay=60)
    expect(check).to_contain_text("no blaming phrases")
    page.get_by_role("button", name="Save Summary").click()
    summary = page.locator("#section-summary")
    expect(summary).to_contain_text("Summary saved.")
    expect(summary).to_contain_text("the pipeline had no canary stage")
    expect(summary.locator(".pm-blameless")).to_have_count(0)

    # A high-priority action item, from the postmortem page.
    panel = page.locator("#action-items")
    panel.get_by_text("Add action item").first.click()
    panel.get_by_label("Title").fill("Add a canary stage to the checkout pipeline")
    panel.get_by_label("Priority").select_option("high")
    panel.get_by_label("Kind").select_option("prevent")
    # A refusal from the server shows in the form, with what was typed kept.
    panel.get_by_label("Tracker link").fill("ftp://jira.example.com/PAY-123")
    panel.get_by_role("button", name="Add action item").click()
    expect(panel).to_contain_text("Paste the full http(s) link")
    expect(panel.get_by_label("Title")).to_have_value("Add a canary stage to the checkout pipeline")
    panel.get_by_label("Tracker link").fill("https://jira.example.com/browse/PAY-123")
    panel.get_by_role("button", name="Add action item").click()
    expect(panel).to_contain_text("Action item “Add a canary stage to the checkout pipeline” added.")
    expect(panel.get_by_role("link", name="jira.example.com ↗")).to_be_visible()

    # Closing it as done needs a verification note: the empty form does not go through.
    panel.get_by_text("Change status").click()
    panel.get_by_text("Done…").click()
    verification = panel.get_by_label("How do we know the fix works?")
    expect(verification).to_have_attribute("required", "")
    panel.get_by_role("button", name="Close as done").click()
    assert verification.evaluate("el => el.validationMessage") != ""
    assert ActionItem.objects.get().status == "open"
    verification.fill("A bad config in staging stopped at the canary on 3 March.")
    panel.get_by_role("button", name="Close as done").click()
    expect(panel).to_contain_text("is now done")
    expect(panel.locator(".pill", has_text="Done")).to_be_visible()
    item = ActionItem.objects.get()
    assert (item.status, item.closed_by) == ("done", rosa)
    assert item.verification.startswith("A bad config in staging")

    # The item's own page says so too.
    panel.get_by_role("link", name="Add a canary stage to the checkout pipeline").click()
    expect(page.get_by_text("How we know it works")).to_be_visible()
    expect(page.get_by_text("closed by Rosa Diaz")).to_be_visible()

    # Readable on a phone and on a laptop.
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(live_server.url + Postmortem.objects.get().get_absolute_url())
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=SHOTS / f"postmortem-{width}.png", full_page=True)
        assert no_sideways_scroll(page) <= 0, f"the postmortem page scrolls sideways at {width}px"
