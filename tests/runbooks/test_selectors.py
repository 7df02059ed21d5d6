from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.http import Http404

from incidents.choices import Role
from runbooks.models import Runbook
from runbooks.selectors import revision_get, runbook_get_for_user, runbook_list, runbooks_due_for_review
from runbooks.services import review_request_create, revision_create
from tests.factories import MembershipFactory, RunbookFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def other_team():
    return TeamFactory(name="Databases", slug="databases")


def _aged(runbook, *, created_days_ago, reviewed_days_ago=None, interval=90):
    Runbook.objects.filter(pk=runbook.pk).update(
        created_at=NOW - timedelta(days=created_days_ago),
        last_reviewed_at=None if reviewed_days_ago is None else NOW - timedelta(days=reviewed_days_ago),
        review_interval_days=interval,
    )
    runbook.refresh_from_db()
    return runbook


def test_responders_read_every_teams_runbooks(team, other_team, responder):
    ours = RunbookFactory(team=team, title="A ours")
    theirs = RunbookFactory(team=other_team, title="B theirs")

    assert list(runbook_list(user=responder)) == [ours, theirs]
    assert runbook_get_for_user(user=responder, slug=theirs.slug) == theirs


def test_viewers_read_only_their_own_teams_runbooks(team, other_team, viewer):
    ours = RunbookFactory(team=team)
    theirs = RunbookFactory(team=other_team)

    assert list(runbook_list(user=viewer)) == [ours]
    with pytest.raises(Http404):
        runbook_get_for_user(user=viewer, slug=theirs.slug)


def test_people_in_no_team_read_nothing(team, outsider):
    runbook = RunbookFactory(team=team)

    assert list(runbook_list(user=outsider)) == []
    with pytest.raises(Http404):
        runbook_get_for_user(user=outsider, slug=runbook.slug)


def test_list_filters_by_team(team, other_team, responder):
    RunbookFactory(team=team)
    theirs = RunbookFactory(team=other_team)

    assert list(runbook_list(user=responder, team=other_team)) == [theirs]


def test_search_finds_titles_and_current_bodies_but_not_old_revisions(team, responder):
    by_title = RunbookFactory(team=team, title="Replication lag", body="Nothing here")
    by_body = RunbookFactory(team=team, title="Database", body="When replication breaks, page the DBA")
    edited = RunbookFactory(team=team, title="Cache", body="replication notes")
    revision_create(runbook=edited, body="Flush the cache", actor=responder)
    RunbookFactory(team=team, title="Unrelated", body="Disk full")

    found = list(runbook_list(user=responder, query="replication"))

    assert set(found) == {by_title, by_body}
    if connection.vendor == "postgresql":
        assert found[0] == by_title  # a title match (weight A) ranks above a body match (weight B)


def test_search_is_case_insensitive(team, responder):
    runbook = RunbookFactory(team=team, title="PgBouncer pool exhausted")

    assert list(runbook_list(user=responder, query="pgbouncer")) == [runbook]


def test_overdue_only_lists_runbooks_past_their_review_date(team, responder):
    overdue = _aged(RunbookFactory(team=team, title="Old"), created_days_ago=400, reviewed_days_ago=140)
    _aged(RunbookFactory(team=team, title="Fresh"), created_days_ago=400, reviewed_days_ago=10)
    _aged(RunbookFactory(team=team, title="New"), created_days_ago=3)

    with time_machine.travel(NOW, tick=False):
        assert list(runbook_list(user=responder, overdue_only=True)) == [overdue]
        assert overdue.review_overdue()


def test_the_list_costs_the_same_few_queries_for_many_runbooks(team, responder, django_assert_num_queries):
    services = [ServiceFactory(team=team, slug=f"svc-{n}") for n in range(3)]
    for n in range(6):
        RunbookFactory(team=team).services.set(services[: n % 3 + 1])
    responder._muster_roles = {team.pk: Role.RESPONDER}  # as the request's permission check left it

    # The runbooks (with revision and team joined), then their services.
    with django_assert_num_queries(2):
        rows = [
            (r.title, r.team.name, r.current_revision.number, [s.slug for s in r.services.all()])
            for r in runbook_list(user=responder)
        ]

    assert len(rows) == 6


def test_revision_get_finds_by_number_and_404s_otherwise(team, responder):
    runbook = RunbookFactory(team=team, body="one")
    revision_create(runbook=runbook, body="two", actor=responder)

    assert revision_get(runbook=runbook, number=1).body == "one"
    with pytest.raises(Http404):
        revision_get(runbook=runbook, number=3)


def test_due_for_review_is_overdue_or_requested_longest_overdue_first(team, other_team, responder):
    older = _aged(RunbookFactory(team=team, title="Older"), created_days_ago=400, reviewed_days_ago=200)
    old = _aged(RunbookFactory(team=team, title="Old"), created_days_ago=100)
    requested = _aged(RunbookFactory(team=team, title="Requested"), created_days_ago=1)
    review_request_create(runbook=requested, actor=responder, reason="wrong")
    _aged(RunbookFactory(team=team, title="Fine"), created_days_ago=10)
    _aged(RunbookFactory(team=other_team, title="Not ours"), created_days_ago=400)

    due = runbooks_due_for_review(team=team, now=NOW)

    assert due == [older, old, requested]
    assert [r.open_requests for r in due] == [0, 0, 1]


def test_a_member_below_responder_of_two_teams_reads_both(team, other_team):
    person = UserFactory(username="dual")
    MembershipFactory(team=team, user=person, role=Role.VIEWER)
    MembershipFactory(team=other_team, user=person, role=Role.VIEWER)
    RunbookFactory(team=team)
    RunbookFactory(team=other_team)

    assert runbook_list(user=person).count() == 2
