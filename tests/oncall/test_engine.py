from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incidents.choices import IncidentStatus, Role, TimelineKind, Urgency
from incidents.ingest.events import AlertEvent
from incidents.models import Incident
from incidents.services import (
    alert_ingest,
    alert_ingest_batch,
    incident_acknowledge,
    incident_resolve,
    maintenance_window_create,
)
from oncall import engine
from oncall.channels.base import Delivered, Message, PermanentError, TransientError
from oncall.models import Notification, NotificationStatus
from tests.factories import (
    ContactMethodFactory,
    EscalationPolicyFactory,
    EscalationStepFactory,
    IntegrationFactory,
    MembershipFactory,
    NotificationRuleFactory,
    UserFactory,
)
from tests.oncall.conftest import PageRecorder, RecordingChannel

pytestmark = pytest.mark.django_db


class SlowChannel(RecordingChannel):
    """A provider that answers only after the delivery deadline, by which time the tick has run."""

    def __init__(self, recorder: PageRecorder, *, outcome: Exception | None) -> None:
        super().__init__("email", recorder)
        self.outcome = outcome

    def send(self, *, address: str, message: Message) -> Delivered:
        self.recorder.traveller.shift(engine.delivery_deadline() + timedelta(seconds=5))
        assert engine.tick().expired == 1
        if self.outcome is not None:
            raise self.outcome
        return super().send(address=address, message=message)


@pytest.fixture
def policy(team, service):
    policy = EscalationPolicyFactory(team=team, name="Payments primary")
    service.escalation_policy = policy
    service.save()
    return policy


@pytest.fixture
def integration(service):
    return IntegrationFactory(service=service)


def trigger(integration, key: str = "db-1/disk", group: str | None = None, urgency: Urgency = Urgency.HIGH):
    return alert_ingest(
        integration=integration,
        event=AlertEvent(
            action="trigger", dedup_key=key, group_key=group or key, summary="Disk full", urgency=urgency
        ),
    )


def kinds(incident: Incident) -> list[str]:
    return list(incident.timeline.values_list("kind", flat=True))


def test_first_page_goes_out_at_once(pages, policy, integration, responder):
    EscalationStepFactory(policy=policy, users=[responder])
    incident = trigger(integration).incident
    pages.run()
    pages.expect((responder.email, incident.reference))
    assert TimelineKind.ESCALATED in kinds(incident)
    assert TimelineKind.PAGED in kinds(incident)


def test_rule_delays_are_followed(pages, policy, integration, responder):
    responder.contact_methods.all().delete()  # her own rules instead of the default email at 0
    email = NotificationRuleFactory(contact_method=ContactMethodFactory(user=responder), delay_minutes=0)
    sms = NotificationRuleFactory(
        contact_method=ContactMethodFactory(user=responder, kind="sms", address="+15555550100"),
        delay_minutes=3,
    )
    EscalationStepFactory(policy=policy, users=[responder], delay_minutes=30)
    incident = trigger(integration).incident
    pages.run()
    pages.expect((email.contact_method.address, incident.reference))
    pages.run(minutes=2.9)
    pages.expect_nothing()
    pages.run(minutes=0.2)
    pages.expect((sms.contact_method.address, incident.reference))


def test_escalates_to_step_two_after_the_step_delay(pages, policy, integration, responder, manager):
    EscalationStepFactory(policy=policy, users=[responder], delay_minutes=10)
    EscalationStepFactory(policy=policy, users=[manager], delay_minutes=10)
    incident = trigger(integration).incident
    pages.run()
    pages.expect((responder.email, incident.reference))
    pages.run(minutes=9.9)
    pages.expect_nothing()
    pages.run(minutes=0.2)
    pages.expect((manager.email, incident.reference))
    pages.run(minutes=60)
    pages.expect_nothing()


def test_repeat_runs_the_steps_again_then_stops(pages, policy, integration, responder):
    policy.repeat_count = 1
    policy.save()
    EscalationStepFactory(policy=policy, users=[responder], delay_minutes=5)
    incident = trigger(integration).incident
    pages.run()
    pages.expect((responder.email, incident.reference))
    pages.run(minutes=5)
    pages.expect((responder.email, incident.reference))
    pages.run(minutes=60)
    pages.expect_nothing()
    incident.escalation.refresh_from_db()
    assert incident.escalation.closed_reason == "every step has fired"


def test_acknowledge_stops_every_pending_page_and_step(pages, policy, integration, responder, manager):
    responder.contact_methods.all().delete()  # her own rules instead of the default email at 0
    NotificationRuleFactory(contact_method=ContactMethodFactory(user=responder), delay_minutes=0)
    NotificationRuleFactory(
        contact_method=ContactMethodFactory(user=responder, kind="sms", address="+15555550100"),
        delay_minutes=3,
    )
    EscalationStepFactory(policy=policy, users=[responder], delay_minutes=5)
    EscalationStepFactory(policy=policy, users=[manager])
    incident = trigger(integration).incident
    pages.run()
    pages.expect((responder.email, incident.reference))
    pages.run(minutes=1)
    incident_acknowledge(incident=incident, actor=responder)
    pages.run(minutes=60)
    pages.expect_nothing()
    assert Notification.objects.filter(status=NotificationStatus.CANCELLED).count() == 1
    incident.escalation.refresh_from_db()
    assert incident.escalation.closed_reason == "acknowledged"


def test_resolve_by_the_sender_stops_everything(pages, policy, integration, responder, manager):
    EscalationStepFactory(policy=policy, users=[responder], delay_minutes=5)
    EscalationStepFactory(policy=policy, users=[manager])
    incident = trigger(integration).incident
    pages.run()
    pages.expect((responder.email, incident.reference))
    alert_ingest(
        integration=integration,
        event=AlertEvent(action="resolve", dedup_key="db-1/disk", group_key="db-1/disk"),
    )
    pages.run(minutes=60)
    pages.expect_nothing()


def test_two_alerts_for_one_incident_page_once(pages, policy, integration, responder):
    EscalationStepFactory(policy=policy, users=[responder])
    results = alert_ingest_batch(
        integration=integration,
        events=[
            AlertEvent(action="trigger", dedup_key="a", group_key="grp", summary="a"),
            AlertEvent(action="trigger", dedup_key="b", group_key="grp", summary="b"),
        ],
    )
    trigger(integration, key="a", group="grp")  # a repeat of the first
    pages.run()
    pages.expect((responder.email, results[0].incident.reference))


def test_a_step_with_nobody_on_call_moves_on_at_once(pages, policy, integration, manager):
    empty_team = MembershipFactory(role=Role.VIEWER).team  # only a viewer: no responders to page
    EscalationStepFactory(policy=policy, teams=[empty_team], delay_minutes=30)
    EscalationStepFactory(policy=policy, users=[manager])
    incident = trigger(integration).incident
    pages.run()
    pages.expect((manager.email, incident.reference))
    assert "No one on call for step 1" in incident.timeline.get(kind=TimelineKind.NOBODY_ON_CALL).text


def test_a_policy_that_reaches_nobody_tells_the_managers(pages, policy, integration, manager, responder):
    EscalationStepFactory(policy=policy, users=[], delay_minutes=5)
    incident = trigger(integration).incident
    pages.run()
    pages.expect((manager.email, incident.reference))
    assert incident.timeline.filter(kind=TimelineKind.ESCALATION_EXHAUSTED).exists()


def test_a_service_without_a_policy_still_tells_the_managers(pages, integration, manager):
    incident = trigger(integration).incident
    pages.run()
    pages.expect((manager.email, incident.reference))


def test_a_user_in_two_steps_is_paged_once_per_step(pages, policy, integration, responder):
    EscalationStepFactory(policy=policy, users=[responder], delay_minutes=5)
    EscalationStepFactory(policy=policy, users=[responder], delay_minutes=5)
    incident = trigger(integration).incident
    pages.run(minutes=4)
    pages.expect((responder.email, incident.reference))
    pages.run(minutes=2)
    pages.expect((responder.email, incident.reference))


def test_a_user_reached_twice_within_one_step_is_paged_once(pages, policy, integration, team, responder):
    EscalationStepFactory(policy=policy, users=[responder], teams=[team])
    incident = trigger(integration).incident
    pages.run()
    pages.expect((responder.email, incident.reference))


def test_editing_the_policy_mid_escalation_does_not_change_it(pages, policy, integration, responder, manager):
    EscalationStepFactory(policy=policy, users=[responder], delay_minutes=5)
    second = EscalationStepFactory(policy=policy, users=[manager])
    incident = trigger(integration).incident
    pages.run()
    pages.expect((responder.email, incident.reference))
    newcomer = UserFactory(username="nina")
    second.users.set([newcomer])
    pages.run(minutes=5)
    pages.expect((manager.email, incident.reference))


def test_nobody_is_paged_during_maintenance(pages, policy, integration, responder, manager):
    EscalationStepFactory(policy=policy, users=[responder])
    maintenance_window_create(
        service=integration.service,
        starts_at=pages.now - timedelta(minutes=1),
        ends_at=pages.now + timedelta(hours=1),
        actor=manager,
    )
    incident = trigger(integration).incident
    pages.run(minutes=30)
    pages.expect_nothing()
    assert incident.suppressed


def test_low_urgency_follows_the_low_urgency_rules(pages, policy, integration, responder):
    responder.contact_methods.all().delete()  # her own rules instead of the default email at 0
    NotificationRuleFactory(contact_method=ContactMethodFactory(user=responder), urgency="high")
    low = NotificationRuleFactory(
        contact_method=ContactMethodFactory(user=responder, kind="ntfy", address="rosa-quiet"),
        urgency="low",
        delay_minutes=0,
    )
    EscalationStepFactory(policy=policy, users=[responder])
    incident = trigger(integration, urgency=Urgency.LOW).incident
    pages.run()
    pages.expect((low.contact_method.address, incident.reference))


def test_a_declared_incident_pages_too(pages, policy, service, responder, manager):
    from incidents.services import incident_declare

    EscalationStepFactory(policy=policy, users=[responder])
    incident = incident_declare(service=service, title="Checkout down", actor=manager)
    pages.run()
    pages.expect((responder.email, incident.reference))


class TestDelivery:
    def test_transient_errors_are_retried_with_backoff(self, pages, policy, integration, responder):
        EscalationStepFactory(policy=policy, users=[responder], delay_minutes=60)
        pages.fail(responder.email, times=2)
        incident = trigger(integration).incident
        pages.run()
        pages.expect_nothing()
        pages.run(minutes=0.5)  # first retry after 15 s fails again
        pages.expect_nothing()
        pages.run(minutes=1.1)  # second retry after 60 s gets through
        pages.expect((responder.email, incident.reference))
        assert Notification.objects.get().attempts == 3

    def test_a_permanent_error_fails_once_and_the_escalation_goes_on(
        self, pages, policy, integration, responder, manager
    ):
        EscalationStepFactory(policy=policy, users=[responder], delay_minutes=5)
        EscalationStepFactory(policy=policy, users=[manager])
        pages.fail(responder.email, error=PermanentError, times=99)
        incident = trigger(integration).incident
        pages.run(minutes=4)
        pages.expect_nothing()
        failed = incident.timeline.get(kind=TimelineKind.PAGE_FAILED)
        assert "failed" in failed.text
        pages.run(minutes=2)
        pages.expect((manager.email, incident.reference))
        pages.failures.clear()

    def test_a_second_delivery_task_for_the_same_row_sends_nothing(
        self, pages, policy, integration, responder
    ):
        EscalationStepFactory(policy=policy, users=[responder])
        incident = trigger(integration).incident
        pages.run()
        pages.expect((responder.email, incident.reference))
        notification = Notification.objects.get()
        assert engine.deliver(notification_id=notification.pk) == "not claimable"
        pages.expect_nothing()

    def test_a_send_stuck_past_its_deadline_is_marked_failed_on_the_timeline(
        self, pages, policy, integration, responder
    ):
        EscalationStepFactory(policy=policy, users=[responder], delay_minutes=60)
        incident = trigger(integration).incident
        engine.tick()
        notification = Notification.objects.get()
        # A worker claimed it and died before recording the outcome.
        Notification.objects.filter(pk=notification.pk).update(
            status=NotificationStatus.SENDING, claimed_until=pages.now + timedelta(seconds=60)
        )
        pages.run(minutes=2)
        pages.expect_nothing()
        notification.refresh_from_db()
        assert notification.status == NotificationStatus.FAILED
        assert incident.timeline.filter(kind=TimelineKind.PAGE_FAILED).exists()

    def test_a_send_that_outlives_its_deadline_is_recorded_as_delivered_once_it_arrives(
        self, pages, monkeypatch, policy, integration, responder
    ):
        EscalationStepFactory(policy=policy, users=[responder], delay_minutes=60)
        incident = trigger(integration).incident
        engine.tick()
        slow = SlowChannel(pages, outcome=None)
        monkeypatch.setattr(engine, "get_channel", lambda kind: slow)
        assert engine.deliver(notification_id=Notification.objects.get().pk) == "sent"
        pages.expect((responder.email, incident.reference))
        notification = Notification.objects.get()
        assert notification.status == NotificationStatus.SENT
        assert notification.last_error == ""
        # The tick's verdict stays on the timeline, followed by what really happened.
        assert kinds(incident)[-2:] == [TimelineKind.PAGE_FAILED, TimelineKind.PAGED]
        assert "after the deadline" in incident.timeline.last().text

    def test_a_send_that_fails_after_its_deadline_is_not_reported_twice(
        self, pages, monkeypatch, policy, integration, responder
    ):
        EscalationStepFactory(policy=policy, users=[responder], delay_minutes=60)
        incident = trigger(integration).incident
        engine.tick()
        slow = SlowChannel(pages, outcome=PermanentError("550 no such user"))
        monkeypatch.setattr(engine, "get_channel", lambda kind: slow)
        assert engine.deliver(notification_id=Notification.objects.get().pk) == "failed"
        notification = Notification.objects.get()
        assert notification.status == NotificationStatus.FAILED
        assert notification.last_error == "550 no such user"  # the real reason replaces "no answer"
        assert incident.timeline.filter(kind=TimelineKind.PAGE_FAILED).count() == 1

    def test_a_transient_error_after_the_deadline_is_not_retried(
        self, pages, monkeypatch, policy, integration, responder
    ):
        EscalationStepFactory(policy=policy, users=[responder], delay_minutes=60)
        trigger(integration)
        engine.tick()
        slow = SlowChannel(pages, outcome=TransientError("503"))
        monkeypatch.setattr(engine, "get_channel", lambda kind: slow)
        assert engine.deliver(notification_id=Notification.objects.get().pk) == "failed"
        assert Notification.objects.get().status == NotificationStatus.FAILED
        pages.run(minutes=5)
        pages.expect_nothing()

    def test_a_page_queued_before_acknowledge_is_not_sent_after_it(
        self, pages, policy, integration, responder
    ):
        EscalationStepFactory(policy=policy, users=[responder])
        incident = trigger(integration).incident
        engine.tick()  # the step fires and queues the page ...
        incident_resolve(incident=incident, actor=responder)  # ... and someone resolves before delivery
        for notification in Notification.objects.all():
            engine.deliver(notification_id=notification.pk)
        pages.expect_nothing()
        assert Incident.objects.get().status == IncidentStatus.RESOLVED


def test_a_channel_kind_nobody_knows_fails_at_once(monkeypatch, policy, integration, responder):
    EscalationStepFactory(policy=policy, users=[responder])
    incident = trigger(integration).incident
    engine.tick()
    notification = Notification.objects.get()
    Notification.objects.filter(pk=notification.pk).update(channel="pigeon")
    assert engine.deliver(notification_id=notification.pk) == "failed"
    assert "pigeon" in incident.timeline.get(kind=TimelineKind.PAGE_FAILED).text


class TestScheduleTargets:
    """A weekly rotation in Berlin, Mondays 09:00 local: rosa from 23 Feb, max from 2 Mar, …"""

    @pytest.fixture
    def schedule(self, team, responder, manager):
        from datetime import date, time

        from oncall.models import Layer, LayerEpoch, Schedule

        schedule = Schedule.objects.create(name="Payments primary", team=team, time_zone="Europe/Berlin")
        layer = Layer.objects.create(
            schedule=schedule, start_date=date(2026, 2, 23), handoff_time=time(9, 0), shift_unit="weeks"
        )
        LayerEpoch.objects.create(
            layer=layer,
            effective_from=datetime(2026, 2, 23, 8, 0, tzinfo=UTC),
            participants=[responder.pk, manager.pk],
        )
        return schedule

    def test_the_step_pages_whoever_is_on_call_when_it_fires(
        self, pages, policy, integration, schedule, manager
    ):
        EscalationStepFactory(policy=policy, schedules=[schedule])
        incident = trigger(integration).incident  # Monday 2 March, 10:00 in Berlin: max's week
        pages.run()
        pages.expect((manager.email, incident.reference))

    def test_an_override_takes_the_page(self, pages, policy, integration, schedule, manager):
        from oncall.models import Override

        stand_in = UserFactory(username="sara")
        Override.objects.create(
            schedule=schedule,
            user=stand_in,
            replaces=manager,
            starts_at=pages.now,
            ends_at=pages.now + timedelta(hours=2),
        )
        EscalationStepFactory(policy=policy, schedules=[schedule])
        incident = trigger(integration).incident
        pages.run()
        pages.expect((stand_in.email, incident.reference))

    def test_the_handoff_after_the_dst_change_is_at_nine_local(
        self, pages, policy, integration, schedule, responder, manager
    ):
        EscalationStepFactory(policy=policy, schedules=[schedule])
        # Berlin moves to summer time on Sunday 29 March; Monday 30 March 09:00 CEST is 07:00 UTC.
        pages.traveller.move_to(datetime(2026, 3, 30, 6, 59, tzinfo=UTC))
        before = trigger(integration, key="before").incident
        pages.run()
        pages.expect((responder.email, before.reference))  # 23 → 30 March is rosa's week (the 5th)
        pages.traveller.move_to(datetime(2026, 3, 30, 7, 1, tzinfo=UTC))
        after = trigger(integration, key="after").incident
        pages.run()
        pages.expect((manager.email, after.reference))


def test_a_page_handed_to_a_worker_on_commit_is_not_handed_over_again_by_the_tick(
    pages, policy, integration, responder
):
    EscalationStepFactory(policy=policy, users=[responder])
    incident = trigger(integration).incident
    engine.tick()  # fires step 1: its page is handed over on commit
    page = Notification.objects.get(user=responder)
    assert page.enqueued_at is not None
    assert engine.tick().to_deliver == []  # no second task for the same page
    # The hand-over was lost (broker restart, worker crash): the tick is the safety net.
    pages.traveller.shift(engine.REENQUEUE_AFTER + timedelta(seconds=1))
    assert engine.tick().to_deliver == [page.pk]
    assert engine.deliver(notification_id=page.pk) == "sent"
    pages.expect((responder.email, incident.reference))
