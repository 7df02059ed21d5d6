"""Template helpers for the incident UI: humanised durations and role lookups over prefetched rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone

from incidents.models import Incident, person_name

register = template.Library()

EM_DASH = "—"


def humanise(delta: timedelta) -> str:
    """Two units at most ("3h 12m"): precise enough to read at a glance, short enough for a phone."""
    seconds = max(int(delta.total_seconds()), 0)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {seconds}s" if seconds else f"{minutes}m"
    return f"{seconds}s"


@register.filter
def duration(value: timedelta | None) -> str:
    if value is None:
        return EM_DASH
    return humanise(value)


@register.filter
def age(value: datetime | None) -> str:
    if value is None:
        return EM_DASH
    return humanise(timezone.now() - value)


@register.filter
def role_holder(incident: Incident, role: str) -> Any:
    """The user holding `role`, read from the prefetched roles so a list page adds no query per row."""
    for assignment in incident.roles.all():
        if assignment.role == role:
            return assignment.user
    return None


@register.filter
def display_name(user: Any) -> str:
    if user is None:
        return EM_DASH
    return person_name(user)
