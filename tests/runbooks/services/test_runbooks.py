from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from incidents.models import AuditEntry
from incidents.services import DomainError
from runbooks.models import ReviewRequest, Runbook, RunbookRevision
from runbooks.services import (
    NothingChanged,
    StaleRevision,
    parse_labels,
    revision_create,
    revision_restore,
    runbook_create,
    runbook_delete,
    runbook_mark_reviewed,
    runbook_update,
)
from tests.factories import RunbookFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db


# --- create ---------------------------------------------------------------------------------


def test_create_keeps_the_text_as_revision_one_and_points_at_it(team, service, responder):
    runbook = runbook_create(
        team=team,
        title="Postgres replication lag",
        body="# Lag\r\n\r\n- [ ] Check the replica\r\n",
        actor=responder,
        services=["checkout"],
        labels="alertname=PgReplicationLag, team=db",
        note="First version",
    )

    runbook.refresh_from_db()
    assert runbook.slug == "postgres-replication-lag"
    assert list(runbook.services.all()) == [service]
    assert runbook.labels == {"alertname": "PgReplicationLag", "team": "db"}
    assert runbook.review_interval_days == 90
    revision = runbook.current_revision
    assert (revision.number, revision.author, revision.note) == (1, responder, "First version")
    # Browsers submit CRLF; the stored text is what the author typed, in plain newlines.
    assert revision.body == "# Lag\n\n- [ ] Check the replica"
    assert AuditEntry.objects.filter(
        action="runbook.create", object_id=str(runbook.pk), actor=responder
    ).exists()


def test_create_makes_the_slug_unique(team, responder):
    first = runbook_create(team=team, title="Disk full", body="x", actor=responder)
    second = runbook_create(team=team, title="Disk full!", body="y", actor=responder)
    third = runbook_create(team=team, title="Disk  full", body="z", actor=responder)

    assert [first.slug, second.slug, third.slug] == ["disk-full", "disk-full-2", "disk-full-3"]


def test_create_refuses_a_taken_explicit_slug(team, responder):
    runbook_create(team=team, title="Disk full", body="x", actor=responder, slug="disk")

    with pytest.raises(DomainError, match="already exists"):
        runbook_create(team=team, title="Other", body="x", actor=responder, slug="disk")


def test_create_refuses_unknown_services_and_writes_nothing(team, responder):
    ServiceFactory(slug="search", team=team)

    with pytest.raises(DomainError, match="Unknown services: billing, ledger"):
        runbook_create(
            team=team, title="T", body="x", actor=responder, services=["search", "ledger", "billing"]
        )

    assert not Runbook.objects.exists()


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"alertname": 5}, "needs a text value"),
        ({"1bad": "x"}, "not a valid label name"),
        ("alertname", "name=value"),
        ("team=db, team=web", "given twice"),
    ],
)
def test_create_refuses_bad_labels(team, responder, labels, message):
    with pytest.raises(DomainError, match=message):
        runbook_create(team=team, title="T", body="x", actor=responder, labels=labels)


def test_parse_labels_reads_the_comma_separated_form():
    assert parse_labels(" alertname = PgReplicationLag ,team=db, ") == {
        "alertname": "PgReplicationLag",
        "team": "db",
    }
    assert parse_labels("") == {}


def test_create_refuses_an_empty_title_or_body(team, responder):
    with pytest.raises(DomainError, match="title"):
        runbook_create(team=team, title="  ", body="x", actor=responder)
    with pytest.raises(DomainError, match="text"):
        runbook_create(team=team, title="T", body=" \n ", actor=responder)


# --- update ---------------------------------------------------------------------------------


def test_update_changes_metadata_without_a_new_revision(team, service, responder):
    runbook = runbook_create(team=team, title="Old", body="x", actor=responder)

    runbook_update(
        runbook=runbook,
        actor=responder,
        title="New",
        services=[service],
        labels={"a": "b"},
        review_interval_days=30,
    )

    runbook.refresh_from_db()
    assert (runbook.title, runbook.labels, runbook.review_interval_days) == ("New", {"a": "b"}, 30)
    assert list(runbook.services.all()) == [service]
    assert runbook.revisions.count() == 1
    entry = AuditEntry.objects.get(action="runbook.update")
    assert entry.data["title"] == ["Old", "New"]
    assert entry.data["services"] == [[], ["checkout"]]


def test_update_with_nothing_different_writes_no_audit_entry(team, responder):
    runbook = runbook_create(team=team, title="Same", body="x", actor=responder, labels={"a": "b"})

    runbook_update(runbook=runbook, actor=responder, title="Same", labels="a=b", services=[])

    assert not AuditEntry.objects.filter(action="runbook.update").exists()


# --- revisions ------------------------------------------------------------------------------


def test_editing_adds_a_revision_and_never_overwrites(team, responder):
    runbook = runbook_create(team=team, title="T", body="one", actor=responder)

    second = revision_create(runbook=runbook, body="two", actor=responder, note="fix", base_number=1)

    runbook.refresh_from_db()
    assert runbook.current_revision == second
    assert second.number == 2
    assert list(runbook.revisions.order_by("number").values_list("number", "body")) == [
        (1, "one"),
        (2, "two"),
    ]


def test_saving_on_a_stale_base_is_refused_and_nothing_is_lost(team, responder):
    sam = UserFactory(username="sam", first_name="Sam", last_name="")
    runbook = runbook_create(team=team, title="T", body="one", actor=responder)
    with time_machine.travel(datetime(2026, 3, 2, 14, 2, tzinfo=UTC), tick=False):
        sams = revision_create(runbook=runbook, body="Sam's text", actor=sam, base_number=1)

        with pytest.raises(StaleRevision) as refused:
            revision_create(runbook=runbook, body="Rosa's text", actor=responder, base_number=1)

    assert refused.value.latest == sams
    assert refused.value.base_number == 1
    assert str(refused.value) == (
        "Revision 2 was saved by Sam at 14:02 while you were editing revision 1; your text was not saved. "
        "Compare and try again."
    )
    runbook.refresh_from_db()
    assert runbook.current_revision == sams
    assert list(runbook.revisions.order_by("number").values_list("body", flat=True)) == ["one", "Sam's text"]


def test_saving_the_same_text_adds_no_revision(team, responder):
    runbook = runbook_create(team=team, title="T", body="one\n", actor=responder)

    with pytest.raises(NothingChanged):
        revision_create(runbook=runbook, body="one\r\n\r\n", actor=responder, base_number=1)

    assert runbook.revisions.count() == 1


def test_restore_adds_a_revision_with_the_old_text(team, responder, manager):
    runbook = runbook_create(team=team, title="T", body="good", actor=responder)
    revision_create(runbook=runbook, body="broken", actor=responder)

    restored = revision_restore(runbook=runbook, number=1, actor=manager)

    runbook.refresh_from_db()
    assert runbook.current_revision == restored
    assert (restored.number, restored.body, restored.note, restored.restored_from, restored.author) == (
        3,
        "good",
        "Restored revision 1",
        1,
        manager,
    )
    assert runbook.revisions.count() == 3


def test_restoring_the_latest_text_or_a_missing_revision_is_refused(team, responder):
    runbook = runbook_create(team=team, title="T", body="good", actor=responder)

    with pytest.raises(NothingChanged):
        revision_restore(runbook=runbook, number=1, actor=responder)
    with pytest.raises(DomainError, match="no revision 7"):
        revision_restore(runbook=runbook, number=7, actor=responder)


# --- review and delete ----------------------------------------------------------------------


def test_mark_reviewed_records_who_and_when_and_closes_open_requests(team, responder, manager):
    runbook = RunbookFactory(team=team)
    request = ReviewRequest.objects.create(runbook=runbook, requested_by=responder, reason="wrong host")
    moment = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)

    with time_machine.travel(moment, tick=False):
        runbook_mark_reviewed(runbook=runbook, actor=manager)

    runbook.refresh_from_db()
    request.refresh_from_db()
    assert (runbook.last_reviewed_at, runbook.last_reviewed_by) == (moment, manager)
    assert not runbook.review_overdue(moment)
    assert (request.closed_at, request.closed_by) == (moment, manager)


def test_delete_removes_the_runbook_and_its_revisions_and_is_audited(team, manager):
    runbook = RunbookFactory(team=team, slug="gone")
    pk = runbook.pk

    runbook_delete(runbook=runbook, actor=manager)

    assert not Runbook.objects.filter(pk=pk).exists()
    assert not RunbookRevision.objects.filter(runbook_id=pk).exists()
    assert AuditEntry.objects.get(action="runbook.delete").data["slug"] == "gone"


@pytest.mark.parametrize("title", ["New", "Import"])
def test_a_title_that_would_shadow_a_page_gets_another_slug(team, manager, title):
    runbook = runbook_create(team=team, title=title, body="Steps", actor=manager)
    assert runbook.slug == f"{title.lower()}-2"


def test_a_slug_that_would_shadow_a_page_is_refused(team, manager):
    with pytest.raises(DomainError, match="page of its own"):
        runbook_create(team=team, title="Anything", slug="import", body="Steps", actor=manager)
