from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from incidents.choices import (
    AlertStatus,
    IncidentRoleKind,
    IncidentStatus,
    IntegrationKind,
    Role,
    Severity,
    TimelineKind,
    Urgency,
)

KEY_PREFIX_LENGTH = 8


def person_name(user: Any) -> str:
    """How Muster names a person everywhere: the full name, else the username."""
    return str(user.get_full_name() or user.get_username())


def person_zone(user: Any) -> ZoneInfo:
    """The time zone a person reads times in: their profile's, else the installation's."""
    profile = getattr(user, "profile", None) if getattr(user, "is_authenticated", False) else None
    for name in (getattr(profile, "time_zone", ""), settings.TIME_ZONE):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def hash_secret(secret: str) -> str:
    """Keys and tokens carry 128+ random bits, so a plain SHA-256 is enough (no slow KDF needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.IntegerField(choices=Role.choices, default=Role.RESPONDER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.get_role_display()})"


class Service(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="services")
    escalation_policy = models.ForeignKey(
        "oncall.EscalationPolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="services"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("incidents:service_detail", kwargs={"slug": self.slug})


class Integration(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="integrations")
    kind = models.CharField(max_length=20, choices=IntegrationKind.choices)
    name = models.CharField(max_length=100)
    key_prefix = models.CharField(max_length=KEY_PREFIX_LENGTH, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    enabled = models.BooleanField(default=True)
    auto_resolve = models.BooleanField(
        default=True, help_text="Resolve the incident when every alert in it has resolved."
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Events per minute; empty uses the installation default, 0 is unlimited.",
    )
    # Generic webhook only: where to find fields in the sender's JSON, as dotted paths.
    config = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Heartbeat only: the monitor pings at least this often. The timer is `heartbeat_due_at`, set
    # on each ping; the engine tick triggers an incident when it passes without a ping.
    heartbeat_interval_minutes = models.PositiveIntegerField(null=True, blank=True)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    heartbeat_due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["service__name", "name"]
        indexes = [
            models.Index(
                fields=["heartbeat_due_at"],
                name="heartbeat_due",
                condition=Q(heartbeat_due_at__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.service}: {self.name}"

    def get_absolute_url(self) -> str:
        return (
            reverse("incidents:service_detail", kwargs={"slug": self.service.slug})
            + f"#integration-{self.pk}"
        )

    @staticmethod
    def new_key() -> str:
        # 32 hex characters: the shape of a PagerDuty routing key, which some senders validate.
        return secrets.token_hex(16)

    def set_key(self, key: str) -> None:
        self.key_prefix = key[:KEY_PREFIX_LENGTH]
        self.key_hash = hash_secret(key)

    @property
    def effective_rate_limit(self) -> int:
        if self.rate_limit_per_minute is None:
            return settings.MUSTER_INGEST_RATE_LIMIT_PER_MINUTE
        return self.rate_limit_per_minute


class IncidentQuerySet(models.QuerySet["Incident"]):
    def open(self) -> IncidentQuerySet:
        return self.exclude(status=IncidentStatus.RESOLVED)


class Incident(models.Model):
    ALLOWED_TRANSITIONS: ClassVar[dict[str, set[str]]] = {
        IncidentStatus.TRIGGERED: {IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESOLVED},
        IncidentStatus.ACKNOWLEDGED: {IncidentStatus.RESOLVED},
        IncidentStatus.RESOLVED: set(),
    }

    number = models.PositiveIntegerField(unique=True, editable=False)
    title = models.CharField(max_length=1024)
    description = models.TextField(blank=True)
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="incidents")
    severity = models.IntegerField(choices=Severity.choices, default=Severity.SEV3)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.HIGH)
    status = models.CharField(max_length=20, choices=IncidentStatus.choices, default=IncidentStatus.TRIGGERED)
    suppressed = models.BooleanField(
        default=False, help_text="Opened during a maintenance window: recorded, but nobody is paged."
    )
    # Alerts that belong together (one PagerDuty dedup key, one Alertmanager group) share an incident
    # while it is open. Empty for incidents declared by people.
    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    group_key = models.CharField(max_length=255, blank=True, default="")
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    impact_started_at = models.DateTimeField(null=True, blank=True)
    detected_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        indexes = [
            models.Index(fields=["status", "-number"]),
            models.Index(fields=["service", "-number"]),
        ]
        constraints = [
            # At most one open incident per alert group: this is what makes concurrent triggers with
            # the same dedup key end in exactly one incident.
            models.UniqueConstraint(
                fields=["integration", "group_key"],
                condition=~Q(status=IncidentStatus.RESOLVED) & ~Q(group_key=""),
                name="incident_one_open_per_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("incidents:detail", kwargs={"number": self.number})

    @property
    def reference(self) -> str:
        return f"INC-{self.number}"

    @property
    def is_open(self) -> bool:
        return self.status != IncidentStatus.RESOLVED

    def can_transition_to(self, status: str) -> bool:
        return status in self.ALLOWED_TRANSITIONS[self.status]

    # Durations a manager reads off the incident; None when the moment has not happened.
    @property
    def time_to_detect(self) -> timedelta | None:
        if self.impact_started_at is None:
            return None
        return max(self.detected_at - self.impact_started_at, timedelta(0))

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        return self._since_detected(self.acknowledged_at)

    @property
    def time_to_mitigate(self) -> timedelta | None:
        return self._since_detected(self.mitigated_at)

    @property
    def time_to_resolve(self) -> timedelta | None:
        return self._since_detected(self.resolved_at)

    def _since_detected(self, moment: datetime | None) -> timedelta | None:
        if moment is None:
            return None
        return max(moment - self.detected_at, timedelta(0))


class IncidentRole(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=20, choices=IncidentRoleKind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "role"], name="incident_role_unique")]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.user}"


class Alert(models.Model):
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="alerts")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="alerts")
    dedup_key = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=AlertStatus.choices, default=AlertStatus.FIRING)
    severity = models.IntegerField(choices=Severity.choices, default=Severity.SEV3)
    summary = models.CharField(max_length=1024)
    source = models.CharField(max_length=512, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    details = models.JSONField(default=dict, blank=True)
    links = models.JSONField(default=list, blank=True)
    raw_payload = models.JSONField(default=dict, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    repeat_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "dedup_key"],
                condition=Q(status=AlertStatus.FIRING),
                name="alert_one_firing_per_dedup_key",
            ),
        ]
        indexes = [models.Index(fields=["integration", "dedup_key"])]

    def __str__(self) -> str:
        return self.summary

    def get_absolute_url(self) -> str:
        return self.incident.get_absolute_url() + f"#alert-{self.pk}"


class TimelineEvent(models.Model):
    """Append-only: what happened on an incident, when, and who or what did it."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=30, choices=TimelineKind.choices)
    text = models.TextField()
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.text

    @property
    def actor_name(self) -> str:
        if self.actor_user_id is not None and self.actor_user is not None:
            return person_name(self.actor_user)
        if self.actor_integration_id is not None and self.actor_integration is not None:
            return self.actor_integration.name
        return "Muster"


class ChangeEvent(models.Model):
    """A deploy or config change reported through PagerDuty's change events: context, never a page."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="change_events")
    integration = models.ForeignKey(Integration, null=True, on_delete=models.SET_NULL, related_name="+")
    summary = models.CharField(max_length=1024)
    source = models.CharField(max_length=512, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    received_at = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True)
    links = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return self.summary


class MaintenanceWindow(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="maintenance_windows")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="maintenance_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.service} maintenance {self.starts_at:%Y-%m-%d %H:%M} to {self.ends_at:%Y-%m-%d %H:%M}"

    def get_absolute_url(self) -> str:
        return self.service.get_absolute_url() + "#maintenance"

    def covers(self, moment: datetime) -> bool:
        return self.starts_at <= moment < self.ends_at


class Profile(models.Model):
    """A person's preferences: their time zone (for shift times and weekly emails), how long
    before a shift they want to be told about it, and whether they want the weekly digest of their
    action items."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    time_zone = models.CharField(max_length=64, default="UTC")
    shift_nudges = models.BooleanField(default=True, help_text="Tell me before my on-call shifts start.")
    shift_nudge_minutes = models.PositiveIntegerField(
        default=60, help_text="How long before a shift starts to tell me."
    )
    action_item_digest = models.BooleanField(
        default=True, help_text="Email me a weekly digest of my open action items."
    )

    def __str__(self) -> str:
        return f"Profile of {self.user}"


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=KEY_PREFIX_LENGTH, db_index=True, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def new_token() -> str:
        return "mst_" + secrets.token_urlsafe(32)


class Counter(models.Model):
    """Per-installation sequences (incident numbers) that never skip on rollback."""

    name = models.CharField(max_length=50, primary_key=True)
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class EngineHeartbeat(models.Model):
    """When the beat-driven tick last ran; /readyz fails when it is stale."""

    name = models.CharField(max_length=50, primary_key=True)
    last_tick_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.last_tick_at:%H:%M:%S}"


class AuditEntry(models.Model):
    """Who changed which configuration, and how. Written by the service that made the change."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=50)
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=50)
    object_repr = models.CharField(max_length=200)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.action} {self.object_repr}"


# Chat-ops models live in their own module; importing them here registers them with this app.
from incidents.chatops.models import (  # noqa: E402
    Announcement,
    AnnouncementChannel,
    ChatEventReceipt,
    ChatIdentity,
    ChatPlatform,
    ChatWorkspace,
    IncidentChannel,
)

__all__ = [
    "Announcement",
    "AnnouncementChannel",
    "ChatEventReceipt",
    "ChatIdentity",
    "ChatPlatform",
    "ChatWorkspace",
    "IncidentChannel",
]
