"""What the platform endpoints and the dispatcher hand each other: who typed what where, and what
to answer. Platform-neutral; views.py turns a Reply into Slack, Mattermost or Teams JSON."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChatUser:
    platform: str  # ChatPlatform value: "slack", "mattermost", "teams"
    workspace_id: str  # Slack team_id, Mattermost team_id, Teams team id
    user_id: str  # Slack U…, Mattermost user id, Teams from.id
    name: str = ""  # the chat user name, for messages and the timeline
    email: str = ""  # when the platform told us (Teams never does; Slack via users.info)


@dataclass(frozen=True)
class ChatContext:
    platform: str
    workspace_id: str
    channel_id: str = ""
    channel_name: str = ""
    response_url: str = ""  # Slack/Mattermost: for delayed answers (5 uses in 30 min)
    # Mentioned users as the platform resolved them: "@name" or "<@U123>" → chat user id.
    mentions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Button:
    action_id: str  # "incident_ack", "incident_resolve", "incident_open"
    label: str
    value: str = ""  # the incident reference, e.g. "INC-42"
    url: str = ""  # for link buttons ("Open")
    style: str = ""  # "primary", "danger" or ""


@dataclass(frozen=True)
class Reply:
    text: str  # plain text with minimal Markdown (*bold*, links as <url|label> are rendered by views.py)
    in_channel: bool = False  # False: only the person who typed sees it (ephemeral)
    buttons: tuple[Button, ...] = ()
    link_url: str = ""  # the incident's page, when the reply is about one incident
    link_label: str = ""
