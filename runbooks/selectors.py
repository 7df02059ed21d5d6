"""Reads of runbooks, each limited to what the user may see (see runbooks/permissions.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Count, DateTimeField, F, Func, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from incidents.models import Membership, Team
from runbooks.models import Runbook, RunbookRevision
from runbooks.permissions import can_read_runbooks

# The language PostgreSQL stems words with (so "restarting" finds "restart").
SEARCH_CONFIG = "english"


def _readable(user: Any) -> QuerySet[Runbook]:
    runbooks = Runbook.objects.all()
    if can_read_runbooks(user):
        return runbooks
    if not user.is_authenticated or not user.is_active:
        return runbooks.none()
    # Members below responder read their own teams' runbooks only.
    return runbooks.filter(team__in=Membership.objects.filter(user=user).values("team_id"))


class _PlusDays(Func):
    """`start + days` (an integer column) as a datetime, on PostgreSQL and SQLite."""

    output_field = DateTimeField()

    # Django has no portable way to turn an integer column into an interval, so each database
    # gets its own SQL, spliced between the two arguments.
    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="(%(expressions)s))",
            arg_joiner=" + make_interval(days => ",
            **extra_context,
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        # Django stores SQLite datetimes as "YYYY-MM-DD HH:MM:SS[.ffffff]" UTC text, which datetime()
        # reads and writes, so the result compares with datetime parameters.
        return self.as_sql(
            compiler,
            connection,
            template="datetime(%(expressions)s || ' days')",
            arg_joiner=", '+' || ",
            **extra_context,
        )


def _with_review_due(runbooks: QuerySet[Runbook]) -> QuerySet[Runbook]:
    """Annotates `review_due`, the same instant as `Runbook.review_due_at()`, in SQL."""
    return runbooks.annotate(
        review_due=_PlusDays(Coalesce(F("last_reviewed_at"), F("created_at")), F("review_interval_days"))
    )


def runbook_list(
    *, user: Any, query: str | None = None, team: Team | None = None, overdue_only: bool = False
) -> QuerySet[Runbook]:
    """Runbooks the user may read, by title, or best match first when searching titles and
    current text (PostgreSQL full-text search, a substring match elsewhere)."""
    runbooks = _readable(user).select_related("current_revision", "team").prefetch_related("services")
    if team is not None:
        runbooks = runbooks.filter(team=team)
    if overdue_only:
        runbooks = _with_review_due(runbooks).filter(Q(review_due__lte=timezone.now()))
    query = (query or "").strip()
    if not query:
        return runbooks
    if connection.vendor == "postgresql":
        vector = SearchVector("title", weight="A", config=SEARCH_CONFIG) + SearchVector(
            "current_revision__body", weight="B", config=SEARCH_CONFIG
        )
        search = SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)
        return (
            runbooks.annotate(search=vector, rank=SearchRank(vector, search))
            .filter(search=search)
            .order_by("-rank", "title")
        )
    return runbooks.filter(Q(title__icontains=query) | Q(current_revision__body__icontains=query))


def runbook_get_for_user(*, user: Any, slug: str) -> Runbook:
    try:
        return (
            _readable(user)
            .select_related("current_revision__author", "team", "last_reviewed_by")
            .prefetch_related("services")
            .get(slug=slug)
        )
    except Runbook.DoesNotExist:
        raise Http404(f"No runbook {slug!r} you can read.") from None


def revision_get(*, runbook: Runbook, number: int) -> RunbookRevision:
    try:
        return RunbookRevision.objects.select_related("author").get(runbook=runbook, number=number)
    except RunbookRevision.DoesNotExist:
        raise Http404(f"{runbook.title} has no revision {number}.") from None


def revision_list(*, runbook: Runbook) -> QuerySet[RunbookRevision]:
    """Newest first, for the history page."""
    return RunbookRevision.objects.filter(runbook=runbook).select_related("author").order_by("-number")


def runbooks_due_for_review(*, team: Team, now: datetime) -> list[Runbook]:
    """The team's runbooks past their review date or with an open review request, the longest
    overdue first; each carries `open_requests` (a count)."""
    runbooks = (
        _with_review_due(Runbook.objects.filter(team=team))
        .annotate(open_requests=Count("review_requests", filter=Q(review_requests__closed_at__isnull=True)))
        .filter(Q(review_due__lte=now) | Q(open_requests__gt=0))
        .select_related("current_revision", "last_reviewed_by")
        .order_by(F("review_due").asc(), "title")
    )
    return list(runbooks)


def teams_with_runbooks_due(*, now: datetime) -> QuerySet[Team]:
    """Teams owning a runbook past its review date or with an open review request."""
    due = _with_review_due(Runbook.objects.all()).filter(
        Q(review_due__lte=now) | Q(review_requests__closed_at__isnull=True, review_requests__isnull=False)
    )
    return Team.objects.filter(pk__in=due.values("team_id")).order_by("pk")
