"""A new person is reachable from the start: email at 0 minutes, whatever created them."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from incidents.choices import Role, Urgency
from incidents.demo import seed_demo
from incidents.ingest.events import AlertEvent
from incidents.models import Profile
from incidents.services import alert_ingest
from oncall.models import Notification
from oncall.services import StepSpec, escalation_policy_create, service_escalation_policy_set
from tests.factories import IntegrationFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def rules_of(user) -> list[tuple[str, str, str, int]]:
    return sorted(
        (rule.urgency, rule.contact_method.kind, rule.contact_method.address, rule.delay_minutes)
        for rule in user.notification_rules.select_related("contact_method")
    )


def test_a_new_user_gets_email_at_zero_minutes_for_both_urgencies_and_a_profile():
    user = get_user_model().objects.create_user("nina", email="Nina@Example.ORG", password="x" * 12)

    assert rules_of(user) == [
        ("high", "email", "Nina@example.org", 0),
        ("low", "email", "Nina@example.org", 0),
    ]
    assert user.contact_methods.count() == 1
    assert Profile.objects.get(user=user).time_zone == "UTC"


def test_a_user_without_an_email_address_gets_a_profile_but_no_rules():
    user = get_user_model().objects.create_user("kiosk")

    assert rules_of(user) == []
    assert Profile.objects.filter(user=user).exists()


def test_saving_a_user_again_adds_nothing():
    user = UserFactory(username="nina")
    user.first_name = "Nina"
    user.save()

    assert user.contact_methods.count() == 1
    assert user.notification_rules.count() == 2


def test_createsuperuser_gets_the_defaults_too():
    call_command(
        "createsuperuser", username="root", email="root@example.org", interactive=False, stdout=io.StringIO()
    )
    root = get_user_model().objects.get(username="root")

    assert rules_of(root) == [
        ("high", "email", "root@example.org", 0),
        ("low", "email", "root@example.org", 0),
    ]


def test_the_demo_users_can_be_paged_by_email():
    seed_demo()
    riley = get_user_model().objects.get(username="riley")

    assert rules_of(riley) == [
        ("high", "email", "riley@example.org", 0),
        ("low", "email", "riley@example.org", 0),
    ]
    seed_demo()  # idempotent: a second run adds no second set
    assert riley.notification_rules.count() == 2


@pytest.mark.parametrize("urgency", [Urgency.HIGH, Urgency.LOW])
def test_the_engine_pages_a_new_user_by_email_through_their_rule(pages, team, service, manager, urgency):
    newcomer = UserFactory(username="nina")
    MembershipFactory(team=team, user=newcomer, role=Role.RESPONDER)
    policy = escalation_policy_create(
        team=team, name="Primary", steps=[StepSpec(delay_minutes=5, users=[newcomer])], actor=manager
    )
    service_escalation_policy_set(service=service, policy=policy, actor=manager)
    result = alert_ingest(
        integration=IntegrationFactory(service=service),
        event=AlertEvent(
            action="trigger", dedup_key="disk", group_key="disk", summary="Disk full", urgency=urgency
        ),
    )

    pages.run()

    pages.expect(("nina@example.org", result.incident.reference))
    notification = Notification.objects.get(user=newcomer)
    # Sent because of the rule the new user was given, not the engine's last-resort fallback.
    assert notification.contact_method == newcomer.contact_methods.get()
