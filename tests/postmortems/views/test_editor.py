from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import cast

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.choices import Role, Severity, TimelineKind
from incidents.models import Incident, Profile, person_name
from incidents.services import incident_acknowledge, incident_add_note, incident_resolve
from postmortems.choices import PostmortemStatus, SectionKey
from postmortems.models import Postmortem, ReviewComment, TimelineEntry
from postmortems.services import (
    comment_add,
    postmortem_create,
    postmortem_publish,
    review_request,
    section_update,
)
from tests.clients import client_for
from tests.factories import (
    IncidentFactory,
    MembershipFactory,
    TeamFactory,
    TimelineEventFactory,
    UserFactory,
)


def new_incident(**fields) -> Incident:
    return cast(Incident, IncidentFactory(**fields))


pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
# 12:00 UTC on a winter day: 13:00 in Berlin, 07:00 in New York.
NOON_UTC = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def incident(service, responder) -> Incident:
    incident = new_incident(service=service, title="Checkout returns 502s", severity=Severity.SEV2)
    incident_acknowledge(incident=incident, actor=responder)
    incident_add_note(incident=incident, text="Rolled back config v42", actor=responder)
    incident_resolve(incident=incident, actor=responder, note="Error rate normal")
    return incident


@pytest.fixture
def postmortem(incident, responder) -> Postmortem:
    return postmortem_create(incident=incident, actor=responder)


@pytest.fixture
def dana():
    """A database expert from another team, asked to review Payments' postmortem."""
    user = UserFactory(username="dana", first_name="Dana", last_name="Scully")
    MembershipFactory(team=TeamFactory(name="Databases", slug="databases"), user=user, role=Role.RESPONDER)
    return user


@pytest.fixture
def reviewer(postmortem, responder, dana):
    review_request(postmortem=postmortem, actor=responder, reviewers=[dana])
    return dana


def url(name: str, postmortem: Postmortem, **kwargs) -> str:
    return reverse(f"postmortems:{name}", kwargs={"number": postmortem.incident.number, **kwargs})


def section_url(postmortem: Postmortem, key: str = SectionKey.SUMMARY) -> str:
    return url("section", postmortem, key=key)


def text(response) -> str:
    return response.content.decode()


def body_of(postmortem: Postmortem, key: str = SectionKey.SUMMARY) -> str:
    return postmortem.sections.get(key=key).body


def set_zone(user, zone: str) -> None:
    Profile.objects.update_or_create(user=user, defaults={"time_zone": zone})


# --- who may do what ------------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_login(client, postmortem):
    for target in (reverse("postmortems:list"), url("detail", postmortem), url("export", postmortem)):
        response = client.get(target)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize(
    ("who", "read", "edit", "comment"),
    [
        ("viewer", 200, 403, 403),
        ("responder", 200, 200, 302),
        ("manager", 200, 200, 302),
        ("reviewer", 200, 403, 302),
        ("outsider", 404, 404, 404),
    ],
)
def test_who_may_read_edit_and_comment(request, postmortem, reviewer, who, read, edit, comment):
    client = client_for(request.getfixturevalue(who))

    assert client.get(url("detail", postmortem)).status_code == read
    assert client.get(url("export", postmortem)).status_code == read
    assert client.get(section_url(postmortem)).status_code == edit
    assert client.post(section_url(postmortem), {"body": "Edited"}).status_code in {edit, 302}
    assert client.post(url("timeline_import", postmortem)).status_code in {edit, 302}
    response = client.post(url("comment", postmortem), {"section": "impact", "body": "How many users?"})
    assert response.status_code == comment


def test_people_who_may_not_edit_change_nothing_and_are_told_why(viewer, reviewer, postmortem):
    for user in (viewer, reviewer):
        response = client_for(user).post(section_url(postmortem), {"body": "Vandalised"})
        assert response.status_code == 403
        assert "needs the responder role in Payments" in text(response)
    assert "You can read it and comment on it" in text(
        client_for(reviewer).post(section_url(postmortem), {"body": "x"})
    )
    assert body_of(postmortem) == ""


def test_a_viewer_reads_without_any_editing_controls(viewer, postmortem):
    html = text(client_for(viewer).get(url("detail", postmortem)))

    assert "Checkout returns 502s" in html
    assert section_url(postmortem) not in html
    assert url("comment", postmortem) not in html
    assert url("settings", postmortem) not in html
    assert url("publish", postmortem) not in html
    assert url("export", postmortem) in html


def test_a_reviewer_from_another_team_sees_comment_forms_and_approve_but_no_edit(reviewer, postmortem):
    html = text(client_for(reviewer).get(url("detail", postmortem)))

    assert url("comment", postmortem) in html
    assert url("approve", postmortem) in html
    assert section_url(postmortem) not in html
    assert url("publish", postmortem) not in html


@pytest.mark.parametrize(
    ("who", "status"), [("responder", 302), ("manager", 302), ("sam", 403), ("viewer", 403)]
)
def test_only_the_owner_or_a_manager_publishes(request, postmortem, who, status):
    section_update(postmortem=postmortem, key=SectionKey.SUMMARY, body="What happened.", actor=None)
    user = request.getfixturevalue(who)

    response = client_for(user).post(url("publish", postmortem))

    assert response.status_code == status
    postmortem.refresh_from_db()
    assert (postmortem.status == PostmortemStatus.PUBLISHED) is (status == 302)
    if status == 302:
        assert postmortem.published_by == user
    else:
        assert "owner or a manager of Payments" in text(response)


def test_publish_button_is_shown_only_to_the_owner_and_managers(responder, sam, manager, postmortem):
    assert url("publish", postmortem) in text(client_for(responder).get(url("detail", postmortem)))
    assert url("publish", postmortem) in text(client_for(manager).get(url("detail", postmortem)))
    assert url("publish", postmortem) not in text(client_for(sam).get(url("detail", postmortem)))


# --- starting one ---------------------------------------------------------------------------


def test_a_responder_starts_the_postmortem_from_the_incident(responder, incident):
    response = client_for(responder).post(reverse("postmortems:create", kwargs={"number": incident.number}))

    postmortem = Postmortem.objects.get(incident=incident)
    assert response.status_code == 302
    assert response.url == postmortem.get_absolute_url()
    assert postmortem.owner == responder
    assert postmortem.sections.count() == len(SectionKey.values)
    assert postmortem.timeline_entries.filter(text="Rolled back config v42").exists()


def test_starting_it_twice_goes_to_the_one_that_exists(responder, sam, postmortem):
    client = client_for(sam)
    response = client.post(reverse("postmortems:create", kwargs={"number": postmortem.incident.number}))

    assert response.url == postmortem.get_absolute_url()
    assert "already has a postmortem" in text(client.get(response.url))
    assert Postmortem.objects.count() == 1


def test_a_viewer_cannot_start_one(viewer, incident):
    response = client_for(viewer).post(reverse("postmortems:create", kwargs={"number": incident.number}))
    assert response.status_code == 403
    assert not Postmortem.objects.exists()


# --- the page and its partials --------------------------------------------------------------


def test_page_shows_header_metrics_sections_in_template_order_and_prompts(responder, postmortem):
    html = text(client_for(responder).get(url("detail", postmortem)))

    assert "INC-" in html
    assert "SEV2" in html
    assert "Draft" in html
    assert "Time to acknowledge" in html
    assert "Time to resolve" in html
    positions = [html.index(f'id="section-{key}"') for key in SectionKey.values]
    assert positions == sorted(positions)
    assert "What happened, in two or three sentences a newcomer would understand." in html
    assert "Due" in html
    assert "due in" in html


def test_page_query_count_does_not_grow_with_entries_comments_reviewers_and_items(
    responder, incident, postmortem, django_assert_num_queries
):
    from tests.factories import ActionItemFactory

    def grow(count: int) -> None:
        for n in range(count):
            person = UserFactory()
            MembershipFactory(team=incident.service.team, user=person, role=Role.RESPONDER)
            review_request(postmortem=postmortem, actor=responder, reviewers=[person])
            comment_add(postmortem=postmortem, actor=person, section=SectionKey.values[n % 11], body="Why?")
            TimelineEntry.objects.create(postmortem=postmortem, occurred_at=timezone.now(), text=f"Step {n}")
            ActionItemFactory(incident=incident, owner=person)

    client = client_for(responder)
    grow(3)
    client.get(url("detail", postmortem))
    with CaptureQueriesContext(connection) as baseline:
        client.get(url("detail", postmortem))
    grow(10)
    with django_assert_num_queries(len(baseline.captured_queries)):
        response = client.get(url("detail", postmortem))
    assert text(response).count('<li class="pm-comment"') == 13


def test_htmx_gets_the_page_body_without_the_layout(responder, postmortem):
    response = client_for(responder).get(url("detail", postmortem), **HTMX)

    assert response.status_code == 200
    assert "<html" not in text(response)
    assert 'id="postmortem-body"' in text(response)
    assert "HX-Request" in response["Vary"]


def test_edit_swaps_the_section_into_a_form_with_a_live_blameless_check(responder, postmortem):
    section_update(
        postmortem=postmortem, key=SectionKey.IMPACT, body="Checkout failed for 20 min.", actor=None
    )
    client = client_for(responder)

    partial = text(client.get(section_url(postmortem, SectionKey.IMPACT), **HTMX))
    full = text(client.get(section_url(postmortem, SectionKey.IMPACT)))

    assert "<html" not in partial
    assert 'id="section-impact-content"' in partial
    assert "Checkout failed for 20 min.</textarea>" in partial
    assert f'hx-post="{url("check", postmortem)}"' in partial
    assert 'hx-trigger="keyup changed delay:600ms"' in partial
    assert "csrfmiddlewaretoken" in partial
    assert "<html" in full
    assert "Checkout failed for 20 min.</textarea>" in full


def test_cancel_swaps_the_rendered_section_back(responder, postmortem):
    section_update(postmortem=postmortem, key=SectionKey.SUMMARY, body="**Bold** start", actor=None)
    html = text(client_for(responder).get(section_url(postmortem) + "?cancel=1", **HTMX))
    assert "<strong>Bold</strong> start" in html
    assert "<textarea" not in html


def test_saving_a_section_returns_it_rendered_and_sanitised(responder, postmortem):
    body = "The **checkout** pods ran out of memory.\n\n<script>alert(1)</script>"

    response = client_for(responder).post(section_url(postmortem), {"body": body}, **HTMX)

    html = text(response)
    assert response.status_code == 200
    assert "<strong>checkout</strong>" in html
    assert "<script>" not in html
    assert "Summary saved." in html
    assert "Blameless check" not in html
    assert body_of(postmortem) == body


def test_saving_blaming_words_saves_and_warns_with_each_phrase_and_why(responder, postmortem):
    body = "It was human error: Bob should have known the flag was live."

    response = client_for(responder).post(section_url(postmortem), {"body": body}, **HTMX)

    html = text(response)
    assert response.status_code == 200
    assert body_of(postmortem) == body
    assert "Blameless check" in html
    assert "saved, but consider rewording" in html
    assert "“human error”" in html
    assert "“should have known”" in html
    assert "Ask what made the action easy to get wrong" in html
    assert "Hindsight" in html


def test_saving_without_htmx_redirects_and_the_warning_follows_as_a_message(responder, postmortem):
    client = client_for(responder)
    response = client.post(section_url(postmortem), {"body": "It was Rosa's fault."})

    assert response.status_code == 302
    assert response.url == postmortem.get_absolute_url() + "#section-summary"
    html = text(client.get(response.url))
    assert "Summary saved." in html
    assert "Blameless check on Summary: “Rosa&#x27;s fault”" in html


def test_the_live_check_warns_without_saving(responder, postmortem):
    client = client_for(responder)

    warned = text(client.post(url("check", postmortem), {"body": "Pure human error."}, **HTMX))
    clean = text(client.post(url("check", postmortem), {"body": "The config had no validation."}, **HTMX))

    assert "“human error”" in warned
    assert "consider rewording" in warned
    assert "no blaming phrases" in clean
    assert body_of(postmortem) == ""


def test_the_live_check_is_for_people_who_can_see_the_postmortem(outsider, postmortem):
    assert client_for(outsider).post(url("check", postmortem), {"body": "x"}).status_code == 404


def test_an_unknown_section_is_404(responder, postmortem):
    assert client_for(responder).get(section_url(postmortem, "gossip")).status_code == 404


def test_an_oversized_section_is_refused_with_the_reason(responder, postmortem):
    response = client_for(responder).post(section_url(postmortem), {"body": "x" * 100_001}, **HTMX)
    assert response.status_code == 400
    assert "at most 100000 characters" in text(response)


# --- published is read-only -----------------------------------------------------------------


@pytest.fixture
def published(postmortem, manager):
    section_update(postmortem=postmortem, key=SectionKey.SUMMARY, body="Final summary.", actor=None)
    return postmortem_publish(postmortem=postmortem, actor=manager)


def test_published_page_says_who_published_it_and_offers_no_editing(responder, manager, published):
    html = text(client_for(responder).get(url("detail", published)))

    assert f"Published by {person_name(manager)} on" in html
    assert "It is read-only now" in html
    assert section_url(published) not in html
    assert url("timeline_import", published) not in html
    assert url("comment", published) not in html
    # Action items stay open for changes.
    assert reverse("postmortems:action_item_create", kwargs={"number": published.incident.number}) in html


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("section", {"body": "Rewritten"}),
        ("timeline_import", {}),
        ("timeline_add", {"occurred_at": "2026-01-15T10:00", "text": "Late entry"}),
        ("comment", {"section": "summary", "body": "Too late?"}),
        ("settings", {"title": "New title"}),
        ("request_review", {"others": "sam"}),
    ],
)
def test_changes_to_a_published_postmortem_are_refused_with_a_clear_message(
    responder, sam, published, name, data
):
    kwargs = {"key": "summary"} if name == "section" else {}
    client = client_for(responder)

    plain = client.post(url(name, published, **kwargs), data)
    htmx = client.post(url(name, published, **kwargs), data, **HTMX)

    assert plain.status_code == 409
    assert "published" in text(plain)
    assert "read-only" in text(plain)
    assert htmx.status_code == 409
    assert htmx["HX-Retarget"] == "#pm-alerts"
    assert "read-only" in text(htmx)
    assert body_of(published) == "Final summary."
    assert not ReviewComment.objects.exists()


def test_publishing_twice_is_refused(manager, published):
    response = client_for(manager).post(url("publish", published))
    assert response.status_code == 409
    assert "already published" in text(response)


def test_publishing_without_a_summary_is_refused_in_the_review_panel(responder, postmortem):
    response = client_for(responder).post(url("publish", postmortem), **HTMX)

    assert response.status_code == 409
    assert response["HX-Retarget"] == "#pm-workflow"
    assert "Write the summary before publishing" in text(response)
    postmortem.refresh_from_db()
    assert postmortem.status == PostmortemStatus.DRAFT


def test_publishing_by_htmx_returns_the_whole_read_only_page(responder, postmortem):
    section_update(postmortem=postmortem, key=SectionKey.SUMMARY, body="What happened.", actor=None)

    html = text(client_for(responder).post(url("publish", postmortem), **HTMX))

    assert 'id="postmortem-body"' in html
    assert "Published. The postmortem is now read-only" in html
    assert section_url(postmortem) not in html


# --- timeline -------------------------------------------------------------------------------


@pytest.fixture
def noon_event(incident, responder):
    return TimelineEventFactory(
        incident=incident,
        kind=TimelineKind.NOTE,
        text="Customer support reports failed payments",
        actor_user=responder,
        created_at=NOON_UTC,
    )


def test_timeline_times_are_in_each_viewers_own_time_zone(responder, viewer, noon_event, postmortem):
    set_zone(responder, "Europe/Berlin")
    set_zone(viewer, "America/New_York")

    berlin = text(client_for(responder).get(url("detail", postmortem)))
    new_york = text(client_for(viewer).get(url("detail", postmortem)))

    assert "Jan 15, 13:00" in berlin
    assert "Times in Europe/Berlin" in berlin
    assert "Jan 15, 07:00" in new_york
    assert "Times in America/New_York" in new_york


def test_leaving_an_entry_out_hides_it_from_readers(responder, viewer, noon_event, postmortem):
    entry = postmortem.timeline_entries.get(source_event=noon_event)

    response = client_for(responder).post(
        url("timeline_entry", postmortem, entry_id=entry.pk), {"part": "included"}, **HTMX
    )

    assert response.status_code == 200
    assert f'id="tl-entry-{entry.pk}"' in text(response)
    assert "left out" in text(response)
    entry.refresh_from_db()
    assert entry.included is False
    assert "Customer support reports failed payments" not in text(
        client_for(viewer).get(url("detail", postmortem))
    )


def test_an_edited_entry_survives_a_reimport_that_adds_the_new_events(
    responder, incident, noon_event, postmortem
):
    entry = postmortem.timeline_entries.get(source_event=noon_event)
    client = client_for(responder)
    client.post(
        url("timeline_entry", postmortem, entry_id=entry.pk),
        {"part": "text", "text": "Support saw the first failed payments"},
        **HTMX,
    )
    TimelineEventFactory(incident=incident, kind=TimelineKind.NOTE, text="Late finding: the flag was on")

    first = text(client.post(url("timeline_import", postmortem), **HTMX))
    again = text(client.post(url("timeline_import", postmortem), **HTMX))

    assert "1 new event imported" in first
    assert "Late finding: the flag was on" in first
    assert "Support saw the first failed payments" in first
    assert "edited" in first
    assert "No new events" in again
    entry.refresh_from_db()
    assert entry.text == "Support saw the first failed payments"


def test_an_empty_text_edit_is_refused_on_the_entry(responder, noon_event, postmortem):
    entry = postmortem.timeline_entries.get(source_event=noon_event)
    response = client_for(responder).post(
        url("timeline_entry", postmortem, entry_id=entry.pk), {"part": "text", "text": ""}, **HTMX
    )
    assert response.status_code == 400
    assert "Write what happened" in text(response)


def test_a_hand_written_entry_is_read_in_the_writers_zone_and_can_be_deleted(responder, postmortem):
    set_zone(responder, "Europe/Berlin")
    client = client_for(responder)

    html = text(
        client.post(
            url("timeline_add", postmortem),
            {"occurred_at": "2026-01-15T09:30", "text": "Customers tweet about failed payments"},
            **HTMX,
        )
    )

    entry = postmortem.timeline_entries.get(text="Customers tweet about failed payments")
    assert entry.occurred_at == datetime(2026, 1, 15, 8, 30, tzinfo=UTC)
    assert entry.source_event is None
    assert "Entry added." in html
    assert "written by hand" in html
    assert "Jan 15, 09:30" in html
    response = client.post(url("timeline_entry", postmortem, entry_id=entry.pk), {"part": "delete"}, **HTMX)
    assert response.status_code == 200
    assert text(response) == ""
    assert not TimelineEntry.objects.filter(pk=entry.pk).exists()


def test_an_entry_of_another_postmortem_is_404(responder, service, postmortem):
    other = postmortem_create(incident=new_incident(service=service), actor=responder)
    entry = TimelineEntry.objects.create(postmortem=other, occurred_at=timezone.now(), text="Elsewhere")
    response = client_for(responder).post(
        url("timeline_entry", postmortem, entry_id=entry.pk), {"part": "included"}
    )
    assert response.status_code == 404


# --- comments and review --------------------------------------------------------------------


def test_a_reviewer_comments_on_a_section_and_a_responder_resolves_it(responder, reviewer, postmortem):
    response = client_for(reviewer).post(
        url("comment", postmortem), {"section": "root_cause", "body": "Why was the flag on?"}, **HTMX
    )

    html = text(response)
    assert response.status_code == 200
    assert 'id="comments-root_cause"' in html
    assert "Why was the flag on?" in html
    assert "1 open" in html
    comment = ReviewComment.objects.get()
    assert (comment.section, comment.author) == ("root_cause", reviewer)

    resolved = text(
        client_for(responder).post(url("comment_resolve", postmortem, comment_id=comment.pk), **HTMX)
    )
    assert "Resolved by" in resolved
    assert "1 resolved" in resolved
    comment.refresh_from_db()
    assert comment.resolved_by == responder


def test_an_empty_comment_is_refused_inline(responder, postmortem):
    response = client_for(responder).post(
        url("comment", postmortem), {"section": "impact", "body": ""}, **HTMX
    )
    assert response.status_code == 400
    assert "This field is required." in text(response)


def test_comments_show_under_their_section_on_the_page(responder, reviewer, postmortem):
    comment_add(postmortem=postmortem, actor=reviewer, section="impact", body="How many users?")
    html = text(client_for(responder).get(url("detail", postmortem)))
    impact = html[html.index('id="section-impact"') : html.index('id="section-timeline"')]
    assert "How many users?" in impact


def test_requesting_review_from_the_team_and_someone_elsewhere(responder, sam, dana, postmortem):
    response = client_for(responder).post(
        url("request_review", postmortem), {"team_members": [sam.pk], "others": "DANA"}, **HTMX
    )

    html = text(response)
    assert response.status_code == 200
    assert "Review requested from Sam Okafor, Dana Scully." in html
    assert 'id="pm-header" class="pm-header" hx-swap-oob="true"' in html
    assert "In review" in html
    postmortem.refresh_from_db()
    assert postmortem.status == PostmortemStatus.IN_REVIEW
    assert set(postmortem.reviewers.values_list("user__username", flat=True)) == {"sam", "dana"}


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"others": "nobody-here"}, "Nobody who can sign in is called nobody-here."),
        ({}, "Choose at least one person to review it."),
    ],
)
def test_a_review_request_without_real_people_is_refused(responder, postmortem, data, problem):
    response = client_for(responder).post(url("request_review", postmortem), data, **HTMX)
    assert response.status_code == 400
    assert problem in text(response)
    assert not postmortem.reviewers.exists()


def test_a_named_reviewer_approves_and_gets_a_tick(reviewer, responder, postmortem):
    response = client_for(reviewer).post(url("approve", postmortem), **HTMX)

    assert response.status_code == 200
    assert "Approved. Thank you for reviewing." in text(response)
    assert "1 of 1 approved" in text(response)
    assert 'title="Approved"' in text(response)
    assert postmortem.reviewers.get().approved_at is not None
    assert client_for(responder).post(url("approve", postmortem)).status_code == 403


def test_settings_change_title_owner_and_due_date(responder, sam, postmortem):
    response = client_for(responder).post(
        url("settings", postmortem),
        {"title": "Checkout 502s after config push", "owner": sam.pk, "due_date": "2026-12-01"},
        **HTMX,
    )

    assert response.status_code == 200
    assert "Checkout 502s after config push" in text(response)  # the header, out of band
    postmortem.refresh_from_db()
    assert (postmortem.title, postmortem.owner, postmortem.due_date) == (
        "Checkout 502s after config push",
        sam,
        date(2026, 12, 1),
    )


def test_settings_without_a_title_are_refused_inline(responder, postmortem):
    response = client_for(responder).post(url("settings", postmortem), {"title": ""}, **HTMX)
    assert response.status_code == 400
    assert "This field is required." in text(response)


# --- export ---------------------------------------------------------------------------------


def test_export_is_a_markdown_download_with_times_in_the_viewers_zone(viewer, noon_event, postmortem):
    set_zone(viewer, "America/New_York")

    response = client_for(viewer).get(url("export", postmortem))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    number = postmortem.incident.number
    assert response["Content-Disposition"] == f'attachment; filename="INC-{number}-postmortem.md"'
    body = text(response)
    assert "Checkout returns 502s" in body
    assert "07:00" in body
    assert "13:00" not in body


# --- list -----------------------------------------------------------------------------------


def test_empty_list_says_where_postmortems_come_from(responder):
    html = text(client_for(responder).get(reverse("postmortems:list")))
    assert "No postmortems yet" in html
    assert "Write postmortem" in html


def test_list_filters_by_status_owner_and_past_due(responder, sam, service, postmortem):
    other = postmortem_create(incident=new_incident(service=service, title="Search is slow"), actor=sam)
    Postmortem.objects.filter(pk=other.pk).update(due_date=timezone.localdate() - timedelta(days=3))
    review_request(postmortem=postmortem, actor=responder, reviewers=[sam])
    client = client_for(responder)

    def titles(**query) -> set[str]:
        html = text(client.get(reverse("postmortems:list"), query, **HTMX))
        return {title for title in ("Checkout returns 502s", "Search is slow") if title in html}

    assert titles() == {"Checkout returns 502s", "Search is slow"}
    assert titles(status="in_review") == {"Checkout returns 502s"}
    assert titles(owner="sam") == {"Search is slow"}
    assert titles(overdue="true") == {"Search is slow"}
    assert titles(team="payments") == {"Checkout returns 502s", "Search is slow"}
    assert "No postmortems match these filters" in text(
        client.get(reverse("postmortems:list"), {"status": "published"})
    )


def test_list_shows_overdue_in_red(responder, postmortem):
    Postmortem.objects.filter(pk=postmortem.pk).update(due_date=timezone.localdate() - timedelta(days=2))
    html = text(client_for(responder).get(reverse("postmortems:list")))
    assert "2 days overdue" in html
    assert "pm-overdue" in html


def test_outsiders_list_nothing_but_reviewers_list_what_they_review(outsider, reviewer, postmortem):
    assert "Checkout returns 502s" not in text(client_for(outsider).get(reverse("postmortems:list")))
    assert "Checkout returns 502s" in text(client_for(reviewer).get(reverse("postmortems:list")))


def test_list_query_count_does_not_grow_with_rows(responder, service, django_assert_num_queries):
    def make(count: int) -> None:
        for _ in range(count):
            postmortem_create(incident=new_incident(service=service), actor=responder)

    client = client_for(responder)
    make(3)
    client.get(reverse("postmortems:list"))  # warm the session
    with CaptureQueriesContext(connection) as baseline:
        client.get(reverse("postmortems:list"))
    make(10)
    with django_assert_num_queries(len(baseline.captured_queries)):
        response = client.get(reverse("postmortems:list"))
    assert text(response).count('class="pm-row" href=') == 13
