from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.choices import IncidentRoleKind, IncidentStatus, IntegrationKind, Role, Severity
from incidents.models import AuditEntry, Incident, Integration, MaintenanceWindow, hash_secret
from incidents.services import incident_assign_role, incident_declare, incident_resolve
from tests.clients import client_for
from tests.factories import (
    AlertFactory,
    IncidentFactory,
    IntegrationFactory,
    MembershipFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def incident(service, responder):
    return incident_declare(
        service=service, title="Checkout returns 502", actor=responder, severity=Severity.SEV2
    )


def detail_url(incident: Incident) -> str:
    return reverse("incidents:detail", kwargs={"number": incident.number})


def action_url(name: str, incident: Incident) -> str:
    return reverse(f"incidents:{name}", kwargs={"number": incident.number})


# --- login and layout -----------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_login_page_renders_and_logs_in(client, viewer):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b"Log in" in page.content

    response = client.post(reverse("login"), {"username": "vera", "password": "correct-horse-battery-staple"})
    assert response.status_code == 302
    assert response.url == reverse("incidents:list")


def test_layout_has_navigation_and_a_post_logout_form(viewer):
    html = client_for(viewer).get("/").content.decode()
    for href in ("/services/", "/incidents/declare/", "/api/v1/docs/"):
        assert f'href="{href}"' in html
    assert f'action="{reverse("logout")}"' in html
    assert "muster.css" in html
    assert "htmx" in html


# --- incident list --------------------------------------------------------------------------


def test_list_shows_open_incidents_of_the_users_teams_only(viewer, service):
    mine = IncidentFactory(service=service, title="Payments failing", severity=Severity.SEV1)
    resolved = IncidentFactory(service=service, title="Old and done", status=IncidentStatus.RESOLVED)
    theirs = IncidentFactory(service=ServiceFactory(slug="search"), title="Search is slow")

    html = client_for(viewer).get("/").content.decode()

    assert mine.reference in html
    assert "Payments failing" in html
    assert 'class="sev sev1"' in html
    assert "pill-triggered" in html
    assert "Checkout" in html
    assert resolved.title not in html
    assert theirs.title not in html


def test_list_status_filter_can_show_every_status(viewer, service):
    IncidentFactory(service=service, title="Old and done", status=IncidentStatus.RESOLVED)
    html = client_for(viewer).get("/", {"status": ""}).content.decode()
    assert "Old and done" in html


def test_list_filters_by_severity_and_service(viewer, service):
    IncidentFactory(service=service, title="Loud one", severity=Severity.SEV1)
    IncidentFactory(service=service, title="Quiet one", severity=Severity.SEV4)
    client = client_for(viewer)

    html = client.get("/", {"severity": "1"}).content.decode()
    assert "Loud one" in html
    assert "Quiet one" not in html

    html = client.get("/", {"service": "elsewhere"}).content.decode()
    assert "No incidents match these filters" in html


def test_list_shows_the_commander(viewer, responder, service, incident):
    incident_assign_role(incident=incident, role=IncidentRoleKind.COMMANDER, user=responder, actor=responder)
    html = client_for(viewer).get("/").content.decode()
    assert responder.get_full_name() in html


def test_empty_list_says_what_to_do(viewer):
    html = client_for(viewer).get("/").content.decode()
    assert "No open incidents" in html
    assert "Alertmanager" in html
    assert reverse("incidents:declare") in html


def test_htmx_list_request_returns_the_polling_partial(viewer, service):
    IncidentFactory(service=service, title="Payments failing")
    response = client_for(viewer).get("/", {"status": "open"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="incident-list"' in html
    assert 'hx-trigger="every 5s"' in html
    assert "Payments failing" in html
    assert "HX-Request" in response["Vary"]


def test_list_paginates_at_fifty(viewer, service):
    IncidentFactory.create_batch(51, service=service)
    html = client_for(viewer).get("/").content.decode()
    assert "Page 1 of 2" in html
    assert html.count('class="incident-row" href=') == 50


def _list_query_count(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/")
    assert response.status_code == 200
    return len(queries)


def test_list_query_count_does_not_grow_with_incidents(viewer, responder, service):
    client = client_for(viewer)

    def add_incidents(count: int) -> None:
        for incident in IncidentFactory.create_batch(count, service=service):
            incident_assign_role(
                incident=incident, role=IncidentRoleKind.COMMANDER, user=responder, actor=None
            )

    add_incidents(3)
    with_three = _list_query_count(client)
    add_incidents(27)
    with_thirty = _list_query_count(client)

    assert with_thirty == with_three


def test_list_query_count_baseline(viewer, service, django_assert_max_num_queries):
    IncidentFactory.create_batch(5, service=service)
    client = client_for(viewer)
    # session, user, count, page, roles, services, teams, and the user's team ids once per selector.
    with django_assert_max_num_queries(10):
        client.get("/")


# --- incident page --------------------------------------------------------------------------


def test_incident_page_shows_header_timeline_durations_and_alerts(viewer, service, incident):
    integration = IntegrationFactory(service=service, name="Prod Alertmanager")
    AlertFactory(
        integration=integration,
        incident=incident,
        summary="Replica lagging",
        source="db-eu1",
        labels={"alertname": "PgLag", "team": "db"},
        repeat_count=2,
    )

    html = client_for(viewer).get(detail_url(incident)).content.decode()

    assert incident.reference in html
    assert "Checkout returns 502" in html
    assert 'class="sev sev2"' in html
    assert "Triggered" in html
    assert "declared INC-" in html  # the timeline entry written by incident_declare
    assert "Time to acknowledge" in html
    assert "—" in html
    assert "Replica lagging" in html
    assert "PgLag" in html
    assert "Prod Alertmanager" in html
    assert "\u00d73" in html  # repeat count 2 means three triggers
    assert 'hx-trigger="every 5s"' in html


def test_suppressed_incident_shows_a_banner(viewer, service):
    incident = IncidentFactory(service=service, suppressed=True)
    html = client_for(viewer).get(detail_url(incident)).content.decode()
    assert "nobody was paged" in html


def test_durations_are_humanised(viewer, service):
    now = timezone.now()
    incident = IncidentFactory(
        service=service,
        status=IncidentStatus.ACKNOWLEDGED,
        impact_started_at=now - timedelta(minutes=10),
        detected_at=now - timedelta(minutes=4),
        acknowledged_at=now - timedelta(minutes=1, seconds=30),
    )
    html = client_for(viewer).get(detail_url(incident)).content.decode()
    assert "6m" in html  # time to detect
    assert "2m 30s" in html  # time to acknowledge


def test_htmx_timeline_poll_returns_the_timeline_with_a_fresh_header(viewer, incident):
    response = client_for(viewer).get(detail_url(incident), HTTP_HX_TARGET="incident-timeline", **HTMX)
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="incident-timeline"' in html
    assert 'hx-swap-oob="true"' in html
    assert "Time to acknowledge" not in html


def test_htmx_incident_request_returns_the_body_partial(viewer, incident):
    html = client_for(viewer).get(detail_url(incident), **HTMX).content.decode()
    assert "<html" not in html
    assert 'id="incident-body"' in html


def test_viewer_sees_no_action_forms(viewer, incident):
    html = client_for(viewer).get(detail_url(incident)).content.decode()
    assert action_url("acknowledge", incident) not in html
    assert action_url("note", incident) not in html
    assert "need the responder role" in html


def test_responder_sees_action_forms(responder, incident):
    html = client_for(responder).get(detail_url(incident)).content.decode()
    for name in ("acknowledge", "mitigate", "resolve", "severity", "assign_role", "note"):
        assert action_url(name, incident) in html


@pytest.mark.parametrize("action", ["acknowledge", "mitigate", "resolve", "severity", "assign_role", "note"])
def test_viewer_cannot_act(viewer, incident, action):
    response = client_for(viewer).post(action_url(action, incident), {"severity": 1, "text": "hi"})
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.TRIGGERED
    assert incident.severity == Severity.SEV2
    assert incident.timeline.count() == 1


def test_outsider_gets_404_for_page_and_actions(outsider, incident):
    client = client_for(outsider)
    assert client.get(detail_url(incident)).status_code == 404
    assert client.post(action_url("acknowledge", incident)).status_code == 404
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.TRIGGERED


def test_actions_need_post(responder, incident):
    assert client_for(responder).get(action_url("acknowledge", incident)).status_code == 405


def test_acknowledge_without_js_redirects_and_shows_on_the_timeline(responder, incident):
    client = client_for(responder)
    response = client.post(action_url("acknowledge", incident))
    assert response.status_code == 302
    assert response.url == detail_url(incident)

    incident.refresh_from_db()
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    html = client.get(detail_url(incident)).content.decode()
    assert f"Acknowledged by {responder.get_full_name()}" in html


def test_acknowledge_with_htmx_returns_the_refreshed_body(responder, incident):
    response = client_for(responder).post(action_url("acknowledge", incident), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="incident-body"' in html
    assert "Acknowledged by" in html
    assert "pill-acknowledged" in html
    assert action_url("acknowledge", incident) not in html


def test_mark_mitigated(responder, incident):
    client_for(responder).post(action_url("mitigate", incident))
    incident.refresh_from_db()
    assert incident.mitigated_at is not None
    assert incident.timeline.filter(kind="mitigated").exists()


def test_resolve_with_a_note(responder, incident):
    client_for(responder).post(action_url("resolve", incident), {"note": "rolled back v42"})
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.timeline.filter(text__contains="rolled back v42").exists()


def test_change_severity(responder, incident):
    html = (
        client_for(responder)
        .post(action_url("severity", incident), {"severity": Severity.SEV1}, **HTMX)
        .content.decode()
    )
    incident.refresh_from_db()
    assert incident.severity == Severity.SEV1
    assert "changed severity from SEV2 to SEV1" in html


def test_invalid_severity_is_a_form_error_not_a_500(responder, incident):
    response = client_for(responder).post(action_url("severity", incident), {"severity": 9})
    assert response.status_code == 400
    incident.refresh_from_db()
    assert incident.severity == Severity.SEV2


def test_add_note(responder, incident):
    html = (
        client_for(responder)
        .post(action_url("note", incident), {"text": "Rolling back the deploy"}, **HTMX)
        .content.decode()
    )
    assert "Rolling back the deploy" in html
    assert incident.timeline.filter(kind="note", actor_user=responder).exists()


def test_the_note_form_posts_a_status_update_for_stakeholders(responder, incident):
    html = (
        client_for(responder)
        .post(
            action_url("note", incident),
            {"text": "Rolled back; errors falling", "kind": "status_update"},
            **HTMX,
        )
        .content.decode()
    )

    assert "Status update: Rolled back; errors falling" in html
    assert incident.timeline.filter(kind="status_update", actor_user=responder).exists()
    assert not incident.timeline.filter(kind="note").exists()


def test_blank_note_shows_an_error(responder, incident):
    response = client_for(responder).post(action_url("note", incident), {"text": "   "}, **HTMX)
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not incident.timeline.filter(kind="note").exists()


def test_assign_commander_from_the_team(responder, manager, incident):
    client_for(responder).post(
        action_url("assign_role", incident), {"role": IncidentRoleKind.COMMANDER, "user": manager.pk}
    )
    assert incident.roles.get(role=IncidentRoleKind.COMMANDER).user == manager
    html = client_for(responder).get(detail_url(incident)).content.decode()
    assert f"made {manager.get_full_name()} incident commander" in html


def test_cannot_assign_a_role_to_someone_outside_the_team(responder, outsider, incident):
    response = client_for(responder).post(
        action_url("assign_role", incident), {"role": IncidentRoleKind.COMMANDER, "user": outsider.pk}
    )
    assert response.status_code == 400
    assert not incident.roles.exists()


def test_domain_error_becomes_a_message_without_js(responder, incident):
    incident_resolve(incident=incident, actor=responder)
    client = client_for(responder)
    response = client.post(action_url("mitigate", incident), follow=True)
    assert response.status_code == 200
    assert "is already resolved" in response.content.decode()


def test_domain_error_becomes_a_message_with_htmx(responder, incident):
    incident_resolve(incident=incident, actor=responder)
    response = client_for(responder).post(action_url("mitigate", incident), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "message-error" in html
    assert "is already resolved" in html


# --- declare --------------------------------------------------------------------------------


def test_declare_form_offers_only_services_the_user_can_respond_on(responder, service):
    other_team = TeamFactory(slug="search-team")
    MembershipFactory(team=other_team, user=responder, role=Role.VIEWER)
    ServiceFactory(name="Search", slug="search", team=other_team)

    html = client_for(responder).get(reverse("incidents:declare")).content.decode()
    assert ">Checkout</option>" in html
    assert ">Search</option>" not in html


def test_declare_creates_the_incident_and_redirects_to_it(responder, service):
    response = client_for(responder).post(
        reverse("incidents:declare"),
        {
            "service": service.pk,
            "title": "Card payments failing",
            "severity": Severity.SEV1,
            "urgency": "high",
            "description": "Stripe webhooks time out",
            "impact_started_at": "2026-01-05T09:30",
        },
    )
    incident = Incident.objects.get(title="Card payments failing")
    assert response.status_code == 302
    assert response.url == detail_url(incident)
    assert incident.declared_by == responder
    assert incident.severity == Severity.SEV1
    assert incident.impact_started_at is not None


def test_declare_on_a_service_the_user_only_views_is_rejected(responder, service):
    other_team = TeamFactory(slug="search-team")
    MembershipFactory(team=other_team, user=responder, role=Role.VIEWER)
    search = ServiceFactory(name="Search", slug="search", team=other_team)

    response = client_for(responder).post(
        reverse("incidents:declare"),
        {"service": search.pk, "title": "x", "severity": 3, "urgency": "high"},
    )
    assert response.status_code == 400
    assert not Incident.objects.exists()


def test_viewer_cannot_declare(viewer):
    assert client_for(viewer).get(reverse("incidents:declare")).status_code == 403


# --- services -------------------------------------------------------------------------------


def test_service_list_and_page_render_for_a_viewer(viewer, service):
    IncidentFactory(service=service, title="Payments failing")
    IntegrationFactory(service=service, name="Prod Alertmanager", kind=IntegrationKind.ALERTMANAGER)
    client = client_for(viewer)

    listing = client.get(reverse("incidents:service_list")).content.decode()
    assert "Checkout" in listing
    assert "1 open" in listing

    page = client.get(service.get_absolute_url()).content.decode()
    assert "Payments failing" in page
    assert "Prod Alertmanager" in page
    assert "Add an integration" not in page
    assert "Schedule maintenance" not in page


def test_outsider_gets_404_for_a_service(outsider, service):
    assert client_for(outsider).get(service.get_absolute_url()).status_code == 404


def test_manager_sees_the_configuration_forms(manager, service):
    html = client_for(manager).get(service.get_absolute_url()).content.decode()
    assert "Add an integration" in html
    assert "Schedule maintenance" in html


def create_integration(client: Client, service, kind: str, name: str = ""):
    url = reverse("incidents:integration_create", kwargs={"slug": service.slug})
    return client.post(url, {"kind": kind, "name": name})


def test_new_integration_key_is_shown_once(manager, service):
    client = client_for(manager)
    response = create_integration(client, service, IntegrationKind.ALERTMANAGER, "Prod Alertmanager")
    html = response.content.decode()
    integration = Integration.objects.get(service=service)
    key = html.split('<pre class="snippet key" tabindex="0"><code>')[1].split("</code>")[0]

    assert response.status_code == 200
    assert integration.key_hash == hash_secret(key)
    assert "no-store" in response["Cache-Control"]
    assert f"/hooks/{key}" in html
    assert "webhook_configs" in html

    again = client.get(service.get_absolute_url()).content.decode()
    assert key not in again
    assert integration.key_prefix in again
    assert AuditEntry.objects.get(action="integration.create").actor == manager


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (
            IntegrationKind.PAGERDUTY,
            ["pagerduty_configs", "routing_key: &quot;{key}&quot;", "/v2/enqueue", "curl"],
        ),
        (IntegrationKind.OPSGENIE, ["opsgenie_configs", "api_key: &quot;{key}&quot;", "GenieKey {key}"]),
        (IntegrationKind.GRAFANA, ["/hooks/{key}", "type: webhook"]),
        (IntegrationKind.NATIVE, ["/api/v1/alerts/", "curl"]),
        (IntegrationKind.WEBHOOK, ["/hooks/{key}", "curl"]),
    ],
)
def test_snippets_for_each_kind_carry_the_key(manager, service, kind, expected):
    html = create_integration(client_for(manager), service, kind).content.decode()
    key = html.split('<pre class="snippet key" tabindex="0"><code>')[1].split("</code>")[0]
    for fragment in expected:
        assert fragment.format(key=key) in html


def test_only_managers_add_integrations(responder, service):
    response = create_integration(client_for(responder), service, IntegrationKind.PAGERDUTY)
    assert response.status_code == 403
    assert not Integration.objects.exists()


def test_unknown_integration_kind_is_a_form_error(manager, service):
    response = create_integration(client_for(manager), service, "carrier-pigeon")
    assert response.status_code == 400
    assert not Integration.objects.exists()


def maintenance_url(service) -> str:
    return reverse("incidents:maintenance_create", kwargs={"slug": service.slug})


def test_manager_schedules_maintenance(manager, service):
    client = client_for(manager)
    response = client.post(
        maintenance_url(service),
        {"starts_at": "2026-03-01T22:00", "ends_at": "2026-03-01T23:30", "reason": "Database upgrade"},
        follow=True,
    )
    window = MaintenanceWindow.objects.get(service=service)
    assert window.created_by == manager
    assert "Database upgrade" in response.content.decode()
    assert "Maintenance window scheduled" in response.content.decode()


def test_maintenance_ending_before_it_starts_is_refused_with_a_message(manager, service):
    response = client_for(manager).post(
        maintenance_url(service), {"starts_at": "2026-03-01T22:00", "ends_at": "2026-03-01T21:00"}
    )
    assert response.status_code == 400
    assert "must end after it starts" in response.content.decode()
    assert not MaintenanceWindow.objects.exists()


def test_only_managers_schedule_maintenance(responder, service):
    response = client_for(responder).post(
        maintenance_url(service), {"starts_at": "2026-03-01T22:00", "ends_at": "2026-03-01T23:00"}
    )
    assert response.status_code == 403
    assert not MaintenanceWindow.objects.exists()


def test_superuser_sees_every_team(service):
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    IncidentFactory(service=service, title="Payments failing")
    assert "Payments failing" in client_for(admin).get("/").content.decode()


def test_an_incident_of_another_team_is_a_product_404_page(client, outsider):
    incident = IncidentFactory()
    client.force_login(outsider)
    response = client.get(incident.get_absolute_url())
    assert response.status_code == 404
    assert b"belongs to a team you are not a member of" in response.content


def test_a_generic_webhook_added_in_the_ui_reads_the_json_paths_it_was_given(manager, service):
    url = reverse("incidents:integration_create", kwargs={"slug": service.slug})
    response = client_for(manager).post(
        url, {"kind": "webhook", "name": "Uptime", "title_path": "check.name", "dedup_key_path": "check.id"}
    )
    assert response.status_code == 200
    integration = Integration.objects.get(service=service)
    assert integration.config == {"title_path": "check.name", "dedup_key_path": "check.id"}

    key = (
        response.content.decode().split('<pre class="snippet key" tabindex="0"><code>')[1].split("</code>")[0]
    )
    Client().post(
        f"/hooks/{key}", {"check": {"name": "Homepage down", "id": "hp"}}, content_type="application/json"
    )
    assert Incident.objects.get().title == "Homepage down"


def test_json_paths_on_another_kind_are_a_form_error(manager, service):
    url = reverse("incidents:integration_create", kwargs={"slug": service.slug})
    response = client_for(manager).post(url, {"kind": "pagerduty", "title_path": "x"})
    assert response.status_code == 400
    assert b"JSON paths apply only to generic webhook" in response.content
    assert not Integration.objects.exists()
