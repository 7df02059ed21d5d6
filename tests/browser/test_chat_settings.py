"""Chat settings in Chromium: an admin adds a Slack workspace and tests it, a manager names the
team's announcement channel and sends a test message, against a local stand-in for Slack."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from incidents.choices import Role
from tests.browser.test_postmortems import no_sideways_scroll
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, ServiceFactory, TeamFactory, UserFactory
from tests.oncall.channels.conftest import Recorded, fake_provider  # noqa: F401 - fixture
from tests.oncall.channels.conftest import Reply as ProviderReply

SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
BOT_TOKEN = "xoxb-1234-5678-AbCdEfGhIjKlMnOp"


def check(request: Recorded) -> list[str]:
    problems = []
    if request.path not in ("/auth.test", "/chat.postMessage"):
        problems.append(f"unexpected {request.method} {request.path}")
    if request.headers.get("authorization") != f"Bearer {BOT_TOKEN}":
        problems.append(f"{request.path}: bot token missing or wrong")
    if request.path == "/chat.postMessage" and request.json().get("channel") != "C0PAYMENTS":
        problems.append(f"chat.postMessage to {request.json().get('channel')!r}")
    return problems


@pytest.fixture
def slack(fake_provider, settings):  # noqa: F811 - the imported fixture
    provider = fake_provider(
        check, ProviderReply(200, {"ok": True, "channel": "C0PAYMENTS", "ts": "1.000100"})
    )
    provider.reply_to(
        "/auth.test",
        200,
        {"ok": True, "team_id": "T0ACME", "team": "Acme", "user": "muster"},
        headers={"x-oauth-scopes": "commands,chat:write,users:read"},
    )
    settings.SLACK_API_URL = provider.url
    settings.SLACK_BOT_TOKEN = ""
    return provider


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_set_up_a_workspace_and_an_announcement_channel(live_server, page: Page, slack, browser):
    team = TeamFactory(name="Payments", slug="payments")
    ServiceFactory(name="Checkout", slug="checkout", team=team)
    UserFactory(username="ada", first_name="Ada", is_superuser=True, is_staff=True)
    morgan: Any = UserFactory(username="morgan", first_name="Morgan", last_name="Reyes")
    MembershipFactory(team=team, user=morgan, role=Role.MANAGER)

    # The admin adds the workspace; its secrets are never shown again.
    log_in(page, live_server.url, "ada")
    page.locator("summary[aria-label^='Account menu']").click()
    page.get_by_role("link", name="Chat settings").click()
    workspaces = page.locator("#workspaces")
    expect(workspaces).to_contain_text("No workspaces yet")
    workspaces.get_by_label("Team ID").fill("T0ACME")
    workspaces.get_by_label("Name (optional)").fill("Acme")
    workspaces.get_by_label("Signing secret (Slack) (optional)").fill(SIGNING_SECRET)
    workspaces.get_by_label("Bot token (Slack) (optional)").fill(BOT_TOKEN)
    workspaces.get_by_role("button", name="Add workspace").click()
    expect(workspaces).to_contain_text("ends in …2543")
    html = page.content()
    assert SIGNING_SECRET not in html
    assert BOT_TOKEN not in html

    workspaces.get_by_role("button", name="Test connection").click()
    expect(workspaces).to_contain_text("valid for workspace Acme")
    expect(workspaces).to_contain_text("Missing scope users:read.email")
    expect(workspaces).to_contain_text("Missing scope channels:manage")
    assert [request.path for request in slack.requests] == ["/auth.test"]

    # The team's manager names the announcement channel and tries it.
    manager_context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = manager_context.new_page()
    log_in(phone, live_server.url, "morgan")
    phone.goto(live_server.url + "/settings/chat/")
    expect(phone.locator("#workspaces")).to_have_count(0)
    form = phone.locator("#add-channel")
    form.get_by_label("Announce incidents of").select_option(label="All services of Payments")
    form.get_by_label("Post with").select_option(label="Slack channel, posted by the bot")
    form.get_by_label("Name").fill("#payments-incidents")
    form.get_by_label("Channel ID (optional)").fill("C0PAYMENTS")
    form.get_by_label("Slack workspace (optional)").select_option(label="Acme")
    form.get_by_label("Announce", exact=True).select_option(label="SEV1\u2013SEV2")
    form.get_by_role("button", name="Add channel").click()
    channels = phone.locator("#channels")
    expect(channels).to_contain_text("#payments-incidents")
    expect(channels).to_contain_text("All services of Payments · SEV1\u2013SEV2")
    assert no_sideways_scroll(phone) == 0

    channels.get_by_role("button", name="Send test message").click()
    expect(channels).to_contain_text("Sent. Look for the test message in #payments-incidents.")
    posted = slack.requests[-1]
    assert posted.path == "/chat.postMessage"
    assert "Test message from Muster, sent by Morgan Reyes" in posted.json()["text"]

    # The service page says where its incidents are announced.
    phone.goto(live_server.url + "/services/checkout/")
    expect(phone.locator("body")).to_contain_text("#payments-incidents")
    manager_context.close()
