from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.choices import Role, Urgency
from incidents.models import AuditEntry, Profile
from oncall.models import ContactMethod, EscalationPolicy, NotificationRule
from oncall.services import StepSpec, escalation_policy_create, service_escalation_policy_set
from tests.clients import client_for
from tests.factories import (
    EscalationPolicyFactory,
    MembershipFactory,
    ScheduleFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def policy(team, responder, manager):
    return escalation_policy_create(
        team=team,
        name="Checkout primary",
        repeat_count=2,
        steps=[
            StepSpec(delay_minutes=10, schedules=[ScheduleFactory(team=team, name="Payments primary")]),
            StepSpec(delay_minutes=5, users=[responder]),
        ],
        actor=manager,
    )


def detail_url(policy) -> str:
    return reverse("oncall:policy_detail", kwargs={"pk": policy.pk})


def step_url(name: str, policy, position: int) -> str:
    step = policy.steps.get(position=position)
    return reverse(f"oncall:{name}", kwargs={"pk": policy.pk, "step_pk": step.pk})


# --- policies: reading ----------------------------------------------------------------------


def test_the_nav_links_to_escalation_and_to_my_notifications(viewer):
    html = text(client_for(viewer).get("/"))
    assert f'href="{reverse("oncall:policy_list")}"' in html
    assert ">Escalation<" in html
    assert f'href="{reverse("oncall:my_notifications")}"' in html
    assert "Notifications &amp; profile" in html


def test_team_members_see_their_policies_as_a_readable_flow(viewer, policy, responder):
    EscalationPolicyFactory(name="Search nights", team=TeamFactory(name="Search"))

    html = text(client_for(viewer).get(reverse("oncall:policy_list")))

    assert "Checkout primary" in html
    assert (
        f"Step 1 — notify Payments primary (on call) — after 10 min → Step 2 — notify "
        f"{responder.get_full_name()} — after 5 min; repeat 2 times"
    ) in html
    assert "Search nights" not in html
    assert "New escalation policy" not in html  # viewers do not create policies


def test_the_list_says_what_to_do_when_there_are_no_policies(manager, viewer):
    assert "Create one below, add its steps" in text(client_for(manager).get(reverse("oncall:policy_list")))
    assert "Ask a manager of your team to create one" in text(
        client_for(viewer).get(reverse("oncall:policy_list"))
    )


def test_the_list_costs_the_same_queries_for_one_policy_or_many(
    team, manager, responder, django_assert_max_num_queries
):
    client = client_for(manager)

    def make(n):
        for _ in range(n):
            p = escalation_policy_create(
                team=team,
                name=f"Policy {EscalationPolicy.objects.count()}",
                steps=[StepSpec(delay_minutes=5, users=[responder]), StepSpec(delay_minutes=5, teams=[team])],
                actor=manager,
            )
            service_escalation_policy_set(service=ServiceFactory(team=team), policy=p, actor=manager)

    make(1)
    client.get(reverse("oncall:policy_list"))  # warm the session
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("oncall:policy_list"))
    make(5)
    with django_assert_max_num_queries(len(one)):
        assert "Policy 5" in text(client.get(reverse("oncall:policy_list")))


def test_a_viewer_reads_the_editor_without_edit_controls(viewer, policy):
    response = client_for(viewer).get(detail_url(policy))

    assert response.status_code == 200
    html = text(response)
    assert "Step 2 — notify" in html
    assert "read only: managers of Payments change it" in html
    assert "Add step" not in html
    assert "Delete policy" not in html


def test_a_viewer_cannot_change_a_policy(viewer, policy, responder):
    client = client_for(viewer)

    add = client.post(
        reverse("oncall:step_add", kwargs={"pk": policy.pk}),
        {"new-delay_minutes": 5, "new-users": [responder.pk]},
    )
    delete = client.post(step_url("step_delete", policy, 0))
    rename = client.post(detail_url(policy), {"name": "Mine now", "repeat_count": 0})

    assert (add.status_code, delete.status_code, rename.status_code) == (403, 403, 403)
    assert "needs the manager role in Payments" in text(add)
    assert policy.steps.count() == 2
    assert not AuditEntry.objects.exclude(action="escalation_policy.create").exists()


def test_another_team_cannot_see_the_policy(policy):
    stranger = UserFactory(username="sam")
    MembershipFactory(team=TeamFactory(name="Search"), user=stranger, role=Role.ADMIN)
    client = client_for(stranger)

    assert client.get(detail_url(policy)).status_code == 404
    assert client.post(step_url("step_delete", policy, 0)).status_code == 404
    assert "Checkout primary" not in text(client.get(reverse("oncall:policy_list")))


# --- policies: editing ----------------------------------------------------------------------


def test_a_manager_creates_a_policy_and_lands_in_its_empty_editor(manager, team):
    client = client_for(manager)
    response = client.post(
        reverse("oncall:policy_list"), {"name": "Ledger", "team": team.pk, "repeat_count": 1}
    )

    policy = EscalationPolicy.objects.get(name="Ledger")
    assert response.status_code == 302
    assert response.url == detail_url(policy)
    html = text(client.get(response.url))
    assert "No steps yet." in html
    assert "Add the first step below" in html


def test_a_duplicate_policy_name_is_shown_on_the_form(manager, policy, team):
    response = client_for(manager).post(
        reverse("oncall:policy_list"), {"name": "Checkout primary", "team": team.pk, "repeat_count": 0}
    )
    assert response.status_code == 400
    assert "Payments already has a policy called “Checkout primary”" in text(response)


def test_adding_a_step_with_htmx_answers_with_the_new_flow(manager, policy):
    response = client_for(manager).post(
        reverse("oncall:step_add", kwargs={"pk": policy.pk}),
        {"new-delay_minutes": 15, "new-users": [manager.pk]},
        **HTMX,
    )

    assert response.status_code == 200
    html = text(response)
    assert html.lstrip().startswith('<section class="card policy-steps" id="policy-steps"')
    assert f"Step 3 — notify {manager.get_full_name()} — after 15 min; repeat 2 times" in html
    assert "Added step 3." in html


def test_adding_a_step_without_htmx_redirects_to_the_steps(manager, policy):
    response = client_for(manager).post(
        reverse("oncall:step_add", kwargs={"pk": policy.pk}),
        {"new-delay_minutes": 15, "new-teams": [policy.team.pk]},
    )
    assert response.status_code == 302
    assert response.url == detail_url(policy) + "#steps"
    assert policy.steps.count() == 3


def test_a_step_without_targets_is_explained_inline(manager, policy):
    url = reverse("oncall:step_add", kwargs={"pk": policy.pk})
    client = client_for(manager)

    htmx = client.post(url, {"new-delay_minutes": 5}, **HTMX)
    plain = client.post(url, {"new-delay_minutes": 5})

    assert htmx.status_code == 200  # htmx swaps only 2xx answers
    assert plain.status_code == 400
    for response in (htmx, plain):
        assert "Choose at least one person, schedule or team to notify." in text(response)
    assert policy.steps.count() == 2


def test_the_form_offers_only_people_who_can_acknowledge(manager, policy, viewer, responder):
    html = text(client_for(manager).get(detail_url(policy)))
    assert responder.get_full_name() in html
    assert viewer.get_full_name() not in html


def test_a_hand_made_post_with_a_viewer_is_refused(manager, policy, viewer):
    response = client_for(manager).post(
        reverse("oncall:step_add", kwargs={"pk": policy.pk}),
        {"new-delay_minutes": 5, "new-users": [viewer.pk]},
        **HTMX,
    )
    assert "Select a valid choice" in text(response)
    assert policy.steps.count() == 2


def test_moving_a_step_up_reorders_the_flow(manager, policy, responder):
    response = client_for(manager).post(step_url("step_move", policy, 1), {"direction": "up"}, **HTMX)

    assert response.status_code == 200
    assert (
        f"Step 1 — notify {responder.get_full_name()} — after 5 min → Step 2 — notify Payments primary"
        in text(response)
    )


def test_editing_a_step(manager, policy):
    step = policy.steps.get(position=1)
    response = client_for(manager).post(
        step_url("step_update", policy, 1),
        {f"step-{step.pk}-delay_minutes": 2, f"step-{step.pk}-users": [manager.pk]},
        **HTMX,
    )
    assert f"Step 2 — notify {manager.get_full_name()} — after 2 min" in text(response)


def test_removing_the_last_step_shows_the_empty_state(manager, policy):
    client = client_for(manager)
    client.post(step_url("step_delete", policy, 0), **HTMX)
    response = client.post(step_url("step_delete", policy, 0), **HTMX)

    assert "No steps yet." in text(response)
    assert "Removed step 1." in text(response)


def test_assigning_a_service_and_taking_it_away(manager, policy, service):
    client = client_for(manager)
    assert "Checkout (no policy yet)" in text(client.get(detail_url(policy)))

    response = client.post(
        reverse("oncall:policy_service_assign", kwargs={"pk": policy.pk}), {"service": service.pk}
    )
    service.refresh_from_db()
    assert response.status_code == 302
    assert service.escalation_policy == policy
    assert "Checkout now pages with “Checkout primary”." in text(client.get(response.url))

    client.post(reverse("oncall:policy_service_remove", kwargs={"pk": policy.pk, "slug": service.slug}))
    service.refresh_from_db()
    assert service.escalation_policy is None


def test_a_policy_in_use_is_not_deleted(manager, policy, service):
    service_escalation_policy_set(service=service, policy=policy, actor=manager)
    client = client_for(manager)

    response = client.post(reverse("oncall:policy_delete", kwargs={"pk": policy.pk}), follow=True)

    assert "Checkout still pages with “Checkout primary”: give them another policy first." in text(response)
    assert EscalationPolicy.objects.filter(pk=policy.pk).exists()


# --- my notifications -----------------------------------------------------------------------


def test_a_new_user_sees_the_default_email_rule_as_a_ladder(responder):
    html = text(client_for(responder).get(reverse("oncall:my_notifications")))

    assert "rosa@example.org" in html
    assert html.count("Email at 0 min") >= 2  # high and low urgency


def test_unconfigured_channels_are_shown_as_such(settings, responder):
    settings.TWILIO_ACCOUNT_SID = ""
    settings.NTFY_URL = ""

    html = text(client_for(responder).get(reverse("oncall:my_notifications")))

    assert "SMS — not configured on this server" in html
    assert "ntfy push — not configured on this server" in html
    assert "SMS needs a Twilio account" in html


def test_a_bad_sms_number_is_explained_on_the_form(responder):
    response = client_for(responder).post(
        reverse("oncall:contact_method_create"), {"kind": "sms", "address": "07700 900123"}, **HTMX
    )
    assert response.status_code == 200
    assert "Write the number in international format" in text(response)
    assert not ContactMethod.objects.filter(kind="sms").exists()


def test_a_good_sms_number_is_added_and_listed(responder):
    response = client_for(responder).post(
        reverse("oncall:contact_method_create"),
        {"kind": "sms", "address": "+44 7700 900123", "label": "Mobile"},
        **HTMX,
    )
    html = text(response)
    assert "+447700900123" in html
    assert "Added SMS +447700900123." in html


def test_send_a_test_email_shows_sent_inline(smtp_server, responder):
    method = responder.contact_methods.get()

    response = client_for(responder).post(
        reverse("oncall:contact_method_test", kwargs={"pk": method.pk}), **HTMX
    )

    assert response.status_code == 200
    html = text(response)
    assert 'class="test-result test-sent"' in html
    assert "sent to rosa@example.org" in html
    [envelope] = smtp_server.envelopes
    assert "This is a test from Muster" in envelope.content.decode()


def test_send_a_test_without_htmx_comes_back_as_a_message(smtp_server, responder):
    method = responder.contact_methods.get()
    client = client_for(responder)
    response = client.post(reverse("oncall:contact_method_test", kwargs={"pk": method.pk}), follow=True)
    assert "Test Email rosa@example.org: sent to rosa@example.org" in text(response)


def test_send_a_test_on_an_unconfigured_channel_says_unavailable(settings, responder):
    settings.TWILIO_ACCOUNT_SID = ""
    method = ContactMethod.objects.create(user=responder, kind="sms", address="+15555550100")

    response = client_for(responder).post(
        reverse("oncall:contact_method_test", kwargs={"pk": method.pk}), **HTMX
    )

    html = text(response)
    assert 'class="test-result test-unavailable"' in html
    assert "unavailable: SMS needs a Twilio account" in html


def test_someone_elses_contact_method_is_not_found(responder, manager):
    theirs = manager.contact_methods.get()
    client = client_for(responder)

    assert client.post(reverse("oncall:contact_method_test", kwargs={"pk": theirs.pk})).status_code == 404
    assert client.post(reverse("oncall:contact_method_delete", kwargs={"pk": theirs.pk})).status_code == 404
    assert ContactMethod.objects.filter(pk=theirs.pk).exists()


def test_adding_rules_builds_the_ladder(responder):
    client = client_for(responder)
    client.post(reverse("oncall:contact_method_create"), {"kind": "sms", "address": "+15555550100"})
    sms = ContactMethod.objects.get(kind="sms")

    response = client.post(
        reverse("oncall:notification_rule_create"),
        {"urgency": "high", "contact_method": sms.pk, "delay_minutes": 3},
        **HTMX,
    )

    assert "Email at 0 min → SMS at 3 min" in text(response)


def test_removing_every_low_urgency_rule_says_high_urgency_rules_apply(responder):
    rule = responder.notification_rules.get(urgency=Urgency.LOW)
    response = client_for(responder).post(
        reverse("oncall:notification_rule_delete", kwargs={"pk": rule.pk}), **HTMX
    )
    assert "low-urgency pages follow the high-urgency rules" in text(response)
    assert not NotificationRule.objects.filter(pk=rule.pk).exists()


def test_removing_a_contact_method_removes_its_rules(responder):
    method = responder.contact_methods.get()
    response = client_for(responder).post(
        reverse("oncall:contact_method_delete", kwargs={"pk": method.pk}), **HTMX
    )
    html = text(response)
    assert "and the 2 rules that used it" in html
    assert "No rules: Muster emails rosa@example.org at once" in html


def test_profile_time_zone_and_reminder_lead_time(responder):
    client = client_for(responder)
    response = client.post(
        reverse("oncall:profile_update"),
        {"time_zone": "Europe/Berlin", "shift_nudges": "on", "shift_nudge_minutes": 30},
        **HTMX,
    )
    assert "Profile saved." in text(response)
    profile = Profile.objects.get(user=responder)
    assert (profile.time_zone, profile.shift_nudges, profile.shift_nudge_minutes) == (
        "Europe/Berlin",
        True,
        30,
    )

    bad = client.post(reverse("oncall:profile_update"), {"time_zone": "Moon/Base", "shift_nudge_minutes": 30})
    assert bad.status_code == 400
    assert "Moon/Base is not one of the available choices" in text(bad)


def test_weekly_action_item_digest_can_be_switched_off_and_on_from_the_profile(responder):
    client = client_for(responder)
    page = text(client.get(reverse("oncall:my_notifications")))
    assert "Email me a weekly digest of my open action items" in page
    assert 'name="action_item_digest" checked' in page.replace('id="id_action_item_digest" ', "")

    fields = {"time_zone": "UTC", "shift_nudges": "on", "shift_nudge_minutes": 60}
    response = client.post(reverse("oncall:profile_update"), fields, **HTMX)
    assert "Profile saved." in text(response)
    assert Profile.objects.get(user=responder).action_item_digest is False
    assert "checked" not in text(response).split('name="action_item_digest"')[1].split(">")[0]

    client.post(reverse("oncall:profile_update"), {**fields, "action_item_digest": "on"}, **HTMX)
    assert Profile.objects.get(user=responder).action_item_digest is True
