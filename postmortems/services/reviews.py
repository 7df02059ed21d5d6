"""Review: ask people (from any team) to read the draft, collect their comments and approvals."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents.models import person_name
from incidents.services.errors import DomainError
from postmortems.choices import PostmortemStatus, SectionKey
from postmortems.models import Postmortem, PostmortemReviewer, ReviewComment
from postmortems.services.common import ensure_active_user, ensure_editable, user_or_none

COMMENT_MAX_LENGTH = 10_000


@transaction.atomic
def review_request(*, postmortem: Postmortem, actor: Any, reviewers: list[Any]) -> list[PostmortemReviewer]:
    """Ask `reviewers` to review; people asked before stay (with their approvals). Returns the
    reviewer rows of the people named, in the order given. A draft moves to in review."""
    ensure_editable(postmortem)
    if not reviewers:
        raise DomainError("Name at least one reviewer.")
    for user in reviewers:
        ensure_active_user(user, role="reviewer")
    now = timezone.now()
    PostmortemReviewer.objects.bulk_create(
        [
            PostmortemReviewer(
                postmortem=postmortem, user=user, requested_by=user_or_none(actor), requested_at=now
            )
            for user in {user.pk: user for user in reviewers}.values()
        ],
        ignore_conflicts=True,
    )
    rows = {
        row.user_id: row
        for row in PostmortemReviewer.objects.filter(
            postmortem=postmortem, user__in=[user.pk for user in reviewers]
        ).select_related("user")
    }
    postmortem.review_requested_at = now
    postmortem.updated_at = now
    fields = ["review_requested_at", "updated_at"]
    if postmortem.status == PostmortemStatus.DRAFT:
        postmortem.status = PostmortemStatus.IN_REVIEW
        fields.append("status")
    postmortem.save(update_fields=fields)
    return [rows[user.pk] for user in {user.pk: user for user in reviewers}.values()]


@transaction.atomic
def review_approve(*, postmortem: Postmortem, actor: Any) -> PostmortemReviewer:
    """The actor, a named reviewer, approves. Approving twice keeps the first approval's time."""
    ensure_editable(postmortem)
    user = user_or_none(actor)
    reviewer = (
        PostmortemReviewer.objects.select_for_update().filter(postmortem=postmortem, user=user).first()
        if user is not None
        else None
    )
    if reviewer is None:
        who = person_name(user) if user is not None else "Muster"
        raise DomainError(f"{who} was not asked to review this postmortem, so cannot approve it.")
    if reviewer.approved_at is None:
        reviewer.approved_at = timezone.now()
        reviewer.save(update_fields=["approved_at"])
    return reviewer


@transaction.atomic
def comment_add(*, postmortem: Postmortem, actor: Any, section: str, body: str) -> ReviewComment:
    ensure_editable(postmortem)
    if section not in SectionKey.values:
        raise DomainError(f"There is no section {section!r}; sections are {', '.join(SectionKey.values)}.")
    body = body.replace("\r\n", "\n").strip()
    if not body:
        raise DomainError("A comment needs some text.")
    if len(body) > COMMENT_MAX_LENGTH:
        raise DomainError(f"A comment can be at most {COMMENT_MAX_LENGTH:,} characters long.")
    return ReviewComment.objects.create(
        postmortem=postmortem, section=section, author=user_or_none(actor), body=body
    )


@transaction.atomic
def comment_resolve(*, comment: ReviewComment, actor: Any) -> ReviewComment:
    """Mark a comment as dealt with. Resolving it again changes nothing."""
    ensure_editable(comment.postmortem)
    if comment.resolved_at is not None:
        return comment
    comment.resolved_at = timezone.now()
    comment.resolved_by = user_or_none(actor)
    comment.save(update_fields=["resolved_at", "resolved_by"])
    return comment
