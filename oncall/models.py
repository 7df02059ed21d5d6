from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from incidents.choices import Urgency


class ShiftUnit(models.TextChoices):
    HOURS = "hours", "Hours"
    DAYS = "days", "Days"
    WEEKS = "weeks", "Weeks"


class ContactKind(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    NTFY = "ntfy", "ntfy push"
    SLACK = "slack", "Slack"
    WEBHOOK = "webhook", "Webhook"


class NotificationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Delivered"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Schedule(models.Model):
    name = models.CharField(max_length=100)
    team = models.ForeignKey("incidents.Team", on_delete=models.CASCADE, related_name="schedules")
    time_zone = models.CharField(max_length=64, default="UTC")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Layer(models.Model):
    """One rotation. Higher `position` wins over lower ones where both have someone on call."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="layers")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=100, blank=True)
    shift_count = models.PositiveIntegerField(default=1)
    shift_unit = models.CharField(max_length=10, choices=ShiftUnit.choices, default=ShiftUnit.WEEKS)
    start_date = models.DateField()
    handoff_time = models.TimeField()
    # [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}, …] in the schedule's zone.
    restrictions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["schedule", "position"]
        constraints = [models.UniqueConstraint(fields=["schedule", "position"], name="layer_position_unique")]

    def __str__(self) -> str:
        return self.name or f"Layer {self.position + 1}"


class LayerEpoch(models.Model):
    """Who rotates in a layer from a moment on. Changing participants adds an epoch, so the
    shifts before it never reshuffle."""

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="epochs")
    effective_from = models.DateTimeField()
    participants = models.JSONField(default=list, help_text="User ids in rotation order.")

    class Meta:
        ordering = ["layer", "effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["layer", "effective_from"], name="layer_epoch_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.layer} from {self.effective_from:%Y-%m-%d %H:%M}"


class Override(models.Model):
    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    replaces = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="override_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.schedule} {self.starts_at:%Y-%m-%d %H:%M}"


class EscalationPolicy(models.Model):
    name = models.CharField(max_length=100)
    team = models.ForeignKey("incidents.Team", on_delete=models.CASCADE, related_name="escalation_policies")
    repeat_count = models.PositiveIntegerField(default=0, help_text="How many times to run the steps again.")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"

    def __str__(self) -> str:
        return self.name


class EscalationStep(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    delay_minutes = models.PositiveIntegerField(default=15, help_text="Minutes before the next step fires.")
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    # Whoever is on call in the schedule at the moment the step fires.
    schedules = models.ManyToManyField(Schedule, blank=True, related_name="+")
    teams = models.ManyToManyField("incidents.Team", blank=True, related_name="+")

    class Meta:
        ordering = ["policy", "position"]
        constraints = [models.UniqueConstraint(fields=["policy", "position"], name="step_position_unique")]

    def __str__(self) -> str:
        return f"{self.policy}: step {self.position + 1}"


class ContactMethod(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods"
    )
    kind = models.CharField(max_length=10, choices=ContactKind.choices)
    address = models.CharField(max_length=500)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["user", "kind", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.address}"


class NotificationRule(models.Model):
    """ "Email at 0 min, ntfy at 1 min, SMS at 3 min": one row each, per urgency."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_rules"
    )
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.HIGH)
    contact_method = models.ForeignKey(ContactMethod, on_delete=models.CASCADE, related_name="rules")
    delay_minutes = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["user", "urgency", "delay_minutes"]

    def __str__(self) -> str:
        return f"{self.contact_method} at {self.delay_minutes} min ({self.urgency})"


class EscalationState(models.Model):
    """The timer of one triggered incident: which step fires next, and when."""

    incident = models.OneToOneField("incidents.Incident", on_delete=models.CASCADE, related_name="escalation")
    # The policy as it was when paging started, so editing it mid-incident cannot break a running escalation.
    policy_snapshot = models.JSONField(default=dict)
    step_index = models.PositiveIntegerField(default=0)
    repeat = models.PositiveIntegerField(default=0)
    next_step_at = models.DateTimeField(null=True, blank=True)
    notified_anyone = models.BooleanField(default=False)
    started_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.CharField(max_length=100, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["next_step_at"], name="escalation_due", condition=Q(closed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"Escalation of incident {self.incident_id} at step {self.step_index + 1}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def step(self, index: int) -> dict[str, Any]:
        return self.policy_snapshot["steps"][index]


class Notification(models.Model):
    """One message to one person on one channel, written before it is sent."""

    # What makes this notification unique, so that the same page can never be written twice
    # (e.g. "page:<incident>:<repeat>:<step>:<user>:<rule>").
    key = models.CharField(max_length=200, unique=True)
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="notifications")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    contact_method = models.ForeignKey(
        ContactMethod, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    # Snapshot: a contact method edited or deleted after queueing does not redirect the message.
    channel = models.CharField(max_length=10, choices=ContactKind.choices)
    address = models.CharField(max_length=500)
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    claimed_until = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    step_index = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "pk"]
        indexes = [
            models.Index(fields=["due_at"], name="notification_due", condition=Q(status="queued")),
            models.Index(
                fields=["claimed_until"], name="notification_claimed", condition=Q(status="sending")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.user} for incident {self.incident_id}"

    def is_due(self, now: datetime) -> bool:
        return self.status == NotificationStatus.QUEUED and self.due_at <= now


class CalendarFeed(models.Model):
    """A subscribable iCalendar URL: a person's shifts across schedules (schedule empty) or one
    schedule's shifts. The token in the URL is the credential; only its hash is stored, and a
    revoked feed answers 404 for ever."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    schedule = models.ForeignKey(
        Schedule, null=True, blank=True, on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    token_prefix = models.CharField(max_length=8, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["owner", "schedule", "created_at"]

    def __str__(self) -> str:
        what = self.schedule.name if self.schedule is not None else "my shifts"
        return f"Calendar feed of {what} ({self.token_prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class NudgeKind(models.TextChoices):
    BEFORE = "before", "Shift starts soon"
    START = "start", "Shift started"


class ShiftNudge(models.Model):
    """One reminder about one shift, written before it is sent. The key (kind, schedule, user,
    shift start) makes a restarted beat unable to repeat it; the beat writes every nudge whose
    window it is inside, so a beat that was down catches up instead of skipping."""

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=10, choices=NudgeKind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shift_nudges")
    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="nudges")
    shift_start = models.DateTimeField()
    shift_end = models.DateTimeField()
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "pk"]
        indexes = [
            models.Index(fields=["due_at"], name="nudge_due", condition=Q(status="queued")),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()}: {self.user} on {self.schedule} at {self.shift_start:%Y-%m-%d %H:%M}"
        )
