"""Every write in on-call goes through one of these functions (paging, schedules, people)."""

from oncall.services.paging import (
    Route,
    escalation_advance,
    notifications_queue,
    paging_start,
    paging_stop,
    policy_snapshot,
    routes_for,
    step_users,
)

__all__ = [
    "Route",
    "escalation_advance",
    "notifications_queue",
    "paging_start",
    "paging_stop",
    "policy_snapshot",
    "routes_for",
    "step_users",
]
