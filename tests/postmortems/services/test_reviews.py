from __future__ import annotations

import pytest

from incidents.services.errors import DomainError
from postmortems.choices import PostmortemStatus, SectionKey
from postmortems.models import PostmortemReviewer, ReviewComment
from postmortems.permissions import can_view_postmortem
from postmortems.services import (
    READ_ONLY_MESSAGE,
    comment_add,
    comment_resolve,
    postmortem_create,
    postmortem_publish,
    review_approve,
    review_request,
    section_update,
)
from tests.factories import IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def postmortem(service, responder):
    return postmortem_create(incident=IncidentFactory(service=service), actor=responder)


def _publish(postmortem, actor):
    section_update(postmortem=postmortem, key=SectionKey.SUMMARY, body="Down for an hour.", actor=actor)
    return postmortem_publish(postmortem=postmortem, actor=actor)


def test_requesting_review_names_the_reviewers_and_moves_the_draft_to_in_review(postmortem, responder, sam):
    rows = review_request(postmortem=postmortem, actor=responder, reviewers=[sam])

    assert [(row.user, row.requested_by, row.approved_at) for row in rows] == [(sam, responder, None)]
    postmortem.refresh_from_db()
    assert postmortem.status == PostmortemStatus.IN_REVIEW
    assert postmortem.review_requested_at is not None


def test_a_reviewer_from_another_team_can_then_read_the_postmortem(postmortem, responder, outsider):
    assert not can_view_postmortem(outsider, postmortem)

    review_request(postmortem=postmortem, actor=responder, reviewers=[outsider])

    postmortem.refresh_from_db()
    assert can_view_postmortem(outsider, postmortem)


def test_asking_again_keeps_earlier_reviewers_and_their_approvals(postmortem, responder, sam, manager):
    review_request(postmortem=postmortem, actor=responder, reviewers=[sam])
    review_approve(postmortem=postmortem, actor=sam)

    rows = review_request(postmortem=postmortem, actor=responder, reviewers=[manager, sam, manager])

    assert [row.user for row in rows] == [manager, sam]
    reviewers = {
        row.user: row.approved_at for row in PostmortemReviewer.objects.filter(postmortem=postmortem)
    }
    assert set(reviewers) == {sam, manager}
    assert reviewers[sam] is not None
    assert reviewers[manager] is None


def test_review_request_needs_at_least_one_active_reviewer(postmortem, responder):
    with pytest.raises(DomainError, match="at least one reviewer"):
        review_request(postmortem=postmortem, actor=responder, reviewers=[])
    with pytest.raises(DomainError, match="only active users"):
        review_request(
            postmortem=postmortem, actor=responder, reviewers=[UserFactory(username="left", is_active=False)]
        )

    postmortem.refresh_from_db()
    assert postmortem.status == PostmortemStatus.DRAFT
    assert not PostmortemReviewer.objects.exists()


def test_only_a_named_reviewer_can_approve(postmortem, responder, sam, manager):
    review_request(postmortem=postmortem, actor=responder, reviewers=[sam])

    with pytest.raises(DomainError, match="was not asked to review"):
        review_approve(postmortem=postmortem, actor=manager)
    approval = review_approve(postmortem=postmortem, actor=sam)

    assert approval.user == sam
    assert approval.approved_at is not None


def test_approving_twice_keeps_the_first_approval(postmortem, responder, sam):
    review_request(postmortem=postmortem, actor=responder, reviewers=[sam])
    first = review_approve(postmortem=postmortem, actor=sam).approved_at

    again = review_approve(postmortem=postmortem, actor=sam)

    assert again.approved_at == first


def test_comments_belong_to_a_section_and_can_be_resolved(postmortem, responder, sam):
    comment = comment_add(
        postmortem=postmortem,
        actor=sam,
        section=SectionKey.ROOT_CAUSE,
        body=" Why did the retry storm start? ",
    )

    assert (comment.section, comment.author, comment.body) == (
        SectionKey.ROOT_CAUSE,
        sam,
        "Why did the retry storm start?",
    )
    resolved = comment_resolve(comment=comment, actor=responder)
    assert resolved.resolved_by == responder
    assert resolved.resolved_at is not None
    when = resolved.resolved_at
    assert comment_resolve(comment=comment, actor=sam).resolved_at == when


def test_comment_needs_a_known_section_and_some_text(postmortem, sam):
    with pytest.raises(DomainError, match="no section 'blame'"):
        comment_add(postmortem=postmortem, actor=sam, section="blame", body="x")
    with pytest.raises(DomainError, match="needs some text"):
        comment_add(postmortem=postmortem, actor=sam, section=SectionKey.SUMMARY, body="  ")

    assert not ReviewComment.objects.exists()


def test_a_published_postmortem_takes_no_more_reviewers_approvals_or_comments(postmortem, responder, sam):
    review_request(postmortem=postmortem, actor=responder, reviewers=[sam])
    comment = comment_add(postmortem=postmortem, actor=sam, section=SectionKey.SUMMARY, body="Too short")
    _publish(postmortem, responder)

    with pytest.raises(DomainError, match=READ_ONLY_MESSAGE):
        review_request(postmortem=postmortem, actor=responder, reviewers=[sam])
    with pytest.raises(DomainError, match=READ_ONLY_MESSAGE):
        review_approve(postmortem=postmortem, actor=sam)
    with pytest.raises(DomainError, match=READ_ONLY_MESSAGE):
        comment_add(postmortem=postmortem, actor=sam, section=SectionKey.SUMMARY, body="More")
    with pytest.raises(DomainError, match=READ_ONLY_MESSAGE):
        comment_resolve(comment=comment, actor=responder)

    comment.refresh_from_db()
    assert comment.resolved_at is None
    assert ReviewComment.objects.count() == 1
