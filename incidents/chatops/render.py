"""A platform-neutral Reply in each platform's own response format (INTEROP.md §5.1, §6.1, §6.3).

Slack gets Block Kit with real buttons. Mattermost and Teams cannot call us back on a click in a way
we could verify, so there an action button becomes the command that does the same ("Acknowledge:
`/incident ack INC-4`", "@Muster ack INC-4" in Teams) and a link button a Markdown link.
"""

from __future__ import annotations

import html
import re
from typing import Any

from incidents.chatops.messages import ACTION_COMMANDS
from incidents.chatops.types import Button, Reply
from oncall.channels.slack import mrkdwn_escape

# Slack's limits: section text 3000 characters, button text 75, button value 2000.
SLACK_SECTION_MAX = 3000
SLACK_BUTTON_TEXT_MAX = 75
SLACK_BUTTON_STYLES = frozenset({"primary", "danger"})


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_button(button: Button) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "action_id": button.action_id,
        "text": {"type": "plain_text", "text": _truncate(button.label, SLACK_BUTTON_TEXT_MAX)},
    }
    if button.value:
        element["value"] = button.value
    if button.url:
        element["url"] = button.url
    if button.style in SLACK_BUTTON_STYLES:
        element["style"] = button.style
    return element


def slack_message(reply: Reply) -> dict[str, Any]:
    """The JSON body for a slash-command answer or a response_url post."""
    text = mrkdwn_escape(reply.text)
    if reply.link_url and all(button.url != reply.link_url for button in reply.buttons):
        text += f"\n<{reply.link_url}|{mrkdwn_escape(reply.link_label or reply.link_url)}>"
    text = _truncate(text, SLACK_SECTION_MAX)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if reply.buttons:
        blocks.append(
            {
                "type": "actions",
                "block_id": "inc_actions",
                "elements": [_slack_button(button) for button in reply.buttons],
            }
        )
    return {
        "response_type": "in_channel" if reply.in_channel else "ephemeral",
        # Notifications and screen readers use text; the app shows the blocks.
        "text": text,
        "blocks": blocks,
    }


def slack_interaction_answer(reply: Reply) -> dict[str, Any]:
    """The answer to a button click, through response_url. The dispatcher answers a click with the
    incident message as it is now (in_channel): that replaces the message that had the button, so its
    status and buttons change for everyone. A refusal (not linked yet, not allowed) is ephemeral:
    said to the clicker alone, message untouched."""
    message = slack_message(reply)
    message["replace_original"] = reply.in_channel
    return message


def _markdown_label(label: str) -> str:
    return label.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def _markdown_links(reply: Reply) -> list[str]:
    """The incident page and link buttons as links, and each action button as the command that does
    the same: Mattermost's and Teams' webhooks cannot tell Muster who clicked a button in a way
    Muster could verify, so there the action is one typed (and token-checked) command away."""
    links: list[tuple[str, str]] = []
    if reply.link_url and all(button.url != reply.link_url for button in reply.buttons):
        links.append((reply.link_label or reply.link_url, reply.link_url))
    parts: list[str] = []
    for button in reply.buttons:
        command = ACTION_COMMANDS.get(button.action_id)
        if command and button.value:
            parts.append(f"{_markdown_label(button.label)}: `/incident {command} {button.value}`")
        elif button.url:
            links.append((button.label, button.url))
    return parts + [f"[{_markdown_label(label)}]({url})" for label, url in dict.fromkeys(links)]


# Reply text marks bold the Slack way, *bold*; in Markdown that is italics, so it becomes **bold**.
_SLACK_BOLD_RE = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")


def _markdown_text(reply: Reply, *, paragraph: str, escape_html: bool = False) -> str:
    links = _markdown_links(reply)
    text = _SLACK_BOLD_RE.sub(r"**\1**", reply.text)
    if escape_html:
        # Teams renders some HTML in message text, so a title like "<script>" must stay text.
        text = html.escape(text, quote=False)
    if links:
        text += paragraph + " · ".join(links)
    return text


def mattermost_message(reply: Reply) -> dict[str, Any]:
    return {
        "response_type": "in_channel" if reply.in_channel else "ephemeral",
        "text": _markdown_text(reply, paragraph="\n\n"),
    }


TEAMS_COMMAND = re.compile(r"/incident\b")


def teams_message(reply: Reply) -> dict[str, Any]:
    # Teams joins single newlines into one line; every line of the answer is its own paragraph.
    text = _markdown_text(reply, paragraph="\n", escape_html=True)
    # Teams has no slash command: people write "@Muster ack", so examples must say that.
    text = TEAMS_COMMAND.sub("@Muster", text)
    return {"type": "message", "text": "\n\n".join(line for line in text.split("\n") if line.strip())}
