from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from incidents.choices import Role
from incidents.models import Service
from runbooks.models import Runbook
from runbooks.services import review_request_create, revision_create, runbook_create
from tests.clients import client_for
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
BODY = "# Replication lag\n\n1. Check the lag dashboard\n2. Restart the replica\n"


@pytest.fixture
def runbook(team, service, responder) -> Runbook:
    return runbook_create(
        team=team,
        title="Postgres replication lag",
        body=BODY,
        actor=responder,
        services=[service],
        labels={"alertname": "PgReplicationLag"},
        note="First version",
    )


@pytest.fixture
def other_responder():
    """A responder of another team: reads every runbook, edits none of Payments'."""
    user = UserFactory(username="sid")
    MembershipFactory(team=TeamFactory(name="Search", slug="search"), user=user, role=Role.RESPONDER)
    return user


def url(name: str, runbook: Runbook, **kwargs) -> str:
    return reverse(f"runbooks:{name}", kwargs={"slug": runbook.slug, **kwargs})


# --- permissions ----------------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_login(client, runbook):
    for target in (reverse("runbooks:list"), url("detail", runbook), url("edit", runbook)):
        response = client.get(target)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize(
    ("who", "read", "edit", "delete"),
    [
        ("viewer", 200, 403, 403),
        ("responder", 200, 200, 403),
        ("manager", 200, 200, 200),
        ("other_responder", 200, 403, 403),
        ("outsider", 404, 404, 404),
    ],
)
def test_who_may_read_edit_and_delete(request, runbook, who, read, edit, delete):
    client = client_for(request.getfixturevalue(who))
    assert client.get(url("detail", runbook)).status_code == read
    assert client.get(url("history", runbook)).status_code == read
    assert client.get(url("edit", runbook)).status_code == edit
    assert client.get(url("delete", runbook)).status_code == delete


def test_refused_edit_explains_the_role_needed(viewer, runbook):
    response = client_for(viewer).post(url("edit", runbook), {"body": "vandalised", "base_number": 1})
    assert response.status_code == 403
    assert "responder role in Payments" in response.content.decode()
    assert runbook.revisions.count() == 1


def test_only_managers_see_the_delete_link_and_deleting_removes_the_runbook(responder, manager, runbook):
    assert url("delete", runbook) not in client_for(responder).get(url("detail", runbook)).content.decode()
    client = client_for(manager)
    assert url("delete", runbook) in client.get(url("detail", runbook)).content.decode()
    response = client.post(url("delete", runbook), follow=True)
    assert response.redirect_chain[-1][0] == reverse("runbooks:list")
    assert "Postgres replication lag” and its history were deleted" in response.content.decode()
    assert not Runbook.objects.filter(pk=runbook.pk).exists()


# --- list -----------------------------------------------------------------------------------


def test_empty_list_says_how_to_start(responder):
    html = client_for(responder).get(reverse("runbooks:list")).content.decode()
    assert "Write your first runbook" in html
    assert reverse("runbooks:import") in html


def test_list_row_shows_owner_services_revision_and_overdue_review(responder, runbook):
    Runbook.objects.filter(pk=runbook.pk).update(last_reviewed_at=timezone.now() - timedelta(days=140))
    review_request_create(runbook=runbook, actor=responder, reason="Step 2 is wrong")
    html = client_for(responder).get(reverse("runbooks:list")).content.decode()
    assert "Postgres replication lag" in html
    assert "Payments" in html
    assert "Checkout" in html
    assert "r1" in html
    assert "Last reviewed 140 days ago" in html
    assert "rb-overdue" in html
    assert "1 review request" in html


def test_live_search_returns_only_matching_rows_as_a_partial(responder, team, runbook):
    runbook_create(team=team, title="Disk full", body="Delete old logs", actor=responder)
    response = client_for(responder).get(reverse("runbooks:list"), {"q": "replica"}, **HTMX)
    html = response.content.decode()
    assert "<html" not in html
    assert "Postgres replication lag" in html
    assert "Disk full" not in html


def test_due_for_review_filter_hides_runbooks_reviewed_recently(responder, team, runbook):
    fresh = runbook_create(team=team, title="Disk full", body="Delete old logs", actor=responder)
    Runbook.objects.filter(pk=runbook.pk).update(created_at=timezone.now() - timedelta(days=200))
    Runbook.objects.filter(pk=fresh.pk).update(last_reviewed_at=timezone.now())
    html = client_for(responder).get(reverse("runbooks:list"), {"due": "1"}).content.decode()
    assert "Postgres replication lag" in html
    assert "Disk full" not in html


def test_list_query_count_does_not_grow_with_the_number_of_runbooks(
    responder, team, service, django_assert_max_num_queries
):
    def make(count: int) -> None:
        for n in range(count):
            created = runbook_create(
                team=team, title=f"Runbook {Runbook.objects.count()} {n}", body="Step", actor=responder
            )
            created.services.add(
                service, Service.objects.create(name=f"S {n}", slug=f"s-{created.pk}", team=team)
            )
            review_request_create(runbook=created, actor=responder)

    client = client_for(responder)
    make(2)
    client.get(reverse("runbooks:list"))  # warm the session and role caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(reverse("runbooks:list"))
    make(8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("runbooks:list"))
    assert response.content.decode().count('class="rb-row" href=') == 10


# --- detail and review ----------------------------------------------------------------------


def test_detail_renders_markdown_and_names_the_revision(responder, runbook):
    html = client_for(responder).get(url("detail", runbook)).content.decode()
    assert "<h1>Replication lag</h1>" in html
    assert "<li>Restart the replica</li>" in html
    assert "Revision 1" in html
    assert "First version" in html
    assert "alertname=PgReplicationLag" in html
    assert "Mark reviewed" in html


def test_mark_reviewed_by_htmx_refreshes_the_review_panel(responder, runbook):
    Runbook.objects.filter(pk=runbook.pk).update(created_at=timezone.now() - timedelta(days=120))
    response = client_for(responder).post(url("mark_reviewed", runbook), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="review-panel"' in html
    assert "<html" not in html
    assert "Last reviewed today" in html
    runbook.refresh_from_db()
    assert runbook.last_reviewed_by == responder
    assert not runbook.review_overdue()


def test_open_review_request_is_shown_and_can_be_closed(responder, runbook):
    request = review_request_create(runbook=runbook, actor=responder, reason="Step 2 no longer works")
    client = client_for(responder)
    assert "Step 2 no longer works" in client.get(url("detail", runbook)).content.decode()
    response = client.post(url("review_request_close", runbook, pk=request.pk), follow=True)
    assert "Review request closed." in response.content.decode()
    assert "Step 2 no longer works" not in response.content.decode()
    request.refresh_from_db()
    assert request.closed_by == responder


# --- create, edit, conflicts ----------------------------------------------------------------


def test_create_runbook_from_the_form(responder, team, service):
    response = client_for(responder).post(
        reverse("runbooks:create"),
        {
            "title": "Checkout 502s",
            "team": team.pk,
            "services": [service.pk],
            "labels": "alertname=Checkout5xx, team=payments",
            "review_interval_days": 30,
            "body": "- [ ] Check the load balancer",
            "note": "First version",
        },
        follow=True,
    )
    runbook = Runbook.objects.get(title="Checkout 502s")
    assert response.redirect_chain[-1][0] == runbook.get_absolute_url()
    assert runbook.labels == {"alertname": "Checkout5xx", "team": "payments"}
    assert list(runbook.services.all()) == [service]
    assert runbook.current_revision.number == 1


def test_create_refuses_bad_labels_with_the_field_named(responder, team):
    response = client_for(responder).post(
        reverse("runbooks:create"),
        {"title": "X", "team": team.pk, "labels": "alertname", "review_interval_days": 90, "body": "Step"},
    )
    assert response.status_code == 400
    assert "Write each label as name=value" in response.content.decode()
    assert not Runbook.objects.exists()


def test_edit_saves_a_new_revision_and_keeps_the_old_one(responder, runbook):
    client = client_for(responder)
    form = client.get(url("edit", runbook)).content.decode()
    assert 'name="base_number" value="1"' in form
    response = client.post(
        url("edit", runbook),
        {
            "title": runbook.title,
            "review_interval_days": 90,
            "labels": "alertname=PgReplicationLag",
            "body": BODY.replace("Restart", "Rebuild"),
            "note": "Rebuild, not restart",
            "base_number": 1,
        },
        follow=True,
    )
    assert "Saved as revision 2." in response.content.decode()
    assert list(runbook.revisions.values_list("number", "note")) == [
        (2, "Rebuild, not restart"),
        (1, "First version"),
    ]


def test_saving_unchanged_text_says_so_and_adds_no_revision(responder, runbook):
    response = client_for(responder).post(
        url("edit", runbook),
        {
            "title": runbook.title,
            "review_interval_days": 90,
            "labels": "alertname=PgReplicationLag",
            "body": BODY,
            "base_number": 1,
        },
        follow=True,
    )
    assert "The text is unchanged" in response.content.decode()
    assert runbook.revisions.count() == 1


def test_stale_edit_keeps_the_users_text_and_shows_the_diff(responder, manager, runbook):
    revision_create(
        runbook=runbook, body=BODY + "3. Page the DBA\n", actor=manager, note="Escalate", base_number=1
    )
    mine = BODY.replace("Check the lag dashboard", "Check replica lag in Grafana")
    response = client_for(responder).post(
        url("edit", runbook),
        {
            "title": runbook.title,
            "review_interval_days": 90,
            "body": mine,
            "note": "Grafana",
            "base_number": 1,
        },
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert "Someone else saved this runbook while you were editing" in html
    assert "Your text was <strong>not saved</strong>" in html
    # Their text is still in the textarea, and the next save goes on top of revision 2.
    textarea = re.search(r'<textarea name="body"[^>]*>(.*?)</textarea>', html, re.S)
    assert textarea is not None
    assert textarea.group(1).strip() == mine.strip()
    assert 'name="base_number" value="2"' in html
    # The diff: the other person's new line and the user's changed line are highlighted.
    assert "<del>3. Page the DBA</del>" in html
    assert "<ins>1. Check replica lag in Grafana</ins>" in html
    assert runbook.revisions.count() == 2


# --- history, diff, restore -----------------------------------------------------------------


@pytest.fixture
def edited(runbook, manager):
    revision_create(
        runbook=runbook, body=BODY.replace("Restart", "Rebuild"), actor=manager, note="Rebuild", base_number=1
    )
    return runbook


def test_history_lists_revisions_with_author_and_note(responder, edited):
    html = client_for(responder).get(url("history", edited)).content.decode()
    assert "Revision 2" in html
    assert "Revision 1" in html
    assert "Rebuild" in html
    assert "First version" in html
    assert 'name="from" value="1" checked' in html
    assert 'name="to" value="2" checked' in html


def test_side_by_side_diff_highlights_the_changed_line(responder, edited):
    html = client_for(responder).get(url("diff", edited), {"from": 1, "to": 2}).content.decode()
    assert "Revision 1 → 2" in html
    assert "<del>2. Restart the replica</del>" in html
    assert "<ins>2. Rebuild the replica</ins>" in html


def test_unified_diff_marks_added_and_removed_lines(responder, edited):
    html = (
        client_for(responder)
        .get(url("diff", edited), {"from": 1, "to": 2, "view": "unified"})
        .content.decode()
    )
    assert "<del>-2. Restart the replica</del>" in html
    assert "<ins>+2. Rebuild the replica</ins>" in html


def test_diff_of_unknown_revision_is_404_and_missing_numbers_are_400(responder, edited):
    client = client_for(responder)
    assert client.get(url("diff", edited), {"from": 1, "to": 9}).status_code == 404
    assert client.get(url("diff", edited), {"from": 1}).status_code == 400


def test_restoring_an_old_revision_adds_a_new_one_with_its_text(responder, edited):
    client = client_for(responder)
    page = client.get(url("revision", edited, number=1)).content.decode()
    assert "Restore this revision" in page
    response = client.post(url("restore", edited, number=1), follow=True)
    assert "Revision 1 restored as revision 3." in response.content.decode()
    edited.refresh_from_db()
    assert edited.current_revision.number == 3
    assert edited.current_revision.body == BODY.strip()
    assert edited.current_revision.restored_from == 1
    assert "restored from revision 1" in client.get(url("history", edited)).content.decode()


def test_viewer_cannot_restore(viewer, edited):
    assert client_for(viewer).post(url("restore", edited, number=1)).status_code == 403
    assert edited.revisions.count() == 2


# --- export and import ----------------------------------------------------------------------


def test_export_then_import_round_trip(responder, edited):
    client = client_for(responder)
    exported = client.get(url("export", edited))
    assert exported["Content-Type"].startswith("text/markdown")
    assert exported["Content-Disposition"] == f'attachment; filename="{edited.slug}.md"'
    text = exported.content.decode()
    assert "title: Postgres replication lag" in text
    assert "Rebuild the replica" in text

    upload = SimpleUploadedFile("lag.md", text.encode(), content_type="text/markdown")
    response = client.post(reverse("runbooks:import"), {"team": edited.team.pk, "file": upload}, follow=True)
    assert "already has this text; no revision was added" in response.content.decode()
    assert edited.revisions.count() == 2

    changed = text.replace("Rebuild the replica", "Promote the replica")
    upload = SimpleUploadedFile("lag.md", changed.encode(), content_type="text/markdown")
    response = client.post(reverse("runbooks:import"), {"team": edited.team.pk, "file": upload}, follow=True)
    assert "the file became revision 3" in response.content.decode()
    assert "Promote the replica" in response.content.decode()


def test_import_creates_a_runbook_from_front_matter(responder, team, service):
    text = "---\ntitle: Disk full\nservices: [checkout]\n---\n# Disk full\n\nDelete old logs.\n"
    upload = SimpleUploadedFile("disk.md", text.encode(), content_type="text/markdown")
    client_for(responder).post(reverse("runbooks:import"), {"team": team.pk, "file": upload})
    runbook = Runbook.objects.get(title="Disk full")
    assert list(runbook.services.all()) == [service]
    assert runbook.team == team


def test_import_shows_the_problem_with_a_broken_file(responder, team):
    upload = SimpleUploadedFile("bad.md", b"---\ntitle: [unclosed\n", content_type="text/markdown")
    response = client_for(responder).post(reverse("runbooks:import"), {"team": team.pk, "file": upload})
    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()
    assert not Runbook.objects.exists()
