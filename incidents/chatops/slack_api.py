"""The Slack Web API calls chat-ops needs, and Slack incoming webhooks, through the paging channels'
shared HTTP client and its error vocabulary: TransientError (try again later) and PermanentError.

A slash command says who typed it (user_id) but not their email; users.info does, when the bot token
has the users:read.email scope. That is how a Slack user with no Slack contact method in Muster is
still recognised by the address they share with their Muster account (issue 6, point 4).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from oncall.channels import http
from oncall.channels.base import PermanentError, TransientError
from oncall.channels.slack import web_api as call

logger = logging.getLogger(__name__)

# When users.info has to run inside a slash command's answer (no worker to hand it to), which Slack
# must have within 3 seconds: it gets one second, and a slower Slack means the email is not used.
USERS_INFO_QUICK_TIMEOUT_SECONDS = 1.0
# What each feature needs from the bot token (shown by "test connection").
SCOPES_NEEDED = {
    "chat:write": "post announcements and incident messages",
    "users:read.email": "recognise Slack users by the email address of their Muster account",
    "channels:manage": "create a channel for each incident",
}


def _api_url(method: str) -> str:
    return f"{settings.SLACK_API_URL}/{method}"


def slack_user_email(*, bot_token: str, user_id: str, timeout: float | None = None) -> str:
    """The Slack user's email address, or "" when there is no token, no scope, or no answer. Never
    raises: not knowing the address only means the person is asked to link their account."""
    if not bot_token or not user_id:
        return ""
    try:
        response = http.post(
            _api_url("users.info"),
            provider="Slack",
            timeout=timeout,
            headers={"Authorization": f"Bearer {bot_token}"},
            data={"user": user_id},
        )
    except (TransientError, PermanentError) as exc:
        logger.warning("Slack users.info for %s failed: %s", user_id, exc)
        return ""
    data = http.json_or_empty(response)
    if not response.is_success or data.get("ok") is not True:
        # missing_scope (users:read.email) and user_not_found are the usual ones.
        logger.warning(
            "Slack users.info for %s answered %s", user_id, data.get("error") or response.status_code
        )
        return ""
    profile = data.get("user", {}).get("profile", {})
    email = profile.get("email") if isinstance(profile, dict) else None
    return email.strip() if isinstance(email, str) else ""


def _posted(message: dict[str, Any]) -> dict[str, Any]:
    # response_type and replace_original belong to answers through response_url; a message posted to
    # a channel or a webhook has neither.
    return {key: value for key, value in message.items() if key not in ("response_type", "replace_original")}


def post_message(*, bot_token: str, channel: str, message: dict[str, Any]) -> str:
    """chat.postMessage; returns the message's ts."""
    body = _posted(message)
    data = call("chat.postMessage", bot_token=bot_token, channel=channel, unfurl_links=False, **body)
    return str(data.get("ts", ""))


def post_webhook(*, url: str, message: dict[str, Any], provider: str = "Slack") -> None:
    """An incoming webhook (Slack's, or Mattermost's Slack-compatible one). Slack answers "ok" in
    plain text, and an error in plain text with a 4xx: invalid_payload, channel_not_found,
    channel_is_archived, action_prohibited, no_service."""
    body = _posted(message)
    response = http.post(url, provider=provider, json=body)
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientError(
            f"{provider} webhook answered HTTP {response.status_code}", retry_after=http.retry_after(response)
        )
    if not response.is_success:
        raise PermanentError(
            f"{provider} webhook answered HTTP {response.status_code}: {http.excerpt(response)}"
        )


def conversations_create(*, bot_token: str, name: str) -> tuple[str, str]:
    """A new public channel; returns its (id, name)."""
    data = call("conversations.create", bot_token=bot_token, name=name, is_private=False)
    channel = data.get("channel") or {}
    return str(channel.get("id", "")), str(channel.get("name", name))


def conversations_invite(*, bot_token: str, channel: str, users: list[str]) -> None:
    if users:
        call("conversations.invite", bot_token=bot_token, channel=channel, users=",".join(users))


@dataclass(frozen=True)
class TokenCheck:
    ok: bool
    team_id: str = ""
    team: str = ""
    bot_user: str = ""
    scopes: frozenset[str] = frozenset()
    error: str = ""

    def missing(self) -> dict[str, str]:
        """The scopes the features need that the token lacks, with what each is for."""
        return {scope: why for scope, why in SCOPES_NEEDED.items() if scope not in self.scopes}


def auth_test(*, bot_token: str) -> TokenCheck:
    """Whether the token works, which workspace it belongs to, and its scopes. Never raises."""
    try:
        data = call("auth.test", bot_token=bot_token)
    except (TransientError, PermanentError) as exc:
        return TokenCheck(ok=False, error=str(exc))
    scopes = frozenset(s.strip() for s in str(data.get("_scopes", "")).split(",") if s.strip())
    return TokenCheck(
        ok=True,
        team_id=str(data.get("team_id", "")),
        team=str(data.get("team", "")),
        bot_user=str(data.get("user", "")),
        scopes=scopes,
    )
