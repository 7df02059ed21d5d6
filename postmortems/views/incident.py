"""Placeholder until the views are written (development only; replaced before commit)."""

from typing import Any


def incident_postmortem_context(*, user: Any, incident: Any) -> dict[str, Any]:
    return {}
