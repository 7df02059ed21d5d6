from __future__ import annotations

from datetime import timedelta
from typing import cast

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.choices import Role, Severity, TimelineKind
from incidents.models import Incident
from incidents.services import incident_resolve
from postmortems.choices import ActionItemPriority, ActionItemStatus
from postmortems.models import ActionItem
from postmortems.services import action_item_set_status, postmortem_create
from tests.clients import client_for
from tests.factories import (
    ActionItemFactory,
    IncidentFactory,
    MembershipFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)


def new_incident(**fields) -> Incident:
    return cast(Incident, IncidentFactory(**fields))


pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
PANEL = {**HTMX, "HTTP_HX_TARGET": "action-items"}


@pytest.fixture
def incident(service) -> Incident:
    """Still open: action items can be written down before anyone starts the postmortem."""
    return new_incident(service=service, title="Checkout returns 502s", severity=Severity.SEV2)


@pytest.fixture
def search_team():
    return TeamFactory(name="Search", slug="search")


@pytest.fixture
def dana(search_team):
    """A responder of another team, who owns one of Payments' action items."""
    user = UserFactory(username="dana", first_name="Dana", last_name="Scully")
    MembershipFactory(team=search_team, user=user, role=Role.RESPONDER)
    return user


def days_ago(days: int):
    return timezone.localdate() - timedelta(days=days)


def text(response) -> str:
    return response.content.decode()


def create_url(incident: Incident) -> str:
    return reverse("postmortems:action_item_create", kwargs={"number": incident.number})


def status_url(item: ActionItem) -> str:
    return reverse("postmortems:action_item_status", kwargs={"pk": item.pk})


def item_data(**overrides) -> dict[str, str]:
    return {"title": "Alert on checkout p99 latency", "priority": "medium", "kind": "detect", **overrides}


# --- the incident page's card ---------------------------------------------------------------


def test_an_open_incident_offers_the_postmortem_and_says_when_it_will_be_due(responder, incident):
    html = text(client_for(responder).get(incident.get_absolute_url()))

    assert 'id="postmortem-card"' in html
    assert "Write postmortem" in html
    assert reverse("postmortems:create", kwargs={"number": incident.number}) in html
    assert "Required for SEV1 and SEV2 incidents" in html
    assert "due 5 business days after this one is resolved" in html


def test_a_resolved_incident_names_the_due_date(responder, incident):
    incident_resolve(incident=incident, actor=responder)
    html = text(client_for(responder).get(incident.get_absolute_url()))
    assert "Required for SEV1 and SEV2 incidents: due in" in html


def test_a_low_severity_incident_calls_the_postmortem_optional(responder, service):
    incident = new_incident(service=service, severity=Severity.SEV4)
    html = text(client_for(responder).get(incident.get_absolute_url()))
    assert "Optional for SEV4 incidents." in html


def test_a_viewer_sees_the_card_without_buttons_or_forms(viewer, incident):
    html = text(client_for(viewer).get(incident.get_absolute_url()))
    assert 'id="postmortem-card"' in html
    assert "Write postmortem" not in html
    assert create_url(incident) not in html


def test_with_a_postmortem_the_card_shows_its_status_owner_and_link(responder, incident):
    postmortem = postmortem_create(incident=incident, actor=responder)
    html = text(client_for(responder).get(incident.get_absolute_url()))
    assert "Write postmortem" not in html
    assert "Open the postmortem" in html
    assert postmortem.get_absolute_url() in html
    assert "Draft" in html


def test_the_card_marks_an_overdue_postmortem(responder, incident):
    postmortem = postmortem_create(incident=incident, actor=responder)
    type(postmortem).objects.filter(pk=postmortem.pk).update(due_date=days_ago(4))
    html = text(client_for(responder).get(incident.get_absolute_url()))
    assert "4 days overdue" in html
    assert "pm-overdue" in html


def test_the_incident_page_query_count_does_not_grow_with_action_items(
    responder, incident, django_assert_num_queries
):
    client = client_for(responder)
    ActionItemFactory.create_batch(3, incident=incident, owner=responder)
    client.get(incident.get_absolute_url())
    with CaptureQueriesContext(connection) as baseline:
        client.get(incident.get_absolute_url())
    ActionItemFactory.create_batch(10, incident=incident, owner=responder, due_date=days_ago(1))
    with django_assert_num_queries(len(baseline.captured_queries)):
        response = client.get(incident.get_absolute_url())
    assert text(response).count('<li class="pm-item') == 13


# --- adding action items --------------------------------------------------------------------


def test_a_responder_adds_an_action_item_to_an_open_incident_by_htmx(responder, incident):
    response = client_for(responder).post(
        create_url(incident),
        item_data(
            owner=responder.pk, due_date="2026-12-01", tracker_url="https://linear.app/acme/issue/PAY-7"
        ),
        **HTMX,
    )

    html = text(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="action-items"' in html
    assert "Action item “Alert on checkout p99 latency” added." in html
    assert "linear.app ↗" in html
    item = ActionItem.objects.get()
    assert (item.incident, item.owner, item.kind, item.created_by) == (
        incident,
        responder,
        "detect",
        responder,
    )
    assert incident.timeline.filter(kind=TimelineKind.ACTION_ITEM_ADDED).exists()


def test_adding_without_htmx_goes_back_to_the_page_it_came_from(responder, incident):
    client = client_for(responder)
    assert client.post(create_url(incident), item_data()).url == incident.get_absolute_url() + "#action-items"
    postmortem = postmortem_create(incident=incident, actor=responder)
    response = client.post(create_url(incident), item_data(**{"from": "postmortem"}))
    assert response.url == postmortem.get_absolute_url() + "#action-items"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (item_data(title=""), "This field is required."),
        (item_data(tracker_url="ftp://files.example.com/x"), "Paste the full http(s) link"),
        (item_data(priority="urgent"), "Select a valid choice."),
    ],
)
def test_a_bad_action_item_is_refused_in_the_panel(responder, incident, data, problem):
    response = client_for(responder).post(create_url(incident), data, **HTMX)

    assert response.status_code == 400
    assert problem in text(response)
    assert 'id="action-items"' in text(response)
    assert not ActionItem.objects.exists()


def test_a_bad_action_item_without_htmx_shows_the_form_page(responder, incident):
    response = client_for(responder).post(create_url(incident), item_data(title=""))
    assert response.status_code == 400
    assert "New action item" in text(response)


def test_a_viewer_cannot_add_action_items(viewer, incident):
    response = client_for(viewer).post(create_url(incident), item_data())
    assert response.status_code == 403
    assert "needs the responder role in Payments" in text(response)
    assert not ActionItem.objects.exists()


def test_action_items_can_be_added_after_the_postmortem_is_published(responder, manager, incident):
    from postmortems.services import postmortem_publish, section_update

    postmortem = postmortem_create(incident=incident, actor=responder)
    section_update(postmortem=postmortem, key="summary", body="Done.", actor=None)
    postmortem_publish(postmortem=postmortem, actor=manager)

    response = client_for(responder).post(create_url(incident), item_data(), **HTMX)

    assert response.status_code == 200
    assert ActionItem.objects.count() == 1


# --- status changes -------------------------------------------------------------------------


@pytest.fixture
def high_item(incident, responder):
    return ActionItemFactory(
        incident=incident, owner=responder, priority=ActionItemPriority.HIGH, title="Add a canary stage"
    )


def test_start_then_done_from_the_panel(responder, incident):
    item = ActionItemFactory(incident=incident, owner=responder)
    client = client_for(responder)

    started = client.post(status_url(item), {"status": "in_progress"}, **PANEL)
    done = client.post(status_url(item), {"status": "done"}, **PANEL)

    assert started.status_code == 200
    assert "is now in progress" in text(started)
    assert 'id="action-items"' in text(done)
    assert "is now done" in text(done)
    item.refresh_from_db()
    assert (item.status, item.closed_by) == (ActionItemStatus.DONE, responder)


def test_done_on_a_high_priority_item_asks_for_the_verification_note(responder, high_item):
    client = client_for(responder)
    page = text(client.get(high_item.get_absolute_url()))
    assert "How do we know the fix works?" in page
    assert 'name="verification" rows="3" required' in page

    refused = client.post(status_url(high_item), {"status": "done", "verification": "  "}, **PANEL)

    assert refused.status_code == 400
    assert "needs a verification" in text(refused)
    assert f'id="panel-item-{high_item.pk}"' in text(refused)
    high_item.refresh_from_db()
    assert high_item.status == ActionItemStatus.OPEN

    accepted = client.post(
        status_url(high_item), {"status": "done", "verification": "Canary stopped a bad config in staging"}
    )
    assert accepted.status_code == 302
    high_item.refresh_from_db()
    assert high_item.status == ActionItemStatus.DONE
    assert high_item.verification == "Canary stopped a bad config in staging"


def test_wont_do_needs_a_reason_shown_inline_on_the_item_page(responder, high_item):
    response = client_for(responder).post(status_url(high_item), {"status": "wont_do"}, **HTMX)

    html = text(response)
    assert response.status_code == 400
    assert 'id="action-item"' in html
    assert "<html" not in html
    assert "Say why this action item won&#x27;t be done" in html
    high_item.refresh_from_db()
    assert high_item.status == ActionItemStatus.OPEN


def test_a_refused_change_without_htmx_shows_the_item_page_with_the_reason(responder, high_item):
    response = client_for(responder).post(status_url(high_item), {"status": "done"})
    assert response.status_code == 400
    assert "<html" in text(response)
    assert "needs a verification" in text(response)


def test_reopening_a_closed_item_clears_who_closed_it(responder, high_item):
    action_item_set_status(item=high_item, actor=responder, status="wont_do", reason="Replaced")
    response = client_for(responder).post(status_url(high_item), {"status": "open"}, follow=True)
    assert "is now open" in text(response)
    high_item.refresh_from_db()
    assert (high_item.status, high_item.closed_at) == (ActionItemStatus.OPEN, None)


def test_the_owner_from_another_team_may_change_it_a_viewer_may_not(dana, viewer, incident):
    item = ActionItemFactory(incident=incident, owner=dana)

    assert client_for(dana).post(status_url(item), {"status": "in_progress"}).status_code == 302
    refused = client_for(viewer).post(status_url(item), {"status": "done"})
    assert refused.status_code == 403
    assert "for its owner and the responders of Payments" in text(refused)
    item.refresh_from_db()
    assert item.status == ActionItemStatus.IN_PROGRESS


def test_someone_who_cannot_see_the_item_gets_404(outsider, incident):
    item = ActionItemFactory(incident=incident)
    assert client_for(outsider).get(item.get_absolute_url()).status_code == 404
    assert client_for(outsider).post(status_url(item), {"status": "done"}).status_code == 404


# --- one item's page and edit form ----------------------------------------------------------


def test_item_page_shows_tracker_host_overdue_days_and_status_buttons(responder, incident):
    item = ActionItemFactory(
        incident=incident,
        owner=responder,
        due_date=days_ago(3),
        tracker_url="https://jira.example.com/browse/PAY-123",
    )

    html = text(client_for(responder).get(item.get_absolute_url()))

    assert (
        '<a href="https://jira.example.com/browse/PAY-123" target="_blank" rel="noopener noreferrer">' in html
    )
    assert "jira.example.com ↗" in html
    assert "3 days overdue" in html
    assert "pm-overdue" in html
    for label in (">Start<", ">Done<", ">Won't do…<"):
        assert label in html
    assert reverse("postmortems:action_item_edit", kwargs={"pk": item.pk}) in html


def test_a_viewer_reads_the_item_without_controls(viewer, incident):
    item = ActionItemFactory(incident=incident)
    html = text(client_for(viewer).get(item.get_absolute_url()))
    assert status_url(item) not in html
    assert "Its owner and the responders of Payments can change it." in html


def test_editing_an_item(responder, sam, incident):
    item = ActionItemFactory(incident=incident, owner=responder)
    edit_url = reverse("postmortems:action_item_edit", kwargs={"pk": item.pk})
    client = client_for(responder)
    assert 'value="Alert on checkout' in text(client.get(edit_url))

    response = client.post(
        edit_url,
        item_data(
            title="Page on p99 above 2 s",
            owner=sam.pk,
            priority="high",
            kind="mitigate",
            due_date="2026-12-24",
        ),
    )

    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.title, item.owner, item.priority, item.kind, str(item.due_date)) == (
        "Page on p99 above 2 s",
        sam,
        "high",
        "mitigate",
        "2026-12-24",
    )
    bad = client.post(edit_url, item_data(title=""))
    assert bad.status_code == 400


# --- lists ----------------------------------------------------------------------------------


def test_all_items_shows_open_ones_by_default_with_every_column(responder, sam, incident):
    ActionItemFactory(
        incident=incident, owner=responder, title="Open and late", due_date=days_ago(2), priority="high"
    )
    closed = ActionItemFactory(incident=incident, owner=sam, title="Closed already")
    action_item_set_status(item=closed, actor=sam, status="done")

    html = text(client_for(responder).get(reverse("postmortems:action_items")))

    assert "Open and late" in html
    assert "Closed already" not in html
    assert incident.reference in html
    assert "Payments" in html
    assert "High" in html
    assert "Prevent" in html
    assert "2 days overdue" in html
    assert "ai-row-overdue" in html


def test_all_items_filters(responder, sam, dana, search_team, incident):
    ActionItemFactory(incident=incident, owner=responder, title="Mine and late", due_date=days_ago(1))
    ActionItemFactory(incident=incident, owner=sam, title="Sam's, not due")
    search_incident = new_incident(service=ServiceFactory(name="Search", slug="search-api", team=search_team))
    ActionItemFactory(incident=search_incident, owner=responder, title="Owned by me elsewhere")
    closed = ActionItemFactory(incident=incident, owner=sam, title="Sam closed this")
    action_item_set_status(item=closed, actor=sam, status="wont_do", reason="Obsolete")
    client = client_for(responder)

    def titles(**query) -> set[str]:
        html = text(client.get(reverse("postmortems:action_items"), query, **HTMX))
        names = ("Mine and late", "Sam&#x27;s, not due", "Owned by me elsewhere", "Sam closed this")
        return {name for name in names if name in html}

    assert titles() == {"Mine and late", "Sam&#x27;s, not due", "Owned by me elsewhere"}
    assert titles(owner="sam") == {"Sam&#x27;s, not due"}
    assert titles(team="search") == {"Owned by me elsewhere"}
    assert titles(overdue="true") == {"Mine and late"}
    assert titles(status="closed") == {"Sam closed this"}
    assert titles(status="") == {
        "Mine and late",
        "Sam&#x27;s, not due",
        "Owned by me elsewhere",
        "Sam closed this",
    }


def test_filtering_by_team_links_to_the_team_view_and_odd_values_are_harmless(responder, incident):
    client = client_for(responder)
    team_view = reverse("postmortems:team_action_items", kwargs={"slug": "payments"})

    assert team_view in text(client.get(reverse("postmortems:action_items"), {"team": "payments"}))
    odd = client.get(reverse("postmortems:action_items"), {"team": "no such/team", "owner": "<b>"})
    assert odd.status_code == 200
    assert "No action items match these filters" in text(odd)


def test_the_all_items_filter_partial_has_no_layout(responder):
    html = text(client_for(responder).get(reverse("postmortems:action_items"), **HTMX))
    assert "<html" not in html
    assert 'id="action-item-list"' in html
    assert "No open action items. Add them from an incident or a postmortem." in html


@pytest.mark.parametrize("name", ["action_items", "my_action_items", "team_action_items"])
def test_item_lists_query_count_does_not_grow_with_rows(responder, incident, name, django_assert_num_queries):
    target = reverse(f"postmortems:{name}", kwargs={"slug": "payments"} if name.startswith("team") else {})
    client = client_for(responder)

    def make(count: int) -> None:
        for n in range(count):
            other = new_incident(service=incident.service)
            ActionItemFactory(incident=other, owner=responder, due_date=days_ago(n % 3 - 1))

    make(3)
    client.get(target)
    with CaptureQueriesContext(connection) as baseline:
        client.get(target)
    make(10)
    with django_assert_num_queries(len(baseline.captured_queries)):
        response = client.get(target)
    assert text(response).count('class="ai-row') - text(response).count("ai-row-head") == 13


def test_my_items_group_overdue_open_and_recently_closed(responder, sam, incident):
    ActionItemFactory(incident=incident, owner=responder, title="Late one", due_date=days_ago(5))
    ActionItemFactory(incident=incident, owner=responder, title="Upcoming one", due_date=days_ago(-5))
    done = ActionItemFactory(incident=incident, owner=responder, title="Finished one")
    action_item_set_status(item=done, actor=responder, status="done")
    ActionItemFactory(incident=incident, owner=sam, title="Not mine")

    html = text(client_for(responder).get(reverse("postmortems:my_action_items")))

    assert "Not mine" not in html
    overdue, rest = html.split('id="mine-overdue-h"')[1].split('id="mine-open-h"')
    opened, closed = rest.split('id="mine-closed-h"')
    assert "Late one" in overdue
    assert "5 days overdue" in overdue
    assert "Upcoming one" in opened
    assert "due in 5 days" in opened
    assert "Finished one" in closed


def test_my_items_empty_state_says_what_to_do(responder):
    html = text(client_for(responder).get(reverse("postmortems:my_action_items")))
    assert "No open action items. Add them from an incident or a postmortem" in html


def test_team_view_counts_open_overdue_and_lists_them(responder, incident):
    ActionItemFactory(incident=incident, owner=responder, title="Late", due_date=days_ago(2), priority="high")
    ActionItemFactory(incident=incident, owner=None, title="Nobody's")
    done = ActionItemFactory(incident=incident, owner=responder, title="Finished")
    action_item_set_status(item=done, actor=responder, status="done")

    html = text(
        client_for(responder).get(reverse("postmortems:team_action_items", kwargs={"slug": "payments"}))
    )

    assert "Payments: action items" in html
    counts = html[html.index('aria-label="Counts"') : html.index("</dl>")]
    assert [part.split("</dd>")[0] for part in counts.split('<dd class="num">')[1:]] == ["2", "1", "1", "1"]
    assert "1 open item has no owner" in html
    assert "Late" in html
    assert "Nobody&#x27;s" in html
    assert "Finished" not in html


def test_team_view_is_404_for_a_team_you_cannot_see(responder, search_team):
    response = client_for(responder).get(reverse("postmortems:team_action_items", kwargs={"slug": "search"}))
    assert response.status_code == 404


def test_nav_and_user_menu_link_to_the_pages(responder):
    html = text(client_for(responder).get(reverse("postmortems:my_action_items")))
    assert f'href="{reverse("postmortems:list")}"' in html
    assert f'href="{reverse("postmortems:action_items")}"' in html
    assert (
        f'<a href="{reverse("postmortems:my_action_items")}" aria-current="page">My action items</a>' in html
    )
