"""The writes behind the chat settings page: validation, blank-keeps-the-secret, audit entries."""

from __future__ import annotations

import pytest

from incidents.chatops.models import AnnouncementKind, ChatPlatform, ChatWorkspace
from incidents.chatops.selectors import (
    announcement_channels_for_service,
    describe_secret,
    describe_webhook,
    without_webhook_url,
)
from incidents.chatops.settings_services import (
    announcement_channel_create,
    announcement_channel_delete,
    announcement_channel_set_enabled,
    announcement_channel_update,
    workspace_create,
    workspace_delete,
    workspace_update,
)
from incidents.choices import Severity
from incidents.models import AuditEntry
from incidents.services.errors import DomainError
from tests.factories import ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db

SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
BOT_TOKEN = "xoxb-1111-2222-abcdefghijklmnop"
WEBHOOK = "https://hooks.slack.com/services/T0ACME/B0HOOK/s3cretW3bh00kPath"


@pytest.fixture
def admin():
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def slack_workspace(admin, **secrets):
    return workspace_create(
        actor=admin,
        platform=ChatPlatform.SLACK,
        external_id="t0acme",
        name="Acme",
        default_service=None,
        secrets=secrets or {"signing_secret": SIGNING_SECRET, "bot_token": BOT_TOKEN},
    )


# --- workspaces ------------------------------------------------------------------------------


def test_a_new_workspace_keeps_its_secrets_and_audits_only_their_names(admin):
    workspace = slack_workspace(admin)

    assert workspace.external_id == "T0ACME"  # Slack team IDs are upper case
    assert workspace.signing_secret == SIGNING_SECRET
    assert workspace.bot_token == BOT_TOKEN
    entry = AuditEntry.objects.get(action="chat_workspace.create")
    assert entry.data["secrets_set"] == ["bot_token", "signing_secret"]
    assert SIGNING_SECRET not in str(entry.data)
    assert BOT_TOKEN not in str(entry.data)


def test_a_blank_secret_keeps_the_stored_one(admin):
    workspace = slack_workspace(admin)

    workspace_update(
        workspace=workspace,
        actor=admin,
        name="Acme Corp",
        default_service=None,
        secrets={"signing_secret": "", "bot_token": "  "},
    )

    workspace.refresh_from_db()
    assert workspace.name == "Acme Corp"
    assert workspace.signing_secret == SIGNING_SECRET
    assert workspace.bot_token == BOT_TOKEN


def test_an_explicit_clear_empties_the_secret_and_is_audited_by_name(admin):
    workspace = slack_workspace(admin)

    workspace_update(
        workspace=workspace, actor=admin, name="Acme", default_service=None, secrets={}, clear={"bot_token"}
    )

    workspace.refresh_from_db()
    assert workspace.bot_token == ""
    assert workspace.signing_secret == SIGNING_SECRET
    entry = AuditEntry.objects.get(action="chat_workspace.update")
    assert entry.data == {"secrets_cleared": ["bot_token"]}


def test_a_new_secret_replaces_the_stored_one(admin):
    workspace = slack_workspace(admin)
    rotated = f"{'a' * 32} {SIGNING_SECRET}"

    workspace_update(
        workspace=workspace,
        actor=admin,
        name="Acme",
        default_service=None,
        secrets={"signing_secret": rotated},
    )

    workspace.refresh_from_db()
    assert workspace.signing_secret == rotated
    assert AuditEntry.objects.get(action="chat_workspace.update").data == {
        "secrets_changed": ["signing_secret"]
    }


def test_saving_nothing_new_writes_no_audit_entry(admin):
    workspace = slack_workspace(admin)

    workspace_update(workspace=workspace, actor=admin, name="Acme", default_service=None, secrets={})

    assert not AuditEntry.objects.filter(action="chat_workspace.update").exists()


def test_a_slack_workspace_needs_a_team_id(admin):
    with pytest.raises(DomainError, match=r"Slack team ID, e\.g\. T0123ABCD"):
        workspace_create(
            actor=admin,
            platform=ChatPlatform.SLACK,
            external_id="acme.slack.com",
            name="",
            default_service=None,
            secrets={},
        )


def test_a_secret_the_platform_does_not_use_is_refused(admin):
    with pytest.raises(DomainError, match="A Microsoft Teams workspace has no signing secret"):
        workspace_create(
            actor=admin,
            platform=ChatPlatform.TEAMS,
            external_id="19:abc@thread.tacv2",
            name="",
            default_service=None,
            secrets={"signing_secret": SIGNING_SECRET},
        )


def test_a_bot_token_must_be_a_bot_token(admin):
    with pytest.raises(DomainError, match="starting with xoxb-"):
        slack_workspace(admin, bot_token="xoxp-user-token-not-a-bot")


def test_the_same_workspace_cannot_be_added_twice(admin):
    slack_workspace(admin)
    with pytest.raises(DomainError, match="already set up"):
        slack_workspace(admin)


def test_deleting_a_workspace_is_audited(admin):
    workspace = slack_workspace(admin)

    workspace_delete(workspace=workspace, actor=admin)

    assert not ChatWorkspace.objects.exists()
    assert AuditEntry.objects.filter(action="chat_workspace.delete").exists()


# --- announcement channels -------------------------------------------------------------------


def test_a_team_channel_is_created_with_its_webhook_and_audited_without_it(manager, team):
    channel = announcement_channel_create(
        actor=manager, team=team, kind=AnnouncementKind.SLACK_WEBHOOK, name="#incidents", webhook_url=WEBHOOK
    )

    assert channel.webhook_url == WEBHOOK
    assert channel.least_severe == Severity.SEV4
    assert channel.created_by == manager
    entry = AuditEntry.objects.get(action="announcement_channel.create")
    assert entry.data["webhook_url_set"] is True
    assert WEBHOOK not in str(entry.data)


def test_a_plain_http_webhook_is_refused(manager, team):
    with pytest.raises(DomainError, match=r"must start with https://"):
        announcement_channel_create(
            actor=manager,
            team=team,
            kind=AnnouncementKind.MATTERMOST_WEBHOOK,
            name="#ops",
            webhook_url="http://chat.example.org/hooks/abc",
        )


def test_plain_http_is_fine_on_localhost_and_in_debug(manager, team, settings):
    local = announcement_channel_create(
        actor=manager,
        team=team,
        kind=AnnouncementKind.MATTERMOST_WEBHOOK,
        name="#ops",
        webhook_url="http://localhost:8065/hooks/abc",
    )
    settings.DEBUG = True
    debug = announcement_channel_create(
        actor=manager,
        team=team,
        kind=AnnouncementKind.MATTERMOST_WEBHOOK,
        name="#ops",
        webhook_url="http://chat.example.org/hooks/abc",
    )

    assert local.pk
    assert debug.pk


def test_a_slack_channel_needs_its_channel_id_not_its_name(manager, team):
    with pytest.raises(DomainError, match="channel name ▸ About ▸ Channel ID"):
        announcement_channel_create(
            actor=manager,
            team=team,
            kind=AnnouncementKind.SLACK_CHANNEL,
            name="#inc",
            channel_id="#incidents",
        )


def test_a_slack_channel_id_is_upper_cased(manager, team):
    channel = announcement_channel_create(
        actor=manager, team=team, kind=AnnouncementKind.SLACK_CHANNEL, name="#inc", channel_id="c0123abcd"
    )

    assert channel.channel_id == "C0123ABCD"


def test_only_a_bot_posted_slack_channel_creates_incident_channels(manager, team):
    with pytest.raises(DomainError, match="Only a Slack channel posted by the bot"):
        announcement_channel_create(
            actor=manager,
            team=team,
            kind=AnnouncementKind.SLACK_WEBHOOK,
            name="#inc",
            webhook_url=WEBHOOK,
            create_incident_channels=True,
        )


def test_a_channel_belongs_to_a_team_or_a_service_not_both(manager, team, service):
    with pytest.raises(DomainError, match="either a team"):
        announcement_channel_create(
            actor=manager,
            team=team,
            service=service,
            kind=AnnouncementKind.SLACK_WEBHOOK,
            name="#x",
            webhook_url=WEBHOOK,
        )
    with pytest.raises(DomainError, match="either a team"):
        announcement_channel_create(
            actor=manager, kind=AnnouncementKind.SLACK_WEBHOOK, name="#x", webhook_url=WEBHOOK
        )


def test_the_bot_token_comes_from_a_slack_workspace_only(manager, team):
    mattermost = ChatWorkspace.objects.create(platform=ChatPlatform.MATTERMOST, external_id="mmteam")
    with pytest.raises(DomainError, match="Choose a Slack workspace"):
        announcement_channel_create(
            actor=manager,
            team=team,
            kind=AnnouncementKind.SLACK_CHANNEL,
            name="#inc",
            channel_id="C0123ABCD",
            workspace=mattermost,
        )


def test_the_least_severity_is_one_of_sev1_to_sev4(manager, team):
    with pytest.raises(DomainError, match="SEV1 to SEV4"):
        announcement_channel_create(
            actor=manager,
            team=team,
            kind=AnnouncementKind.SLACK_WEBHOOK,
            name="#x",
            webhook_url=WEBHOOK,
            least_severe=5,
        )


def test_a_blank_webhook_url_keeps_the_stored_one_on_update(manager, team):
    channel = announcement_channel_create(
        actor=manager, team=team, kind=AnnouncementKind.SLACK_WEBHOOK, name="#incidents", webhook_url=WEBHOOK
    )

    announcement_channel_update(channel=channel, actor=manager, name="#inc-payments", least_severe=2)

    channel.refresh_from_db()
    assert channel.webhook_url == WEBHOOK
    assert channel.name == "#inc-payments"
    assert channel.least_severe == 2
    entry = AuditEntry.objects.get(action="announcement_channel.update")
    assert entry.data == {"name": ["#incidents", "#inc-payments"], "least_severe": [4, 2]}


def test_a_new_webhook_url_replaces_the_stored_one_and_is_audited_without_it(manager, team):
    channel = announcement_channel_create(
        actor=manager, team=team, kind=AnnouncementKind.SLACK_WEBHOOK, name="#incidents", webhook_url=WEBHOOK
    )
    new_url = WEBHOOK.replace("s3cret", "n3w")

    announcement_channel_update(
        channel=channel, actor=manager, name="#incidents", webhook_url=new_url, least_severe=4
    )

    channel.refresh_from_db()
    assert channel.webhook_url == new_url
    assert new_url not in str(AuditEntry.objects.get(action="announcement_channel.update").data)


def test_pausing_and_removing_a_channel_are_audited(manager, team):
    channel = announcement_channel_create(
        actor=manager, team=team, kind=AnnouncementKind.SLACK_WEBHOOK, name="#incidents", webhook_url=WEBHOOK
    )

    announcement_channel_set_enabled(channel=channel, actor=manager, enabled=False)
    announcement_channel_set_enabled(channel=channel, actor=manager, enabled=False)
    announcement_channel_delete(channel=channel, actor=manager)

    actions = list(AuditEntry.objects.order_by("pk").values_list("action", flat=True))
    assert actions == [
        "announcement_channel.create",
        "announcement_channel.disable",
        "announcement_channel.delete",
    ]


# --- reads -----------------------------------------------------------------------------------


def test_a_service_hears_its_own_and_its_teams_channels_only(manager, team, service):
    other_service = ServiceFactory(team=team)
    team_channel = announcement_channel_create(
        actor=manager, team=team, kind=AnnouncementKind.SLACK_WEBHOOK, name="#payments", webhook_url=WEBHOOK
    )
    own = announcement_channel_create(
        actor=manager,
        service=service,
        kind=AnnouncementKind.SLACK_WEBHOOK,
        name="#checkout",
        webhook_url=WEBHOOK,
    )
    announcement_channel_create(
        actor=manager,
        service=other_service,
        kind=AnnouncementKind.SLACK_WEBHOOK,
        name="#other",
        webhook_url=WEBHOOK,
    )

    assert set(announcement_channels_for_service(service=service)) == {team_channel, own}


def test_secrets_are_described_by_their_ending_only():
    assert describe_secret("") == "not set"
    assert describe_secret(SIGNING_SECRET) == "set · ends in …2543"
    assert describe_secret("short") == "set"
    assert describe_secret(f"{'b' * 20}1234 {SIGNING_SECRET}") == "2 set (rotation) · ends in …1234, …2543"
    assert describe_webhook(WEBHOOK) == "https://hooks.slack.com/…Path"


def test_an_error_quoting_the_webhook_url_is_shown_without_it(manager, team):
    channel = announcement_channel_create(
        actor=manager, team=team, kind=AnnouncementKind.SLACK_WEBHOOK, name="#incidents", webhook_url=WEBHOOK
    )

    text = without_webhook_url(f"Slack URL {WEBHOOK!r} cannot be used", channel)

    assert WEBHOOK not in text
    assert "https://hooks.slack.com/…Path" in text
