"""Slack direct messages through chat.postMessage, with Acknowledge and Open buttons.

The Acknowledge button is handled by our interactivity endpoint (INTEROP.md §5.3), which routes on
action_id "incident_ack" and reads the incident reference from the button's value.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings

from oncall.channels import http
from oncall.channels.base import (
    Delivered,
    Message,
    PermanentError,
    TransientError,
    ensure_available,
    one_line,
)

USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
MENTION_RE = re.compile(r"^<@([A-Za-z0-9]+)(\|[^>]*)?>$")
# Slack-side hiccups; every other error names something about our request that will not change.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
ACK_ACTION_ID = "incident_ack"
OPEN_ACTION_ID = "incident_open"
# Slack rejects section text over 3000 characters.
MAX_SECTION_TEXT = 3000


class SlackChannel:
    kind = "slack"

    def availability(self) -> tuple[bool, str]:
        if not settings.SLACK_BOT_TOKEN:
            return (
                False,
                "Set SLACK_BOT_TOKEN (a bot token, xoxb-…, with the chat:write scope) to page by Slack.",
            )
        return True, ""

    def validate_address(self, address: str) -> str:
        user_id = address.strip()
        mention = MENTION_RE.fullmatch(user_id)
        if mention:
            user_id = mention.group(1)
        user_id = user_id.upper()
        if not USER_ID_RE.fullmatch(user_id):
            raise ValueError(
                "Enter your Slack member ID, which starts with U or W (in Slack: your profile, ⋮, "
                "Copy member ID), not your display name."
            )
        return user_id

    def send(self, *, address: str, message: Message) -> Delivered:
        ensure_available(self)
        data = web_api(
            "chat.postMessage",
            bot_token=settings.SLACK_BOT_TOKEN,
            **build_payload(channel=address, message=message),
        )
        return Delivered(provider_id=str(data.get("ts", "")))


def web_api(method: str, *, bot_token: str, timeout: float | None = None, **body: Any) -> dict[str, Any]:
    """One Slack Web API method with a JSON body: the decoded answer when Slack said ok, else
    TransientError (try later) or PermanentError naming Slack's error (and the scope it needs).
    Pages use it, and so does chat-ops (incidents/chatops/slack_api.py)."""
    if not bot_token:
        raise PermanentError("no Slack bot token is configured")
    response = http.post(
        f"{settings.SLACK_API_URL}/{method}",
        provider="Slack",
        timeout=timeout,
        headers={"Authorization": f"Bearer {bot_token}"},
        json=body,
    )
    data = http.json_or_empty(response)
    if response.status_code == 429 or response.status_code >= 500:
        error = data.get("error") or f"HTTP {response.status_code}"
        raise TransientError(f"Slack {method} answered {error}", retry_after=http.retry_after(response))
    if response.is_success and data.get("ok") is True:
        # Scopes come back in a header on every call; "test connection" looks at them.
        data["_scopes"] = response.headers.get("x-oauth-scopes", "")
        return data
    error = str(data.get("error") or f"HTTP {response.status_code}: {http.excerpt(response)}")
    if error in TRANSIENT_ERRORS:
        raise TransientError(f"Slack {method} answered {error}", retry_after=http.retry_after(response))
    needed = data.get("needed")
    raise PermanentError(f"Slack {method} answered {error}" + (f" (needs {needed})" if needed else ""))


def build_payload(*, channel: str, message: Message) -> dict[str, Any]:
    heading = (
        f"{message.incident_reference} · {one_line(message.title)}"
        if message.kind == "page"
        else one_line(message.default_subject())
    )
    lines = [
        f"*<{message.incident_url}|{mrkdwn_escape(heading)}>*"
        if message.incident_url
        else f"*{mrkdwn_escape(heading)}*"
    ]
    if message.kind == "page":
        lines.append(
            f"{mrkdwn_escape(message.severity_label)} · {mrkdwn_escape(message.urgency)} urgency · {mrkdwn_escape(message.service_name)}"
        )
    if message.summary:
        lines.append(mrkdwn_escape(message.summary))
    text = "\n".join(lines)
    if len(text) > MAX_SECTION_TEXT:
        text = text[: MAX_SECTION_TEXT - 3] + "..."
    buttons: list[dict[str, Any]] = []
    if message.can_acknowledge and message.incident_reference:
        buttons.append(
            {
                "type": "button",
                "action_id": ACK_ACTION_ID,
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "value": message.incident_reference,
                "style": "primary",
            }
        )
    if message.incident_url:
        buttons.append(
            {
                "type": "button",
                "action_id": OPEN_ACTION_ID,
                "text": {"type": "plain_text", "text": "Open incident"},
                "url": message.incident_url,
            }
        )
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if buttons:
        blocks.append({"type": "actions", "block_id": "inc_actions", "elements": buttons})
    return {
        "channel": channel,
        # The notification preview and screen readers use text; blocks are what the app renders.
        "text": one_line(message.default_subject()),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def mrkdwn_escape(text: str) -> str:
    """Text shown literally in Slack's mrkdwn (chat-ops' messages use it too)."""
    # Slack's mrkdwn treats these three as control characters; everything else is literal.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
