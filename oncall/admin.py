from django.contrib import admin

from oncall import models


class LayerInline(admin.StackedInline):
    model = models.Layer
    extra = 0


@admin.register(models.Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "time_zone"]
    inlines = [LayerInline]


@admin.register(models.LayerEpoch)
class LayerEpochAdmin(admin.ModelAdmin):
    list_display = ["layer", "effective_from", "participants"]


@admin.register(models.Override)
class OverrideAdmin(admin.ModelAdmin):
    list_display = ["schedule", "user", "replaces", "starts_at", "ends_at"]


class StepInline(admin.TabularInline):
    model = models.EscalationStep
    extra = 0


@admin.register(models.EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "repeat_count"]
    inlines = [StepInline]


@admin.register(models.ContactMethod)
class ContactMethodAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "address"]


@admin.register(models.NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    list_display = ["user", "urgency", "contact_method", "delay_minutes"]


@admin.register(models.Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["incident", "user", "channel", "status", "due_at", "attempts"]
    list_filter = ["status", "channel"]
    readonly_fields = [f.name for f in models.Notification._meta.fields]


@admin.register(models.EscalationState)
class EscalationStateAdmin(admin.ModelAdmin):
    list_display = ["incident", "step_index", "repeat", "next_step_at", "closed_at"]
