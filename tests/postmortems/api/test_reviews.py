from __future__ import annotations

import pytest

from incidents.choices import Role, TimelineKind
from incidents.models import TimelineEvent
from postmortems.choices import PostmortemStatus
from postmortems.models import Postmortem, PostmortemReviewer, ReviewComment
from postmortems.services import (
    comment_add,
    postmortem_create,
    postmortem_publish,
    review_request,
    section_update,
)
from tests.clients import api_client_for
from tests.factories import IncidentFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def postmortem(service, responder):
    """Owned by rosa, with a summary, so that it can be published."""
    postmortem = postmortem_create(incident=IncidentFactory(service=service), actor=responder)
    section_update(postmortem=postmortem, key="summary", body="The pool ran dry.", actor=responder)
    return postmortem


@pytest.fixture
def dana():
    """A database expert from another team, asked to review."""
    user = UserFactory(username="dana", first_name="Dana", last_name="Lee")
    MembershipFactory(team=TeamFactory(name="Databases", slug="databases"), user=user, role=Role.RESPONDER)
    return user


def url(postmortem, suffix: str) -> str:
    return f"/api/v1/postmortems/{postmortem.incident.number}/{suffix}"


def status_of(postmortem) -> str:
    return Postmortem.objects.get(pk=postmortem.pk).status


# --- requesting a review --------------------------------------------------------------------


def test_requesting_review_names_reviewers_from_any_team_and_moves_to_in_review(
    responder, sam, dana, postmortem
):
    response = api_client_for(responder).post(
        url(postmortem, "request-review/"), {"reviewers": ["dana", "sam", "dana"]}, format="json"
    )

    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["status"] == "in_review"
    assert data["review_requested_at"] is not None
    assert [(r["user"]["username"], r["requested_by"], r["approved"]) for r in data["reviewers"]] == [
        ("dana", "rosa", False),
        ("sam", "rosa", False),
    ]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"reviewers": ["dana", "ghost", "nobody"]}, "'ghost', 'nobody'"),
        ({"reviewers": []}, ""),
        ({"reviewers": "dana"}, ""),
        ({"reviewers": [" "]}, "at least one"),
        ({}, ""),
    ],
)
def test_bad_reviewer_lists_are_a_400_naming_them(responder, dana, postmortem, body, named):
    response = api_client_for(responder).post(url(postmortem, "request-review/"), body, format="json")

    assert response.status_code == 400
    assert named in " ".join(response.json()["reviewers"])
    assert not PostmortemReviewer.objects.exists()
    assert status_of(postmortem) == PostmortemStatus.DRAFT


def test_a_deactivated_person_cannot_be_asked(responder, postmortem):
    UserFactory(username="gone", is_active=False)

    response = api_client_for(responder).post(
        url(postmortem, "request-review/"), {"reviewers": ["gone"]}, format="json"
    )

    assert response.status_code == 400
    assert "'gone'" in response.json()["reviewers"][0]


def test_viewers_and_reviewers_cannot_ask_for_more_reviews(viewer, dana, responder, postmortem):
    review_request(postmortem=postmortem, actor=responder, reviewers=[dana])

    for user in (viewer, dana):
        response = api_client_for(user).post(
            url(postmortem, "request-review/"), {"reviewers": ["vera"]}, format="json"
        )
        assert response.status_code == 403
        assert "responder role" in response.json()["detail"]


# --- approving ------------------------------------------------------------------------------


def test_a_named_reviewer_from_another_team_approves(responder, dana, postmortem):
    review_request(postmortem=postmortem, actor=responder, reviewers=[dana])

    response = api_client_for(dana).post(url(postmortem, "approve/"))

    assert response.status_code == 200
    reviewer = response.json()["reviewers"][0]
    assert reviewer["approved"] is True
    assert reviewer["approved_at"] is not None


def test_only_named_reviewers_approve(responder, manager, dana, postmortem):
    review_request(postmortem=postmortem, actor=responder, reviewers=[dana])

    for user in (responder, manager):
        response = api_client_for(user).post(url(postmortem, "approve/"))
        assert response.status_code == 403
        assert "asked to review" in response.json()["detail"]
    assert PostmortemReviewer.objects.filter(approved_at__isnull=False).count() == 0


def test_a_stranger_cannot_even_see_the_postmortem_to_approve_it(outsider, postmortem):
    assert api_client_for(outsider).post(url(postmortem, "approve/")).status_code == 404


# --- comments -------------------------------------------------------------------------------


def test_reviewer_comments_on_a_section_and_a_responder_resolves_it(responder, dana, postmortem):
    review_request(postmortem=postmortem, actor=responder, reviewers=[dana])

    created = api_client_for(dana).post(
        url(postmortem, "comments/"),
        {"section": "root_cause", "body": "Why did CI not catch it?"},
        format="json",
    )

    assert created.status_code == 201, created.json()
    comment = created.json()
    assert comment["section"] == "root_cause"
    assert comment["author"] == {"username": "dana", "name": "Dana Lee"}
    assert comment["resolved"] is False
    resolved = api_client_for(responder).post(url(postmortem, f"comments/{comment['id']}/resolve/"))
    assert resolved.status_code == 200
    assert resolved.json()["resolved"] is True
    assert resolved.json()["resolved_by"] == "rosa"
    listed = api_client_for(dana).get(url(postmortem, "comments/")).json()
    assert [(c["id"], c["resolved"]) for c in listed] == [(comment["id"], True)]


def test_comments_filter_by_section_and_resolution(responder, viewer, postmortem):
    first = comment_add(postmortem=postmortem, actor=responder, section="impact", body="How many orders?")
    comment_add(postmortem=postmortem, actor=responder, section="summary", body="Shorter, please")
    client = api_client_for(viewer)
    client_responder = api_client_for(responder)
    client_responder.post(url(postmortem, f"comments/{first.pk}/resolve/"))

    def bodies(**params):
        return [c["body"] for c in client.get(url(postmortem, "comments/"), params).json()]

    assert bodies() == ["How many orders?", "Shorter, please"]
    assert bodies(section="impact") == ["How many orders?"]
    assert bodies(resolved="false") == ["Shorter, please"]
    assert client.get(url(postmortem, "comments/"), {"section": "nope"}).status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"section": "conclusions", "body": "x"}, "section"),
        ({"section": "impact", "body": ""}, "body"),
        ({"section": "impact", "body": "x" * 10_001}, "body"),
        ({"body": "x"}, "section"),
    ],
)
def test_bad_comments_are_a_400_naming_the_field(responder, postmortem, body, field):
    response = api_client_for(responder).post(url(postmortem, "comments/"), body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not ReviewComment.objects.exists()


def test_viewers_read_comments_but_do_not_write_or_resolve_them(viewer, responder, postmortem):
    comment = comment_add(postmortem=postmortem, actor=responder, section="impact", body="How many orders?")
    client = api_client_for(viewer)

    assert client.get(url(postmortem, "comments/")).status_code == 200
    refused = client.post(url(postmortem, "comments/"), {"section": "impact", "body": "x"}, format="json")
    assert refused.status_code == 403
    assert "asked to review" in refused.json()["detail"]
    assert client.post(url(postmortem, f"comments/{comment.pk}/resolve/")).status_code == 403


def test_a_comment_of_another_postmortem_is_404(responder, service, postmortem):
    other = postmortem_create(incident=IncidentFactory(service=service), actor=responder)
    foreign = comment_add(postmortem=other, actor=responder, section="impact", body="Elsewhere")

    response = api_client_for(responder).post(url(postmortem, f"comments/{foreign.pk}/resolve/"))

    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.resolved_at is None


# --- publishing -----------------------------------------------------------------------------


def test_the_owner_publishes_and_who_and_when_are_recorded(responder, postmortem):
    response = api_client_for(responder).post(url(postmortem, "publish/"))

    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["status"] == "published"
    assert data["published_by"] == "rosa"
    assert data["published_at"] is not None
    assert TimelineEvent.objects.filter(
        incident=postmortem.incident, kind=TimelineKind.POSTMORTEM_PUBLISHED
    ).exists()


def test_a_manager_publishes_someone_elses_postmortem(manager, postmortem):
    response = api_client_for(manager).post(url(postmortem, "publish/"))

    assert response.status_code == 200
    assert response.json()["published_by"] == "max"


def test_who_may_not_publish(sam, viewer, dana, outsider, responder, postmortem):
    review_request(postmortem=postmortem, actor=responder, reviewers=[dana])

    for user in (sam, viewer, dana):
        response = api_client_for(user).post(url(postmortem, "publish/"))
        assert response.status_code == 403
        assert "manager role in team Payments" in response.json()["detail"]
    assert api_client_for(outsider).post(url(postmortem, "publish/")).status_code == 404
    assert status_of(postmortem) == PostmortemStatus.IN_REVIEW


def test_publishing_needs_a_summary(responder, postmortem):
    section_update(postmortem=postmortem, key="summary", body="", actor=responder)

    response = api_client_for(responder).post(url(postmortem, "publish/"))

    assert response.status_code == 409
    assert "summary" in response.json()["detail"]
    assert status_of(postmortem) == PostmortemStatus.DRAFT


def test_after_publishing_review_actions_are_conflicts_but_reads_work(
    responder, sam, manager, dana, postmortem
):
    review_request(postmortem=postmortem, actor=responder, reviewers=[dana])
    comment = comment_add(postmortem=postmortem, actor=dana, section="impact", body="How many orders?")
    postmortem_publish(postmortem=postmortem, actor=manager)
    owner, reviewer = api_client_for(responder), api_client_for(dana)

    refused = [
        api_client_for(manager).post(url(postmortem, "publish/")),
        owner.post(url(postmortem, "request-review/"), {"reviewers": ["sam"]}, format="json"),
        reviewer.post(url(postmortem, "approve/")),
        reviewer.post(url(postmortem, "comments/"), {"section": "impact", "body": "Late"}, format="json"),
        owner.post(url(postmortem, f"comments/{comment.pk}/resolve/")),
        owner.post(url(postmortem, "timeline/import/")),
    ]

    assert [response.status_code for response in refused] == [409] * len(refused)
    assert all(response.json()["detail"] for response in refused)
    assert reviewer.get(url(postmortem, "comments/")).status_code == 200
    assert reviewer.get(url(postmortem, "")).json()["status"] == "published"
