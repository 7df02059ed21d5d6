"""Errors the runbook services raise. All are DomainErrors: the API answers 409 with the message."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from incidents.models import person_name
from incidents.services.errors import DomainError

if TYPE_CHECKING:
    from runbooks.models import RunbookRevision


def _when(moment: datetime) -> str:
    local = timezone.localtime(moment)
    if local.date() == timezone.localdate():
        return f"{local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


class StaleRevision(DomainError):
    """The text was edited on top of a revision that is no longer the latest. Nothing was saved;
    `latest` is what the editor should compare their text (`body`) with."""

    def __init__(self, *, latest: RunbookRevision, base_number: int, body: str = "") -> None:
        self.latest = latest
        self.base_number = base_number
        self.body = body
        author = person_name(latest.author) if latest.author is not None else "someone"
        super().__init__(
            f"Revision {latest.number} was saved by {author} at {_when(latest.created_at)} while you "
            f"were editing revision {base_number}; your text was not saved. Compare and try again."
        )


class NothingChanged(DomainError):
    """The new text is identical to the latest revision's, so no revision was added."""

    def __init__(
        self, message: str = "The text is the same as the latest revision; nothing was saved."
    ) -> None:
        super().__init__(message)
