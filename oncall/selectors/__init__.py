"""Reads for on-call."""

from oncall.selectors.schedules import schedule_oncall_user_id, schedule_spec

__all__ = ["schedule_oncall_user_id", "schedule_spec"]
