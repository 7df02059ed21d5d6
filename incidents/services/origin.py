"""Where an action came from, when not from the web UI: the chat platform and chat user behind a
slash command or a button click. The chat endpoints set it around the service call they make;
timeline_record writes it into the event's data (`data["via"]`), so the timeline shows "via Slack"
and the chat user without every service growing a parameter for it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_origin: ContextVar[dict[str, Any] | None] = ContextVar("muster_action_origin", default=None)


@contextmanager
def acting_via(*, platform: str, chat_user_id: str, chat_user_name: str = "", **extra: Any) -> Iterator[None]:
    """Within this block, timeline events record that the action came through `platform`."""
    token = _origin.set(
        {"platform": platform, "chat_user_id": chat_user_id, "chat_user_name": chat_user_name, **extra}
    )
    try:
        yield
    finally:
        _origin.reset(token)


def current_origin() -> dict[str, Any] | None:
    return _origin.get()
