from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from incidents.choices import AlertStatus, IncidentRoleKind, IncidentStatus, Severity, TimelineKind
from incidents.ingest.events import AlertEvent
from incidents.models import Alert, AuditEntry, Counter, Incident, hash_secret
from incidents.services import (
    DomainError,
    IngestOutcome,
    InvalidTransition,
    alert_ingest,
    alert_ingest_batch,
    incident_acknowledge,
    incident_add_note,
    incident_assign_role,
    incident_declare,
    incident_mark_mitigated,
    incident_resolve,
    incident_set_severity,
    integration_create,
    integration_update,
    maintenance_window_create,
    service_update,
)
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db


def trigger(key: str, group: str | None = None, summary: str = "Disk full on db-1") -> AlertEvent:
    return AlertEvent(action="trigger", dedup_key=key, group_key=group or key, summary=summary)


def kinds(incident: Incident) -> list[str]:
    return list(incident.timeline.values_list("kind", flat=True))


class TestDeclare:
    def test_declared_incidents_get_consecutive_numbers_and_a_timeline_entry(self, service, responder):
        first = incident_declare(
            service=service, title="Checkout down", actor=responder, severity=Severity.SEV1
        )
        second = incident_declare(service=service, title="Slow search", actor=responder)
        assert second.number == first.number + 1
        assert first.reference == f"INC-{first.number}"
        assert kinds(first) == [TimelineKind.DECLARED]
        assert "rosa declared" in first.timeline.get().text.lower() or "declared" in first.timeline.get().text

    def test_blank_title_is_refused(self, service, responder):
        with pytest.raises(DomainError, match="title"):
            incident_declare(service=service, title="   ", actor=responder)

    def test_declaring_during_maintenance_marks_the_incident_suppressed(self, service, responder):
        now = timezone.now()
        maintenance_window_create(
            service=service,
            starts_at=now - timedelta(minutes=5),
            ends_at=now + timedelta(hours=1),
            reason="DB upgrade",
            actor=responder,
        )
        incident = incident_declare(service=service, title="Checkout down", actor=responder)
        assert incident.suppressed
        assert TimelineKind.SUPPRESSED in kinds(incident)


class TestLifecycle:
    def test_acknowledge_then_resolve_records_both_moments(self, service, responder):
        incident = incident_declare(service=service, title="Checkout down", actor=responder)
        incident = incident_acknowledge(incident=incident, actor=responder)
        assert incident.status == IncidentStatus.ACKNOWLEDGED
        assert incident.time_to_acknowledge is not None
        incident = incident_resolve(incident=incident, actor=responder)
        assert incident.status == IncidentStatus.RESOLVED
        assert incident.time_to_resolve >= incident.time_to_acknowledge
        assert kinds(incident)[-2:] == [TimelineKind.ACKNOWLEDGED, TimelineKind.RESOLVED]

    def test_acknowledging_twice_writes_one_timeline_entry(self, service, responder):
        incident = incident_declare(service=service, title="Checkout down", actor=responder)
        incident_acknowledge(incident=incident, actor=responder)
        incident_acknowledge(incident=incident, actor=responder)
        assert kinds(incident).count(TimelineKind.ACKNOWLEDGED) == 1

    def test_a_resolved_incident_cannot_be_acknowledged(self, service, responder):
        incident = incident_declare(service=service, title="Checkout down", actor=responder)
        incident_resolve(incident=incident, actor=responder)
        with pytest.raises(InvalidTransition, match="cannot be acknowledged"):
            incident_acknowledge(incident=incident, actor=responder)

    def test_mitigate_severity_note_and_role_each_leave_a_trace(self, service, responder, manager):
        incident = incident_declare(service=service, title="Checkout down", actor=responder)
        incident_mark_mitigated(incident=incident, actor=responder)
        incident_set_severity(incident=incident, severity=Severity.SEV1, actor=responder)
        incident_add_note(incident=incident, text="Rolled back deploy 1432", actor=responder)
        incident_assign_role(
            incident=incident, role=IncidentRoleKind.COMMANDER, user=manager, actor=responder
        )
        incident.refresh_from_db()
        assert incident.mitigated_at is not None
        assert incident.severity == Severity.SEV1
        assert kinds(incident)[1:] == [
            TimelineKind.MITIGATED,
            TimelineKind.SEVERITY_CHANGED,
            TimelineKind.NOTE,
            TimelineKind.ROLE_ASSIGNED,
        ]
        assert incident.roles.get().user == manager

    def test_setting_the_same_severity_changes_nothing(self, service, responder):
        incident = incident_declare(service=service, title="x", actor=responder, severity=Severity.SEV2)
        incident_set_severity(incident=incident, severity=Severity.SEV2, actor=responder)
        assert kinds(incident) == [TimelineKind.DECLARED]

    def test_unknown_severity_is_refused(self, service, responder):
        incident = incident_declare(service=service, title="x", actor=responder)
        with pytest.raises(DomainError, match="Severity"):
            incident_set_severity(incident=incident, severity=7, actor=responder)


class TestAlertIngest:
    def test_first_trigger_opens_an_incident_and_repeats_only_bump_the_alert(self):
        integration = IntegrationFactory()
        first = alert_ingest(integration=integration, event=trigger("db-1/disk"))
        again = alert_ingest(integration=integration, event=trigger("db-1/disk"))
        assert first.outcome == IngestOutcome.OPENED_INCIDENT
        assert again.outcome == IngestOutcome.REPEATED
        alert = Alert.objects.get()
        assert alert.repeat_count == 1
        assert Incident.objects.count() == 1
        assert kinds(first.incident) == [TimelineKind.TRIGGERED]

    def test_after_resolve_the_same_key_opens_a_new_incident(self):
        integration = IntegrationFactory()
        alert_ingest(integration=integration, event=trigger("k"))
        resolved = alert_ingest(
            integration=integration, event=AlertEvent(action="resolve", dedup_key="k", group_key="k")
        )
        assert resolved.outcome == IngestOutcome.RESOLVED
        reopened = alert_ingest(integration=integration, event=trigger("k"))
        assert reopened.outcome == IngestOutcome.OPENED_INCIDENT
        assert Incident.objects.count() == 2

    def test_ack_and_resolve_for_unknown_keys_are_dropped(self):
        integration = IntegrationFactory()
        for action in ("acknowledge", "resolve"):
            result = alert_ingest(
                integration=integration, event=AlertEvent(action=action, dedup_key="nope", group_key="nope")
            )
            assert result.outcome == IngestOutcome.DROPPED
        assert Incident.objects.count() == 0

    def test_ack_event_acknowledges_the_incident(self):
        integration = IntegrationFactory()
        opened = alert_ingest(integration=integration, event=trigger("k"))
        alert_ingest(
            integration=integration, event=AlertEvent(action="acknowledge", dedup_key="k", group_key="k")
        )
        opened.incident.refresh_from_db()
        assert opened.incident.status == IncidentStatus.ACKNOWLEDGED

    def test_a_group_resolves_only_when_its_last_alert_resolves(self):
        integration = IntegrationFactory()
        alert_ingest_batch(integration=integration, events=[trigger("a", "grp"), trigger("b", "grp")])
        incident = Incident.objects.get()
        assert incident.alerts.count() == 2
        alert_ingest(
            integration=integration, event=AlertEvent(action="resolve", dedup_key="a", group_key="grp")
        )
        incident.refresh_from_db()
        assert incident.status == IncidentStatus.TRIGGERED
        alert_ingest(
            integration=integration, event=AlertEvent(action="resolve", dedup_key="b", group_key="grp")
        )
        incident.refresh_from_db()
        assert incident.status == IncidentStatus.RESOLVED

    def test_without_auto_resolve_the_incident_stays_open(self):
        integration = IntegrationFactory(auto_resolve=False)
        alert_ingest(integration=integration, event=trigger("a"))
        alert_ingest(
            integration=integration, event=AlertEvent(action="resolve", dedup_key="a", group_key="a")
        )
        assert Incident.objects.get().status == IncidentStatus.TRIGGERED
        assert Alert.objects.get().status == AlertStatus.RESOLVED

    def test_resolving_the_incident_by_hand_resolves_its_alerts(self, responder):
        integration = IntegrationFactory()
        opened = alert_ingest(integration=integration, event=trigger("k"))
        incident_resolve(incident=opened.incident, actor=responder)
        assert Alert.objects.get().status == AlertStatus.RESOLVED

    def test_same_dedup_key_on_another_integration_is_another_alert(self):
        one, two = IntegrationFactory(), IntegrationFactory()
        alert_ingest(integration=one, event=trigger("k"))
        alert_ingest(integration=two, event=trigger("k"))
        assert Incident.objects.count() == 2


def test_integration_key_is_returned_once_and_stored_hashed(service):
    integration, key = integration_create(service=service, kind="pagerduty", actor=None)
    assert len(key) == 32
    assert integration.key_hash == hash_secret(key)
    assert key not in (integration.key_hash, integration.key_prefix)
    assert integration.name == "PagerDuty Events API v2"


def test_configuration_changes_are_audited_with_who_made_them(service, manager):
    integration, _ = integration_create(service=service, kind="alertmanager", actor=manager)
    now = timezone.now()
    window = maintenance_window_create(
        service=service, starts_at=now, ends_at=now + timedelta(hours=1), reason="upgrade", actor=manager
    )
    entries = {(e.action, e.object_id, e.actor_id) for e in AuditEntry.objects.all()}
    assert entries == {
        ("integration.create", str(integration.pk), manager.pk),
        ("maintenance.create", str(window.pk), manager.pk),
    }


def test_service_and_integration_updates_are_audited_only_when_something_changed(service, manager):
    integration, _ = integration_create(service=service, kind="native", actor=manager)
    integration_update(integration=integration, actor=manager, enabled=False, name=integration.name)
    integration_update(integration=integration, actor=manager, enabled=False)
    service_update(service=service, actor=manager, description="Cart and payment")
    updates = list(AuditEntry.objects.exclude(action="integration.create").values_list("action", "data"))
    assert sorted(updates) == [
        ("integration.update", {"enabled": [True, False]}),
        ("service.update", {"description": ["", "Cart and payment"]}),
    ]


def test_a_service_slug_cannot_be_changed(service, manager):
    with pytest.raises(DomainError, match="Cannot change slug"):
        service_update(service=service, actor=manager, slug="renamed")


def test_a_rolled_back_declare_does_not_use_up_a_number(service, responder):
    first = incident_declare(service=service, title="First", actor=responder)

    def declare_then_fail() -> None:
        with transaction.atomic():
            incident_declare(service=service, title="Rolled back", actor=responder)
            raise RuntimeError("the caller failed after declaring")

    with pytest.raises(RuntimeError):
        declare_then_fail()
    second = incident_declare(service=service, title="Second", actor=responder)
    assert second.number == first.number + 1


def test_numbering_starts_again_when_the_counter_row_is_missing(service, responder):
    Counter.objects.all().delete()
    assert incident_declare(service=service, title="x", actor=responder).number == 1
    assert incident_declare(service=service, title="y", actor=responder).number == 2


def test_integration_settings_are_checked_when_saved(service, manager):
    with pytest.raises(DomainError, match="Unknown setting 'titel_path'"):
        integration_create(service=service, kind="webhook", config={"titel_path": "x"}, actor=manager)
    integration, _ = integration_create(
        service=service, kind="webhook", config={"title_path": "a.b"}, actor=manager
    )
    with pytest.raises(DomainError, match="must be a list of strings"):
        integration_update(integration=integration, actor=manager, config={"resolve_values": "ok"})


@pytest.mark.django_db
def test_an_action_taken_through_chat_records_the_platform_and_chat_user_on_the_timeline(service, responder):
    from incidents.services import incident_acknowledge, incident_declare
    from incidents.services.origin import acting_via

    incident = incident_declare(service=service, title="Checkout down", actor=responder)
    with acting_via(platform="slack", chat_user_id="U0ABC123", chat_user_name="rosa"):
        incident_acknowledge(incident=incident, actor=responder)

    ack = incident.timeline.get(kind="acknowledged")
    assert ack.data["via"] == {"platform": "slack", "chat_user_id": "U0ABC123", "chat_user_name": "rosa"}
    assert "via" not in incident.timeline.get(kind="declared").data


def test_a_status_update_is_recorded_on_the_timeline_apart_from_notes(service, responder):
    from incidents.services import incident_post_status_update

    incident = incident_declare(service=service, title="Checkout down", actor=responder)
    event = incident_post_status_update(
        incident=incident, text="  Rolled back; error rate falling  ", actor=responder
    )
    assert event.kind == TimelineKind.STATUS_UPDATE
    assert event.text == "Status update: Rolled back; error rate falling"
    assert event.actor_user == responder
    with pytest.raises(DomainError, match="needs some text"):
        incident_post_status_update(incident=incident, text="   ", actor=responder)
    assert incident.timeline.filter(kind=TimelineKind.STATUS_UPDATE).count() == 1
