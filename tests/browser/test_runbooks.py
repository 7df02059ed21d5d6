from __future__ import annotations

from typing import cast

from playwright.sync_api import Page, expect

from incidents.choices import Role
from incidents.models import Incident, Service, Team
from runbooks.models import Runbook
from runbooks.services import runbook_create
from tests.factories import DEFAULT_PASSWORD, IncidentFactory, MembershipFactory, UserFactory

BODY = "# Replication lag\n\n1. Check the lag dashboard\n2. Restart the replica\n"


def test_edit_a_runbook_and_see_the_changed_line_in_the_diff(live_server, page: Page):
    team = Team.objects.create(name="Payments", slug="payments")
    service = Service.objects.create(name="Checkout", slug="checkout", team=team)
    responder = UserFactory(username="rosa", first_name="Rosa", last_name="Diaz")
    MembershipFactory(team=team, user=responder, role=Role.RESPONDER)
    runbook = runbook_create(
        team=team, title="Postgres replication lag", body=BODY, actor=responder, services=[service]
    )

    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill("rosa")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("link", name="Runbooks").click()
    page.get_by_role("link", name="Postgres replication lag").click()
    expect(page.get_by_role("heading", name="Replication lag", exact=True)).to_be_visible()
    page.get_by_role("link", name="Edit").click()

    page.get_by_label("Body").fill(BODY.replace("Restart the replica", "Rebuild the replica from a snapshot"))
    page.get_by_label("Change note").fill("Restarting does not help")
    page.get_by_role("button", name="Save revision").click()
    expect(page.get_by_text("Saved as revision 2.")).to_be_visible()
    expect(page.get_by_text("Rebuild the replica from a snapshot")).to_be_visible()

    page.get_by_role("link", name="History").click()
    expect(page.get_by_text("Restarting does not help")).to_be_visible()
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("heading", name="Revision 1 → 2")).to_be_visible()

    added = page.locator(".rb-new ins", has_text="2. Rebuild the replica from a snapshot")
    removed = page.locator(".rb-old del", has_text="2. Restart the replica")
    expect(added).to_be_visible()
    expect(removed).to_be_visible()
    # Highlighted: the changed line's cell has the insert colour, an unchanged line's has none.
    assert added.locator("..").evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(220, 252, 231)"
    unchanged = page.locator(".rb-equal .rb-new", has_text="1. Check the lag dashboard")
    assert unchanged.evaluate("el => getComputedStyle(el).backgroundColor") == "rgba(0, 0, 0, 0)"

    # On a phone the two sides stack and the page does not scroll sideways.
    page.set_viewport_size({"width": 390, "height": 900})
    expect(added).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0

    assert list(Runbook.objects.get(pk=runbook.pk).revisions.values_list("number", flat=True)) == [2, 1]

    # The runbook shows up on an incident of the service it covers, at the revision just saved.
    incident = cast(Incident, IncidentFactory(service=service, title="Replica 40 s behind"))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + incident.get_absolute_url())
    card = page.locator("#runbooks")
    expect(card.get_by_text("Suggested for this incident")).to_be_visible()
    expect(card.get_by_text("Postgres replication lag")).to_be_visible()
    card.get_by_role("button", name="Use this runbook").click()
    expect(card.get_by_text("revision 2").first).to_be_visible()
    expect(page.locator("#incident-timeline")).to_contain_text(
        "Runbook 'Postgres replication lag' (revision 2) attached by Rosa Diaz"
    )
