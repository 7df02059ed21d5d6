"""Thin Celery tasks for postmortems."""

from celery import shared_task

from postmortems.reminders import reminders_send


@shared_task(ignore_result=True)
def send_reminders() -> None:
    """Beat runs this every MUSTER_REMINDERS_CHECK_SECONDS: weekly digests and manager summaries at
    each person's own digest time, and due-date nudges; each email goes out at most once."""
    reminders_send()
