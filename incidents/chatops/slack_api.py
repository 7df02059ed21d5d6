"""The few Slack Web API calls chat-ops needs, through the paging channels' shared HTTP client.

A slash command says who typed it (user_id) but not their email; users.info does, when the bot token
has the users:read.email scope. That is how a Slack user with no Slack contact method in Muster is
still recognised by the address they share with their Muster account (issue 6, point 4).
"""

from __future__ import annotations

import logging

from django.conf import settings

from oncall.channels import http
from oncall.channels.base import PermanentError, TransientError

logger = logging.getLogger(__name__)


def slack_user_email(*, bot_token: str, user_id: str) -> str:
    """The Slack user's email address, or "" when there is no token, no scope, or no answer. Never
    raises: the caller answers a slash command and has a 3-second budget."""
    if not bot_token or not user_id:
        return ""
    try:
        response = http.post(
            f"{settings.SLACK_API_URL}/users.info",
            provider="Slack",
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
