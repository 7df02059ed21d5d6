"""The admin is for looking things up and fixing the odd row; postmortems are written in the app,
where the services keep the timeline, audit log and read-only rules."""

from django.contrib import admin

from postmortems import models


class PostmortemSectionInline(admin.StackedInline):
    model = models.PostmortemSection
    extra = 0
    fields = ["key", "body", "updated_at", "updated_by"]
    raw_id_fields = ["updated_by"]


class PostmortemReviewerInline(admin.TabularInline):
    model = models.PostmortemReviewer
    extra = 0
    fields = ["user", "requested_by", "requested_at", "approved_at"]
    raw_id_fields = ["user", "requested_by"]


@admin.register(models.Postmortem)
class PostmortemAdmin(admin.ModelAdmin):
    list_display = ["incident", "title", "owner", "status", "due_date", "published_at"]
    list_filter = ["status", "incident__service__team"]
    list_select_related = ["incident", "owner"]
    search_fields = ["title", "incident__title", "=incident__number"]
    date_hierarchy = "created_at"
    raw_id_fields = ["incident", "owner", "created_by", "published_by"]
    readonly_fields = ["created_at", "updated_at", "timeline_imported_at", "review_requested_at"]
    inlines = [PostmortemSectionInline, PostmortemReviewerInline]


@admin.register(models.TimelineEntry)
class TimelineEntryAdmin(admin.ModelAdmin):
    list_display = ["postmortem", "occurred_at", "kind", "actor", "text", "included"]
    list_filter = ["included", "kind"]
    list_select_related = ["postmortem", "postmortem__incident"]
    search_fields = ["text", "=postmortem__incident__number"]
    raw_id_fields = ["postmortem", "source_event"]


@admin.register(models.ReviewComment)
class ReviewCommentAdmin(admin.ModelAdmin):
    list_display = ["postmortem", "section", "author", "created_at", "resolved_at"]
    list_filter = ["section"]
    list_select_related = ["postmortem", "postmortem__incident", "author"]
    search_fields = ["body", "=postmortem__incident__number"]
    raw_id_fields = ["postmortem", "author", "resolved_by"]


@admin.register(models.ActionItem)
class ActionItemAdmin(admin.ModelAdmin):
    list_display = ["title", "incident", "owner", "status", "priority", "kind", "due_date"]
    list_filter = ["status", "priority", "kind", "incident__service__team"]
    list_select_related = ["incident", "owner"]
    search_fields = ["title", "description", "=incident__number", "owner__username"]
    date_hierarchy = "created_at"
    raw_id_fields = ["incident", "owner", "created_by", "closed_by"]
    readonly_fields = ["created_at", "updated_at", "closed_at"]


@admin.register(models.Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = ["key", "kind", "user", "period", "created_at", "sent_at"]
    list_filter = ["kind"]
    list_select_related = ["user"]
    search_fields = ["key", "user__username"]
    raw_id_fields = ["user"]
    readonly_fields = ["created_at"]
