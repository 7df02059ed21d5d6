"""Writes for calendar feeds: create one (the token is returned once and only its hash is kept),
revoke one, and note when a calendar app last fetched it."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents.choices import Role
from incidents.models import hash_secret
from incidents.permissions import has_role
from incidents.services import DomainError, audit_record
from oncall.models import CalendarFeed, Schedule

TOKEN_PREFIX_LENGTH = 8
# Calendar apps poll every few minutes to every day; one write per this long is plenty to show
# "last fetched" and spares the database a write on every poll.
FETCH_RECORD_EVERY = timedelta(minutes=10)


def _new_token() -> str:
    # 192 random bits, URL-safe: the token is the only credential a calendar app can send.
    return secrets.token_urlsafe(24)


@transaction.atomic
def calendar_feed_create(*, owner: Any, schedule: Schedule | None = None) -> tuple[CalendarFeed, str]:
    """A feed of one schedule's shifts, or of the owner's own shifts when `schedule` is None.
    Returns the feed and its token; the token is not stored and cannot be shown again."""
    if schedule is not None and not has_role(owner, schedule.team_id, Role.VIEWER):
        raise DomainError(f"You cannot see the schedule {schedule.name}.")
    token = _new_token()
    feed = CalendarFeed.objects.create(
        owner=owner,
        schedule=schedule,
        token_prefix=token[:TOKEN_PREFIX_LENGTH],
        token_hash=hash_secret(token),
    )
    audit_record(
        actor=owner,
        action="calendar_feed.create",
        obj=feed,
        data={"schedule": schedule.pk if schedule is not None else None},
    )
    return feed, token


@transaction.atomic
def calendar_feed_revoke(*, feed: CalendarFeed, actor: Any) -> CalendarFeed:
    """From now on the feed's URL answers 404; subscribed calendars keep what they last fetched."""
    if feed.revoked_at is not None:
        return feed
    feed.revoked_at = timezone.now()
    feed.save(update_fields=["revoked_at"])
    audit_record(actor=actor, action="calendar_feed.revoke", obj=feed)
    return feed


def calendar_feed_mark_fetched(*, feed: CalendarFeed, now: datetime) -> None:
    if feed.last_fetched_at is not None and now - feed.last_fetched_at < FETCH_RECORD_EVERY:
        return
    CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=now)
    feed.last_fetched_at = now
