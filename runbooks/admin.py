"""Read-mostly admin: runbook text changes only through revisions (the services), never here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from runbooks.models import ReviewReminder, ReviewRequest, Runbook, RunbookRevision, RunbookUse


class RevisionInline(admin.TabularInline):
    model = RunbookRevision
    fields = ("number", "note", "author", "created_at", "restored_from")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Runbook)
class RunbookAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "team", "review_interval_days", "last_reviewed_at", "updated_at")
    list_filter = ("team",)
    search_fields = ("title", "slug")
    readonly_fields = ("current_revision", "created_at", "updated_at", "last_reviewed_at", "last_reviewed_by")
    filter_horizontal = ("services",)
    inlines = [RevisionInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a runbook needs its first revision: create it in Muster or with import_runbooks


@admin.register(RunbookRevision)
class RunbookRevisionAdmin(admin.ModelAdmin):
    list_display = ("runbook", "number", "author", "created_at", "note")
    search_fields = ("runbook__title", "note")
    list_select_related = ("runbook", "author")

    # Revisions are immutable history.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RunbookUse)
class RunbookUseAdmin(admin.ModelAdmin):
    list_display = ("runbook", "incident", "revision", "attached_by", "attached_at", "accurate")
    list_select_related = ("runbook", "incident", "revision", "attached_by")
    raw_id_fields = ("incident", "runbook", "revision")


@admin.register(ReviewRequest)
class ReviewRequestAdmin(admin.ModelAdmin):
    list_display = ("runbook", "requested_by", "created_at", "closed_at")
    list_filter = (("closed_at", admin.EmptyFieldListFilter),)
    list_select_related = ("runbook", "requested_by")
    raw_id_fields = ("incident",)


@admin.register(ReviewReminder)
class ReviewReminderAdmin(admin.ModelAdmin):
    list_display = ("key", "team", "created_at", "sent_at")
    readonly_fields = ("key", "team", "created_at", "sent_at", "recipients", "runbook_ids")
