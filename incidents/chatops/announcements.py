"""Announcements: incident news posted to the channels teams and services name.

Time is data, as for pages. When the timeline records an announced event (declared, triggered,
severity changed, status update, resolved), `announcements_plan` writes one Announcement row per
channel that wants it, in the same transaction as the event, so a crash can lose no announcement
and a rollback leaves none behind. After the commit a worker is asked to deliver each row; the beat
sweep (`announcements_due`) hands over any row whose task was lost.

A delivery claims its row before it talks to Slack or Mattermost (incidents/outbox.py), so a
duplicate task does nothing; a send that dies past its deadline is marked failed, never repeated,
because nobody can know whether the message went out.

Creating an incident's own Slack channel is an announcement row too (action create_channel), one
per incident and bot token: it creates the channel, stores it as the incident's IncidentChannel
(commands typed there then apply to the incident), invites the people already known to be involved,
and posts the incident message there. The announcement of the new incident waits a few seconds for
it, so it can link the channel.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from incidents import outbox
from incidents.chatops import render, slack_api
from incidents.chatops.messages import incident_message
from incidents.chatops.models import (
    Announcement,
    AnnouncementAction,
    AnnouncementChannel,
    AnnouncementKind,
    ChatIdentity,
    ChatPlatform,
    IncidentChannel,
)
from incidents.chatops.selectors import incident_chat_channels
from incidents.chatops.types import Button, Reply
from incidents.choices import TimelineKind
from incidents.models import Incident, TimelineEvent, person_name
from oncall.channels.base import PermanentError, TransientError

logger = logging.getLogger(__name__)

ANNOUNCED_KINDS = frozenset(
    {
        TimelineKind.DECLARED,
        TimelineKind.TRIGGERED,
        TimelineKind.SEVERITY_CHANGED,
        TimelineKind.STATUS_UPDATE,
        TimelineKind.RESOLVED,
    }
)
OPENING_KINDS = frozenset({TimelineKind.DECLARED, TimelineKind.TRIGGERED})

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (15, 60, 300, 900)
# A channel creation makes up to a handful of Web API calls, each with the channel timeout.
DELIVERY_DEADLINE = timedelta(minutes=3)
# News older than this is no longer news: it is dropped instead of posted late.
STALE_AFTER = timedelta(hours=2)
# How long the new incident's announcement waits for its channel to be created, and how often it looks.
CHANNEL_WAIT = timedelta(seconds=60)
CHANNEL_WAIT_STEP_SECONDS = 2
SLACK_CHANNEL_NAME_MAX = 80
BATCH = 500


# --- planning -------------------------------------------------------------------------------


def _wants(channel: AnnouncementChannel, incident: Incident, event: TimelineEvent) -> bool:
    severities = [incident.severity]
    if event.kind == TimelineKind.SEVERITY_CHANGED:
        # A downgrade out of the channel's range is still news to the people who saw the incident.
        severities += [value for value in (event.data.get("from"), event.data.get("to")) if value]
    return min(int(value) for value in severities) <= channel.least_severe


def _token_key(channel: AnnouncementChannel) -> str:
    return f"ws{channel.workspace_id}" if channel.workspace_id else "env"


def announcements_plan(*, event: TimelineEvent) -> list[int]:
    """Write the announcements of one timeline event; their delivery is queued when the transaction
    commits. Returns the new rows' ids. One query when no channel wants the event."""
    if event.kind not in ANNOUNCED_KINDS:
        return []
    incident = event.incident
    channels = [
        channel
        for channel in AnnouncementChannel.objects.filter(enabled=True).filter(
            Q(service_id=incident.service_id) | Q(team__services__id=incident.service_id)
        )
        if _wants(channel, incident, event)
    ]
    if not channels:
        return []
    rows = [
        Announcement(
            key=f"post:{channel.pk}:{event.pk}",
            channel=channel,
            incident=incident,
            event=event,
            action=AnnouncementAction.POST,
            due_at=event.created_at,
        )
        for channel in channels
    ]
    if event.kind in OPENING_KINDS:
        creators = {
            _token_key(channel): channel
            for channel in channels
            if channel.kind == AnnouncementKind.SLACK_CHANNEL and channel.create_incident_channels
        }
        rows += [
            Announcement(
                key=f"create_channel:{incident.pk}:{token_key}",
                channel=channel,
                incident=incident,
                event=event,
                action=AnnouncementAction.CREATE_CHANNEL,
                due_at=event.created_at,
            )
            for token_key, channel in creators.items()
        ]
    # ignore_conflicts: the keys make a second plan of the same event a no-op.
    Announcement.objects.bulk_create(rows, ignore_conflicts=True)
    ids = list(Announcement.objects.filter(key__in=[row.key for row in rows]).values_list("pk", flat=True))
    transaction.on_commit(lambda: _hand_over(ids))
    return ids


def _hand_over(ids: list[int], seconds: float = 0) -> None:
    """Ask a worker to deliver these rows (in `seconds`). Without a broker the beat sweep does."""
    from incidents.chatops.tasks import deliver_announcement

    for announcement_id in ids:
        try:
            deliver_announcement.apply_async((announcement_id,), countdown=seconds)
        except Exception:
            logger.warning("could not queue announcement %s; the sweep will", announcement_id, exc_info=True)


def announcements_due(*, now: datetime | None = None) -> list[int]:
    """Fail sends that died past their deadline, and list the queued announcements that are due."""
    return outbox.due(
        Announcement,
        now=now or timezone.now(),
        expired_error="no answer before the deadline; not repeated, it may have been posted",
        batch=BATCH,
    )


# --- delivery -------------------------------------------------------------------------------


def announcement_deliver(*, announcement_id: int, now: datetime | None = None) -> str:
    """Post one announcement at most once. Returns what happened, for logs and tests."""
    now = now or timezone.now()
    if not outbox.claim(Announcement, announcement_id, now=now, deadline=DELIVERY_DEADLINE):
        return "not claimable"
    announcement = Announcement.objects.select_related(
        "channel__workspace",
        "incident__service",
        "incident__declared_by",
        "event__actor_user",
        "event__actor_integration",
    ).get(pk=announcement_id)
    if reason := _stale(announcement, now):
        outbox.finish(Announcement, announcement.pk, outbox.CANCELLED, error=f"cancelled: {reason}")
        return "cancelled"
    if _waits_for_channel(announcement, now):
        # Not an attempt: the row goes back as it was, a little later.
        outbox.retry_later(
            Announcement,
            announcement.pk,
            due_at=now + timedelta(seconds=CHANNEL_WAIT_STEP_SECONDS),
            count_attempt=False,
        )
        _hand_over([announcement.pk], CHANNEL_WAIT_STEP_SECONDS)
        return "waiting for the incident channel"
    try:
        if announcement.action == AnnouncementAction.CREATE_CHANNEL:
            provider_id = _create_incident_channel(announcement)
        else:
            provider_id = _post(announcement)
    except PermanentError as exc:
        _failed(announcement, str(exc))
        return "failed"
    except Exception as exc:  # transient, or a bug: retry a few times rather than drop it silently
        if not isinstance(exc, TransientError):
            logger.exception("announcement %s raised unexpectedly", announcement_id)
        if announcement.attempts >= MAX_ATTEMPTS:
            _failed(announcement, f"gave up after {announcement.attempts} attempts: {exc}")
            return "failed"
        retry_after = (
            getattr(exc, "retry_after", None)
            or BACKOFF_SECONDS[min(announcement.attempts, len(BACKOFF_SECONDS)) - 1]
        )
        outbox.retry_later(
            Announcement, announcement.pk, due_at=now + timedelta(seconds=retry_after), error=str(exc)
        )
        _hand_over([announcement.pk], retry_after)
        return "retry"
    outbox.finish(
        Announcement, announcement.pk, outbox.SENT, sent_at=timezone.now(), provider_id=provider_id[:100]
    )
    AnnouncementChannel.objects.filter(pk=announcement.channel_id).update(
        last_sent_at=timezone.now(), last_error="", last_error_at=None
    )
    return "sent"


def _stale(announcement: Announcement, now: datetime) -> str:
    channel = announcement.channel
    if not channel.enabled:
        return "the channel's announcements were turned off"
    if announcement.incident.suppressed:
        return "the incident was opened during maintenance"
    if now - announcement.event.created_at > STALE_AFTER:
        return "too late to be news"
    return ""


def _waits_for_channel(announcement: Announcement, now: datetime) -> bool:
    if announcement.action != AnnouncementAction.POST or announcement.event.kind not in OPENING_KINDS:
        return False
    if now - announcement.event.created_at > CHANNEL_WAIT:
        return False
    return Announcement.objects.filter(
        incident_id=announcement.incident_id,
        action=AnnouncementAction.CREATE_CHANNEL,
        status__in=[outbox.QUEUED, outbox.SENDING],
    ).exists()


def _failed(announcement: Announcement, error: str) -> None:
    """The row failed; its channel shows why until a later post goes through."""
    outbox.finish(Announcement, announcement.pk, outbox.FAILED, error=error)
    AnnouncementChannel.objects.filter(pk=announcement.channel_id).update(
        last_error=error[: outbox.MAX_ERROR_LENGTH], last_error_at=timezone.now()
    )


def bot_token_for(channel: AnnouncementChannel) -> str:
    if channel.workspace is not None:
        return channel.workspace.bot_token
    return str(settings.SLACK_BOT_TOKEN)


# --- what is posted -------------------------------------------------------------------------


def _headline(event: TimelineEvent) -> str:
    # The incident's title follows in the message itself; the headline says what happened.
    if event.kind == TimelineKind.DECLARED:
        who = person_name(event.actor_user) if event.actor_user_id else "Muster"
        return f"New incident, declared by {who}"
    if event.kind == TimelineKind.TRIGGERED:
        integration = event.actor_integration
        source = integration.name if integration is not None else "an alert"
        return f"New incident, opened by {source}"
    if event.kind == TimelineKind.STATUS_UPDATE:
        who = person_name(event.actor_user) if event.actor_user_id else "Muster"
        text = event.text.removeprefix("Status update: ")
        return f"Status update from {who}: {text}"
    return event.text


def _channel_button(incident: Incident) -> tuple[Button, ...]:
    """A link to the incident's own channel, when it has one."""
    links = [link for link in incident_chat_channels(incident=incident) if link.url]
    return (Button(action_id="incident_channel", label=links[0].name, url=links[0].url),) if links else ()


def announcement_reply(announcement: Announcement) -> Reply:
    incident = announcement.incident
    return incident_message(
        incident=incident, headline=_headline(announcement.event), extra=_channel_button(incident)
    )


def _send(channel: AnnouncementChannel, reply: Reply) -> str:
    """Post to the channel in its platform's format; the Slack message ts when there is one."""
    if channel.kind == AnnouncementKind.SLACK_CHANNEL:
        return slack_api.post_message(
            bot_token=bot_token_for(channel), channel=channel.channel_id, message=render.slack_message(reply)
        )
    if channel.kind == AnnouncementKind.SLACK_WEBHOOK:
        slack_api.post_webhook(url=channel.webhook_url, message=render.slack_message(reply))
        return ""
    if channel.kind == AnnouncementKind.MATTERMOST_WEBHOOK:
        slack_api.post_webhook(
            url=channel.webhook_url, message=render.mattermost_message(reply), provider="Mattermost"
        )
        return ""
    raise PermanentError(f"unknown announcement channel kind {channel.kind!r}")


def _post(announcement: Announcement) -> str:
    return _send(announcement.channel, announcement_reply(announcement))


def post_test_message(*, channel: AnnouncementChannel, by: Any) -> None:
    """The "send a test message" button: posts straight away, raising what Slack or Mattermost said."""
    reply = Reply(
        text=f"Test message from Muster, sent by {person_name(by)}. Incident announcements for "
        f"{channel.service or channel.team} will appear in this channel.",
        in_channel=True,
    )
    _send(channel, reply)


# --- the incident's own channel -------------------------------------------------------------


_NOT_NAME = re.compile(r"[^a-z0-9_-]+")


def incident_channel_name(incident: Incident, attempt: int = 1) -> str:
    """inc-42-checkout-is-down: lowercase letters, digits, hyphens and underscores, at most 80."""
    suffix = f"-{attempt}" if attempt > 1 else ""
    base = f"inc-{incident.number}"
    words = _NOT_NAME.sub("-", slugify(incident.title)).strip("-")
    room = SLACK_CHANNEL_NAME_MAX - len(base) - len(suffix) - 1
    if words and room > 0:
        base = f"{base}-{words[:room].rstrip('-')}"
    return base + suffix


def _slack_ids_of(users: list[Any], workspace_external_id: str) -> list[str]:
    from oncall.models import ContactMethod

    user_ids = {user.pk for user in users if user is not None}
    if not user_ids:
        return []
    identities = ChatIdentity.objects.filter(platform=ChatPlatform.SLACK, user_id__in=user_ids)
    if workspace_external_id:
        identities = identities.filter(workspace_external_id=workspace_external_id)
    found = set(identities.values_list("chat_user_id", flat=True))
    found |= set(
        ContactMethod.objects.filter(kind="slack", user_id__in=user_ids).values_list("address", flat=True)
    )
    return sorted(found)


def _create_incident_channel(announcement: Announcement) -> str:
    from incidents.services import timeline_record

    incident = announcement.incident
    existing = IncidentChannel.objects.filter(incident=incident, platform=ChatPlatform.SLACK).first()
    if existing is not None:
        return existing.channel_id
    channel = announcement.channel
    token = bot_token_for(channel)
    workspace_id = channel.workspace.external_id if channel.workspace is not None else ""
    if not workspace_id:
        workspace_id = slack_api.auth_test(bot_token=token).team_id
    channel_id = name = ""
    for attempt in range(1, 6):
        try:
            channel_id, name = slack_api.conversations_create(
                bot_token=token, name=incident_channel_name(incident, attempt)
            )
        except PermanentError as exc:
            if "name_taken" in str(exc):
                continue
            raise
        break
    if not channel_id:
        raise PermanentError(f"every channel name for {incident.reference} is taken")
    with transaction.atomic():
        IncidentChannel.objects.create(
            incident=incident,
            platform=ChatPlatform.SLACK,
            workspace_external_id=workspace_id,
            channel_id=channel_id,
            channel_name=name,
        )
        timeline_record(
            incident=incident,
            kind=TimelineKind.CHAT_CHANNEL,
            text=f"Slack channel #{name} created for {incident.reference}",
            data={"platform": ChatPlatform.SLACK, "channel_id": channel_id, "channel_name": name},
        )
    # The channel exists and is stored: what follows is a courtesy, and must not fail the row.
    people = [incident.declared_by, *(role.user for role in incident.roles.select_related("user"))]
    try:
        slack_api.conversations_invite(
            bot_token=token, channel=channel_id, users=_slack_ids_of(people, workspace_id)
        )
    except (TransientError, PermanentError) as exc:
        logger.warning("could not invite people to #%s: %s", name, exc)
    welcome = incident_message(
        incident=incident,
        headline=f"This channel is for {incident.reference}. Commands typed here apply to it, "
        "e.g. /incident ack, /incident status Rolled back; errors falling.",
    )
    try:
        slack_api.post_message(bot_token=token, channel=channel_id, message=render.slack_message(welcome))
    except (TransientError, PermanentError) as exc:
        logger.warning("could not post the incident message in #%s: %s", name, exc)
    return channel_id
