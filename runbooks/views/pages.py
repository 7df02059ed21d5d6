"""Runbook pages: list and search, write, import, read, edit, history, diff, restore, review.

Views parse input, check permissions, call one service function and respond; reads go through
runbooks.selectors. Actions work as plain POST + redirect; the review panel also answers htmx with
just the part that changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.choices import Role
from incidents.models import Service, Team
from incidents.permissions import visible_team_ids
from incidents.responses import forbidden, render_page, wants_partial
from incidents.services import DomainError
from runbooks.diff import side_by_side, unified_diff
from runbooks.forms import DiffPickForm, RunbookCreateForm, RunbookEditForm, RunbookImportForm
from runbooks.markdown import render_markdown
from runbooks.models import ReviewRequest, Runbook
from runbooks.permissions import can_delete_runbook, can_edit_runbook
from runbooks.selectors import revision_get, revision_list, runbook_get_for_user, runbook_list
from runbooks.services import (
    NothingChanged,
    StaleRevision,
    review_request_close,
    revision_create,
    revision_restore,
    runbook_create,
    runbook_delete,
    runbook_export_markdown,
    runbook_import_markdown,
    runbook_mark_reviewed,
    runbook_update,
)

LIST_PARTIAL = "runbooks/partials/_runbook_list.html"
REVIEW_PARTIAL = "runbooks/partials/_review_panel.html"


# --- shared reads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewStatus:
    """What the list and the page say about a runbook's review: "last reviewed 140 days ago"."""

    days_since: int
    reviewed: bool
    overdue: bool
    due_at: datetime

    @classmethod
    def of(cls, runbook: Runbook, now: datetime) -> ReviewStatus:
        since = runbook.last_reviewed_at or runbook.created_at
        return cls(
            days_since=max((now - since).days, 0),
            reviewed=runbook.last_reviewed_at is not None,
            overdue=runbook.review_overdue(now),
            due_at=runbook.review_due_at(),
        )


def _editable_teams(user: Any) -> QuerySet[Team]:
    """Teams the user may write runbooks for: where they are at least a responder."""
    if user.is_superuser:
        return Team.objects.all()
    return Team.objects.filter(memberships__user=user, memberships__role__gte=Role.RESPONDER).distinct()


def _service_choices(user: Any, runbook: Runbook | None = None) -> QuerySet[Service]:
    """Services of the user's teams, plus those the runbook already covers (so an edit keeps them)."""
    team_ids = visible_team_ids(user)
    visible = Q() if team_ids is None else Q(team_id__in=team_ids)
    if runbook is not None and team_ids is not None:
        visible |= Q(pk__in=runbook.services.values("pk"))
    return Service.objects.filter(visible).select_related("team").distinct().order_by("name")


def _editable_runbook(request: HttpRequest, slug: str) -> Runbook | HttpResponse:
    runbook = runbook_get_for_user(user=request.user, slug=slug)
    if not can_edit_runbook(request.user, runbook):
        return forbidden(request, f"Changing “{runbook.title}” needs the responder role in {runbook.team}.")
    return runbook


def _open_review_requests(runbook: Runbook) -> QuerySet[ReviewRequest]:
    return runbook.review_requests.filter(closed_at__isnull=True).select_related("requested_by", "incident")


def _review_context(request: HttpRequest, runbook: Runbook) -> dict[str, Any]:
    return {
        "runbook": runbook,
        "review": ReviewStatus.of(runbook, timezone.now()),
        "review_requests": list(_open_review_requests(runbook)),
        "can_edit": can_edit_runbook(request.user, runbook),
    }


# --- list -----------------------------------------------------------------------------------


@login_required
@require_GET
def runbook_list_view(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    team_slug = request.GET.get("team", "").strip()
    overdue_only = request.GET.get("due") == "1"
    team = Team.objects.filter(slug=team_slug).first() if team_slug else None
    runbooks = list(
        runbook_list(user=request.user, query=query or None, team=team, overdue_only=overdue_only)
    )
    open_requests = dict(
        ReviewRequest.objects.filter(runbook__in=[runbook.pk for runbook in runbooks], closed_at__isnull=True)
        .values_list("runbook")
        .annotate(count=Count("pk"))
        .values_list("runbook", "count")
    )
    now = timezone.now()
    context: dict[str, Any] = {
        "rows": [
            (runbook, ReviewStatus.of(runbook, now), open_requests.get(runbook.pk, 0)) for runbook in runbooks
        ],
        "query": query,
        "selected_team": team_slug,
        "overdue_only": overdue_only,
        "filters_active": bool(query or team_slug or overdue_only),
        "can_write": request.user.is_superuser or _editable_teams(request.user).exists(),
    }
    if not wants_partial(request):
        context["teams"] = list(Team.objects.filter(runbooks__isnull=False).distinct())
    return render_page(request, "runbooks/runbook_list.html", LIST_PARTIAL, context)


# --- create and import ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def runbook_create_view(request: HttpRequest) -> HttpResponse:
    teams = _editable_teams(request.user)
    if not teams.exists():
        return forbidden(request, "Writing a runbook needs the responder role in a team.")
    form = RunbookCreateForm(request.POST or None, teams=teams, services=_service_choices(request.user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            runbook = runbook_create(
                team=data["team"],
                title=data["title"],
                body=data["body"],
                actor=request.user,
                services=list(data["services"]),
                labels=data["labels"],
                review_interval_days=data["review_interval_days"],
                note=data["note"],
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Runbook “{runbook.title}” created as revision 1.")
            return redirect(runbook)
    status = 400 if form.is_bound else 200
    return render(request, "runbooks/runbook_form.html", {"form": form, "creating": True}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def runbook_import_view(request: HttpRequest) -> HttpResponse:
    teams = _editable_teams(request.user)
    if not teams.exists():
        return forbidden(request, "Importing a runbook needs the responder role in a team.")
    form = RunbookImportForm(request.POST or None, request.FILES or None, teams=teams)
    if request.method == "POST" and form.is_valid():
        try:
            runbook, outcome = runbook_import_markdown(
                team=form.cleaned_data["team"], text=form.cleaned_data["file"], actor=request.user
            )
        except DomainError as exc:
            form.add_error("file", str(exc))
        else:
            revision = runbook.current_revision
            number = revision.number if revision else 0
            message = {
                "created": f"Imported “{runbook.title}” as a new runbook.",
                "updated": f"Updated “{runbook.title}”: the file became revision {number}.",
                "unchanged": f"“{runbook.title}” already has this text; no revision was added.",
            }[outcome]
            messages.success(request, message)
            return redirect(runbook)
    status = 400 if form.is_bound else 200
    return render(request, "runbooks/runbook_import.html", {"form": form}, status=status)


# --- one runbook ----------------------------------------------------------------------------


@login_required
@require_GET
def runbook_detail(request: HttpRequest, slug: str) -> HttpResponse:
    runbook = runbook_get_for_user(user=request.user, slug=slug)
    revision = runbook.current_revision
    context = {
        **_review_context(request, runbook),
        "revision": revision,
        "body_html": render_markdown(revision.body) if revision else "",
        "services": list(runbook.services.all()),
        "can_delete": can_delete_runbook(request.user, runbook),
    }
    return render(request, "runbooks/runbook_detail.html", context)


@login_required
@require_POST
def runbook_mark_reviewed_view(request: HttpRequest, slug: str) -> HttpResponse:
    runbook = _editable_runbook(request, slug)
    if isinstance(runbook, HttpResponse):
        return runbook
    runbook_mark_reviewed(runbook=runbook, actor=request.user)
    return _after_review_action(request, slug, "Marked as reviewed.")


@login_required
@require_POST
def review_request_close_view(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    runbook = _editable_runbook(request, slug)
    if isinstance(runbook, HttpResponse):
        return runbook
    review_request = _open_review_requests(runbook).filter(pk=pk).first()
    if review_request is None:
        raise Http404("No such open review request.")
    review_request_close(request=review_request, actor=request.user)
    return _after_review_action(request, slug, "Review request closed.")


def _after_review_action(request: HttpRequest, slug: str, done: str) -> HttpResponse:
    """htmx gets the refreshed review panel; a plain form post goes back to the page."""
    if not wants_partial(request):
        messages.success(request, done)
        return redirect("runbooks:detail", slug=slug)
    runbook = runbook_get_for_user(user=request.user, slug=slug)
    return render(request, REVIEW_PARTIAL, {**_review_context(request, runbook), "done": done})


@login_required
@require_GET
def runbook_export(request: HttpRequest, slug: str) -> HttpResponse:
    runbook = runbook_get_for_user(user=request.user, slug=slug)
    response = HttpResponse(runbook_export_markdown(runbook), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{runbook.slug}.md"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def runbook_delete_view(request: HttpRequest, slug: str) -> HttpResponse:
    runbook = runbook_get_for_user(user=request.user, slug=slug)
    if not can_delete_runbook(request.user, runbook):
        return forbidden(request, f"Deleting “{runbook.title}” needs the manager role in {runbook.team}.")
    if request.method == "POST":
        title = runbook.title
        runbook_delete(runbook=runbook, actor=request.user)
        messages.success(request, f"Runbook “{title}” and its history were deleted.")
        return redirect("runbooks:list")
    revision_count = runbook.revisions.count()
    return render(
        request, "runbooks/runbook_delete.html", {"runbook": runbook, "revision_count": revision_count}
    )


# --- edit -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def runbook_edit(request: HttpRequest, slug: str) -> HttpResponse:
    runbook = _editable_runbook(request, slug)
    if isinstance(runbook, HttpResponse):
        return runbook
    services = _service_choices(request.user, runbook)
    if request.method == "GET":
        form = RunbookEditForm(initial=RunbookEditForm.initial_for(runbook), services=services)
        return render(request, "runbooks/runbook_edit.html", {"runbook": runbook, "form": form})

    form = RunbookEditForm(request.POST, services=services)
    context: dict[str, Any] = {"runbook": runbook, "form": form}
    if not form.is_valid():
        return render(request, "runbooks/runbook_edit.html", context, status=400)
    data = form.cleaned_data
    try:
        # The details and the text are one save: a refused text must not leave new details behind.
        with transaction.atomic():
            runbook_update(
                runbook=runbook,
                actor=request.user,
                title=data["title"],
                services=list(data["services"]),
                labels=data["labels"],
                review_interval_days=data["review_interval_days"],
            )
            try:
                revision = revision_create(
                    runbook=runbook,
                    body=data["body"],
                    actor=request.user,
                    note=data["note"],
                    base_number=data["base_number"],
                )
            except NothingChanged:
                revision = None
    except StaleRevision as exc:
        latest = exc.latest
        # Their text stays in the form; the next save goes on top of the latest revision, which
        # they have now seen in the diff below.
        resubmit = request.POST.copy()
        resubmit["base_number"] = str(latest.number)
        form.data = resubmit
        context.update(
            conflict=latest,
            conflict_label=f"Revision {latest.number}",
            diff_rows=side_by_side(latest.body, data["body"]),
        )
        return render(request, "runbooks/runbook_edit.html", context, status=409)
    except DomainError as exc:
        form.add_error(None, str(exc))
        return render(request, "runbooks/runbook_edit.html", context, status=400)
    if revision is None:
        messages.info(request, "The text is unchanged, so no new revision was added.")
    else:
        messages.success(request, f"Saved as revision {revision.number}.")
    return redirect("runbooks:detail", slug=slug)


# --- history, diff, old revisions -----------------------------------------------------------


@login_required
@require_GET
def runbook_history(request: HttpRequest, slug: str) -> HttpResponse:
    runbook = runbook_get_for_user(user=request.user, slug=slug)
    revisions = list(revision_list(runbook=runbook))
    context = {
        "runbook": runbook,
        "revisions": revisions,
        "default_from": revisions[1].number if len(revisions) > 1 else None,
        "default_to": revisions[0].number if revisions else None,
    }
    return render(request, "runbooks/runbook_history.html", context)


@dataclass(frozen=True)
class UnifiedLine:
    kind: str  # "insert" | "delete" | "hunk" | "file" | "equal"
    text: str


def _unified_lines(text: str) -> list[UnifiedLine]:
    lines = []
    for line in text.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "insert"
        elif line.startswith("-"):
            kind = "delete"
        else:
            kind = "equal"
        lines.append(UnifiedLine(kind, line))
    return lines


@login_required
@require_GET
def runbook_diff(request: HttpRequest, slug: str) -> HttpResponse:
    runbook = runbook_get_for_user(user=request.user, slug=slug)
    pick = DiffPickForm.from_query(request.GET)
    if not pick.is_valid():
        return render(
            request,
            "runbooks/runbook_diff.html",
            {"runbook": runbook, "problem": "Pick two revisions to compare on the history page."},
            status=400,
        )
    old = revision_get(runbook=runbook, number=pick.cleaned_data["from_number"])
    new = revision_get(runbook=runbook, number=pick.cleaned_data["to_number"])
    view = pick.cleaned_data["view"] or "split"
    context: dict[str, Any] = {
        "runbook": runbook,
        "old": old,
        "new": new,
        "view": view,
        "old_label": f"Revision {old.number}",
        "new_label": f"Revision {new.number}",
    }
    if view == "unified":
        text = unified_diff(
            old.body, new.body, old_label=f"revision {old.number}", new_label=f"revision {new.number}"
        )
        context["unified"] = _unified_lines(text)
        context["identical"] = not text
    else:
        rows = side_by_side(old.body, new.body)
        context["rows"] = rows
        context["identical"] = all(row.kind == "equal" for row in rows)
    return render(request, "runbooks/runbook_diff.html", context)


@login_required
@require_GET
def runbook_revision(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    runbook = runbook_get_for_user(user=request.user, slug=slug)
    revision = revision_get(runbook=runbook, number=number)
    context = {
        "runbook": runbook,
        "revision": revision,
        "body_html": render_markdown(revision.body),
        "is_current": revision.pk == runbook.current_revision_id,
        "can_edit": can_edit_runbook(request.user, runbook),
    }
    return render(request, "runbooks/runbook_revision.html", context)


@login_required
@require_POST
def runbook_restore(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    runbook = _editable_runbook(request, slug)
    if isinstance(runbook, HttpResponse):
        return runbook
    try:
        restored = revision_restore(runbook=runbook, number=number, actor=request.user)
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("runbooks:revision", slug=slug, number=number)
    messages.success(request, f"Revision {number} restored as revision {restored.number}.")
    return redirect("runbooks:detail", slug=slug)
