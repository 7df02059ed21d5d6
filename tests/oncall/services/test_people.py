from __future__ import annotations

import pytest

from incidents.choices import Role, Urgency
from incidents.models import AuditEntry, Profile
from incidents.services import DomainError
from oncall.models import ContactMethod, EscalationStep, NotificationRule
from oncall.selectors.people import policy_flow_text, policy_get_for_user
from oncall.services import (
    InvalidAddress,
    StepSpec,
    contact_method_create,
    contact_method_delete,
    contact_method_send_test,
    contact_method_update,
    escalation_policy_create,
    escalation_policy_delete,
    escalation_policy_update,
    escalation_step_add,
    escalation_step_delete,
    escalation_step_move,
    escalation_step_update,
    notification_rule_create,
    notification_rule_delete,
    policy_snapshot,
    profile_update,
    routes_for,
    service_escalation_policy_set,
)
from tests.factories import (
    EscalationPolicyFactory,
    MembershipFactory,
    ScheduleFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def audit_actions() -> list[str]:
    return list(AuditEntry.objects.order_by("pk").values_list("action", flat=True))


def step_targets(policy) -> list[list[str]]:
    return [sorted(u.username for u in step.users.all()) for step in policy.steps.order_by("position")]


@pytest.fixture
def primary(team):
    return ScheduleFactory(team=team, name="Payments primary")


@pytest.fixture
def policy(team, responder, manager, primary):
    return escalation_policy_create(
        team=team,
        name="Checkout primary",
        repeat_count=2,
        steps=[
            StepSpec(delay_minutes=10, schedules=[primary]),
            StepSpec(delay_minutes=5, users=[responder]),
            StepSpec(delay_minutes=15, users=[manager]),
        ],
        actor=manager,
    )


# --- escalation policies --------------------------------------------------------------------


def test_a_new_policy_reads_as_a_flow_of_its_steps(policy, manager):
    fetched = policy_get_for_user(user=manager, pk=policy.pk)
    responder_name = fetched.steps.get(position=1).users.get().get_full_name()
    manager_name = manager.get_full_name()

    assert policy_flow_text(fetched) == (
        "Step 1 — notify Payments primary (on call) — after 10 min → "
        f"Step 2 — notify {responder_name} — after 5 min → "
        f"Step 3 — notify {manager_name} — after 15 min; repeat 2 times"
    )
    assert audit_actions() == ["escalation_policy.create"]


def test_without_repeats_the_last_steps_wait_is_not_mentioned(team, responder, manager):
    policy = escalation_policy_create(
        team=team, name="Simple", steps=[StepSpec(delay_minutes=7, users=[responder])], actor=manager
    )
    assert policy_flow_text(policy_get_for_user(user=manager, pk=policy.pk)) == (
        f"Step 1 — notify {responder.get_full_name()}"
    )


def test_two_policies_of_a_team_cannot_share_a_name(policy, team, manager):
    with pytest.raises(DomainError, match="Payments already has a policy called “checkout primary”"):
        escalation_policy_create(team=team, name="  checkout   primary ", actor=manager)


def test_another_team_may_use_the_same_name(policy, manager):
    other = escalation_policy_create(team=TeamFactory(), name="Checkout primary", actor=manager)
    assert other.name == "Checkout primary"


def test_a_step_must_notify_someone(policy, manager):
    with pytest.raises(DomainError, match="at least one person, schedule or team"):
        escalation_step_add(policy=policy, spec=StepSpec(delay_minutes=5), actor=manager)


@pytest.mark.parametrize("delay", [0, 24 * 60 + 1])
def test_a_step_waits_between_one_minute_and_a_day(policy, manager, responder, delay):
    with pytest.raises(DomainError, match="1 to 1440 minutes"):
        escalation_step_add(
            policy=policy, spec=StepSpec(delay_minutes=delay, users=[responder]), actor=manager
        )


def test_a_viewer_cannot_be_paged_because_they_could_not_acknowledge(policy, manager, viewer):
    with pytest.raises(
        DomainError, match=f"{viewer.get_full_name()} cannot acknowledge incidents of Payments"
    ):
        escalation_step_add(policy=policy, spec=StepSpec(delay_minutes=5, users=[viewer]), actor=manager)


def test_someone_outside_the_team_cannot_be_paged(policy, manager, outsider):
    with pytest.raises(DomainError, match="needs the responder role in Payments"):
        escalation_step_add(policy=policy, spec=StepSpec(delay_minutes=5, users=[outsider]), actor=manager)


def test_a_schedule_of_another_team_cannot_be_used(policy, manager):
    foreign = ScheduleFactory(name="Search primary", team=TeamFactory(name="Search"))
    with pytest.raises(DomainError, match="“Search primary” belongs to another team"):
        escalation_step_add(policy=policy, spec=StepSpec(delay_minutes=5, schedules=[foreign]), actor=manager)


def test_repeat_count_is_bounded(team, manager):
    with pytest.raises(DomainError, match="0 to 9 times"):
        escalation_policy_create(team=team, name="Loop", repeat_count=10, actor=manager)


def test_a_step_is_added_after_the_last_one(policy, manager):
    team_step = escalation_step_add(
        policy=policy, spec=StepSpec(delay_minutes=30, teams=[policy.team]), actor=manager
    )
    assert team_step.position == 3
    assert "Step 4 — notify all responders in Payments" in policy_flow_text(
        policy_get_for_user(user=manager, pk=policy.pk)
    )
    assert audit_actions()[-1] == "escalation_policy.step_add"


def test_moving_a_step_shifts_the_others_and_keeps_positions_dense(policy, manager, responder):
    last = policy.steps.get(position=2)

    escalation_step_move(step=last, position=0, actor=manager)

    assert list(policy.steps.order_by("position").values_list("position", flat=True)) == [0, 1, 2]
    assert step_targets(policy) == [["max"], [], ["rosa"]]
    entry = AuditEntry.objects.get(action="escalation_policy.step_move")
    assert entry.data == {"from": 3, "to": 1}


def test_moving_past_either_end_is_clamped_and_a_no_op_is_not_audited(policy, manager):
    first = policy.steps.get(position=0)
    escalation_step_move(step=first, position=-1, actor=manager)
    assert not AuditEntry.objects.filter(action="escalation_policy.step_move").exists()

    escalation_step_move(step=first, position=99, actor=manager)
    first.refresh_from_db()
    assert first.position == 2


def test_deleting_a_step_renumbers_the_rest(policy, manager):
    escalation_step_delete(step=policy.steps.get(position=0), actor=manager)

    assert list(policy.steps.order_by("position").values_list("position", flat=True)) == [0, 1]
    assert step_targets(policy) == [["rosa"], ["max"]]
    assert AuditEntry.objects.get(action="escalation_policy.step_delete").data["targets"] == (
        "Payments primary (on call)"
    )


def test_updating_a_step_changes_its_targets_and_delay(policy, manager, responder):
    step = policy.steps.get(position=2)
    escalation_step_update(
        step=step, spec=StepSpec(delay_minutes=3, users=[manager, responder]), actor=manager
    )
    step.refresh_from_db()
    assert step.delay_minutes == 3
    assert sorted(u.username for u in step.users.all()) == ["max", "rosa"]


def test_saving_a_step_unchanged_writes_nothing(policy, manager):
    step = policy.steps.get(position=2)
    escalation_step_update(step=step, spec=StepSpec(delay_minutes=15, users=[manager]), actor=manager)
    assert "escalation_policy.step_update" not in audit_actions()


def test_update_replaces_every_step_and_running_snapshots_are_untouched(policy, manager, responder):
    before = policy_snapshot(policy)

    escalation_policy_update(
        policy=policy,
        name="Checkout",
        repeat_count=0,
        steps=[StepSpec(delay_minutes=1, users=[responder])],
        actor=manager,
    )

    policy.refresh_from_db()
    assert (policy.name, policy.repeat_count) == ("Checkout", 0)
    assert step_targets(policy) == [["rosa"]]
    assert len(before["steps"]) == 3  # what a running escalation holds does not change
    entry = AuditEntry.objects.get(action="escalation_policy.update")
    assert entry.data["name"] == ["Checkout primary", "Checkout"]


def test_an_update_that_changes_nothing_is_not_audited(policy, manager, primary, responder):
    escalation_policy_update(
        policy=policy,
        name="Checkout primary",
        repeat_count=2,
        steps=[
            StepSpec(delay_minutes=10, schedules=[primary]),
            StepSpec(delay_minutes=5, users=[responder]),
            StepSpec(delay_minutes=15, users=[manager]),
        ],
        actor=manager,
    )
    assert "escalation_policy.update" not in audit_actions()
    assert EscalationStep.objects.filter(policy=policy).count() == 3


def test_a_policy_a_service_pages_with_cannot_be_deleted(policy, service, manager):
    service_escalation_policy_set(service=service, policy=policy, actor=manager)

    with pytest.raises(DomainError, match="Checkout still pages with “Checkout primary”"):
        escalation_policy_delete(policy=policy, actor=manager)

    service_escalation_policy_set(service=service, policy=None, actor=manager)
    escalation_policy_delete(policy=policy, actor=manager)
    assert audit_actions()[-1] == "escalation_policy.delete"
    assert not EscalationStep.objects.exists()


def test_a_service_pages_with_the_policy_it_is_given(policy, service, manager):
    service_escalation_policy_set(service=service, policy=policy, actor=manager)

    service.refresh_from_db()
    assert policy_snapshot(service.escalation_policy)["name"] == "Checkout primary"
    entry = AuditEntry.objects.get(action="service.escalation_policy")
    assert entry.data == {"from": None, "to": "Checkout primary"}


def test_a_service_cannot_use_another_teams_policy(manager):
    elsewhere = EscalationPolicyFactory(team=TeamFactory(name="Search"))
    service = ServiceFactory(name="Ledger")
    with pytest.raises(DomainError, match="choose a policy of Team"):
        service_escalation_policy_set(service=service, policy=elsewhere, actor=manager)


# --- contact methods and rules --------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("07700 900123", "international format: \\+ and the country code first"),
        ("+44 77OO 900123", "may only contain digits"),
        ("+0 123", "not a valid international number"),
    ],
)
def test_an_sms_number_must_be_international(responder, address, problem):
    with pytest.raises(InvalidAddress, match=problem):
        contact_method_create(user=responder, kind="sms", address=address, actor=responder)
    assert not ContactMethod.objects.filter(kind="sms").exists()


def test_a_good_sms_number_is_stored_in_e164(responder):
    method = contact_method_create(
        user=responder, kind="sms", address="+44 (7700) 900-123", label="Work", actor=responder
    )
    assert (method.address, method.label) == ("+447700900123", "Work")
    assert audit_actions() == ["contact_method.create"]


def test_a_webhook_needs_a_full_url(responder):
    with pytest.raises(InvalidAddress, match="full http:// or https:// URL"):
        contact_method_create(user=responder, kind="webhook", address="hooks.example.org", actor=responder)


def test_the_same_address_twice_is_refused(responder):
    with pytest.raises(DomainError, match=r"You already have Email rosa@example\.org"):
        contact_method_create(user=responder, kind="email", address="rosa@EXAMPLE.org", actor=responder)


def test_editing_an_address_validates_it_for_the_channel(responder):
    method = contact_method_create(user=responder, kind="sms", address="+15555550100", actor=responder)
    with pytest.raises(InvalidAddress):
        contact_method_update(contact_method=method, address="call me", actor=responder)

    contact_method_update(contact_method=method, address="+1 555 555 0199", actor=responder)
    method.refresh_from_db()
    assert method.address == "+15555550199"
    assert AuditEntry.objects.get(action="contact_method.update").data == {
        "address": ["+15555550100", "+15555550199"]
    }


def test_rules_are_what_routes_the_pages(responder):
    sms = contact_method_create(user=responder, kind="sms", address="+15555550100", actor=responder)
    notification_rule_create(
        user=responder, contact_method=sms, urgency=Urgency.HIGH, delay_minutes=3, actor=responder
    )

    routes = routes_for(user=responder, urgency=Urgency.HIGH)

    assert [(r.channel, r.address, r.delay_minutes) for r in routes] == [
        ("email", "rosa@example.org", 0),
        ("sms", "+15555550100", 3),
    ]


def test_a_rule_cannot_use_someone_elses_contact_method(responder, manager):
    theirs = manager.contact_methods.get()
    with pytest.raises(DomainError, match="your own contact methods"):
        notification_rule_create(
            user=responder, contact_method=theirs, urgency=Urgency.HIGH, delay_minutes=0, actor=responder
        )


def test_the_same_rule_twice_is_refused(responder):
    email = responder.contact_methods.get()
    with pytest.raises(DomainError, match="already have Email at 0 min for high urgency"):
        notification_rule_create(
            user=responder, contact_method=email, urgency=Urgency.HIGH, delay_minutes=0, actor=responder
        )


def test_deleting_a_contact_method_takes_its_rules_and_paging_falls_back_to_email(responder):
    email = responder.contact_methods.get()

    assert contact_method_delete(contact_method=email, actor=responder) == 2

    assert not NotificationRule.objects.filter(user=responder).exists()
    routes = routes_for(user=responder, urgency=Urgency.HIGH)
    assert [(r.channel, r.address, r.rule_key) for r in routes] == [("email", "rosa@example.org", "default")]


def test_deleting_a_rule_is_audited(responder):
    rule = responder.notification_rules.get(urgency=Urgency.LOW)
    notification_rule_delete(rule=rule, actor=responder)
    assert list(responder.notification_rules.values_list("urgency", flat=True)) == ["high"]
    assert audit_actions() == ["notification_rule.delete"]


# --- send a test ----------------------------------------------------------------------------


def test_a_test_email_really_goes_out(smtp_server, responder):
    result = contact_method_send_test(contact_method=responder.contact_methods.get(), actor=responder)

    assert result.status == "sent"
    assert result.detail.startswith("sent to rosa@example.org")
    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == ["rosa@example.org"]
    body = envelope.content.decode()
    assert "This is a test from Muster" in body
    assert "/ack/" not in body  # nothing to acknowledge
    assert "Open the incident" not in body
    assert "http://127.0.0.1:8000/my/notifications/" in body


def test_a_refused_test_email_reports_the_servers_answer(smtp_server, responder):
    smtp_server.refuse["rosa@example.org"] = "550 5.1.1 no such user"

    result = contact_method_send_test(contact_method=responder.contact_methods.get(), actor=responder)

    assert result.status == "failed"
    assert "550" in result.detail
    assert "no such user" in result.detail


def test_a_channel_without_settings_is_unavailable_not_broken(settings, responder):
    settings.TWILIO_ACCOUNT_SID = ""
    method = contact_method_create(user=responder, kind="sms", address="+15555550100", actor=responder)

    result = contact_method_send_test(contact_method=method, actor=responder)

    assert result.status == "unavailable"
    assert result.detail.startswith("unavailable: SMS needs a Twilio account: set TWILIO_ACCOUNT_SID")


def test_an_unreachable_webhook_fails_with_the_reason(settings, responder):
    settings.MUSTER_WEBHOOK_SIGNING_SECRET = "s3cret"
    settings.MUSTER_CHANNEL_TIMEOUT_SECONDS = 1.0
    method = contact_method_create(
        user=responder, kind="webhook", address="http://127.0.0.1:9/nothing-listens", actor=responder
    )

    result = contact_method_send_test(contact_method=method, actor=responder)

    assert result.status == "failed"
    assert result.detail.startswith("failed: ")


# --- profile --------------------------------------------------------------------------------


def test_profile_takes_a_real_time_zone_and_a_reminder_lead_time(responder):
    profile = profile_update(
        user=responder, time_zone="Europe/Berlin", shift_nudge_minutes=30, actor=responder
    )
    assert (profile.time_zone, profile.shift_nudge_minutes) == ("Europe/Berlin", 30)
    assert AuditEntry.objects.get(action="profile.update").data["time_zone"] == ["UTC", "Europe/Berlin"]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "not a time zone Muster knows"),
        ({"time_zone": "CEST"}, "not a time zone Muster knows"),
        ({"shift_nudge_minutes": 0}, "1 to 10080 minutes"),
    ],
)
def test_profile_refuses_what_it_cannot_use(responder, changes, problem):
    with pytest.raises(DomainError, match=problem):
        profile_update(user=responder, actor=responder, **changes)
    assert Profile.objects.get(user=responder).time_zone == "UTC"


def test_profile_turns_the_weekly_action_item_digest_off_and_audits_it(responder):
    profile_update(user=responder, action_item_digest=False, actor=responder)
    assert Profile.objects.get(user=responder).action_item_digest is False
    assert AuditEntry.objects.get(action="profile.update").data == {"action_item_digest": [True, False]}


def test_profile_leaves_the_digest_alone_when_not_given(responder):
    profile_update(user=responder, action_item_digest=False, actor=responder)
    profile_update(user=responder, time_zone="Europe/Berlin", actor=responder)
    assert Profile.objects.get(user=responder).action_item_digest is False


def test_profile_is_created_for_someone_who_never_had_one(responder):
    Profile.objects.filter(user=responder).delete()
    profile_update(user=responder, shift_nudges=False, actor=responder)
    assert Profile.objects.get(user=responder).shift_nudges is False


def test_a_team_admin_counts_as_a_responder_for_steps(team, manager):
    admin = UserFactory(username="ada")
    MembershipFactory(team=team, user=admin, role=Role.ADMIN)
    policy = escalation_policy_create(
        team=team, name="Admins", steps=[StepSpec(delay_minutes=5, users=[admin])], actor=manager
    )
    assert step_targets(policy) == [["ada"]]
