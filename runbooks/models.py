"""Runbooks: reviewed, versioned guides a responder follows, shown on the incidents that need them.

A runbook's text lives only in immutable, numbered revisions; editing adds a revision and nothing
is ever overwritten. `Runbook.current_revision` points at the newest one (the optimistic-lock
reference for concurrent edits, and what search reads).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

DEFAULT_REVIEW_INTERVAL_DAYS = 90


class Runbook(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    team = models.ForeignKey("incidents.Team", on_delete=models.CASCADE, related_name="runbooks")
    services = models.ManyToManyField("incidents.Service", blank=True, related_name="runbooks")
    # Alert-label selector: every pair must match an alert's labels, e.g.
    # {"alertname": "PgReplicationLag", "team": "db"}. Empty matches by service only.
    labels = models.JSONField(default=dict, blank=True)
    review_interval_days = models.PositiveIntegerField(default=DEFAULT_REVIEW_INTERVAL_DAYS)
    last_reviewed_at = models.DateTimeField(null=True, blank=True)
    last_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    current_revision = models.ForeignKey(
        "RunbookRevision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("runbooks:detail", kwargs={"slug": self.slug})

    def review_due_at(self) -> datetime:
        """When the runbook needs its next review: the interval after its last review (or its
        creation, when it has never been reviewed)."""
        since = self.last_reviewed_at or self.created_at
        return since + timedelta(days=self.review_interval_days)

    def review_overdue(self, now: datetime | None = None) -> bool:
        return self.review_due_at() <= (now or timezone.now())


class RunbookRevision(models.Model):
    """One immutable version of a runbook's text."""

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    body = models.TextField(help_text="Markdown.")
    note = models.CharField(max_length=300, blank=True, help_text="What changed, and why.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    restored_from = models.PositiveIntegerField(
        null=True, blank=True, help_text="The revision number this one restored."
    )

    class Meta:
        ordering = ["runbook", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["runbook", "number"], name="runbook_revision_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.runbook} r{self.number}"


class RunbookUse(models.Model):
    """A runbook attached to an incident, at the revision the responders saw. Its checklist (the
    `- [ ]` items of that revision) is ticked here; the runbook itself never changes."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="runbook_uses")
    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="uses")
    revision = models.ForeignKey(RunbookRevision, on_delete=models.PROTECT, related_name="uses")
    attached_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attached_at = models.DateTimeField(default=timezone.now)
    # After the incident: "was this runbook accurate?" (None until someone answers).
    accurate = models.BooleanField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["attached_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["incident", "runbook"], name="runbook_use_unique")]

    def __str__(self) -> str:
        return f"{self.runbook} r{self.revision.number} on incident {self.incident_id}"


class ChecklistTick(models.Model):
    """One ticked checklist item of an attached runbook: who and when."""

    use = models.ForeignKey(RunbookUse, on_delete=models.CASCADE, related_name="ticks")
    item = models.PositiveIntegerField(help_text="Index of the item in the revision's checklist.")
    text = models.CharField(max_length=500)
    ticked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ticked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["use", "item"]
        constraints = [models.UniqueConstraint(fields=["use", "item"], name="checklist_tick_unique")]

    def __str__(self) -> str:
        return f"{self.text} ✓"


class ReviewRequest(models.Model):
    """Someone asked the owners to review a runbook (e.g. it was not accurate during an incident)."""

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="review_requests")
    incident = models.ForeignKey(
        "incidents.Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["runbook"], name="review_request_open", condition=Q(closed_at__isnull=True))
        ]

    def __str__(self) -> str:
        return f"Review of {self.runbook} requested"


class ReviewReminder(models.Model):
    """The weekly "due for review" email to one team, written before it is sent: the key (team,
    ISO week) makes a restarted beat unable to send it twice."""

    key = models.CharField(max_length=100, unique=True)
    team = models.ForeignKey("incidents.Team", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.JSONField(default=list, blank=True)
    runbook_ids = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return self.key
