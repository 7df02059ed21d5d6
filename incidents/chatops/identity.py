"""Who a chat user is in Muster.

A chat account maps to a Muster user through a ChatIdentity row; the first time, through the Slack
member id on a Slack contact method or the email address the platform gave, and then the match is
remembered as a ChatIdentity. Anyone else links their account by opening a signed link while
signed in to Muster. An unknown chat user is refused, never served anonymously.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from incidents.chatops.models import ChatIdentity, ChatPlatform
from incidents.chatops.slack_api import slack_user_email
from incidents.chatops.types import ChatUser, Reply
from incidents.chatops.workspaces import slack_bot_token

LINK_SALT = "muster.chatops.link"
LINK_MAX_AGE_SECONDS = 24 * 60 * 60

# Asking Slack who someone is (users.info) is a call to the internet. A request Slack waits on (3 s)
# does not make it: it runs the command after answering, in a worker (see views.py), where the call
# gets the channels' usual timeout. None: that usual timeout; 0: not allowed here; else seconds.
_slack_lookup_timeout: ContextVar[float | None] = ContextVar("slack_lookup_timeout", default=None)


class SlackLookupNeeded(Exception):
    """Only Slack can say who this chat user is, and asking is not allowed here; nothing was done."""


@contextmanager
def slack_lookups(*, timeout: float) -> Iterator[None]:
    """Within the block, users.info waits at most `timeout` seconds; 0 forbids it (the caller gets
    SlackLookupNeeded instead, before anything was done)."""
    token = _slack_lookup_timeout.set(timeout)
    try:
        yield
    finally:
        _slack_lookup_timeout.reset(token)


def muster_user_for(chat_user: ChatUser) -> Any | None:
    """The active Muster user behind a chat account, or None when nobody is known for it."""
    identity = (
        ChatIdentity.objects.select_related("user")
        .filter(
            platform=chat_user.platform,
            workspace_external_id=chat_user.workspace_id,
            chat_user_id=chat_user.user_id,
        )
        .first()
    )
    if identity is not None:
        # A deactivated account stays deactivated in chat too.
        return identity.user if identity.user.is_active else None
    users = get_user_model().objects.filter(is_active=True)
    if chat_user.platform == ChatPlatform.SLACK and chat_user.user_id:
        user = _only(users.filter(contact_methods__kind="slack", contact_methods__address=chat_user.user_id))
        if user is not None:
            return _remember(chat_user, user, linked_via="contact_method")
    email = chat_user.email
    if not email and chat_user.platform == ChatPlatform.SLACK:
        # A slash command does not say who typed it by email; Slack does when asked, once: a match
        # is remembered as a ChatIdentity.
        bot_token = slack_bot_token(team_id=chat_user.workspace_id)
        timeout = _slack_lookup_timeout.get()
        if bot_token and timeout == 0:
            raise SlackLookupNeeded(chat_user.user_id)
        email = slack_user_email(bot_token=bot_token, user_id=chat_user.user_id, timeout=timeout)
    if email:
        user = _only(users.filter(email__iexact=email.strip()))
        if user is not None:
            return _remember(chat_user, user, linked_via="email")
    return None


def _only(candidates: Any) -> Any | None:
    """The one match, or None: two people claiming the same address must not be guessed between."""
    found = list(candidates.distinct()[:2])
    return found[0] if len(found) == 1 else None


def _remember(chat_user: ChatUser, user: Any, *, linked_via: str) -> Any:
    ChatIdentity.objects.get_or_create(
        platform=chat_user.platform,
        workspace_external_id=chat_user.workspace_id,
        chat_user_id=chat_user.user_id,
        defaults={"user": user, "chat_user_name": chat_user.name[:150], "linked_via": linked_via},
    )
    return user


@transaction.atomic
def chat_identity_link(*, chat_user: ChatUser, user: Any) -> ChatIdentity:
    """Link the chat account to `user` (who opened the signed link), replacing any earlier link."""
    identity, _ = ChatIdentity.objects.update_or_create(
        platform=chat_user.platform,
        workspace_external_id=chat_user.workspace_id,
        chat_user_id=chat_user.user_id,
        defaults={
            "user": user,
            "chat_user_name": chat_user.name[:150],
            "linked_via": "link",
            "linked_at": timezone.now(),
        },
    )
    return identity


# --- the signed link ------------------------------------------------------------------------


def link_token_for(chat_user: ChatUser) -> str:
    payload = {
        "p": chat_user.platform,
        "w": chat_user.workspace_id,
        "u": chat_user.user_id,
        "n": chat_user.name,
    }
    return signing.TimestampSigner(salt=LINK_SALT).sign_object(payload, compress=True)


def chat_user_from_link_token(token: str) -> ChatUser:
    """The chat account a link was made for; raises signing.BadSignature (SignatureExpired after
    24 hours) for anything Muster did not sign recently."""
    payload = signing.TimestampSigner(salt=LINK_SALT).unsign_object(token, max_age=LINK_MAX_AGE_SECONDS)
    if not isinstance(payload, dict) or payload.get("p") not in ChatPlatform.values:
        raise signing.BadSignature("Not a chat link token.")
    return ChatUser(
        platform=str(payload["p"]),
        workspace_id=str(payload.get("w", "")),
        user_id=str(payload.get("u", "")),
        name=str(payload.get("n", "")),
    )


def link_url_for(chat_user: ChatUser) -> str:
    path = reverse("chatops:link", kwargs={"token": link_token_for(chat_user)})
    return settings.MUSTER_BASE_URL.rstrip("/") + path


def unknown_user_reply(chat_user: ChatUser) -> Reply:
    platform = ChatPlatform(chat_user.platform).label if chat_user.platform in ChatPlatform.values else "chat"
    lines = [
        f"Your {platform} account isn't linked to a Muster account yet, so Muster won't act for you.",
        f"Open this link while signed in to Muster to link your account: {link_url_for(chat_user)}",
        "(The link is valid for 24 hours.)",
    ]
    if chat_user.platform == ChatPlatform.SLACK:
        notifications = settings.MUSTER_BASE_URL.rstrip("/") + reverse("oncall:my_notifications")
        lines.append(
            f"Alternatively, add your Slack member ID ({chat_user.user_id}) as a Slack contact method on "
            f"{notifications}, or use the same email address in Slack and Muster."
        )
    return Reply(text="\n".join(lines))
