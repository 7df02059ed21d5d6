"""The incident endpoints: list, detail, declare and the actions, each through its service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.api.views import IncidentViewSet
from incidents.choices import AlertStatus, IncidentRoleKind, IncidentStatus, Role, Severity, TimelineKind
from incidents.filters import IncidentFilter
from incidents.models import Incident, IncidentRole
from incidents.services import incident_acknowledge, incident_resolve
from tests.factories import (
    AlertFactory,
    IncidentFactory,
    IntegrationFactory,
    MembershipFactory,
    ServiceFactory,
    TimelineEventFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def kinds(incident: Incident) -> list[str]:
    return list(incident.timeline.values_list("kind", flat=True))


def numbers(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["number"] for row in response.json()["results"]]


# --- reading --------------------------------------------------------------------------------


class TestList:
    def test_lists_only_incidents_of_the_users_teams_newest_first(
        self, client_for, viewer, service, other_team
    ):
        older = IncidentFactory(service=service)
        newer = IncidentFactory(service=service)
        IncidentFactory(service=ServiceFactory(team=other_team))

        body = client_for(viewer).get("/api/v1/incidents/").json()

        assert body["count"] == 2
        assert [row["number"] for row in body["results"]] == [newer.number, older.number]
        row = body["results"][0]
        assert row["reference"] == f"INC-{newer.number}"
        assert row["url"] == f"{settings.MUSTER_BASE_URL}/incidents/{newer.number}/"
        assert row["service"] == "checkout"
        assert row["team"] == "payments"
        assert row["severity"] == Severity.SEV2
        assert row["severity_label"] == "SEV2"

    def test_an_outsider_gets_an_empty_list(self, client_for, outsider, incident):
        body = client_for(outsider).get("/api/v1/incidents/").json()

        assert body["count"] == 0
        assert body["results"] == []

    def test_query_count_does_not_grow_with_the_number_of_incidents(self, client_for, viewer, service):
        client = client_for(viewer, via="session")

        def list_queries(how_many: int) -> int:
            Incident.objects.all().delete()
            for _ in range(how_many):
                incident = IncidentFactory.create(service=service)
                # Roles are a to-many relation: the classic place for an N+1.
                IncidentRole.objects.create(incident=incident, role=IncidentRoleKind.COMMANDER, user=viewer)
            with CaptureQueriesContext(connection) as queries:
                response = client.get("/api/v1/incidents/")
            assert response.json()["count"] == how_many
            assert all(row["roles"][0]["user"]["username"] == "vera" for row in response.json()["results"])
            return len(queries)

        assert list_queries(3) == list_queries(30)

    def test_is_paginated(self, client_for, viewer, service):
        IncidentFactory.create_batch(settings.REST_FRAMEWORK["PAGE_SIZE"] + 1, service=service)

        body = client_for(viewer).get("/api/v1/incidents/").json()

        assert len(body["results"]) == settings.REST_FRAMEWORK["PAGE_SIZE"]
        assert body["next"] is not None


class TestFilters:
    """The API takes the UI's filter parameters and means the same by them."""

    @pytest.fixture
    def incidents(self, service, team):
        database = ServiceFactory(name="Database", slug="database", team=team)
        elsewhere = ServiceFactory(name="Search", slug="search-api")
        MembershipFactory(team=elsewhere.team, user=UserFactory(username="vera"), role=Role.VIEWER)
        return {
            "triggered": IncidentFactory(service=service, severity=Severity.SEV1),
            "acknowledged": IncidentFactory(
                service=database, severity=Severity.SEV2, status=IncidentStatus.ACKNOWLEDGED
            ),
            "resolved": IncidentFactory(
                service=service, severity=Severity.SEV1, status=IncidentStatus.RESOLVED
            ),
            "other_team": IncidentFactory(service=elsewhere, severity=Severity.SEV3),
        }

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("status=open", {"triggered", "acknowledged", "other_team"}),
            ("status=resolved", {"resolved"}),
            ("status=acknowledged", {"acknowledged"}),
            ("severity=1", {"triggered", "resolved"}),
            ("severity=1&status=open", {"triggered"}),
            ("service=checkout", {"triggered", "resolved"}),
            ("service=database", {"acknowledged"}),
            ("team=payments", {"triggered", "acknowledged", "resolved"}),
            ("team=payments&service=database&status=open", {"acknowledged"}),
            ("service=no-such-service", set()),
        ],
    )
    def test_filters(self, client_for, viewer, incidents, query, expected):
        response = client_for(viewer).get(f"/api/v1/incidents/?{query}")

        assert set(numbers(response)) == {incidents[name].number for name in expected}

    def test_uses_the_same_filterset_as_the_ui(self):
        assert IncidentViewSet.filterset_class is IncidentFilter

    @pytest.mark.parametrize(("query", "field"), [("status=sleeping", "status"), ("severity=9", "severity")])
    def test_an_unknown_filter_value_is_a_400_naming_the_parameter(self, client_for, viewer, query, field):
        response = client_for(viewer).get(f"/api/v1/incidents/?{query}")

        assert response.status_code == 400
        assert field in response.json()


class TestDetail:
    def test_includes_timeline_alerts_roles_and_durations(self, client_for, viewer, responder, service):
        integration = IntegrationFactory(service=service, name="Prometheus")
        incident = IncidentFactory(
            service=service,
            detected_at=timezone.now() - timedelta(minutes=10),
            impact_started_at=timezone.now() - timedelta(minutes=15),
        )
        alert = AlertFactory(integration=integration, incident=incident, summary="5xx above 5%")
        TimelineEventFactory(incident=incident, text="Looking at the dashboards", actor_user=responder)
        IncidentRole.objects.create(incident=incident, role=IncidentRoleKind.COMMANDER, user=responder)
        incident_acknowledge(incident=incident, actor=responder)

        body = client_for(viewer).get(f"/api/v1/incidents/{incident.number}/").json()

        assert body["status"] == IncidentStatus.ACKNOWLEDGED
        assert [event["kind"] for event in body["timeline"]] == ["note", TimelineKind.ACKNOWLEDGED]
        assert body["timeline"][0]["actor_username"] == "rosa"
        assert body["alerts"][0]["summary"] == "5xx above 5%"
        assert body["alerts"][0]["integration"]["name"] == "Prometheus"
        assert body["alerts"][0]["url"] == (
            f"{settings.MUSTER_BASE_URL}/incidents/{incident.number}/#alert-{alert.pk}"
        )
        assert body["roles"] == [
            {
                "role": "commander",
                "user": {"username": "rosa", "name": responder.get_full_name()},
                "assigned_at": body["roles"][0]["assigned_at"],
            }
        ]
        assert body["durations"]["detect"] == pytest.approx(300, abs=1)
        assert body["durations"]["acknowledge"] == pytest.approx(600, abs=5)
        assert body["durations"]["mitigate"] is None
        assert body["durations"]["resolve"] is None

    def test_an_incident_of_another_team_is_a_404(self, client_for, viewer, other_team):
        hidden = IncidentFactory(service=ServiceFactory(team=other_team))

        response = client_for(viewer).get(f"/api/v1/incidents/{hidden.number}/")

        assert response.status_code == 404
        assert response.json()["detail"]

    @pytest.mark.parametrize("number", ["0", "999999999", "99999999999999999999999", "INC-1"])
    def test_unknown_or_absurd_numbers_are_404s(self, client_for, viewer, number):
        assert client_for(viewer).get(f"/api/v1/incidents/{number}/").status_code == 404


# --- declaring ------------------------------------------------------------------------------


class TestDeclare:
    def test_a_responder_declares_an_incident(self, client_for, responder, service):
        impact = timezone.now() - timedelta(minutes=20)
        response = client_for(responder).post(
            "/api/v1/incidents/",
            {
                "service": "checkout",
                "title": "Card payments failing",
                "severity": "SEV1",
                "urgency": "low",
                "description": "Stripe returns 502",
                "impact_started_at": impact.isoformat(),
            },
            format="json",
        )

        assert response.status_code == 201, response.content
        body = response.json()
        incident = Incident.objects.get(number=body["number"])
        assert (incident.title, incident.severity, incident.urgency) == ("Card payments failing", 1, "low")
        assert incident.declared_by == responder
        assert incident.impact_started_at == impact
        assert kinds(incident) == [TimelineKind.DECLARED]
        assert body["url"] == settings.MUSTER_BASE_URL + incident.get_absolute_url()
        assert body["declared_by"]["username"] == "rosa"

    @pytest.mark.parametrize(("given", "stored"), [(2, 2), ("3", 3), ("sev4", 4), ("SEV1", 1)])
    def test_severity_may_be_a_number_or_a_sev_label(self, client_for, responder, service, given, stored):
        response = client_for(responder).post(
            "/api/v1/incidents/", {"service": "checkout", "title": "Slow", "severity": given}, format="json"
        )

        assert response.status_code == 201, response.content
        assert response.json()["severity"] == stored

    def test_defaults_to_sev3_high_urgency(self, client_for, responder, service):
        body = (
            client_for(responder)
            .post("/api/v1/incidents/", {"service": "checkout", "title": "Slow"}, format="json")
            .json()
        )

        assert (body["severity"], body["urgency"]) == (Severity.SEV3, "high")

    def test_a_viewer_may_not_declare(self, client_for, viewer, service):
        response = client_for(viewer).post(
            "/api/v1/incidents/", {"service": "checkout", "title": "Slow"}, format="json"
        )

        assert response.status_code == 403
        assert "responder" in response.json()["detail"]
        assert not Incident.objects.exists()

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"title": "Slow"}, "service"),
            ({"service": "checkout"}, "title"),
            ({"service": "checkout", "title": ""}, "title"),
            ({"service": "checkout", "title": "x" * 1025}, "title"),
            ({"service": "checkout", "title": "Slow", "severity": 5}, "severity"),
            ({"service": "checkout", "title": "Slow", "severity": "SEV0"}, "severity"),
            ({"service": "checkout", "title": "Slow", "severity": "high"}, "severity"),
            ({"service": "checkout", "title": "Slow", "severity": True}, "severity"),
            ({"service": "checkout", "title": "Slow", "severity": 1.5}, "severity"),
            ({"service": "checkout", "title": "Slow", "severity": None}, "severity"),
            ({"service": "checkout", "title": "Slow", "urgency": "panic"}, "urgency"),
            ({"service": "checkout", "title": "Slow", "impact_started_at": "yesterday"}, "impact_started_at"),
            (
                {"service": "checkout", "title": "Slow", "impact_started_at": "2999-01-01T00:00:00Z"},
                "impact_started_at",
            ),
            ({"service": "no-such-service", "title": "Slow"}, "service"),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field(self, client_for, responder, service, body, field):
        response = client_for(responder).post("/api/v1/incidents/", body, format="json")

        assert response.status_code == 400
        assert field in response.json()
        assert not Incident.objects.exists()

    def test_a_service_of_another_team_looks_like_an_unknown_one(self, client_for, responder, other_team):
        ServiceFactory(slug="search", team=other_team)

        response = client_for(responder).post(
            "/api/v1/incidents/", {"service": "search", "title": "Slow"}, format="json"
        )

        assert response.status_code == 400
        assert response.json() == {"service": ["No service 'search'."]}

    def test_a_blank_title_after_trimming_is_refused(self, client_for, responder, service):
        response = client_for(responder).post(
            "/api/v1/incidents/", {"service": "checkout", "title": "   "}, format="json"
        )

        assert response.status_code == 400
        assert "title" in response.json()

    @pytest.mark.parametrize("raw", ["[1, 2]", "not json", '"a string"'])
    def test_a_body_that_is_not_a_json_object_is_a_400(self, client_for, responder, service, raw):
        response = client_for(responder).post("/api/v1/incidents/", raw, content_type="application/json")

        assert response.status_code == 400
        assert response.json()


# --- actions --------------------------------------------------------------------------------


class TestActions:
    def test_acknowledge(self, client_for, responder, incident):
        response = client_for(responder).post(f"/api/v1/incidents/{incident.number}/acknowledge/")

        assert response.status_code == 200
        assert response.json()["status"] == IncidentStatus.ACKNOWLEDGED
        assert response.json()["durations"]["acknowledge"] is not None
        incident.refresh_from_db()
        assert incident.status == IncidentStatus.ACKNOWLEDGED
        assert kinds(incident) == [TimelineKind.ACKNOWLEDGED]
        assert incident.timeline.get().actor_user == responder

    def test_acknowledging_twice_changes_nothing_the_second_time(self, client_for, responder, incident):
        client = client_for(responder)
        client.post(f"/api/v1/incidents/{incident.number}/acknowledge/")

        response = client.post(f"/api/v1/incidents/{incident.number}/acknowledge/")

        assert response.status_code == 200
        assert kinds(incident) == [TimelineKind.ACKNOWLEDGED]

    def test_acknowledging_a_resolved_incident_is_a_409_with_the_reason(
        self, client_for, responder, incident
    ):
        incident_resolve(incident=incident, actor=responder)

        response = client_for(responder).post(f"/api/v1/incidents/{incident.number}/acknowledge/")

        assert response.status_code == 409
        assert response.json() == {"detail": f"INC-{incident.number} is resolved; it cannot be acknowledged."}
        incident.refresh_from_db()
        assert incident.acknowledged_at is None

    def test_resolve_with_a_note_also_resolves_firing_alerts(self, client_for, responder, service, incident):
        alert = AlertFactory(integration=IntegrationFactory(service=service), incident=incident)

        response = client_for(responder).post(
            f"/api/v1/incidents/{incident.number}/resolve/", {"note": "rolled back"}, format="json"
        )

        assert response.status_code == 200
        assert response.json()["status"] == IncidentStatus.RESOLVED
        assert response.json()["alerts"][0]["status"] == AlertStatus.RESOLVED
        alert.refresh_from_db()
        assert alert.status == AlertStatus.RESOLVED
        assert kinds(incident) == [TimelineKind.RESOLVED]
        assert incident.timeline.get().text.endswith(": rolled back")

    def test_resolve_without_a_body(self, client_for, responder, incident):
        response = client_for(responder).post(f"/api/v1/incidents/{incident.number}/resolve/")

        assert response.status_code == 200
        incident.refresh_from_db()
        assert incident.status == IncidentStatus.RESOLVED

    def test_mitigate(self, client_for, responder, incident):
        response = client_for(responder).post(f"/api/v1/incidents/{incident.number}/mitigate/")

        assert response.status_code == 200
        body = response.json()
        assert body["mitigated_at"] is not None
        assert body["status"] == IncidentStatus.TRIGGERED
        assert kinds(incident) == [TimelineKind.MITIGATED]

    def test_mitigating_a_resolved_incident_is_a_409(self, client_for, responder, incident):
        incident_resolve(incident=incident, actor=responder)

        response = client_for(responder).post(f"/api/v1/incidents/{incident.number}/mitigate/")

        assert response.status_code == 409
        assert "already resolved" in response.json()["detail"]

    @pytest.mark.parametrize("given", [1, "SEV1", "1"])
    def test_severity(self, client_for, responder, incident, given):
        response = client_for(responder).post(
            f"/api/v1/incidents/{incident.number}/severity/", {"severity": given}, format="json"
        )

        assert response.status_code == 200
        assert response.json()["severity"] == 1
        incident.refresh_from_db()
        assert incident.severity == Severity.SEV1
        event = incident.timeline.get()
        assert (event.kind, event.data) == (TimelineKind.SEVERITY_CHANGED, {"from": 2, "to": 1})

    @pytest.mark.parametrize("body", [{}, {"severity": 0}, {"severity": "critical"}])
    def test_severity_needs_a_valid_severity(self, client_for, responder, incident, body):
        response = client_for(responder).post(
            f"/api/v1/incidents/{incident.number}/severity/", body, format="json"
        )

        assert response.status_code == 400
        assert "severity" in response.json()
        assert kinds(incident) == []

    def test_add_and_list_notes(self, client_for, responder, viewer, incident):
        response = client_for(responder).post(
            f"/api/v1/incidents/{incident.number}/notes/", {"text": "Rolled back deploy 4521"}, format="json"
        )

        assert response.status_code == 201
        assert response.json()["timeline"][-1]["text"] == "Rolled back deploy 4521"
        assert kinds(incident) == [TimelineKind.NOTE]
        incident_acknowledge(incident=incident, actor=responder)

        notes = client_for(viewer).get(f"/api/v1/incidents/{incident.number}/notes/").json()

        assert [(note["text"], note["actor_username"]) for note in notes] == [
            ("Rolled back deploy 4521", "rosa")
        ]

    def test_post_and_list_status_updates(self, client_for, responder, viewer, incident):
        url = f"/api/v1/incidents/{incident.number}/status-updates/"

        response = client_for(responder).post(url, {"text": "Rolled back; errors falling"}, format="json")

        assert response.status_code == 201
        assert kinds(incident) == [TimelineKind.STATUS_UPDATE]
        updates = client_for(viewer).get(url).json()
        assert [update["text"] for update in updates] == ["Status update: Rolled back; errors falling"]
        refused = client_for(viewer).post(url, {"text": "x"}, format="json")
        assert refused.status_code == 403
        assert "detail" in refused.json()
        assert client_for(responder).post(url, {"text": " "}, format="json").json().keys() == {"text"}

    @pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "   "}, {"text": "x" * 10_001}])
    def test_a_note_needs_text(self, client_for, responder, incident, body):
        response = client_for(responder).post(
            f"/api/v1/incidents/{incident.number}/notes/", body, format="json"
        )

        assert response.status_code == 400
        assert "text" in response.json()
        assert kinds(incident) == []

    def test_timeline_lists_every_event_in_order(self, client_for, responder, viewer, incident):
        incident_acknowledge(incident=incident, actor=responder)
        incident_resolve(incident=incident, actor=responder)

        events = client_for(viewer).get(f"/api/v1/incidents/{incident.number}/timeline/").json()

        assert [event["kind"] for event in events] == [TimelineKind.ACKNOWLEDGED, TimelineKind.RESOLVED]

    def test_assign_a_role_to_a_team_member(self, client_for, responder, viewer, incident):
        response = client_for(responder).post(
            f"/api/v1/incidents/{incident.number}/roles/",
            {"role": "commander", "user": "vera"},
            format="json",
        )

        assert response.status_code == 200
        assert response.json()["roles"][0]["user"]["username"] == "vera"
        assert IncidentRole.objects.get(incident=incident).user == viewer
        assert kinds(incident) == [TimelineKind.ROLE_ASSIGNED]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"role": "commander", "user": "sam"}, "user"),
            ({"role": "commander", "user": "nobody"}, "user"),
            ({"role": "commander"}, "user"),
            ({"role": "chef", "user": "vera"}, "role"),
        ],
    )
    def test_roles_go_to_known_team_members_only(
        self, client_for, responder, viewer, stranger, incident, body, field
    ):
        response = client_for(responder).post(
            f"/api/v1/incidents/{incident.number}/roles/", body, format="json"
        )

        assert response.status_code == 400
        assert field in response.json()
        assert not IncidentRole.objects.exists()

    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("acknowledge", {}),
            ("resolve", {}),
            ("mitigate", {}),
            ("severity", {"severity": 1}),
            ("notes", {"text": "hi"}),
            ("roles", {"role": "scribe", "user": "vera"}),
        ],
    )
    def test_viewers_may_not_act(self, client_for, viewer, incident, path, body):
        response = client_for(viewer).post(
            f"/api/v1/incidents/{incident.number}/{path}/", body, format="json"
        )

        assert response.status_code == 403
        assert "responder" in response.json()["detail"]
        assert kinds(incident) == []

    @pytest.mark.parametrize("path", ["acknowledge", "resolve", "mitigate", "severity", "notes", "roles"])
    def test_outsiders_get_a_404_for_every_action(self, client_for, outsider, incident, path):
        response = client_for(outsider).post(
            f"/api/v1/incidents/{incident.number}/{path}/", {}, format="json"
        )

        assert response.status_code == 404
        assert kinds(incident) == []

    def test_the_incident_cannot_be_deleted_or_replaced(self, client_for, manager, incident):
        client = client_for(manager)

        assert client.delete(f"/api/v1/incidents/{incident.number}/").status_code == 405
        assert client.put(f"/api/v1/incidents/{incident.number}/", {}, format="json").status_code == 405
        assert Incident.objects.filter(pk=incident.pk).exists()
