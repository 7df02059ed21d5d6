"""Writes behind the chat settings page: chat workspaces (with their secrets) and announcement
channels. Each function validates, writes, and records an audit entry in one transaction. Audit
entries name which secrets changed, never their values.

"Test connection" lives here too: it talks to Slack, which is the outside world, though it writes
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from incidents.chatops import slack_api
from incidents.chatops.models import AnnouncementChannel, AnnouncementKind, ChatPlatform, ChatWorkspace
from incidents.chatops.workspaces import split_secrets
from incidents.choices import Severity
from incidents.models import Service, Team
from incidents.services.config import audit_record
from incidents.services.errors import DomainError
from oncall.channels.webhook import WebhookChannel

# Which secret fields each platform reads (workspaces.py); the others stay empty.
PLATFORM_SECRETS: dict[str, tuple[str, ...]] = {
    ChatPlatform.SLACK: ("signing_secret", "bot_token"),
    ChatPlatform.MATTERMOST: ("command_token",),
    ChatPlatform.TEAMS: ("outgoing_secret",),
}
SECRET_FIELDS = ("signing_secret", "bot_token", "command_token", "outgoing_secret")
SECRET_LABELS = {
    "signing_secret": "signing secret",
    "bot_token": "bot token",
    "command_token": "command token",
    "outgoing_secret": "outgoing webhook security token",
}
SLACK_TEAM_ID = re.compile(r"^[TE][A-Z0-9]{2,}$")
SLACK_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
WEBHOOK_KINDS = frozenset({AnnouncementKind.SLACK_WEBHOOK, AnnouncementKind.MATTERMOST_WEBHOOK})


class ChatSettingsError(DomainError):
    """A DomainError that knows which input it is about, so a form can show it next to the field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --- workspaces ------------------------------------------------------------------------------


def _check_external_id(platform: str, external_id: str) -> str:
    external_id = external_id.strip()
    if platform == ChatPlatform.SLACK:
        external_id = external_id.upper()
        if not SLACK_TEAM_ID.match(external_id):
            raise ChatSettingsError(
                "Enter the Slack team ID, e.g. T0123ABCD: it is the part after /client/ in the address "
                "of Slack in a browser (app.slack.com/client/T0123ABCD/…).",
                field="external_id",
            )
    elif not external_id or any(character.isspace() for character in external_id):
        label = "Mattermost team ID" if platform == ChatPlatform.MATTERMOST else "Teams team ID"
        raise ChatSettingsError(f"Enter the {label}, without spaces.", field="external_id")
    return external_id


def _check_secrets(platform: str, secrets: Mapping[str, str]) -> dict[str, str]:
    """The non-blank secrets, stripped; refuses names that are no secret and secrets the platform
    does not use (a Slack signing secret typed into a Teams workspace would silently do nothing)."""
    unknown = set(secrets) - set(SECRET_FIELDS)
    if unknown:
        raise ChatSettingsError(f"Unknown secret {', '.join(sorted(unknown))}.")
    given = {name: value.strip() for name, value in secrets.items() if value and value.strip()}
    platform_label = ChatPlatform(platform).label
    for name in given:
        if name not in PLATFORM_SECRETS[platform]:
            raise ChatSettingsError(
                f"A {platform_label} workspace has no {SECRET_LABELS[name]}; leave it empty.", field=name
            )
    token = given.get("bot_token")
    if token is not None and (len(split_secrets(token)) != 1 or not token.startswith("xoxb-")):
        raise ChatSettingsError(
            "The bot token is one token starting with xoxb- (OAuth & Permissions ▸ Bot User OAuth Token).",
            field="bot_token",
        )
    return given


def _check_default_service(default_service: Service | None) -> None:
    if default_service is not None and not isinstance(default_service, Service):
        raise ChatSettingsError("Choose a service.", field="default_service")


@transaction.atomic
def workspace_create(
    *,
    actor: Any,
    platform: str,
    external_id: str,
    name: str,
    default_service: Service | None,
    secrets: Mapping[str, str],
) -> ChatWorkspace:
    if platform not in ChatPlatform.values:
        raise ChatSettingsError(f"Unknown chat platform {platform!r}.", field="platform")
    external_id = _check_external_id(platform, external_id)
    given = _check_secrets(platform, secrets)
    _check_default_service(default_service)
    if ChatWorkspace.objects.filter(platform=platform, external_id=external_id).exists():
        raise ChatSettingsError(
            f"{ChatPlatform(platform).label} workspace {external_id} is already set up; edit it instead.",
            field="external_id",
        )
    workspace = ChatWorkspace.objects.create(
        platform=platform,
        external_id=external_id,
        name=name.strip(),
        default_service=default_service,
        **given,
    )
    audit_record(
        actor=actor,
        action="chat_workspace.create",
        obj=workspace,
        data={
            "platform": platform,
            "external_id": external_id,
            "default_service": default_service.slug if default_service else None,
            "secrets_set": sorted(given),
        },
    )
    return workspace


@transaction.atomic
def workspace_update(
    *,
    workspace: ChatWorkspace,
    actor: Any,
    name: str,
    default_service: Service | None,
    secrets: Mapping[str, str],
    clear: Iterable[str] = (),
) -> ChatWorkspace:
    """A blank secret keeps the stored one; a name in `clear` empties it (a new value wins over a
    clear of the same secret). The platform and team ID are what the row is: delete and re-add to
    change them."""
    given = _check_secrets(workspace.platform, secrets)
    _check_default_service(default_service)
    to_clear = set(clear)
    if unknown := to_clear - set(SECRET_FIELDS):
        raise ChatSettingsError(f"Unknown secret {', '.join(sorted(unknown))}.")
    changed: dict[str, Any] = {}
    name = name.strip()
    if workspace.name != name:
        changed["name"] = [workspace.name, name]
        workspace.name = name
    if workspace.default_service_id != (default_service.pk if default_service else None):
        old = workspace.default_service.slug if workspace.default_service else None
        changed["default_service"] = [old, default_service.slug if default_service else None]
        workspace.default_service = default_service
    secrets_changed, secrets_cleared = [], []
    for field in SECRET_FIELDS:
        if field in given:
            if getattr(workspace, field) != given[field]:
                setattr(workspace, field, given[field])
                secrets_changed.append(field)
        elif field in to_clear and getattr(workspace, field):
            setattr(workspace, field, "")
            secrets_cleared.append(field)
    if not changed and not secrets_changed and not secrets_cleared:
        return workspace
    workspace.updated_at = timezone.now()
    workspace.save()
    data = dict(changed)
    if secrets_changed:
        data["secrets_changed"] = secrets_changed
    if secrets_cleared:
        data["secrets_cleared"] = secrets_cleared
    audit_record(actor=actor, action="chat_workspace.update", obj=workspace, data=data)
    return workspace


@transaction.atomic
def workspace_delete(*, workspace: ChatWorkspace, actor: Any) -> None:
    """Slack channels that posted with this workspace's bot token fall back to SLACK_BOT_TOKEN."""
    audit_record(
        actor=actor,
        action="chat_workspace.delete",
        obj=workspace,
        data={"platform": workspace.platform, "external_id": workspace.external_id},
    )
    workspace.delete()


# --- announcement channels -------------------------------------------------------------------


def _check_webhook_url(url: str) -> str:
    try:
        # The same rules as a person's webhook contact method: a whole http(s) URL, sane length.
        url = WebhookChannel().validate_address(url)
    except ValueError as exc:
        raise ChatSettingsError(
            f"Paste the whole webhook URL, starting with https://. {exc}", field="webhook_url"
        ) from None
    longest = AnnouncementChannel._meta.get_field("webhook_url").max_length or 0
    if len(url) > longest:
        raise ChatSettingsError(f"The webhook URL is longer than {longest} characters.", field="webhook_url")
    parts = urlsplit(url)
    if parts.scheme.lower() == "http" and not (settings.DEBUG or parts.hostname in LOCAL_HOSTS):
        raise ChatSettingsError(
            "The webhook URL must start with https://: whoever reads it on the way can post as the app.",
            field="webhook_url",
        )
    return url


@dataclass(frozen=True)
class _ChannelTarget:
    webhook_url: str
    workspace: ChatWorkspace | None
    channel_id: str


def _check_channel(
    *,
    kind: str,
    name: str,
    webhook_url: str,
    webhook_required: bool,
    workspace: ChatWorkspace | None,
    channel_id: str,
    least_severe: int,
    create_incident_channels: bool,
) -> _ChannelTarget:
    if kind not in AnnouncementKind.values:
        raise ChatSettingsError(f"Unknown kind of channel {kind!r}.", field="kind")
    if not name.strip():
        raise ChatSettingsError("Name the channel, e.g. #incidents.", field="name")
    if least_severe not in Severity.values:
        raise ChatSettingsError("Choose a severity from SEV1 to SEV4.", field="least_severe")
    if create_incident_channels and kind != AnnouncementKind.SLACK_CHANNEL:
        raise ChatSettingsError(
            "Only a Slack channel posted by the bot can create incident channels: a webhook can "
            "post only to its own channel.",
            field="create_incident_channels",
        )
    channel_id = channel_id.strip()
    if kind in WEBHOOK_KINDS:
        if channel_id:
            raise ChatSettingsError(
                "A webhook posts to the channel it was made for: leave the channel ID empty.",
                field="channel_id",
            )
        if workspace is not None:
            raise ChatSettingsError(
                "A webhook needs no workspace: leave the Slack workspace empty.", field="workspace"
            )
        if webhook_url.strip():
            return _ChannelTarget(webhook_url=_check_webhook_url(webhook_url), workspace=None, channel_id="")
        if webhook_required:
            raise ChatSettingsError("Paste the webhook URL.", field="webhook_url")
        return _ChannelTarget(webhook_url="", workspace=None, channel_id="")
    # A Slack channel posted by the bot.
    if webhook_url.strip():
        raise ChatSettingsError(
            "The bot posts with its token, not a webhook: leave the webhook URL empty.", field="webhook_url"
        )
    channel_id = channel_id.upper()
    if not SLACK_CHANNEL_ID.match(channel_id):
        raise ChatSettingsError(
            "Enter the channel ID, e.g. C0123ABCD: in Slack, click the channel name ▸ About ▸ Channel ID "
            "(a name such as #incidents does not work).",
            field="channel_id",
        )
    if workspace is not None and workspace.platform != ChatPlatform.SLACK:
        raise ChatSettingsError("Choose a Slack workspace.", field="workspace")
    return _ChannelTarget(webhook_url="", workspace=workspace, channel_id=channel_id)


def _channel_audit_data(channel: AnnouncementChannel) -> dict[str, Any]:
    return {
        "kind": channel.kind,
        "name": channel.name,
        "team": channel.team.slug if channel.team else None,
        "service": channel.service.slug if channel.service else None,
        "workspace": channel.workspace_id,
        "channel_id": channel.channel_id,
        "least_severe": channel.least_severe,
        "create_incident_channels": channel.create_incident_channels,
        "webhook_url_set": bool(channel.webhook_url),
    }


@transaction.atomic
def announcement_channel_create(
    *,
    actor: Any,
    team: Team | None = None,
    service: Service | None = None,
    kind: str,
    name: str,
    webhook_url: str = "",
    workspace: ChatWorkspace | None = None,
    channel_id: str = "",
    least_severe: int = Severity.SEV4,
    create_incident_channels: bool = False,
) -> AnnouncementChannel:
    if (team is None) == (service is None):
        raise ChatSettingsError("Choose either a team (all its services) or one service.", field="scope")
    target = _check_channel(
        kind=kind,
        name=name,
        webhook_url=webhook_url,
        webhook_required=True,
        workspace=workspace,
        channel_id=channel_id,
        least_severe=least_severe,
        create_incident_channels=create_incident_channels,
    )
    channel = AnnouncementChannel.objects.create(
        team=team,
        service=service,
        kind=kind,
        name=name.strip(),
        webhook_url=target.webhook_url,
        workspace=target.workspace,
        channel_id=target.channel_id,
        least_severe=least_severe,
        create_incident_channels=create_incident_channels,
        created_by=actor,
    )
    audit_record(
        actor=actor, action="announcement_channel.create", obj=channel, data=_channel_audit_data(channel)
    )
    return channel


@transaction.atomic
def announcement_channel_update(
    *,
    channel: AnnouncementChannel,
    actor: Any,
    name: str,
    webhook_url: str = "",
    workspace: ChatWorkspace | None = None,
    channel_id: str = "",
    least_severe: int,
    create_incident_channels: bool = False,
) -> AnnouncementChannel:
    """A blank webhook URL keeps the stored one. The kind and the owner stay: a different kind
    needs different details, and moving a channel to another team is a new channel there."""
    target = _check_channel(
        kind=channel.kind,
        name=name,
        webhook_url=webhook_url,
        webhook_required=not channel.webhook_url,
        workspace=workspace,
        channel_id=channel_id,
        least_severe=least_severe,
        create_incident_channels=create_incident_channels,
    )
    new_values: dict[str, Any] = {
        "name": name.strip(),
        "workspace": target.workspace,
        "channel_id": target.channel_id,
        "least_severe": least_severe,
        "create_incident_channels": create_incident_channels,
    }
    changed: dict[str, Any] = {}
    for field, value in new_values.items():
        old = getattr(channel, field)
        if old != value:
            changed[field] = [
                old.pk if field == "workspace" and old else old,
                value.pk if field == "workspace" and value else value,
            ]
            setattr(channel, field, value)
    if target.webhook_url and target.webhook_url != channel.webhook_url:
        channel.webhook_url = target.webhook_url
        changed["webhook_url"] = "changed"
    if not changed:
        return channel
    channel.save()
    audit_record(actor=actor, action="announcement_channel.update", obj=channel, data=changed)
    return channel


@transaction.atomic
def announcement_channel_set_enabled(
    *, channel: AnnouncementChannel, actor: Any, enabled: bool
) -> AnnouncementChannel:
    if channel.enabled == enabled:
        return channel
    channel.enabled = enabled
    channel.save(update_fields=["enabled"])
    audit_record(
        actor=actor,
        action="announcement_channel.enable" if enabled else "announcement_channel.disable",
        obj=channel,
    )
    return channel


@transaction.atomic
def announcement_channel_delete(*, channel: AnnouncementChannel, actor: Any) -> None:
    audit_record(
        actor=actor, action="announcement_channel.delete", obj=channel, data=_channel_audit_data(channel)
    )
    channel.delete()


# --- test connection -------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckLine:
    """One line of a connection test: "ok", "warn", "fail" or "info"."""

    status: str
    text: str


def workspace_test_connection(
    *, workspace: ChatWorkspace, endpoint_urls: Mapping[str, str]
) -> list[CheckLine]:
    """What can be known from here about a workspace's set-up. Only Slack has an API to ask;
    Mattermost and Teams call us, so all that can be said is whether their secret is set."""
    if workspace.platform == ChatPlatform.SLACK:
        return _slack_checks(workspace, endpoint_urls)
    if workspace.platform == ChatPlatform.MATTERMOST:
        field, what = "command_token", "Command token"
        where = (
            f"Set the slash command's request URL to {endpoint_urls['mattermost_commands']} (method POST)."
        )
    else:
        field, what = "outgoing_secret", "Outgoing webhook security token"
        where = f"Set the outgoing webhook's callback URL to {endpoint_urls['teams_messages']}."
    lines = [
        CheckLine("ok", f"{what} is set.")
        if getattr(workspace, field)
        else CheckLine("fail", f"{what} is not set: every request from this team will be refused."),
        CheckLine("info", where),
        CheckLine(
            "info",
            f"{workspace.get_platform_display()} offers no API to test this from Muster: type "
            '"incident help" in the team to check the whole way.',
        ),
    ]
    return lines


def _slack_checks(workspace: ChatWorkspace, endpoint_urls: Mapping[str, str]) -> list[CheckLine]:
    lines: list[CheckLine] = []
    token = workspace.bot_token or str(settings.SLACK_BOT_TOKEN)
    source = "the workspace's bot token" if workspace.bot_token else "SLACK_BOT_TOKEN"
    if not token:
        lines.append(
            CheckLine(
                "fail", "No bot token: set one here or SLACK_BOT_TOKEN. Announcements cannot be posted."
            )
        )
    else:
        check = slack_api.auth_test(bot_token=token)
        if not check.ok:
            lines.append(CheckLine("fail", f"Slack refused {source}: {check.error}"))
        else:
            lines.append(
                CheckLine(
                    "ok",
                    f"{source[0].upper()}{source[1:]} is valid for workspace {check.team or check.team_id} "
                    f"(bot user {check.bot_user or 'unknown'}).",
                )
            )
            if check.team_id and check.team_id != workspace.external_id:
                lines.append(
                    CheckLine(
                        "warn",
                        f"The token belongs to team {check.team_id}, but this workspace is {workspace.external_id}: "
                        "requests from this workspace would be answered with another workspace's token.",
                    )
                )
            for scope, why in check.missing().items():
                lines.append(CheckLine("warn", f"Missing scope {scope}: needed to {why}."))
            if not check.missing():
                lines.append(CheckLine("ok", "The token has every scope Muster uses."))
    if token and not workspace.bot_token:
        lines.append(
            CheckLine(
                "warn",
                "This workspace has no bot token of its own, so SLACK_BOT_TOKEN was tested; but commands "
                "from this workspace, and Slack channels that name it, use only the workspace's own token.",
            )
        )
    if workspace.signing_secret:
        lines.append(CheckLine("ok", "Signing secret is set."))
    else:
        lines.append(
            CheckLine(
                "fail", "Signing secret is not set: Slack's requests from this workspace will be refused."
            )
        )
    lines.append(
        CheckLine(
            "info",
            "Slack checks the signing secret only when it calls Muster: run /incident help in the "
            "workspace to test commands end to end.",
        )
    )
    return lines
