"""Every change to an incident goes through one of these functions.

The web UI, the REST API, ingestion and (later) the chat bot all call the same function for the
same action. Each runs in one transaction, writes its timeline event in it, returns early when
nothing changes, and raises a DomainError subclass for transitions that make no sense.

Actors: a user, an Integration (an alert source), or None for Muster itself.
"""

from incidents.services.alerts import (
    IngestOutcome,
    IngestResult,
    alert_ingest,
    alert_ingest_batch,
    alert_update_text,
    change_event_record,
)
from incidents.services.config import (
    api_token_create,
    audit_record,
    integration_create,
    integration_update,
    maintenance_window_create,
    service_create,
    service_update,
)
from incidents.services.errors import DomainError, InvalidTransition
from incidents.services.heartbeat import heartbeat_ping, heartbeats_check
from incidents.services.lifecycle import (
    incident_acknowledge,
    incident_add_note,
    incident_assign_role,
    incident_declare,
    incident_mark_mitigated,
    incident_post_status_update,
    incident_resolve,
    incident_set_severity,
    maintenance_active,
    timeline_record,
)

__all__ = [
    "DomainError",
    "IngestOutcome",
    "IngestResult",
    "InvalidTransition",
    "alert_ingest",
    "alert_ingest_batch",
    "alert_update_text",
    "api_token_create",
    "audit_record",
    "change_event_record",
    "heartbeat_ping",
    "heartbeats_check",
    "incident_acknowledge",
    "incident_add_note",
    "incident_assign_role",
    "incident_declare",
    "incident_mark_mitigated",
    "incident_post_status_update",
    "incident_resolve",
    "incident_set_severity",
    "integration_create",
    "integration_update",
    "maintenance_active",
    "maintenance_window_create",
    "service_create",
    "service_update",
    "timeline_record",
]
