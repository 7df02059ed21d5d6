from __future__ import annotations

import pytest

from incidents.models import Team
from incidents.services import DomainError
from runbooks.models import Runbook
from runbooks.services import (
    FrontMatterError,
    parse_runbook_markdown,
    revision_create,
    runbook_create,
    runbook_export_markdown,
    runbook_import_markdown,
)
from tests.factories import ServiceFactory, TeamFactory

pytestmark = pytest.mark.django_db

FILE = """---
title: "Postgres: replication lag"
services: [checkout, search]
labels: {alertname: PgReplicationLag, team: db}
review_interval_days: 30
---
# Replication lag

- [ ] Check the replica
"""


@pytest.fixture
def search(team):
    return ServiceFactory(name="Search", slug="search", team=team)


def test_export_writes_front_matter_and_the_current_text(team, service, search, responder):
    runbook = runbook_create(
        team=team,
        title="Postgres: replication lag",
        body="# Lag",
        actor=responder,
        services=[search, service],
        labels={"alertname": "PgReplicationLag"},
    )
    revision_create(runbook=runbook, body="# Lag, take two", actor=responder)

    assert runbook_export_markdown(runbook) == (
        "---\n"
        'title: "Postgres: replication lag"\n'
        "slug: postgres-replication-lag\n"
        "services: [checkout, search]\n"
        "labels: {alertname: PgReplicationLag}\n"
        "review_interval_days: 90\n"
        "---\n"
        "# Lag, take two\n"
    )


def test_export_then_import_gives_the_same_runbook_back(team, service, responder):
    original = runbook_create(
        team=team,
        title="Yes: #1, [x]",
        body="Body",
        actor=responder,
        services=[service],
        labels={"k": "a, b: c"},
    )
    text = runbook_export_markdown(original)
    original.delete()

    imported, outcome = runbook_import_markdown(team=team, text=text, actor=responder)

    assert outcome == "created"
    assert (imported.title, imported.slug, imported.labels) == ("Yes: #1, [x]", "yes-1-x", {"k": "a, b: c"})
    assert list(imported.services.all()) == [service]
    assert imported.current_revision.body == "Body"


def test_import_creates_a_runbook_from_front_matter(team, service, search, responder):
    runbook, outcome = runbook_import_markdown(team=team, text=FILE, actor=responder, slug="pg-lag")

    assert outcome == "created"
    assert runbook.slug == "pg-lag"
    assert runbook.title == "Postgres: replication lag"
    assert sorted(runbook.services.values_list("slug", flat=True)) == ["checkout", "search"]
    assert runbook.labels == {"alertname": "PgReplicationLag", "team": "db"}
    assert runbook.review_interval_days == 30
    assert runbook.current_revision.body == "# Replication lag\n\n- [ ] Check the replica"


def test_importing_the_same_file_again_changes_nothing(team, service, search, responder):
    runbook_import_markdown(team=team, text=FILE, actor=responder, slug="pg-lag")

    runbook, outcome = runbook_import_markdown(
        team=team, text=FILE.replace("\n", "\r\n"), actor=responder, slug="pg-lag"
    )

    assert outcome == "unchanged"
    assert runbook.revisions.count() == 1


def test_importing_changed_text_adds_a_revision(team, service, search, responder):
    runbook_import_markdown(team=team, text=FILE, actor=responder, slug="pg-lag")

    runbook, outcome = runbook_import_markdown(
        team=team, text=FILE + "- [ ] Page the DBA\n", actor=responder, slug="pg-lag"
    )

    assert outcome == "updated"
    assert list(runbook.revisions.order_by("number").values_list("number", flat=True)) == [1, 2]
    assert runbook.current_revision.body.endswith("- [ ] Page the DBA")


def test_importing_changed_metadata_only_updates_without_a_revision(team, service, search, responder):
    runbook_import_markdown(team=team, text=FILE, actor=responder, slug="pg-lag")

    runbook, outcome = runbook_import_markdown(
        team=team,
        text=FILE.replace("review_interval_days: 30", "review_interval_days: 7"),
        actor=responder,
        slug="pg-lag",
    )

    assert outcome == "updated"
    assert runbook.review_interval_days == 7
    assert runbook.revisions.count() == 1


def test_import_refuses_unknown_services_and_writes_nothing(team, service, responder):
    with pytest.raises(DomainError, match="Unknown service: search"):
        runbook_import_markdown(team=team, text=FILE, actor=responder, slug="pg-lag")

    assert not Runbook.objects.exists()


def test_import_will_not_take_over_another_teams_runbook(team, responder):
    other = TeamFactory(name="Databases", slug="db")
    runbook_create(team=other, title="Lag", body="theirs", actor=None, slug="pg-lag")

    with pytest.raises(DomainError, match="belongs to the team Databases"):
        runbook_import_markdown(team=team, text="# Lag\n\nmine", actor=responder, slug="pg-lag")

    assert Team.objects.get(slug="db").runbooks.get().current_revision.body == "theirs"


def test_a_file_without_front_matter_takes_its_title_from_the_first_heading(team, responder):
    runbook, outcome = runbook_import_markdown(team=team, text="# Disk full\n\nDelete logs.", actor=responder)

    assert (outcome, runbook.title, runbook.slug) == ("created", "Disk full", "disk-full")


def test_block_lists_and_maps_are_read_like_yaml():
    parsed = parse_runbook_markdown(
        "---\ntitle: Lag  # a comment, as in YAML\nservices:\n  - checkout\n"
        "  - 'search'\nlabels:\n  alertname: X\n---\nbody\n"
    )

    assert parsed.meta["title"] == "Lag"
    assert parsed.meta["services"] == ["checkout", "search"]
    assert parsed.meta["labels"] == {"alertname": "X"}
    assert parsed.body == "body\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\ntitle: T\nbody", "never closed"),
        ("---\nowner: me\n---\nx", "unknown field 'owner'"),
        ("---\ntitle: T\ntitle: U\n---\nx", "given twice"),
        ("---\nreview_interval_days: soon\n---\nx", "whole number"),
        ("---\nservices: [a, [b]]\n---\nx", "nested"),
        ('---\ntitle: "open\n---\nx', "line 2"),
        ("---\nlabels: just-text\n---\nx", "labels must be a map"),
    ],
)
def test_front_matter_outside_the_subset_is_refused_with_its_line(text, message):
    with pytest.raises(FrontMatterError, match=message):
        parse_runbook_markdown(text)
