from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.http import Http404
from django.test import RequestFactory

from incidents.choices import Role
from incidents.models import Profile
from postmortems.choices import ActionItemStatus, PostmortemStatus
from postmortems.dates import person_today
from postmortems.filters import ActionItemFilter, PostmortemFilter
from postmortems.models import PostmortemReviewer, TimelineEntry
from postmortems.selectors import (
    action_item_get_for_user,
    action_item_list_for_user,
    incident_action_items,
    postmortem_get_for_user,
    postmortem_list_for_user,
    postmortem_timeline,
)
from tests.factories import (
    ActionItemFactory,
    IncidentFactory,
    MembershipFactory,
    PostmortemFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# 23:30 UTC on Thursday 5 March 2026: already Friday 6 March in Tokyo, still Thursday in UTC.
LATE_THURSDAY = datetime(2026, 3, 5, 23, 30, tzinfo=UTC)


@pytest.fixture
def other_service():
    return ServiceFactory(name="Search", slug="search", team=TeamFactory(name="Search", slug="search"))


def _live_in(user, zone):
    profile, _ = Profile.objects.get_or_create(user=user)
    profile.time_zone = zone
    profile.save()
    user.profile = profile
    return user


def _review(postmortem, user):
    PostmortemReviewer.objects.create(postmortem=postmortem, user=user)


# --- postmortems ------------------------------------------------------------------------------


def test_team_members_see_their_teams_postmortems_and_not_others(service, other_service, viewer):
    ours = PostmortemFactory(incident=IncidentFactory(service=service))
    PostmortemFactory(incident=IncidentFactory(service=other_service))

    assert list(postmortem_list_for_user(user=viewer)) == [ours]
    assert postmortem_get_for_user(user=viewer, number=ours.incident.number) == ours


def test_outsiders_see_no_postmortem(service, outsider):
    postmortem = PostmortemFactory(incident=IncidentFactory(service=service))

    assert list(postmortem_list_for_user(user=outsider)) == []
    with pytest.raises(Http404):
        postmortem_get_for_user(user=outsider, number=postmortem.incident.number)


def test_anonymous_visitors_see_no_postmortem(service):
    PostmortemFactory(incident=IncidentFactory(service=service))

    assert list(postmortem_list_for_user(user=AnonymousUser())) == []


def test_a_named_reviewer_from_another_team_sees_that_postmortem_only(service, outsider):
    reviewed = PostmortemFactory(incident=IncidentFactory(service=service))
    PostmortemFactory(incident=IncidentFactory(service=service))
    _review(reviewed, outsider)

    assert list(postmortem_list_for_user(user=outsider)) == [reviewed]
    assert postmortem_get_for_user(user=outsider, number=reviewed.incident.number) == reviewed


def test_a_team_member_who_also_reviews_sees_the_postmortem_once(service, responder, sam):
    postmortem = PostmortemFactory(incident=IncidentFactory(service=service))
    _review(postmortem, responder)
    _review(postmortem, sam)

    assert list(postmortem_list_for_user(user=responder)) == [postmortem]


def test_superusers_see_every_postmortem(service, other_service):
    admin = UserFactory(username="root", is_superuser=True)
    PostmortemFactory(incident=IncidentFactory(service=service))
    PostmortemFactory(incident=IncidentFactory(service=other_service))

    assert postmortem_list_for_user(user=admin).count() == 2


def test_postmortem_page_loads_in_a_fixed_number_of_queries(service, viewer, django_assert_num_queries):
    postmortem = PostmortemFactory(incident=IncidentFactory(service=service))
    for index in range(5):
        _review(postmortem, UserFactory(username=f"reviewer{index}"))

    # postmortem (+ incident, service, team, owner), sections, reviewers, comments
    with django_assert_num_queries(4):
        loaded = postmortem_get_for_user(user=viewer, number=postmortem.incident.number)
        names = [reviewer.user.username for reviewer in loaded.reviewers.all()]
        assert loaded.incident.service.team.slug == "payments"

    assert len(names) == 5


def test_postmortem_timeline_can_leave_out_excluded_entries(service):
    postmortem = PostmortemFactory(incident=IncidentFactory(service=service))
    at = LATE_THURSDAY
    TimelineEntry.objects.create(postmortem=postmortem, occurred_at=at + timedelta(minutes=2), text="second")
    TimelineEntry.objects.create(postmortem=postmortem, occurred_at=at, text="first")
    TimelineEntry.objects.create(postmortem=postmortem, occurred_at=at, text="hidden", included=False)

    assert [e.text for e in postmortem_timeline(postmortem=postmortem)] == ["first", "hidden", "second"]
    assert [e.text for e in postmortem_timeline(postmortem=postmortem, included_only=True)] == [
        "first",
        "second",
    ]


# --- action items -----------------------------------------------------------------------------


def test_team_members_see_their_teams_action_items(service, other_service, viewer):
    ours = ActionItemFactory(incident=IncidentFactory(service=service))
    ActionItemFactory(incident=IncidentFactory(service=other_service))

    assert list(action_item_list_for_user(user=viewer)) == [ours]


def test_owners_see_their_own_items_from_other_teams(other_service, responder):
    mine = ActionItemFactory(incident=IncidentFactory(service=other_service), owner=responder)
    ActionItemFactory(incident=IncidentFactory(service=other_service))

    assert list(action_item_list_for_user(user=responder)) == [mine]
    assert action_item_get_for_user(user=responder, pk=mine.pk) == mine


def test_outsiders_cannot_open_someone_elses_action_item(service, outsider):
    item = ActionItemFactory(incident=IncidentFactory(service=service))

    assert list(action_item_list_for_user(user=outsider)) == []
    with pytest.raises(Http404):
        action_item_get_for_user(user=outsider, pk=item.pk)


def test_action_item_list_is_one_query_however_many_items(service, manager, django_assert_num_queries):
    for _ in range(6):
        incident = IncidentFactory(service=service)
        PostmortemFactory(incident=incident)
        ActionItemFactory(incident=incident)

    with django_assert_num_queries(1):
        rows = [
            (item.owner.username, item.incident.service.team.slug, item.incident.postmortem.title)
            for item in action_item_list_for_user(user=manager)
        ]

    assert len(rows) == 6


# --- filters ----------------------------------------------------------------------------------


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def _filtered(filterset_class, user, data):
    queryset = (
        action_item_list_for_user(user=user)
        if filterset_class is ActionItemFilter
        else postmortem_list_for_user(user=user)
    )
    filterset = filterset_class(data=data, queryset=queryset, request=_request(user))
    assert filterset.is_valid(), filterset.errors
    return list(filterset.qs)


def test_overdue_action_items_are_judged_by_the_requesters_date(service, team):
    due_thursday = ActionItemFactory(incident=IncidentFactory(service=service), due_date=date(2026, 3, 5))
    tokyo = _live_in(UserFactory(username="kenji"), "Asia/Tokyo")
    london = _live_in(UserFactory(username="lucy"), "UTC")
    for user in (tokyo, london):
        MembershipFactory(team=team, user=user, role=Role.VIEWER)

    with time_machine.travel(LATE_THURSDAY, tick=False):
        assert person_today(tokyo) == date(2026, 3, 6)
        assert _filtered(ActionItemFilter, tokyo, {"overdue": "true"}) == [due_thursday]
        assert _filtered(ActionItemFilter, london, {"overdue": "true"}) == []
        assert _filtered(ActionItemFilter, london, {"overdue": "false"}) == [due_thursday]


def test_closed_action_items_are_never_overdue(service, manager):
    ActionItemFactory(
        incident=IncidentFactory(service=service), due_date=date(2026, 1, 1), status=ActionItemStatus.DONE
    )

    with time_machine.travel(LATE_THURSDAY, tick=False):
        assert _filtered(ActionItemFilter, manager, {"overdue": "true"}) == []


def test_status_filter_groups_open_and_closed(service, manager):
    items = {
        status: ActionItemFactory(incident=IncidentFactory(service=service), status=status)
        for status in ActionItemStatus.values
    }

    open_items = _filtered(ActionItemFilter, manager, {"status": "open"})
    closed_items = _filtered(ActionItemFilter, manager, {"status": "closed"})

    assert set(open_items) == {items["open"], items["in_progress"]}
    assert set(closed_items) == {items["done"], items["wont_do"]}
    assert _filtered(ActionItemFilter, manager, {"status": "wont_do"}) == [items["wont_do"]]


def test_past_due_postmortems_are_judged_by_the_requesters_date_and_exclude_published(service, team):
    late = PostmortemFactory(incident=IncidentFactory(service=service), due_date=date(2026, 3, 5))
    PostmortemFactory(
        incident=IncidentFactory(service=service),
        due_date=date(2026, 3, 1),
        status=PostmortemStatus.PUBLISHED,
    )
    tokyo = _live_in(UserFactory(username="kenji"), "Asia/Tokyo")
    MembershipFactory(team=team, user=tokyo, role=Role.VIEWER)
    utc = _live_in(UserFactory(username="lucy"), "UTC")
    MembershipFactory(team=team, user=utc, role=Role.VIEWER)

    with time_machine.travel(LATE_THURSDAY, tick=False):
        assert _filtered(PostmortemFilter, tokyo, {"overdue": "true"}) == [late]
        assert _filtered(PostmortemFilter, utc, {"overdue": "true"}) == []


def test_an_incidents_action_items_list_open_ones_first_soonest_due_first(responder):
    incident = IncidentFactory()
    done = ActionItemFactory(incident=incident, title="done", status="done", due_date=date(2026, 11, 1))
    later = ActionItemFactory(incident=incident, title="later", due_date=date(2026, 12, 20))
    undated = ActionItemFactory(incident=incident, title="undated", status="in_progress")
    sooner = ActionItemFactory(incident=incident, title="sooner", due_date=date(2026, 12, 1))

    assert list(incident_action_items(incident=incident)) == [sooner, later, undated, done]
