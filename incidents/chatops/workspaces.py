"""Which secrets a chat request must be signed with.

The workspace a request claims to come from is read from the unverified body, only to pick the
secret: a ChatWorkspace row for (platform, external id) when there is one, otherwise the
single-workspace settings from the environment. Nothing else in the body is trusted until the
signature has been checked against what this module returns.

A secret field may hold several secrets separated by spaces or commas ("new old"), so a secret can
be rotated without refusing requests in between (INTEROP.md §0). None of the platforms' secrets
contain either character.
"""

from __future__ import annotations

import re

from django.conf import settings

from incidents.chatops.models import ChatPlatform, ChatWorkspace

_SEPARATORS = re.compile(r"[\s,]+")


def split_secrets(value: str) -> list[str]:
    return [secret for secret in _SEPARATORS.split(value or "") if secret]


def workspace_for(*, platform: str, external_id: str) -> ChatWorkspace | None:
    if not external_id:
        return None
    return ChatWorkspace.objects.filter(platform=platform, external_id=external_id).first()


def slack_signing_secrets(*, team_id: str) -> list[str]:
    workspace = workspace_for(platform=ChatPlatform.SLACK, external_id=team_id)
    if workspace is not None:
        return split_secrets(workspace.signing_secret)
    secrets = split_secrets(settings.SLACK_SIGNING_SECRET)
    if not team_id:
        # URL verification (and a few other app-level requests) name no workspace. A signing secret
        # belongs to the Slack app, not to a workspace, so any configured one may sign these.
        rows = ChatWorkspace.objects.filter(platform=ChatPlatform.SLACK).exclude(signing_secret="")
        for value in rows.values_list("signing_secret", flat=True):
            secrets.extend(split_secrets(value))
    return list(dict.fromkeys(secrets))


def mattermost_command_tokens(*, team_id: str) -> list[str]:
    workspace = workspace_for(platform=ChatPlatform.MATTERMOST, external_id=team_id)
    if workspace is not None:
        return split_secrets(workspace.command_token)
    return split_secrets(settings.MATTERMOST_COMMAND_TOKEN)


def teams_outgoing_secrets(*, team_id: str) -> list[str]:
    workspace = workspace_for(platform=ChatPlatform.TEAMS, external_id=team_id)
    if workspace is not None:
        return split_secrets(workspace.outgoing_secret)
    return split_secrets(settings.TEAMS_OUTGOING_SECRET)


def slack_bot_token(*, team_id: str) -> str:
    workspace = workspace_for(platform=ChatPlatform.SLACK, external_id=team_id)
    if workspace is not None:
        return workspace.bot_token
    return str(settings.SLACK_BOT_TOKEN)
