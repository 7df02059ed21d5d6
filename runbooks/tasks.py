"""Thin Celery tasks for runbooks."""

from celery import shared_task

from runbooks.reminders import review_reminders_send


@shared_task(ignore_result=True)
def review_reminders() -> None:
    """Beat runs this hourly; each team gets at most one review email per ISO week."""
    review_reminders_send()
