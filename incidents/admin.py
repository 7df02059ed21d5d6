from django.contrib import admin

from incidents import models


@admin.register(models.Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(models.Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["team", "user", "role"]
    list_filter = ["team", "role"]


@admin.register(models.Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "team"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(models.Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ["name", "service", "kind", "key_prefix", "enabled"]
    list_filter = ["kind", "enabled"]
    readonly_fields = ["key_prefix", "key_hash"]


@admin.register(models.Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["number", "title", "service", "severity", "status", "created_at"]
    list_filter = ["status", "severity", "service"]
    search_fields = ["title"]
    readonly_fields = ["number"]


@admin.register(models.MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    list_display = ["service", "starts_at", "ends_at", "reason"]


@admin.register(models.AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor", "action", "object_repr"]
    list_filter = ["action"]
    readonly_fields = ["created_at", "actor", "action", "object_type", "object_id", "object_repr", "data"]
