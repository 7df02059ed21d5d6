"""The chat settings page as people use it: what each role sees, that secrets never come back into
the page, and the two test buttons against local stand-ins for Slack and a webhook."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.chatops.models import AnnouncementChannel, AnnouncementKind, ChatPlatform, ChatWorkspace
from incidents.chatops.settings_services import announcement_channel_create
from incidents.choices import Role
from tests.clients import client_for
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory
from tests.oncall.channels.conftest import Recorded, Reply, fake_provider  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
PAGE = reverse("chatops:chat_settings")
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
BOT_TOKEN = "xoxb-1111-2222-abcdefghijklmnop"
WEBHOOK = "https://hooks.slack.com/services/T0ACME/B0HOOK/s3cretW3bh00kPath"


@pytest.fixture
def provider(fake_provider):  # noqa: F811 - the imported fixture
    """Starts a local HTTP server that checks each request and answers as told."""
    return fake_provider


@pytest.fixture
def admin():
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def billing():
    return TeamFactory(name="Billing", slug="billing")


@pytest.fixture
def billing_channel(billing):
    billing_manager = UserFactory(username="bea")
    MembershipFactory(team=billing, user=billing_manager, role=Role.MANAGER)
    return announcement_channel_create(
        actor=billing_manager,
        team=billing,
        kind=AnnouncementKind.SLACK_WEBHOOK,
        name="#billing-incidents",
        webhook_url=WEBHOOK,
    )


def add_slack_workspace(client, **overrides):
    data = {
        "platform": "slack",
        "external_id": "T0ACME",
        "name": "Acme",
        "default_service": "",
        "signing_secret": SIGNING_SECRET,
        "bot_token": BOT_TOKEN,
        "command_token": "",
        "outgoing_secret": "",
    }
    data.update(overrides)
    return client.post(reverse("chatops:workspace_create"), data)


def add_channel(client, scope: str, **overrides):
    data = {
        "new-scope": scope,
        "new-kind": AnnouncementKind.SLACK_WEBHOOK,
        "new-name": "#incidents",
        "new-webhook_url": WEBHOOK,
        "new-workspace": "",
        "new-channel_id": "",
        "new-least_severe": "2",
    }
    data.update({f"new-{name}": value for name, value in overrides.items()})
    return client.post(reverse("chatops:announcement_channel_create"), data)


# --- the page and the menu -------------------------------------------------------------------


def test_everyone_signed_in_finds_chat_settings_in_the_account_menu(responder):
    html = client_for(responder).get(reverse("incidents:list")).content.decode()

    assert f'href="{PAGE}"' in html
    assert "Chat settings" in html


def test_a_responder_is_told_whom_to_ask_instead_of_getting_forms(responder, manager):
    html = client_for(responder).get(PAGE).content.decode()

    assert "Announcement channels are set up by the managers of a team" in html
    assert manager.get_full_name() in html
    assert "Add an announcement channel" not in html
    assert "Add a workspace" not in html
    assert "SLACK_SIGNING_SECRET" in html  # the set-up steps name it, but show no value
    assert "Environment" not in html


def test_the_setup_card_shows_the_urls_to_paste(responder, settings):
    settings.MUSTER_BASE_URL = "https://muster.example.org"

    html = client_for(responder).get(PAGE).content.decode()

    for path in (
        "/chatops/slack/commands",
        "/chatops/slack/interactions",
        "/chatops/slack/events",
        "/chatops/mattermost/commands",
        "/chatops/teams/messages",
    ):
        assert f"https://muster.example.org{path}" in html


def test_a_manager_sees_an_empty_state_and_the_add_form(manager):
    html = client_for(manager).get(PAGE).content.decode()

    assert "No announcement channels yet. Add one so" in html
    assert "All services of Payments" in html  # the scope select
    assert "Add a workspace" not in html


def test_the_environment_card_says_what_is_set_never_the_value(admin, settings):
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.SLACK_BOT_TOKEN = ""

    html = client_for(admin).get(PAGE).content.decode()

    assert "Environment" in html
    assert '<code>SLACK_SIGNING_SECRET</code> <span class="tag tag-ok">set</span>' in html
    assert '<code>SLACK_BOT_TOKEN</code> <span class="tag tag-muted">not set</span>' in html
    assert SIGNING_SECRET not in html


# --- workspaces ------------------------------------------------------------------------------


def test_saved_secrets_never_come_back_into_the_page(admin):
    client = client_for(admin)

    response = add_slack_workspace(client)

    assert response.status_code == 302
    html = client.get(PAGE).content.decode()
    assert "Acme" in html
    assert "set · ends in …2543" in html
    assert "set · ends in …mnop" in html
    assert SIGNING_SECRET not in html
    assert BOT_TOKEN not in html


def test_a_form_sent_back_with_an_error_does_not_echo_the_secrets(admin):
    response = add_slack_workspace(client_for(admin), external_id="not a team id")

    html = response.content.decode()
    assert response.status_code == 400
    assert "Enter the Slack team ID, e.g. T0123ABCD" in html
    assert SIGNING_SECRET not in html
    assert BOT_TOKEN not in html


def test_a_blank_secret_on_the_edit_form_keeps_it_and_the_box_clears_it(admin):
    client = client_for(admin)
    add_slack_workspace(client)
    workspace = ChatWorkspace.objects.get()
    url = reverse("chatops:workspace_update", args=[workspace.pk])
    prefix = f"ws{workspace.pk}-"

    client.post(url, {f"{prefix}name": "Acme Corp", f"{prefix}signing_secret": "", f"{prefix}bot_token": ""})
    workspace.refresh_from_db()
    assert (workspace.name, workspace.signing_secret, workspace.bot_token) == (
        "Acme Corp",
        SIGNING_SECRET,
        BOT_TOKEN,
    )

    client.post(url, {f"{prefix}name": "Acme Corp", f"{prefix}clear_bot_token": "on"})
    workspace.refresh_from_db()
    assert workspace.bot_token == ""
    assert workspace.signing_secret == SIGNING_SECRET
    html = client.get(PAGE).content.decode()
    assert "not set" in html
    assert SIGNING_SECRET not in html


def test_only_superusers_touch_workspaces(manager):
    workspace = ChatWorkspace.objects.create(
        platform=ChatPlatform.SLACK, external_id="T0ACME", signing_secret=SIGNING_SECRET
    )
    client = client_for(manager)

    assert add_slack_workspace(client).status_code == 403
    for name in ("workspace_update", "workspace_delete", "workspace_test"):
        response = client.post(reverse(f"chatops:{name}", args=[workspace.pk]), {})
        assert response.status_code == 403, name
        assert "only a Muster administrator" in response.content.decode()
    html = client.get(PAGE).content.decode()
    assert 'id="workspaces"' not in html
    assert "Test connection" not in html
    workspace.refresh_from_db()
    assert workspace.signing_secret == SIGNING_SECRET


def test_state_changes_need_a_post(admin):
    workspace = ChatWorkspace.objects.create(platform=ChatPlatform.SLACK, external_id="T0ACME")
    response = client_for(admin).get(reverse("chatops:workspace_delete", args=[workspace.pk]))

    assert response.status_code == 405
    assert ChatWorkspace.objects.exists()


def test_removing_a_workspace(admin):
    workspace = ChatWorkspace.objects.create(platform=ChatPlatform.SLACK, external_id="T0ACME", name="Acme")
    client = client_for(admin)

    response = client.post(reverse("chatops:workspace_delete", args=[workspace.pk]), follow=True)

    assert "Removed Slack Acme" in response.content.decode()
    assert not ChatWorkspace.objects.exists()


# --- test connection -------------------------------------------------------------------------


def check_auth_test(token: str):
    def check(request: Recorded) -> list[str]:
        problems = []
        if request.method != "POST" or request.path != "/auth.test":
            problems.append(f"{request.method} {request.path}, expected POST /auth.test")
        if request.headers.get("authorization") != f"Bearer {token}":
            problems.append(f"Authorization {request.headers.get('authorization')!r}")
        return problems

    return check


def auth_ok(team_id: str = "T0ACME") -> Reply:
    body = {
        "ok": True,
        "url": "https://acme.slack.com/",
        "team": "Acme",
        "user": "muster",
        "team_id": team_id,
    }
    return Reply(200, body, headers={"x-oauth-scopes": "chat:write,commands"})


@pytest.fixture
def slack_workspace():
    return ChatWorkspace.objects.create(
        platform=ChatPlatform.SLACK,
        external_id="T0ACME",
        name="Acme",
        signing_secret=SIGNING_SECRET,
        bot_token=BOT_TOKEN,
    )


def test_test_connection_reports_the_token_and_the_missing_scopes(admin, slack_workspace, provider, settings):
    slack = provider(check_auth_test(BOT_TOKEN), auth_ok())
    settings.SLACK_API_URL = slack.url

    response = client_for(admin).post(reverse("chatops:workspace_test", args=[slack_workspace.pk]), **HTMX)

    html = response.content.decode()
    assert len(slack.requests) == 1
    assert "valid for workspace Acme" in html
    assert "Missing scope users:read.email: needed to recognise Slack users" in html
    assert "Missing scope channels:manage: needed to create a channel for each incident" in html
    assert "Missing scope chat:write" not in html
    assert "Signing secret is set." in html
    assert "belongs to team" not in html
    assert BOT_TOKEN not in html
    assert "<html" not in html  # the partial only


def test_test_connection_warns_when_the_token_is_another_workspaces(
    admin, slack_workspace, provider, settings
):
    slack = provider(check_auth_test(BOT_TOKEN), auth_ok(team_id="T0OTHER"))
    settings.SLACK_API_URL = slack.url

    response = client_for(admin).post(reverse("chatops:workspace_test", args=[slack_workspace.pk]), **HTMX)

    assert "The token belongs to team T0OTHER, but this workspace is T0ACME" in response.content.decode()


def test_test_connection_uses_the_environment_token_when_the_row_has_none(admin, provider, settings):
    workspace = ChatWorkspace.objects.create(platform=ChatPlatform.SLACK, external_id="T0ACME")
    slack = provider(check_auth_test("xoxb-from-the-environment"), auth_ok())
    settings.SLACK_API_URL = slack.url
    settings.SLACK_BOT_TOKEN = "xoxb-from-the-environment"

    html = (
        client_for(admin)
        .post(reverse("chatops:workspace_test", args=[workspace.pk]), **HTMX)
        .content.decode()
    )

    assert "SLACK_BOT_TOKEN is valid for workspace Acme" in html
    assert "Signing secret is not set" in html


def test_test_connection_shows_what_slack_refused(admin, slack_workspace, provider, settings):
    slack = provider(check_auth_test(BOT_TOKEN), Reply(200, {"ok": False, "error": "invalid_auth"}))
    settings.SLACK_API_URL = slack.url

    html = (
        client_for(admin)
        .post(reverse("chatops:workspace_test", args=[slack_workspace.pk]), **HTMX)
        .content.decode()
    )

    assert "Slack refused the workspace&#x27;s bot token: Slack auth.test answered invalid_auth" in html


def test_test_connection_without_javascript_redirects_with_messages(
    admin, slack_workspace, provider, settings
):
    slack = provider(check_auth_test(BOT_TOKEN), auth_ok())
    settings.SLACK_API_URL = slack.url

    response = client_for(admin).post(
        reverse("chatops:workspace_test", args=[slack_workspace.pk]), follow=True
    )

    html = response.content.decode()
    assert response.redirect_chain[-1][0] == f"{PAGE}#workspace-{slack_workspace.pk}"
    assert "Test of Slack Acme: Missing scope users:read.email" in html


def test_mattermost_test_connection_explains_there_is_nothing_to_call(admin, settings):
    settings.MUSTER_BASE_URL = "https://muster.example.org"
    workspace = ChatWorkspace.objects.create(
        platform=ChatPlatform.MATTERMOST, external_id="mmteam", command_token="abcdefghijklmnopqrstuvwxyz"
    )

    html = (
        client_for(admin)
        .post(reverse("chatops:workspace_test", args=[workspace.pk]), **HTMX)
        .content.decode()
    )

    assert "Command token is set." in html
    assert "https://muster.example.org/chatops/mattermost/commands" in html
    assert "Mattermost offers no API to test this from Muster" in html


# --- announcement channels -------------------------------------------------------------------


def test_a_manager_adds_a_channel_and_its_webhook_url_stays_secret(manager, team):
    client = client_for(manager)

    response = add_channel(client, f"team:{team.pk}")

    assert response.status_code == 302
    channel = AnnouncementChannel.objects.get()
    assert (channel.team, channel.least_severe, channel.webhook_url) == (team, 2, WEBHOOK)
    html = client.get(PAGE).content.decode()
    assert "#incidents" in html
    assert "All services of Payments · SEV1\N{EN DASH}SEV2" in html
    assert "https://hooks.slack.com/…Path" in html
    assert WEBHOOK not in html
    assert "s3cretW3bh00k" not in html


def test_a_manager_adds_a_slack_channel_for_one_service(manager, service):
    client = client_for(manager)

    response = add_channel(
        client,
        f"service:{service.pk}",
        kind=AnnouncementKind.SLACK_CHANNEL,
        webhook_url="",
        channel_id="c0123abcd",
    )

    assert response.status_code == 302
    channel = AnnouncementChannel.objects.get()
    assert (channel.service, channel.channel_id) == (service, "C0123ABCD")
    assert "Checkout only" in client.get(PAGE).content.decode()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"webhook_url": "http://hooks.example.org/abc"}, "The webhook URL must start with https://"),
        (
            {"kind": AnnouncementKind.SLACK_CHANNEL, "webhook_url": "", "channel_id": "#incidents"},
            "Enter the channel ID, e.g. C0123ABCD: in Slack, click the channel name ▸ About ▸ Channel ID",
        ),
        (
            {"create_incident_channels": "on"},
            "Only a Slack channel posted by the bot can create incident channels",
        ),
    ],
)
def test_bad_channel_input_is_explained_next_to_the_form(manager, team, overrides, message):
    response = add_channel(client_for(manager), f"team:{team.pk}", **overrides)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AnnouncementChannel.objects.exists()


def test_a_manager_neither_sees_nor_changes_another_teams_channels(manager, team, billing, billing_channel):
    client = client_for(manager)

    assert "#billing-incidents" not in client.get(PAGE).content.decode()
    assert add_channel(client, f"team:{billing.pk}").status_code == 403
    service = ServiceFactory(team=billing)
    assert add_channel(client, f"service:{service.pk}").status_code == 403
    pk = billing_channel.pk
    for name, data in [
        ("announcement_channel_update", {f"ch{pk}-name": "#mine", f"ch{pk}-least_severe": "1"}),
        ("announcement_channel_enabled", {"enabled": "0"}),
        ("announcement_channel_delete", {}),
        ("announcement_channel_test", {}),
    ]:
        response = client.post(reverse(f"chatops:{name}", args=[pk]), data)
        assert response.status_code == 403, name
        assert "needs the manager role in that team" in response.content.decode()
    billing_channel.refresh_from_db()
    assert (billing_channel.name, billing_channel.enabled) == ("#billing-incidents", True)
    assert AnnouncementChannel.objects.count() == 1


def test_a_responder_cannot_add_channels(responder, team):
    assert add_channel(client_for(responder), f"team:{team.pk}").status_code == 403


def test_a_superuser_sees_every_teams_channels_grouped_by_team(admin, billing_channel, manager, team):
    announcement_channel_create(
        actor=manager,
        team=team,
        kind=AnnouncementKind.SLACK_WEBHOOK,
        name="#payments-inc",
        webhook_url=WEBHOOK,
    )

    html = client_for(admin).get(PAGE).content.decode()

    assert (
        html.index("Billing")
        < html.index("#billing-incidents")
        < html.index("Payments")
        < html.index("#payments-inc")
    )


def test_editing_with_a_blank_webhook_url_keeps_it(manager, team):
    channel = announcement_channel_create(
        actor=manager, team=team, kind=AnnouncementKind.SLACK_WEBHOOK, name="#incidents", webhook_url=WEBHOOK
    )
    prefix = f"ch{channel.pk}-"

    response = client_for(manager).post(
        reverse("chatops:announcement_channel_update", args=[channel.pk]),
        {f"{prefix}name": "#payments", f"{prefix}webhook_url": "", f"{prefix}least_severe": "1"},
    )

    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.least_severe, channel.webhook_url) == ("#payments", 1, WEBHOOK)


def test_pausing_a_channel_shows_it_paused(manager, team):
    channel = announcement_channel_create(
        actor=manager, team=team, kind=AnnouncementKind.SLACK_WEBHOOK, name="#incidents", webhook_url=WEBHOOK
    )

    response = client_for(manager).post(
        reverse("chatops:announcement_channel_enabled", args=[channel.pk]), {"enabled": "0"}, follow=True
    )

    assert "#incidents is paused" in response.content.decode()
    channel.refresh_from_db()
    assert channel.enabled is False


def test_removing_a_channel(manager, team):
    channel = announcement_channel_create(
        actor=manager, team=team, kind=AnnouncementKind.SLACK_WEBHOOK, name="#incidents", webhook_url=WEBHOOK
    )

    response = client_for(manager).post(
        reverse("chatops:announcement_channel_delete", args=[channel.pk]), follow=True
    )

    assert "Removed #incidents." in response.content.decode()
    assert not AnnouncementChannel.objects.exists()


def check_webhook_post(request: Recorded) -> list[str]:
    problems = []
    if request.method != "POST" or request.path != "/hooks/abc123":
        problems.append(f"{request.method} {request.path}")
    if not request.headers.get("content-type", "").startswith("application/json"):
        return [*problems, f"content type {request.headers.get('content-type')}"]
    text = request.json().get("text")
    if not isinstance(text, str) or not text:
        problems.append("no text")
    return problems


def test_send_test_message_posts_to_the_webhook(manager, team, provider):
    hook = provider(check_webhook_post, Reply(200, "ok"))
    channel = announcement_channel_create(
        actor=manager,
        team=team,
        kind=AnnouncementKind.MATTERMOST_WEBHOOK,
        name="#ops",
        webhook_url=f"{hook.url}/hooks/abc123",
    )

    response = client_for(manager).post(
        reverse("chatops:announcement_channel_test", args=[channel.pk]), **HTMX
    )

    assert "Sent. Look for the test message in #ops." in response.content.decode()
    assert "Test message from Muster" in hook.only.json()["text"]


def test_send_test_message_shows_what_the_webhook_answered(manager, team, provider):
    hook = provider(check_webhook_post, Reply(404, "no_service"))
    channel = announcement_channel_create(
        actor=manager,
        team=team,
        kind=AnnouncementKind.SLACK_WEBHOOK,
        name="#ops",
        webhook_url=f"{hook.url}/hooks/abc123",
    )

    response = client_for(manager).post(
        reverse("chatops:announcement_channel_test", args=[channel.pk]), follow=True
    )

    html = response.content.decode()
    assert "Test message to #ops: Not sent: Slack webhook answered HTTP 404: no_service" in html
    assert "/hooks/abc123" not in html


# --- the service page ------------------------------------------------------------------------


def test_the_service_page_lists_the_teams_and_the_services_channels(viewer, manager, team, service):
    announcement_channel_create(
        actor=manager,
        team=team,
        kind=AnnouncementKind.SLACK_WEBHOOK,
        name="#payments-inc",
        webhook_url=WEBHOOK,
    )
    announcement_channel_create(
        actor=manager,
        service=service,
        kind=AnnouncementKind.SLACK_CHANNEL,
        name="#checkout",
        channel_id="C0CHECK",
    )
    announcement_channel_create(
        actor=manager,
        service=ServiceFactory(team=team),
        kind=AnnouncementKind.SLACK_WEBHOOK,
        name="#elsewhere",
        webhook_url=WEBHOOK,
    )

    html = client_for(viewer).get(service.get_absolute_url()).content.decode()

    assert "Announcements" in html
    assert "#payments-inc" in html
    assert "all services of Payments" in html
    assert "#checkout" in html
    assert "Checkout only" in html
    assert "#elsewhere" not in html
    assert WEBHOOK not in html
    assert f'href="{PAGE}#channels">Chat settings' in html


def test_a_manager_is_offered_to_manage_or_add_announcements(manager, service):
    html = client_for(manager).get(service.get_absolute_url()).content.decode()

    assert "are not announced in any chat channel" in html
    assert f'href="{PAGE}#channels">Manage' in html


def test_the_service_page_reads_its_channels_in_one_query(viewer, manager, team, service):
    client = client_for(viewer)
    client.get(service.get_absolute_url())  # warm up: sessions, content types
    with CaptureQueriesContext(connection) as one:
        client.get(service.get_absolute_url())
    for number in range(5):
        announcement_channel_create(
            actor=manager,
            team=team,
            kind=AnnouncementKind.SLACK_WEBHOOK,
            name=f"#c{number}",
            webhook_url=WEBHOOK,
        )
    with CaptureQueriesContext(connection) as many:
        client.get(service.get_absolute_url())

    assert len(many.captured_queries) == len(one.captured_queries)


def test_the_settings_page_costs_the_same_queries_for_many_channels(admin, manager, team):
    ChatWorkspace.objects.create(platform=ChatPlatform.SLACK, external_id="T0ACME", name="Acme")
    client = client_for(admin)
    announcement_channel_create(
        actor=manager, team=team, kind=AnnouncementKind.SLACK_CHANNEL, name="#c", channel_id="C0FIRST"
    )
    client.get(PAGE)  # warm up: sessions, content types
    with CaptureQueriesContext(connection) as one:
        client.get(PAGE)
    for number in range(5):
        announcement_channel_create(
            actor=manager,
            service=ServiceFactory(team=TeamFactory()),
            kind=AnnouncementKind.SLACK_CHANNEL,
            name=f"#c{number}",
            channel_id=f"C0SECOND{number}",
        )
    with CaptureQueriesContext(connection) as many:
        client.get(PAGE)

    assert len(many.captured_queries) == len(one.captured_queries)
