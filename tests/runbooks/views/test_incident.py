from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.choices import IncidentStatus, Role, TimelineKind
from incidents.models import Incident, TimelineEvent
from incidents.services import incident_resolve
from runbooks.models import ChecklistTick, ReviewRequest, Runbook, RunbookUse
from runbooks.services import checklist_tick, revision_create, runbook_attach, runbook_create
from runbooks.views.incident import runbooks_card
from tests.clients import client_for
from tests.factories import (
    AlertFactory,
    IncidentFactory,
    IntegrationFactory,
    MembershipFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
BODY = """Check the **error dashboard** first.

- [ ] Failover the primary
- [ ] Drain the bad pod

<script>alert("x")</script>
"""


@pytest.fixture
def runbook(team, service, sam):
    return runbook_create(team=team, title="Checkout 5xx", body=BODY, actor=sam, services=[service])


@pytest.fixture
def incident(service):
    return IncidentFactory(service=service)


def page(user, incident: Incident) -> str:
    response = client_for(user).get(incident.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def attach_url(incident: Incident) -> str:
    return reverse("runbooks:incident_attach", kwargs={"number": incident.number})


def tick_url(use: RunbookUse, item: int) -> str:
    return reverse(
        "runbooks:incident_checklist_tick",
        kwargs={"number": use.incident.number, "use_id": use.pk, "item": item},
    )


def feedback_url(use: RunbookUse) -> str:
    return reverse("runbooks:incident_feedback", kwargs={"number": use.incident.number, "use_id": use.pk})


# --- the card ---------------------------------------------------------------------------------


def test_the_page_suggests_matching_runbooks_with_why_and_a_use_button(sam, incident, runbook, team):
    integration = IntegrationFactory(service=incident.service)
    AlertFactory(integration=integration, incident=incident, labels={"alertname": "PgReplicationLag"})
    runbook_create(
        team=team, title="Replica lag", body="- [ ] Check lag", actor=sam, labels="alertname=PgReplicationLag"
    )

    html = page(sam, incident)

    assert 'id="runbooks"' in html
    assert html.index("Replica lag") < html.index("Checkout 5xx")  # best match first
    assert "labels alertname=PgReplicationLag match" in html
    assert "covers Checkout" in html
    assert html.count("Use this runbook") == 2
    assert attach_url(incident) in html


def test_a_suggested_runbook_is_shown_rendered_with_its_revision_before_anyone_attaches_it(
    sam, incident, runbook
):
    revision_create(runbook=runbook, body=BODY + "\n- [ ] Page the payments provider", actor=sam)

    html = page(sam, incident)

    assert "revision 2" in html
    assert "<strong>error dashboard</strong>" in html
    assert "Page the payments provider" in html
    assert not RunbookUse.objects.exists()


def test_a_viewer_sees_suggestions_but_no_buttons(viewer, incident, runbook):
    html = page(viewer, incident)

    assert "Checkout 5xx" in html
    assert "Use this runbook" not in html
    assert attach_url(incident) not in html


def test_an_incident_without_matches_says_so(sam, service):
    html = page(sam, IncidentFactory(service=service))
    assert "No runbook covers Checkout" in html


def test_attaching_shows_the_rendered_revision_and_its_checklist(sam, incident, runbook):
    response = client_for(sam).post(attach_url(incident), {"runbook": runbook.pk})

    assert response.status_code == 302
    assert response["Location"] == incident.get_absolute_url() + "#runbooks"
    html = page(sam, incident)
    assert "revision 1" in html
    assert "<strong>error dashboard</strong>" in html
    assert "<script>alert" not in html
    assert html.count('name="ticked"') == 2
    assert tick_url(RunbookUse.objects.get(), 0) in html
    assert "Use this runbook" not in html  # attached runbooks are no longer suggested
    assert "Runbook &#x27;Checkout 5xx&#x27; (revision 1) attached by Sam Okafor" in html


def test_attaching_with_htmx_returns_the_card_and_the_timeline(sam, incident, runbook):
    response = client_for(sam).post(attach_url(incident), {"runbook": runbook.pk}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="runbooks"' in html
    assert 'hx-select-oob="#incident-timeline"' in html
    assert 'id="incident-timeline"' in html
    assert "attached by Sam Okafor" in html


def test_attach_another_runbook_from_any_team(sam, incident, runbook):
    other = runbook_create(
        team=TeamFactory(name="Databases", slug="databases"),
        title="Postgres failover",
        body="Steps",
        actor=None,
    )

    html = page(sam, incident)
    assert "Attach another runbook" in html
    assert f'<option value="{other.pk}">Postgres failover (Databases)</option>' in html

    client_for(sam).post(attach_url(incident), {"runbook": other.pk})

    assert RunbookUse.objects.get().runbook == other


def test_attaching_an_unknown_runbook_is_a_message_not_a_500(sam, incident):
    response = client_for(sam).post(attach_url(incident), {"runbook": 999}, **HTMX)

    assert response.status_code == 200
    assert "That runbook does not exist" in response.content.decode()
    assert not RunbookUse.objects.exists()


def test_a_viewer_cannot_attach_and_another_team_gets_404(viewer, outsider, incident, runbook):
    assert client_for(viewer).post(attach_url(incident), {"runbook": runbook.pk}).status_code == 403
    assert client_for(outsider).post(attach_url(incident), {"runbook": runbook.pk}).status_code == 404
    assert not RunbookUse.objects.exists()


def test_an_overdue_runbook_is_flagged_with_its_age(sam, incident, runbook):
    Runbook.objects.filter(pk=runbook.pk).update(last_reviewed_at=timezone.now() - timedelta(days=140))
    runbook_attach(incident=incident, runbook=runbook, actor=sam)

    html = page(sam, incident)

    assert 'class="ri-review ri-review-overdue"' in html
    assert "last reviewed 140 days ago" in html


def test_a_recently_reviewed_runbook_is_not_flagged(sam, incident, runbook):
    Runbook.objects.filter(pk=runbook.pk).update(last_reviewed_at=timezone.now() - timedelta(days=3))
    runbook_attach(incident=incident, runbook=runbook, actor=sam)

    html = page(sam, incident)

    assert "last reviewed 3 days ago" in html
    assert "ri-review-overdue" not in html


# --- checklist --------------------------------------------------------------------------------


def test_ticking_with_htmx_shows_who_and_when_and_records_it(sam, incident, runbook):
    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)

    response = client_for(sam).post(tick_url(use, 1), {"ticked": "on"}, **HTMX)

    html = response.content.decode()
    assert f'id="runbook-use-{use.pk}-checklist"' in html
    assert "1 of 2 done" in html
    assert "\u2713 Sam Okafor" in html
    assert "\u2713 Drain the bad pod (Checkout 5xx) \u2014 ticked by Sam Okafor" in html  # the timeline
    assert ChecklistTick.objects.get().text == "Drain the bad pod"


def test_unticking_takes_the_tick_back_and_says_so(sam, incident, runbook):
    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)
    checklist_tick(use=use, item=0, actor=sam)

    response = client_for(sam).post(tick_url(use, 0), {}, **HTMX)

    assert "0 of 2 done" in response.content.decode()
    assert not ChecklistTick.objects.exists()
    assert TimelineEvent.objects.filter(
        kind=TimelineKind.CHECKLIST_TICKED, text__contains="unticked by Sam"
    ).exists()


def test_ticking_without_javascript_redirects_to_the_runbook(sam, incident, runbook):
    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)

    response = client_for(sam).post(tick_url(use, 0), {"ticked": "on"})

    assert response.status_code == 302
    assert response["Location"].endswith(f"#runbook-use-{use.pk}")
    html = page(sam, incident)
    assert (
        '<input type="checkbox" name="ticked" value="on" checked> <span>Failover the primary</span>' in html
    )
    assert '<input type="checkbox" name="ticked" value="on"> <span>Drain the bad pod</span>' in html


def test_a_viewer_cannot_tick_and_another_team_gets_404(viewer, sam, incident, runbook):
    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)
    stranger = UserFactory(username="stranger")
    MembershipFactory(team=TeamFactory(name="Search", slug="search-team"), user=stranger, role=Role.MANAGER)

    assert client_for(viewer).post(tick_url(use, 0), {"ticked": "on"}).status_code == 403
    assert client_for(stranger).post(tick_url(use, 0), {"ticked": "on"}).status_code == 404
    assert not ChecklistTick.objects.exists()


def test_a_use_of_another_incident_or_a_missing_item_is_404(sam, incident, runbook, service):
    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)
    other = IncidentFactory(service=service)
    wrong_incident = reverse(
        "runbooks:incident_checklist_tick", kwargs={"number": other.number, "use_id": use.pk, "item": 0}
    )

    assert client_for(sam).post(wrong_incident, {"ticked": "on"}).status_code == 404
    assert client_for(sam).post(tick_url(use, 7), {"ticked": "on"}).status_code == 404


# --- was it accurate? -------------------------------------------------------------------------


def test_the_question_is_asked_only_once_the_incident_is_resolved(sam, incident, runbook):
    runbook_attach(incident=incident, runbook=runbook, actor=sam)
    assert "Was this runbook accurate?" not in page(sam, incident)

    incident_resolve(incident=incident, actor=sam)

    assert "Was this runbook accurate?" in page(sam, incident)


def test_answering_no_requests_a_review_from_the_owners(sam, service, runbook):
    incident = IncidentFactory(service=service, status=IncidentStatus.RESOLVED, resolved_at=timezone.now())
    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)

    response = client_for(sam).post(
        feedback_url(use), {"accurate": "no", "reason": "The primary moved to db-eu2"}, **HTMX
    )

    html = response.content.decode()
    assert "Not accurate: a review was requested from Payments" in html
    assert "Was this runbook accurate?" not in html
    request = ReviewRequest.objects.get()
    assert (request.runbook, request.incident, request.reason) == (
        runbook,
        incident,
        "The primary moved to db-eu2",
    )


def test_answering_no_without_a_reason_is_refused_with_a_message(sam, service, runbook):
    incident = IncidentFactory(service=service, status=IncidentStatus.RESOLVED)
    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)

    response = client_for(sam).post(feedback_url(use), {"accurate": "no", "reason": ""}, **HTMX)

    assert "Say what was wrong" in response.content.decode()
    assert not ReviewRequest.objects.exists()


def test_answering_yes_is_shown_and_a_viewer_cannot_answer(sam, viewer, service, runbook):
    incident = IncidentFactory(service=service, status=IncidentStatus.RESOLVED)
    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)

    assert client_for(viewer).post(feedback_url(use), {"accurate": "no", "reason": "x"}).status_code == 403
    client_for(sam).post(feedback_url(use), {"accurate": "yes"})

    html = page(viewer, incident)
    assert "Accurate" in html
    assert "Sam Okafor" in html
    assert not ReviewRequest.objects.exists()


# --- queries ----------------------------------------------------------------------------------


def _page_query_count(user, incident: Incident) -> int:
    client = client_for(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(incident.get_absolute_url()).status_code == 200
    return len(queries)


def test_page_query_count_does_not_grow_with_runbooks_and_ticks(sam, team, service, incident):
    integration = IntegrationFactory(service=service)

    def add(n: int) -> None:
        AlertFactory(integration=integration, incident=incident, labels={"alertname": f"Alert{n}"})
        used = runbook_create(team=team, title=f"Used {n}", body=BODY, actor=sam, services=[service])
        use = runbook_attach(incident=incident, runbook=used, actor=sam)
        checklist_tick(use=use, item=0, actor=sam)
        checklist_tick(use=use, item=1, actor=sam)
        runbook_create(team=team, title=f"Suggested {n}", body=BODY, actor=sam, labels=f"alertname=Alert{n}")
        runbook_create(team=team, title=f"Other {n}", body=BODY, actor=sam)

    add(0)
    with_one = _page_query_count(sam, incident)
    for n in range(1, 5):
        add(n)
    with_five = _page_query_count(sam, incident)

    assert with_five == with_one
    html = page(sam, incident)
    assert html.count("Use this runbook") == 5
    assert "Suggested 4" in html
    assert "Other 4" in html


def test_the_card_reads_in_a_fixed_number_of_queries(sam, team, incident, runbook, django_assert_num_queries):
    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)
    checklist_tick(use=use, item=0, actor=sam)
    runbook_create(team=team, title="Another", body=BODY, actor=sam)
    sam = type(sam).objects.get(pk=sam.pk)  # no role cache yet, as at the start of a request

    # uses, their ticks, the alerts' labels, the matching runbooks, the attachable runbooks
    with django_assert_num_queries(5):
        card = runbooks_card(user=sam, incident=incident, can_act=True)
        assert [item.tick.ticked_by.username for item in card.attached[0].checklist if item.tick] == ["sam"]
        assert [runbook.title for runbook in card.attachable] == ["Another"]
