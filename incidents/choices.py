from django.db import models


class Role(models.IntegerChoices):
    """Team roles, ordered: each role can do everything the ones below it can."""

    VIEWER = 10, "Viewer"
    RESPONDER = 20, "Responder"
    MANAGER = 30, "Manager"
    ADMIN = 40, "Admin"


class IntegrationKind(models.TextChoices):
    NATIVE = "native", "Muster API"
    PAGERDUTY = "pagerduty", "PagerDuty Events API v2"
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GRAFANA = "grafana", "Grafana alerting"
    OPSGENIE = "opsgenie", "Opsgenie alert API"
    WEBHOOK = "webhook", "Generic webhook"
    HEARTBEAT = "heartbeat", "Heartbeat monitor"


class AlertStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class Severity(models.IntegerChoices):
    SEV1 = 1, "SEV1"
    SEV2 = 2, "SEV2"
    SEV3 = 3, "SEV3"
    SEV4 = 4, "SEV4"


class Urgency(models.TextChoices):
    HIGH = "high", "High"
    LOW = "low", "Low"


class IncidentStatus(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class IncidentRoleKind(models.TextChoices):
    COMMANDER = "commander", "Incident commander"
    COMMUNICATIONS = "communications", "Communications lead"
    SCRIBE = "scribe", "Scribe"


class TimelineKind(models.TextChoices):
    DECLARED = "declared", "Declared"
    TRIGGERED = "triggered", "Triggered by alert"
    ALERT_ADDED = "alert_added", "Alert added"
    ALERT_RESOLVED = "alert_resolved", "Alert resolved"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    MITIGATED = "mitigated", "Mitigated"
    RESOLVED = "resolved", "Resolved"
    SEVERITY_CHANGED = "severity_changed", "Severity changed"
    ROLE_ASSIGNED = "role_assigned", "Role assigned"
    NOTE = "note", "Note"
    SUPPRESSED = "suppressed", "Suppressed by maintenance"
    CHANGE = "change", "Change event"
    PAGED = "paged", "Paged"
    PAGE_FAILED = "page_failed", "Page failed"
    ESCALATED = "escalated", "Escalated"
    NOBODY_ON_CALL = "nobody_on_call", "Nobody on call"
    ESCALATION_EXHAUSTED = "escalation_exhausted", "Escalation exhausted"
    RUNBOOK_ATTACHED = "runbook_attached", "Runbook attached"
    CHECKLIST_TICKED = "checklist_ticked", "Checklist item ticked"
    RUNBOOK_FEEDBACK = "runbook_feedback", "Runbook feedback"
    ACTION_ITEM_ADDED = "action_item_added", "Action item added"
    POSTMORTEM_STARTED = "postmortem_started", "Postmortem started"
    POSTMORTEM_PUBLISHED = "postmortem_published", "Postmortem published"
    STATUS_UPDATE = "status_update", "Status update"
    CHAT_CHANNEL = "chat_channel", "Chat channel created"
