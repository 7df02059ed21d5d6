"""Rows that are sent at most once: the state changes every such row goes through.

A row is written `queued` with a `due_at`. A delivery claims it (compare-and-set queued → sending,
with a deadline in `claimed_until`) before it talks to the outside world, so a duplicate task finds
nothing to claim. It ends `sent`, `failed` or `cancelled`, or goes back to `queued` for a retry. A
send that died past its deadline is failed by the next sweep, never repeated: nobody can know
whether it went out.

Shift nudges (oncall/nudges.py) and chat announcements (incidents/chatops/announcements.py) use
these; a page (oncall/engine.py) follows the same rules with bookkeeping of its own. A model needs
the fields status, due_at, claimed_until, attempts and last_error.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Model

# The values of oncall.models.NotificationStatus, which every such model uses for its status.
QUEUED, SENDING, SENT, FAILED, CANCELLED = "queued", "sending", "sent", "failed", "cancelled"
MAX_ERROR_LENGTH = 1000


def due(model: type[Model], *, now: datetime, expired_error: str, batch: int) -> list[int]:
    """Fail the sends that died past their deadline; the ids of the queued rows now due, oldest first."""
    model._default_manager.filter(status=SENDING, claimed_until__lt=now).update(
        status=FAILED, last_error=expired_error[:MAX_ERROR_LENGTH], claimed_until=None
    )
    rows = model._default_manager.filter(status=QUEUED, due_at__lte=now).order_by("due_at")
    return list(rows.values_list("pk", flat=True)[:batch])


def claim(model: type[Model], pk: int, *, now: datetime, deadline: timedelta) -> bool:
    """Take a due row for sending, counting the attempt; False when it is not due or taken already."""
    return bool(
        model._default_manager.filter(pk=pk, status=QUEUED, due_at__lte=now).update(
            status=SENDING, claimed_until=now + deadline, attempts=F("attempts") + 1
        )
    )


def finish(model: type[Model], pk: int, status: str, *, error: str = "", **fields: Any) -> bool:
    """End a claimed row as sent, failed or cancelled (with any extra fields, e.g. sent_at)."""
    return bool(
        model._default_manager.filter(pk=pk, status=SENDING).update(
            status=status, last_error=error[:MAX_ERROR_LENGTH], claimed_until=None, **fields
        )
    )


def retry_later(
    model: type[Model], pk: int, *, due_at: datetime, error: str = "", count_attempt: bool = True
) -> bool:
    """Put a claimed row back in the queue, due at `due_at`. With count_attempt=False the claim is
    undone as if it had not happened (the row was not ready to be sent yet)."""
    fields: dict[str, Any] = {"status": QUEUED, "due_at": due_at, "claimed_until": None}
    if error:
        fields["last_error"] = error[:MAX_ERROR_LENGTH]
    if not count_attempt:
        fields["attempts"] = F("attempts") - 1
    return bool(model._default_manager.filter(pk=pk, status=SENDING).update(**fields))
