"""Reads for the chat settings page and the service page's Announcements card.

Workspaces hold installation-wide secrets: only superusers see them, and the views check that. An
announcement channel belongs to a team, directly or through its service, and is managed by that
team's managers. The `describe_*` helpers are the only way a stored secret reaches a page: they
show whether it is set and its last characters, never the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db.models import Q, QuerySet
from django.http import Http404

from incidents.chatops.messages import slack_channel_url
from incidents.chatops.models import (
    AnnouncementChannel,
    AnnouncementKind,
    ChatPlatform,
    ChatWorkspace,
    IncidentChannel,
)
from incidents.chatops.workspaces import split_secrets
from incidents.choices import Role
from incidents.models import Incident, Membership, Service, Team
from incidents.permissions import has_role

# Shorter secrets (a test value, a typo) would be mostly given away by their last four characters.
HINT_MIN_LENGTH = 12
HINT_CHARS = 4


# --- workspaces (superusers only; the views check) -------------------------------------------


def workspace_list() -> QuerySet[ChatWorkspace]:
    return ChatWorkspace.objects.select_related("default_service").order_by("platform", "name", "pk")


def workspace_get(*, pk: int) -> ChatWorkspace:
    try:
        return workspace_list().get(pk=pk)
    except ChatWorkspace.DoesNotExist:
        raise Http404(f"No chat workspace {pk}.") from None


def slack_workspace_choices() -> QuerySet[ChatWorkspace]:
    """Workspaces a Slack channel can post through. Their names are no secret; their tokens are."""
    return ChatWorkspace.objects.filter(platform=ChatPlatform.SLACK).order_by("name", "pk")


# --- who manages what ------------------------------------------------------------------------


def teams_managed_by(*, user: Any) -> QuerySet[Team]:
    if user.is_superuser:
        return Team.objects.order_by("name")
    return Team.objects.filter(memberships__user=user, memberships__role__gte=Role.MANAGER).order_by("name")


def services_managed_by(*, user: Any) -> QuerySet[Service]:
    qs = Service.objects.select_related("team").order_by("team__name", "name")
    if user.is_superuser:
        return qs
    return qs.filter(team__memberships__user=user, team__memberships__role__gte=Role.MANAGER)


def team_managers_for_user(*, user: Any) -> QuerySet[Membership]:
    """The managers of the user's teams: whom to ask for an announcement channel."""
    return (
        Membership.objects.filter(
            team__in=Team.objects.filter(memberships__user=user), role__gte=Role.MANAGER
        )
        .exclude(user=user)
        .select_related("user", "team")
        .order_by("team__name", "user__first_name", "user__username")
    )


def channel_team_id(channel: AnnouncementChannel) -> int:
    """The team that owns the channel: its own, or its service's (select_related service)."""
    if channel.team_id is not None:
        return channel.team_id
    assert channel.service is not None  # the database's check constraint: one of the two is set
    return channel.service.team_id


def can_manage_announcement_channel(user: Any, channel: AnnouncementChannel) -> bool:
    return has_role(user, channel_team_id(channel), Role.MANAGER)


# --- announcement channels -------------------------------------------------------------------


def _channels() -> QuerySet[AnnouncementChannel]:
    return AnnouncementChannel.objects.select_related("team", "service", "service__team", "workspace")


def announcement_channel_list_for_user(*, user: Any) -> QuerySet[AnnouncementChannel]:
    """The channels the user may see and change: those of teams they manage (superusers: all)."""
    qs = _channels().order_by("name", "pk")
    if user.is_superuser:
        return qs
    managed = Membership.objects.filter(user=user, role__gte=Role.MANAGER).values_list("team_id", flat=True)
    return qs.filter(Q(team_id__in=managed) | Q(service__team_id__in=managed))


def announcement_channel_get(*, pk: int) -> AnnouncementChannel:
    """One channel, whoever owns it: the views answer 403 to those who may not manage it, since a
    manager of another team knowing the number exists tells them nothing they could use."""
    try:
        return _channels().get(pk=pk)
    except AnnouncementChannel.DoesNotExist:
        raise Http404(f"No announcement channel {pk}.") from None


def announcement_channels_for_service(*, service: Service) -> QuerySet[AnnouncementChannel]:
    """Where the service's incidents are announced: its own channels and its team's. One query."""
    return (
        AnnouncementChannel.objects.filter(Q(service_id=service.pk) | Q(team_id=service.team_id))
        .select_related("team", "service")
        .order_by("-enabled", "name", "pk")
    )


# --- how a channel or a secret is shown ------------------------------------------------------


def describe_secret(value: str) -> str:
    """ "set · ends in …4f2a", "not set"; for secrets being rotated, each one's ending."""
    secrets = split_secrets(value)
    if not secrets:
        return "not set"
    endings = [f"…{secret[-HINT_CHARS:]}" for secret in secrets if len(secret) >= HINT_MIN_LENGTH]
    if len(secrets) > 1:
        label = f"{len(secrets)} set (rotation)"
        return f"{label} · ends in {', '.join(endings)}" if endings else label
    return f"set · ends in {endings[0]}" if endings else "set"


def describe_webhook(url: str) -> str:
    """Scheme and host, then the last characters: enough to recognise it, too little to post with."""
    if not url:
        return "not set"
    parts = urlsplit(url)
    ending = f"…{url[-HINT_CHARS:]}" if len(url) >= HINT_MIN_LENGTH else ""
    return f"{parts.scheme}://{parts.hostname or ''}/{ending}"


def without_webhook_url(text: str, channel: AnnouncementChannel) -> str:
    """An error text with the channel's webhook URL replaced by its description: some transport
    errors quote the URL they could not use, and the page must not show it."""
    if channel.webhook_url and channel.webhook_url in text:
        return text.replace(channel.webhook_url, describe_webhook(channel.webhook_url))
    return text


def severity_range(least_severe: int) -> str:
    return "SEV1 only" if least_severe <= 1 else f"SEV1\N{EN DASH}SEV{least_severe}"


@dataclass(frozen=True)
class ChannelRow:
    channel: AnnouncementChannel
    scope: str
    target: str
    severities: str
    last_error: str


def channel_row(channel: AnnouncementChannel) -> ChannelRow:
    if channel.service is not None:
        scope = f"{channel.service.name} only"
    else:
        scope = f"All services of {channel.team.name}" if channel.team is not None else ""
    if channel.kind == AnnouncementKind.SLACK_CHANNEL:
        target = channel.channel_id or "no channel ID"
    else:
        target = describe_webhook(channel.webhook_url)
    return ChannelRow(
        channel=channel,
        scope=scope,
        target=target,
        severities=severity_range(channel.least_severe),
        last_error=without_webhook_url(channel.last_error, channel),
    )


@dataclass(frozen=True)
class TeamChannels:
    team_name: str
    rows: list[ChannelRow]


def channels_by_team(channels: QuerySet[AnnouncementChannel]) -> list[TeamChannels]:
    """Rows grouped under their owning team, teams by name. Needs _channels()'s select_related."""
    groups: dict[str, list[ChannelRow]] = {}
    for channel in channels:
        team = channel.team if channel.team is not None else channel.service.team  # type: ignore[union-attr]
        groups.setdefault(team.name, []).append(channel_row(channel))
    return [TeamChannels(team_name=name, rows=rows) for name, rows in sorted(groups.items())]


@dataclass(frozen=True)
class ChatChannelLink:
    name: str
    url: str


def incident_chat_channels(*, incident: Incident) -> list[ChatChannelLink]:
    """The incident's own chat channels, with a link that opens each in the chat app."""
    links = []
    for channel in IncidentChannel.objects.filter(incident=incident).order_by("pk"):
        url = ""
        if channel.platform == ChatPlatform.SLACK:
            url = slack_channel_url(channel_id=channel.channel_id, team_id=channel.workspace_external_id)
        links.append(ChatChannelLink(name=f"#{channel.channel_name or channel.channel_id}", url=url))
    return links
