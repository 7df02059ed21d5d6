from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command

from incidents.choices import Role
from incidents.models import AuditEntry
from oncall.models import ContactMethod, EscalationPolicy, NotificationRule
from tests.clients import api_client_for
from tests.factories import (
    EscalationPolicyFactory,
    MembershipFactory,
    ScheduleFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

POLICIES = "/api/v1/escalation-policies/"
CONTACTS = "/api/v1/contact-methods/"
RULES = "/api/v1/notification-rules/"


@pytest.fixture
def schedule(team):
    return ScheduleFactory(team=team, name="Payments primary")


@pytest.fixture
def body(responder, schedule):
    return {
        "name": "Checkout primary",
        "team": "payments",
        "repeat_count": 1,
        "steps": [
            {"delay_minutes": 10, "schedules": [schedule.pk]},
            {"delay_minutes": 5, "users": [responder.pk]},
        ],
    }


@pytest.fixture
def policy(manager, body):
    response = api_client_for(manager).post(POLICIES, body, format="json")
    assert response.status_code == 201, response.json()
    return EscalationPolicy.objects.get(pk=response.json()["id"])


# --- escalation policies --------------------------------------------------------------------


def test_a_manager_creates_a_policy_with_nested_steps(manager, body, responder, schedule):
    response = api_client_for(manager).post(POLICIES, body, format="json")

    assert response.status_code == 201
    data = response.json()
    assert data["team"] == "payments"
    assert data["repeat_count"] == 1
    assert data["steps"] == [
        {"position": 0, "delay_minutes": 10, "users": [], "schedules": [schedule.pk], "teams": []},
        {"position": 1, "delay_minutes": 5, "users": [responder.pk], "schedules": [], "teams": []},
    ]
    assert data["flow"] == (
        f"Step 1 — notify Payments primary (on call) — after 10 min → "
        f"Step 2 — notify {responder.get_full_name()} — after 5 min; repeat 1 time"
    )
    assert data["url"].endswith(f"/escalation-policies/{data['id']}/")
    assert AuditEntry.objects.filter(action="escalation_policy.create").count() == 1


def test_a_responder_cannot_create_one(responder, body):
    response = api_client_for(responder).post(POLICIES, body, format="json")

    assert response.status_code == 403
    assert response.json() == {"detail": "This needs the manager role in team Payments."}
    assert not EscalationPolicy.objects.exists()


def test_a_team_you_are_not_in_is_a_400_naming_the_field(manager, body):
    TeamFactory(slug="search", name="Search")
    response = api_client_for(manager).post(POLICIES, {**body, "team": "search"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"team": ["No team 'search' that you are in."]}


def test_a_step_that_notifies_nobody_is_a_400(manager, body):
    response = api_client_for(manager).post(
        POLICIES, {**body, "steps": [{"delay_minutes": 5}]}, format="json"
    )

    assert response.status_code == 400
    assert "notify someone" in str(response.json()["steps"])


def test_paging_a_viewer_is_refused_with_the_reason(manager, body, viewer):
    response = api_client_for(manager).post(
        POLICIES, {**body, "steps": [{"delay_minutes": 5, "users": [viewer.pk]}]}, format="json"
    )

    assert response.status_code == 409
    assert "cannot acknowledge incidents of Payments" in response.json()["detail"]


def test_an_unknown_user_id_is_a_400(manager, body):
    response = api_client_for(manager).post(
        POLICIES, {**body, "steps": [{"delay_minutes": 5, "users": [987654]}]}, format="json"
    )
    assert response.status_code == 400
    assert "987654" in str(response.json())


def test_members_list_their_teams_policies_and_others_are_404(viewer, policy):
    EscalationPolicyFactory(team=TeamFactory(slug="search"), name="Search nights")
    client = api_client_for(viewer)

    listed = client.get(POLICIES).json()
    assert [row["name"] for row in listed["results"]] == ["Checkout primary"]
    assert client.get(f"{POLICIES}{policy.pk}/").status_code == 200

    stranger = UserFactory(username="sam")
    MembershipFactory(team=TeamFactory(slug="search"), user=stranger, role=Role.MANAGER)
    assert api_client_for(stranger).get(f"{POLICIES}{policy.pk}/").status_code == 404
    assert api_client_for(stranger).delete(f"{POLICIES}{policy.pk}/").status_code == 404


def test_a_viewer_cannot_change_or_delete(viewer, policy):
    client = api_client_for(viewer)
    assert client.patch(f"{POLICIES}{policy.pk}/", {"name": "x"}, format="json").status_code == 403
    assert client.delete(f"{POLICIES}{policy.pk}/").status_code == 403
    assert EscalationPolicy.objects.get().name == "Checkout primary"


def test_put_replaces_every_step_and_patch_keeps_them(manager, policy, body):
    client = api_client_for(manager)

    patched = client.patch(f"{POLICIES}{policy.pk}/", {"name": "Checkout"}, format="json").json()
    assert patched["name"] == "Checkout"
    assert len(patched["steps"]) == 2

    put = client.put(
        f"{POLICIES}{policy.pk}/",
        {
            "name": "Checkout",
            "team": "payments",
            "repeat_count": 0,
            "steps": [{"delay_minutes": 3, "teams": [policy.team_id]}],
        },
        format="json",
    ).json()
    assert put["flow"] == "Step 1 — notify all responders in Payments"
    assert put["repeat_count"] == 0


def test_a_policy_cannot_move_to_another_team(manager, policy):
    other = TeamFactory(slug="search", name="Search")
    MembershipFactory(team=other, user=manager, role=Role.MANAGER)

    response = api_client_for(manager).patch(f"{POLICIES}{policy.pk}/", {"team": "search"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "team": ["A policy stays in its team; create a new policy in the other team instead."]
    }


def test_assigning_a_service_and_refusing_to_delete_a_policy_in_use(manager, policy, service):
    client = api_client_for(manager)

    assigned = client.post(f"{POLICIES}{policy.pk}/services/", {"service": "checkout"}, format="json")
    assert assigned.status_code == 200
    assert assigned.json()["services"] == ["checkout"]

    refused = client.delete(f"{POLICIES}{policy.pk}/")
    assert refused.status_code == 409
    assert (
        refused.json()["detail"]
        == "Checkout still pages with “Checkout primary”: give them another policy first."
    )

    assert client.delete(f"{POLICIES}{policy.pk}/services/checkout/").json()["services"] == []
    assert client.delete(f"{POLICIES}{policy.pk}/").status_code == 204
    assert not EscalationPolicy.objects.exists()


def test_assigning_an_unknown_service_names_it(manager, policy):
    response = api_client_for(manager).post(
        f"{POLICIES}{policy.pk}/services/", {"service": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"service": ["Payments has no service 'nope'."]}


# --- contact methods and rules --------------------------------------------------------------


def test_contact_methods_are_the_callers_own(responder, manager):
    rows = api_client_for(responder).get(CONTACTS).json()["results"]

    assert [(r["kind"], r["address"], r["available"]) for r in rows] == [("email", "rosa@example.org", True)]
    theirs = manager.contact_methods.get()
    assert api_client_for(responder).get(f"{CONTACTS}{theirs.pk}/").status_code == 404


def test_a_bad_sms_number_is_a_400_on_the_address(responder):
    response = api_client_for(responder).post(
        CONTACTS, {"kind": "sms", "address": "07700 900123"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["address"][0].startswith("Write the number in international format")


def test_a_good_sms_number_is_normalised_and_says_if_the_server_can_send_it(settings, responder):
    settings.TWILIO_ACCOUNT_SID = ""
    response = api_client_for(responder).post(
        CONTACTS, {"kind": "sms", "address": "+44 7700 900123", "label": "Mobile"}, format="json"
    )

    assert response.status_code == 201
    data = response.json()
    assert (data["address"], data["label"], data["available"]) == ("+447700900123", "Mobile", False)
    assert data["unavailable_reason"].startswith("SMS needs a Twilio account")


def test_an_unknown_kind_is_a_400(responder):
    response = api_client_for(responder).post(CONTACTS, {"kind": "pager", "address": "123"}, format="json")
    assert response.status_code == 400
    assert "kind" in response.json()


def test_editing_an_address_and_deleting_a_contact_method(responder):
    client = api_client_for(responder)
    method = ContactMethod.objects.create(user=responder, kind="sms", address="+15555550100")

    bad = client.patch(f"{CONTACTS}{method.pk}/", {"address": "nope"}, format="json")
    assert bad.status_code == 400
    good = client.patch(f"{CONTACTS}{method.pk}/", {"address": "+1 555 555 0199"}, format="json")
    assert good.json()["address"] == "+15555550199"

    assert client.delete(f"{CONTACTS}{method.pk}/").status_code == 204
    assert not ContactMethod.objects.filter(pk=method.pk).exists()


def test_send_a_test_email(smtp_server, responder):
    method = responder.contact_methods.get()

    response = api_client_for(responder).post(f"{CONTACTS}{method.pk}/test/")

    assert response.status_code == 200
    assert response.json()["status"] == "sent"
    assert len(smtp_server.envelopes) == 1


def test_send_a_test_on_an_unconfigured_channel(settings, responder):
    settings.SLACK_BOT_TOKEN = ""
    method = ContactMethod.objects.create(user=responder, kind="slack", address="U012ABCDEF")

    response = api_client_for(responder).post(f"{CONTACTS}{method.pk}/test/")

    assert response.json() == {
        "status": "unavailable",
        "detail": "unavailable: Set SLACK_BOT_TOKEN (a bot token, xoxb-…, with the chat:write scope) to page by Slack.",
    }


def test_rules_list_create_and_delete(responder):
    client = api_client_for(responder)
    sms = ContactMethod.objects.create(user=responder, kind="sms", address="+15555550100")

    created = client.post(
        RULES, {"urgency": "high", "contact_method": sms.pk, "delay_minutes": 3}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["channel"] == "sms"

    rows = client.get(RULES).json()["results"]
    assert [(r["urgency"], r["channel"], r["delay_minutes"]) for r in rows] == [
        ("high", "email", 0),
        ("high", "sms", 3),
        ("low", "email", 0),
    ]

    duplicate = client.post(
        RULES, {"urgency": "high", "contact_method": sms.pk, "delay_minutes": 3}, format="json"
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["detail"] == "You already have SMS at 3 min for high urgency."

    assert client.delete(f"{RULES}{created.json()['id']}/").status_code == 204
    assert NotificationRule.objects.filter(user=responder).count() == 2


def test_a_rule_cannot_use_someone_elses_contact_method(responder, manager):
    theirs = manager.contact_methods.get()
    response = api_client_for(responder).post(
        RULES, {"urgency": "high", "contact_method": theirs.pk}, format="json"
    )

    assert response.status_code == 400
    assert "contact_method" in response.json()


def test_someone_elses_rule_is_404(responder, manager):
    theirs = manager.notification_rules.first()
    assert api_client_for(responder).delete(f"{RULES}{theirs.pk}/").status_code == 404


def test_the_schema_documents_the_people_endpoints(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(target))

    paths = yaml.safe_load(target.read_text())["paths"]
    for path in [
        "/api/v1/escalation-policies/",
        "/api/v1/escalation-policies/{id}/",
        "/api/v1/escalation-policies/{id}/services/",
        "/api/v1/contact-methods/{id}/test/",
        "/api/v1/notification-rules/",
    ]:
        assert path in paths
