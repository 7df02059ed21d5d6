"""Thin tasks for chat: answers that go out after a request was acknowledged (Slack's response_url),
and announcements, which incidents.chatops.announcements claims and sends."""

from __future__ import annotations

import json
import logging
from typing import Any

from celery import shared_task

from incidents.chatops import announcements, commands, render
from incidents.chatops.types import ChatContext, ChatUser
from oncall.channels import http
from oncall.channels.base import PermanentError, TransientError

logger = logging.getLogger(__name__)

# Slack accepts a response_url for 30 minutes (INTEROP.md §5.1); retries stay well inside that.
RESPONSE_URL_RETRY_SECONDS = (5, 30, 120)


@shared_task(bind=True, ignore_result=True, max_retries=len(RESPONSE_URL_RETRY_SECONDS))
def slack_response_deliver(self, response_url: str, message_json: str) -> None:
    """POST one prepared message (e.g. the incident message after a button click) to response_url."""
    try:
        response_post(response_url=response_url, message=json.loads(message_json))
    except TransientError as exc:
        if self.request.retries >= self.max_retries:
            logger.warning("Gave up answering Slack via response_url: %s", exc)
            return
        countdown = exc.retry_after or RESPONSE_URL_RETRY_SECONDS[self.request.retries]
        raise self.retry(exc=exc, countdown=countdown) from exc
    except PermanentError as exc:
        # An expired or already used-up response_url: nothing a retry can fix.
        logger.warning("Slack refused the response_url answer: %s", exc)


def response_post(*, response_url: str, message: dict[str, object]) -> None:
    response = http.post(response_url, provider="Slack", json=message)
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientError(
            f"Slack answered HTTP {response.status_code}", retry_after=http.retry_after(response)
        )
    if not response.is_success:
        raise PermanentError(f"Slack answered HTTP {response.status_code}: {http.excerpt(response)}")


@shared_task(ignore_result=True, acks_late=True)
def deliver_announcement(announcement_id: int) -> None:
    announcements.announcement_deliver(announcement_id=announcement_id)


@shared_task(ignore_result=True)
def announcements_sweep() -> None:
    """Beat runs this every MUSTER_ANNOUNCEMENTS_SWEEP_SECONDS: hand over rows whose task was lost."""
    for announcement_id in announcements.announcements_due():
        deliver_announcement.delay(announcement_id)


def _context(context: dict[str, Any]) -> ChatContext:
    return ChatContext(**context)


@shared_task(ignore_result=True)
def slack_command_later(text: str, user: dict[str, Any], context: dict[str, Any]) -> None:
    """A slash command whose user only Slack can name: answered "one moment" at once, run here, and
    answered through response_url. Never retried: a command is carried out at most once."""
    chat_context = _context(context)
    reply = commands.run_safely(
        lambda: commands.dispatch(text=text, user=ChatUser(**user), context=chat_context), platform="slack"
    )
    slack_response_deliver.delay(chat_context.response_url, json.dumps(render.slack_message(reply)))


@shared_task(ignore_result=True)
def slack_action_later(action_id: str, value: str, user: dict[str, Any], context: dict[str, Any]) -> None:
    """A button click by someone only Slack can name, the same way."""
    chat_context = _context(context)
    reply = commands.run_safely(
        lambda: commands.handle_action(
            action_id=action_id, value=value, user=ChatUser(**user), context=chat_context
        ),
        platform="slack",
    )
    message = render.slack_interaction_answer(reply)
    slack_response_deliver.delay(chat_context.response_url, json.dumps(message))
