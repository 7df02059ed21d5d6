"""Postmortems and their action items.

A postmortem belongs to one incident and is written in the blameless template's sections (Markdown,
rendered and sanitised like runbooks). Its timeline is copied from the incident's timeline and can
be edited; re-importing adds the events that happened since without touching edited entries.
Action items belong to the incident, so they can be written down before the postmortem exists, and
stay editable after it is published. Reminder rows are the weekly digests and due-date nudges,
written before they are sent so that no beat can send one twice.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from postmortems.choices import (
    OPEN_ACTION_ITEM_STATUSES,
    ActionItemKind,
    ActionItemPriority,
    ActionItemStatus,
    PostmortemStatus,
    ReminderKind,
    SectionKey,
)


class Postmortem(models.Model):
    incident = models.OneToOneField("incidents.Incident", on_delete=models.CASCADE, related_name="postmortem")
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_postmortems",
    )
    status = models.CharField(max_length=20, choices=PostmortemStatus.choices, default=PostmortemStatus.DRAFT)
    due_date = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # When the incident's timeline was last copied in; a re-import adds only events after the ones
    # already imported (matched by event id), so edits survive.
    timeline_imported_at = models.DateTimeField(null=True, blank=True)
    review_requested_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["due_date"],
                name="postmortem_unpublished_due",
                condition=~Q(status=PostmortemStatus.PUBLISHED) & Q(due_date__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"Postmortem of INC-{self.incident.number}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("postmortems:detail", kwargs={"number": self.incident.number})

    @property
    def is_published(self) -> bool:
        return self.status == PostmortemStatus.PUBLISHED

    def is_overdue(self, today: date) -> bool:
        """Past its due date and not published (`today` in the viewer's or owner's time zone)."""
        return not self.is_published and self.due_date is not None and self.due_date < today


class PostmortemSection(models.Model):
    """One section of the blameless template, as Markdown."""

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="sections")
    key = models.CharField(max_length=30, choices=SectionKey.choices)
    body = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["postmortem", "key"], name="postmortem_section_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_key_display()} of {self.postmortem_id}"


class TimelineEntry(models.Model):
    """One line of the postmortem's timeline: copied from an incident timeline event (then
    editable), or written by hand (`source_event` empty)."""

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="timeline_entries")
    occurred_at = models.DateTimeField()
    text = models.TextField()
    # Imported entries remember their event and its text: a re-import skips events it already has,
    # and "edited" is simply text != source_text.
    source_event = models.ForeignKey(
        "incidents.TimelineEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_text = models.TextField(blank=True)
    kind = models.CharField(max_length=30, blank=True, help_text="The incident event's kind, if imported.")
    actor = models.CharField(max_length=150, blank=True)
    included = models.BooleanField(default=True, help_text="Shown in the postmortem and its export.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "pk"]
        verbose_name_plural = "timeline entries"
        constraints = [
            models.UniqueConstraint(
                fields=["postmortem", "source_event"],
                condition=Q(source_event__isnull=False),
                name="postmortem_timeline_event_once",
            )
        ]

    def __str__(self) -> str:
        return self.text

    @property
    def edited(self) -> bool:
        return self.source_event_id is not None and self.text != self.source_text


class PostmortemReviewer(models.Model):
    """A person asked to review the postmortem, and when they approved it."""

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="reviewers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["postmortem", "user"], name="postmortem_reviewer_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} reviews {self.postmortem_id}"


class ReviewComment(models.Model):
    """A reviewer's comment on one section."""

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="comments")
    section = models.CharField(max_length=30, choices=SectionKey.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.body[:60]


class ActionItemQuerySet(models.QuerySet["ActionItem"]):
    def open(self) -> ActionItemQuerySet:
        return self.filter(status__in=OPEN_ACTION_ITEM_STATUSES)

    def overdue(self, today: date) -> ActionItemQuerySet:
        return self.open().filter(due_date__lt=today)


class ActionItem(models.Model):
    """Follow-up work from an incident. It belongs to the incident, not the postmortem, so it can be
    written down during the incident and stays editable after the postmortem is published."""

    ALLOWED_TRANSITIONS: ClassVar[dict[str, set[str]]] = {
        ActionItemStatus.OPEN: {
            ActionItemStatus.IN_PROGRESS,
            ActionItemStatus.DONE,
            ActionItemStatus.WONT_DO,
        },
        ActionItemStatus.IN_PROGRESS: {
            ActionItemStatus.OPEN,
            ActionItemStatus.DONE,
            ActionItemStatus.WONT_DO,
        },
        # Closed items can be reopened (the fix did not hold); nothing else.
        ActionItemStatus.DONE: {ActionItemStatus.OPEN},
        ActionItemStatus.WONT_DO: {ActionItemStatus.OPEN},
    }

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="action_items",
    )
    due_date = models.DateField(null=True, blank=True)
    priority = models.CharField(
        max_length=10, choices=ActionItemPriority.choices, default=ActionItemPriority.MEDIUM
    )
    kind = models.CharField(max_length=10, choices=ActionItemKind.choices, default=ActionItemKind.PREVENT)
    status = models.CharField(max_length=20, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN)
    tracker_url = models.URLField(max_length=500, blank=True, help_text="Jira, Linear or GitHub link.")
    # Required when a high-priority item is closed as done: how we know the fix works.
    verification = models.TextField(blank=True)
    wont_do_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ActionItemQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "pk"]
        indexes = [
            models.Index(fields=["owner", "status"]),
            models.Index(fields=["status", "due_date"]),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("postmortems:action_item_detail", kwargs={"pk": self.pk})

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ACTION_ITEM_STATUSES

    def can_transition_to(self, status: str) -> bool:
        return status in self.ALLOWED_TRANSITIONS[self.status]

    def is_overdue(self, today: date) -> bool:
        return self.is_open and self.due_date is not None and self.due_date < today

    def days_overdue(self, today: date) -> int:
        if not self.is_overdue(today) or self.due_date is None:
            return 0
        return (today - self.due_date).days


class Reminder(models.Model):
    """One reminder email (weekly digest, manager summary, due nudge), written before it is sent.

    The unique key names the person and the period or subject, e.g. `digest:7:2026-W48` or
    `item_due:31:2026-11-30`, so a restarted or doubled beat finds the row and sends nothing.
    """

    key = models.CharField(max_length=150, unique=True)
    kind = models.CharField(max_length=30, choices=ReminderKind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=20, help_text="ISO week (2026-W48) or date the reminder is for.")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.key
