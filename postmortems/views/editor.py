"""Postmortem pages: the list, the postmortem itself (sections, timeline, comments, review and
publishing), and the Markdown export.

Views parse input, check permissions (postmortems.permissions), call one service and respond; reads
go through postmortems.selectors. Every action works as a plain POST + redirect; htmx gets just the
part of the page that changed: a section, one timeline entry, a section's comments, the review
panel (with the header out of band). A refused change answers 400 (bad input) or 409 (not in this
state, e.g. the postmortem is published) with the reason where the user is looking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.models import person_name, person_zone
from incidents.responses import forbidden, render_page, wants_partial
from incidents.selectors import incident_get_for_user, team_list_for_user
from incidents.services import DomainError
from postmortems.blameless import BlamelessWarning, blameless_warnings
from postmortems.choices import SECTION_PROMPTS, PostmortemStatus, SectionKey
from postmortems.dates import due_phrase, person_today
from postmortems.filters import PostmortemFilter
from postmortems.forms import (
    CommentForm,
    PostmortemSettingsForm,
    ReviewRequestForm,
    SectionForm,
    TimelineAddForm,
    TimelineEntryForm,
    people_in_teams,
)
from postmortems.models import Postmortem, PostmortemSection, ReviewComment, TimelineEntry
from postmortems.permissions import (
    can_comment_on_postmortem,
    can_edit_postmortem,
    can_publish_postmortem,
    can_write_postmortem,
    is_reviewer,
)
from postmortems.selectors import (
    incident_metrics,
    postmortem_get_for_user,
    postmortem_list_for_user,
    postmortem_timeline,
)
from postmortems.services import (
    comment_add,
    comment_resolve,
    postmortem_create,
    postmortem_export_markdown,
    postmortem_publish,
    postmortem_update,
    review_approve,
    review_request,
    section_update,
    timeline_entry_add,
    timeline_entry_delete,
    timeline_entry_update,
    timeline_import,
)
from postmortems.views.incident import action_items_panel
from runbooks.markdown import render_markdown

PAGE_SIZE = 50

LIST_PAGE = "postmortems/postmortem_list.html"
LIST_PARTIAL = "postmortems/partials/_postmortem_list.html"
DETAIL_PAGE = "postmortems/postmortem_detail.html"
BODY_PARTIAL = "postmortems/partials/_postmortem_body.html"
SECTION_PAGE = "postmortems/section_edit.html"
SECTION_FORM = "postmortems/partials/_section_form.html"
SECTION_DISPLAY = "postmortems/partials/_section_display.html"
BLAMELESS_NOTE = "postmortems/partials/_blameless_note.html"
TIMELINE_PARTIAL = "postmortems/partials/_timeline.html"
ENTRY_PARTIAL = "postmortems/partials/_timeline_entry.html"
COMMENTS_PARTIAL = "postmortems/partials/_comments.html"
WORKFLOW_RESPONSE = "postmortems/partials/_workflow_response.html"
ALERT_PARTIAL = "postmortems/partials/_alert.html"


# --- what the page shows --------------------------------------------------------------------


@dataclass(frozen=True)
class SectionView:
    key: str
    label: str
    prompt: str
    section: PostmortemSection
    comments: list[ReviewComment]

    @property
    def html(self) -> SafeString:
        # render_markdown sanitises with nh3: its output is safe to show as it is.
        return mark_safe(render_markdown(self.section.body))  # noqa: S308

    @property
    def is_empty(self) -> bool:
        return not self.section.body.strip()

    @property
    def open_comments(self) -> list[ReviewComment]:
        return [comment for comment in self.comments if comment.resolved_at is None]

    @property
    def resolved_comments(self) -> list[ReviewComment]:
        return [comment for comment in self.comments if comment.resolved_at is not None]


@dataclass
class Abilities:
    """What the viewer may do here; the templates show only those controls."""

    edit: bool
    comment: bool
    publish: bool
    approve: bool

    @classmethod
    def of(cls, user: Any, postmortem: Postmortem) -> Abilities:
        reviewer = next((r for r in postmortem.reviewers.all() if r.user_id == user.pk), None)
        published = postmortem.is_published
        return cls(
            edit=can_edit_postmortem(user, postmortem),
            comment=not published and can_comment_on_postmortem(user, postmortem),
            publish=can_publish_postmortem(user, postmortem),
            approve=not published and reviewer is not None and reviewer.approved_at is None,
        )


@dataclass
class TimelineBlock:
    postmortem: Postmortem
    entries: list[TimelineEntry]
    zone_name: str
    can_edit: bool
    message: str = ""
    add_form: TimelineAddForm | None = None


def _timeline_block(request: HttpRequest, postmortem: Postmortem, **extra: Any) -> TimelineBlock:
    can_edit = can_edit_postmortem(request.user, postmortem)
    entries = postmortem_timeline(postmortem=postmortem, included_only=not can_edit)
    block = TimelineBlock(
        postmortem=postmortem,
        entries=list(entries),
        zone_name=str(person_zone(request.user)),
        can_edit=can_edit,
        **extra,
    )
    if can_edit and block.add_form is None:
        block.add_form = TimelineAddForm(auto_id="entry-%s")
    return block


def _sections(postmortem: Postmortem) -> list[SectionView]:
    by_key = {section.key: section for section in postmortem.sections.all()}
    comments: dict[str, list[ReviewComment]] = {}
    for comment in postmortem.comments.all():
        comments.setdefault(comment.section, []).append(comment)
    return [
        SectionView(
            key=key,
            label=str(label),
            prompt=SECTION_PROMPTS[key],
            section=by_key.get(key) or PostmortemSection(postmortem=postmortem, key=key),
            comments=comments.get(key, []),
        )
        for key, label in SectionKey.choices
    ]


def _section_view(postmortem: Postmortem, key: str) -> SectionView:
    return next(view for view in _sections(postmortem) if view.key == key)


def _header_context(request: HttpRequest, postmortem: Postmortem) -> dict[str, Any]:
    today = person_today(request.user)
    return {
        "postmortem": postmortem,
        "incident": postmortem.incident,
        "reviewers": list(postmortem.reviewers.all()),
        "can": Abilities.of(request.user, postmortem),
        "overdue": postmortem.is_overdue(today),
        "due_text": due_phrase(postmortem.due_date, today, closed=postmortem.is_published),
        "zone_name": str(person_zone(request.user)),
    }


def _workflow_context(
    request: HttpRequest,
    postmortem: Postmortem,
    *,
    settings_form: PostmortemSettingsForm | None = None,
    review_form: ReviewRequestForm | None = None,
    workflow_error: str = "",
    done: str = "",
) -> dict[str, Any]:
    context = _header_context(request, postmortem)
    can: Abilities = context["can"]
    team_id = postmortem.incident.service.team_id
    if can.edit:
        context["settings_form"] = settings_form or PostmortemSettingsForm(
            team=team_id,
            auto_id="pm-%s",
            initial={
                "title": postmortem.title,
                "owner": postmortem.owner_id,
                "due_date": postmortem.due_date,
            },
        )
        context["review_form"] = review_form or ReviewRequestForm(
            team=team_id,
            auto_id="review-%s",
            exclude_ids=[reviewer.user_id for reviewer in context["reviewers"]] + [request.user.pk],
        )
    comments = list(postmortem.comments.all())
    context.update(
        workflow_error=workflow_error,
        done=done,
        approved_count=sum(1 for reviewer in context["reviewers"] if reviewer.approved_at),
        open_comment_count=sum(1 for comment in comments if comment.resolved_at is None),
    )
    return context


def _page_context(request: HttpRequest, postmortem: Postmortem, **workflow: Any) -> dict[str, Any]:
    context = _workflow_context(request, postmortem, **workflow)
    context.update(
        sections=_sections(postmortem),
        timeline=_timeline_block(request, postmortem),
        metrics=incident_metrics(incident=postmortem.incident),
        ai_panel=action_items_panel(user=request.user, incident=postmortem.incident, on_postmortem=True),
    )
    return context


# --- shared guards and answers --------------------------------------------------------------


def _read_only_message(request: HttpRequest, postmortem: Postmortem) -> str:
    by = f" by {person_name(postmortem.published_by)}" if postmortem.published_by else ""
    published_at = postmortem.published_at
    when = published_at.astimezone(person_zone(request.user)).date() if published_at else None
    on = f" on {when.day} {when:%b %Y}" if when else ""
    return (
        f"This postmortem was published{by}{on} and is read-only. "
        "Its action items can still be added and changed."
    )


def _refused(request: HttpRequest, postmortem: Postmortem, message: str, status: int = 409) -> HttpResponse:
    """A change that cannot happen in this state. htmx shows the reason at the top of the page (the
    part the request aimed at stays as it is); a plain form post gets the page with the reason."""
    if wants_partial(request):
        response = render(request, ALERT_PARTIAL, {"error": message}, status=status)
        response["HX-Retarget"] = "#pm-alerts"
        response["HX-Reswap"] = "innerHTML"
        return response
    context = {**_page_context(request, postmortem), "page_error": message}
    return render(request, DETAIL_PAGE, context, status=status)


def _writable(request: HttpRequest, number: int) -> Postmortem | HttpResponse:
    """The postmortem, if the user may change its text, timeline and reviewers right now."""
    postmortem = postmortem_get_for_user(user=request.user, number=number)
    incident = postmortem.incident
    if not can_write_postmortem(request.user, incident):
        can_also = " and comment on it" if is_reviewer(request.user, postmortem) else ""
        return forbidden(
            request,
            f"Changing the postmortem of {incident.reference} needs the responder role in "
            f"{incident.service.team.name}. You can read it{can_also}.",
        )
    if postmortem.is_published:
        return _refused(request, postmortem, _read_only_message(request, postmortem))
    return postmortem


def _back_to(postmortem: Postmortem, anchor: str = "") -> HttpResponse:
    return redirect(postmortem.get_absolute_url() + (f"#{anchor}" if anchor else ""))


# --- list -----------------------------------------------------------------------------------


@login_required
@require_GET
def postmortem_list_view(request: HttpRequest) -> HttpResponse:
    queryset = postmortem_list_for_user(user=request.user).order_by("-incident__number")
    filterset = PostmortemFilter(request.GET, queryset=queryset, request=request)
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    today = person_today(request.user)
    query = request.GET.copy()
    query.pop("page", None)
    selected = {name: request.GET.get(name, "") for name in ("status", "team", "owner", "overdue")}
    context: dict[str, Any] = {
        "filterset": filterset,
        "page": page,
        "rows": [
            (pm, pm.is_overdue(today), due_phrase(pm.due_date, today, closed=pm.is_published))
            for pm in page.object_list
        ],
        "query": query.urlencode(),
        "selected": selected,
        "filters_active": any(selected.values()),
        "statuses": PostmortemStatus.choices,
    }
    if not wants_partial(request):
        teams = list(team_list_for_user(user=request.user).order_by("name"))
        context["teams"] = teams
        context["people"] = people_in_teams(teams)
    return render_page(request, LIST_PAGE, LIST_PARTIAL, context)


# --- start ----------------------------------------------------------------------------------


@login_required
@require_POST
def postmortem_create_view(request: HttpRequest, number: int) -> HttpResponse:
    incident = incident_get_for_user(user=request.user, number=number)
    if not can_write_postmortem(request.user, incident):
        return forbidden(
            request,
            f"Writing the postmortem of {incident.reference} needs the responder role in "
            f"{incident.service.team.name}.",
        )
    try:
        postmortem = postmortem_create(incident=incident, actor=request.user)
    except DomainError as exc:
        existing = postmortem_list_for_user(user=request.user).filter(incident=incident).first()
        messages.info(request, str(exc))
        return redirect(existing or incident)
    messages.success(
        request,
        "Postmortem started with the incident's timeline. Write the summary first: it is what most people read.",
    )
    return redirect(postmortem)


# --- the postmortem page --------------------------------------------------------------------


@login_required
@require_GET
def postmortem_detail(request: HttpRequest, number: int) -> HttpResponse:
    postmortem = postmortem_get_for_user(user=request.user, number=number)
    return render_page(request, DETAIL_PAGE, BODY_PARTIAL, _page_context(request, postmortem))


@login_required
@require_GET
def postmortem_export_view(request: HttpRequest, number: int) -> HttpResponse:
    postmortem = postmortem_get_for_user(user=request.user, number=number)
    text = postmortem_export_markdown(postmortem=postmortem, time_zone=str(person_zone(request.user)))
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    filename = f"{postmortem.incident.reference}-postmortem.md"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- sections -------------------------------------------------------------------------------


def _section_context(postmortem: Postmortem, key: str, request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {
        "postmortem": postmortem,
        "incident": postmortem.incident,
        "sv": _section_view(postmortem, key),
        "can": Abilities.of(request.user, postmortem),
        "zone_name": str(person_zone(request.user)),
        **extra,
    }


@login_required
@require_http_methods(["GET", "POST"])
def section_view(request: HttpRequest, number: int, key: str) -> HttpResponse:
    """GET: the section's editor (htmx swaps it in place of the text; `?cancel=1` swaps the text
    back). POST: save, and answer with the rendered text and any blameless-language warnings."""
    if key not in SectionKey.values:
        raise Http404(f"No section {key!r}.")
    if request.method == "GET" and request.GET.get("cancel"):
        readable = postmortem_get_for_user(user=request.user, number=number)
        if not wants_partial(request):
            return _back_to(readable, f"section-{key}")
        return render(request, SECTION_DISPLAY, _section_context(readable, key, request))
    postmortem = _writable(request, number)
    if isinstance(postmortem, HttpResponse):
        return postmortem
    current = _section_view(postmortem, key)
    if request.method == "GET":
        form = SectionForm(initial={"body": current.section.body}, auto_id=f"edit-{key}-%s")
        warnings = blameless_warnings(current.section.body)
        context = _section_context(postmortem, key, request, form=form, warnings=warnings)
        return render_page(request, SECTION_PAGE, SECTION_FORM, context)

    form = SectionForm(request.POST, auto_id=f"edit-{key}-%s")
    if form.is_valid():
        try:
            result = section_update(
                postmortem=postmortem, key=key, body=form.cleaned_data["body"], actor=request.user
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
            status = 409
        else:
            return _section_saved(request, postmortem, key, result.warnings)
    else:
        status = 400
    context = _section_context(postmortem, key, request, form=form)
    return render_page(request, SECTION_PAGE, SECTION_FORM, context, status=status)


def _section_saved(
    request: HttpRequest, postmortem: Postmortem, key: str, warnings: list[BlamelessWarning]
) -> HttpResponse:
    label = SectionKey(key).label
    if not wants_partial(request):
        messages.success(request, f"{label} saved.")
        if warnings:
            phrases = ", ".join(f"“{warning.phrase}”" for warning in warnings)
            messages.warning(request, f"Blameless check on {label}: {phrases}. {warnings[0].explanation}")
        return _back_to(postmortem, f"section-{key}")
    postmortem = postmortem_get_for_user(user=request.user, number=postmortem.incident.number)
    context = _section_context(postmortem, key, request, warnings=warnings, saved=True)
    return render(request, SECTION_DISPLAY, context)


@login_required
@require_POST
def blameless_check_view(request: HttpRequest, number: int) -> HttpResponse:
    """The live check while typing: the warnings for the text as it is now (nothing is saved)."""
    postmortem_get_for_user(user=request.user, number=number)
    form = SectionForm(request.POST)
    text = form.cleaned_data["body"] if form.is_valid() else ""
    return render(request, BLAMELESS_NOTE, {"warnings": blameless_warnings(text), "live": True})


# --- timeline -------------------------------------------------------------------------------


def _timeline_response(
    request: HttpRequest, postmortem: Postmortem, *, status: int = 200, **extra: Any
) -> HttpResponse:
    context = {"timeline": _timeline_block(request, postmortem, **extra), "postmortem": postmortem}
    return render(request, TIMELINE_PARTIAL, context, status=status)


@login_required
@require_POST
def timeline_import_view(request: HttpRequest, number: int) -> HttpResponse:
    postmortem = _writable(request, number)
    if isinstance(postmortem, HttpResponse):
        return postmortem
    try:
        added = timeline_import(postmortem=postmortem, actor=request.user)
    except DomainError as exc:
        return _refused(request, postmortem, str(exc))
    message = "No new events" if not added else f"{added} new event{'s' if added != 1 else ''} imported"
    if not wants_partial(request):
        messages.success(request, f"{message}.")
        return _back_to(postmortem, "pm-timeline")
    return _timeline_response(request, postmortem, message=message)


@login_required
@require_POST
def timeline_add_view(request: HttpRequest, number: int) -> HttpResponse:
    postmortem = _writable(request, number)
    if isinstance(postmortem, HttpResponse):
        return postmortem
    # The time typed is the viewer's local time, in the zone the timeline is shown in.
    with timezone.override(person_zone(request.user)):
        form = TimelineAddForm(request.POST, auto_id="entry-%s")
        valid = form.is_valid()
    if valid:
        try:
            timeline_entry_add(
                postmortem=postmortem,
                actor=request.user,
                occurred_at=form.cleaned_data["occurred_at"],
                text=form.cleaned_data["text"],
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            if not wants_partial(request):
                messages.success(request, "Entry added to the timeline.")
                return _back_to(postmortem, "pm-timeline")
            return _timeline_response(request, postmortem, message="Entry added.")
    if not wants_partial(request):
        context = {**_page_context(request, postmortem), "page_error": _form_problem(form)}
        return render(request, DETAIL_PAGE, context, status=400)
    return _timeline_response(request, postmortem, status=400, add_form=form)


def _form_problem(form: Any) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


@login_required
@require_POST
def timeline_entry_view(request: HttpRequest, number: int, entry_id: int) -> HttpResponse:
    """Change one entry: its text, whether it is shown, or delete it (hand-written entries only)."""
    postmortem = _writable(request, number)
    if isinstance(postmortem, HttpResponse):
        return postmortem
    entry = postmortem_timeline(postmortem=postmortem).filter(pk=entry_id).first()
    if entry is None:
        raise Http404("No such timeline entry.")
    form = TimelineEntryForm(request.POST)
    error, status = "", 200
    if not form.is_valid():
        error, status = _form_problem(form), 400
    else:
        part = form.cleaned_data["part"]
        try:
            if part == TimelineEntryForm.DELETE:
                timeline_entry_delete(entry=entry, actor=request.user)
                if not wants_partial(request):
                    messages.success(request, "Entry removed.")
                    return _back_to(postmortem, "pm-timeline")
                return HttpResponse("")
            if part == TimelineEntryForm.TEXT:
                entry = timeline_entry_update(entry=entry, actor=request.user, text=form.cleaned_data["text"])
            else:
                entry = timeline_entry_update(
                    entry=entry, actor=request.user, included=form.cleaned_data["included"]
                )
        except DomainError as exc:
            error, status = str(exc), 409
    if not wants_partial(request):
        if error:
            context = {**_page_context(request, postmortem), "page_error": error}
            return render(request, DETAIL_PAGE, context, status=status)
        return _back_to(postmortem, f"tl-entry-{entry.pk}")
    context = {
        "entry": entry,
        "entry_error": error,
        "timeline": _timeline_block(request, postmortem),
        "postmortem": postmortem,
    }
    return render(request, ENTRY_PARTIAL, context, status=status)


# --- comments -------------------------------------------------------------------------------


def _comments_response(
    request: HttpRequest, number: int, key: str, *, status: int = 200, **extra: Any
) -> HttpResponse:
    postmortem = postmortem_get_for_user(user=request.user, number=number)
    context = _section_context(postmortem, key, request, **extra)
    return render(request, COMMENTS_PARTIAL, context, status=status)


@login_required
@require_POST
def comment_add_view(request: HttpRequest, number: int) -> HttpResponse:
    postmortem = postmortem_get_for_user(user=request.user, number=number)
    if postmortem.is_published:
        return _refused(request, postmortem, _read_only_message(request, postmortem))
    if not can_comment_on_postmortem(request.user, postmortem):
        return forbidden(
            request,
            "Commenting needs the responder role in "
            f"{postmortem.incident.service.team.name}, or being asked to review this postmortem.",
        )
    form = CommentForm(request.POST)
    key = request.POST.get("section", "")
    if form.is_valid():
        key = form.cleaned_data["section"]
        try:
            comment_add(
                postmortem=postmortem, actor=request.user, section=key, body=form.cleaned_data["body"]
            )
        except DomainError as exc:
            return _refused(request, postmortem, str(exc))
        if not wants_partial(request):
            messages.success(request, "Comment added.")
            return _back_to(postmortem, f"comments-{key}")
        return _comments_response(request, number, key, comment_open=True)
    if key not in SectionKey.values:
        raise Http404("No such section.")
    if not wants_partial(request):
        context = {**_page_context(request, postmortem), "page_error": _form_problem(form)}
        return render(request, DETAIL_PAGE, context, status=400)
    return _comments_response(request, number, key, status=400, comment_error=_form_problem(form))


@login_required
@require_POST
def comment_resolve_view(request: HttpRequest, number: int, comment_id: int) -> HttpResponse:
    postmortem = postmortem_get_for_user(user=request.user, number=number)
    comment = next((c for c in postmortem.comments.all() if c.pk == comment_id), None)
    if comment is None:
        raise Http404("No such comment.")
    if postmortem.is_published:
        return _refused(request, postmortem, _read_only_message(request, postmortem))
    if not can_comment_on_postmortem(request.user, postmortem):
        return forbidden(request, "Resolving comments is for the reviewers and the team's responders.")
    try:
        comment_resolve(comment=comment, actor=request.user)
    except DomainError as exc:
        return _refused(request, postmortem, str(exc))
    if not wants_partial(request):
        messages.success(request, "Comment resolved.")
        return _back_to(postmortem, f"comments-{comment.section}")
    return _comments_response(request, number, comment.section)


# --- settings, review, publishing -----------------------------------------------------------


def _workflow_response(
    request: HttpRequest, number: int, *, done: str = "", status: int = 200, **forms_: Any
) -> HttpResponse:
    """htmx: the review panel, with the header out of band (status, owner and reviewers show in
    both). A plain post goes back to the page, or shows it with the form's errors."""
    postmortem = postmortem_get_for_user(user=request.user, number=number)
    if not wants_partial(request):
        if status == 200:
            if done:
                messages.success(request, done)
            return _back_to(postmortem, "pm-workflow")
        return render(request, DETAIL_PAGE, _page_context(request, postmortem, **forms_), status=status)
    context = _workflow_context(request, postmortem, done=done, **forms_)
    return render(request, WORKFLOW_RESPONSE, context, status=status)


@login_required
@require_POST
def postmortem_settings_view(request: HttpRequest, number: int) -> HttpResponse:
    postmortem = _writable(request, number)
    if isinstance(postmortem, HttpResponse):
        return postmortem
    form = PostmortemSettingsForm(request.POST, team=postmortem.incident.service.team_id, auto_id="pm-%s")
    if not form.is_valid():
        return _workflow_response(request, number, status=400, settings_form=form)
    data = form.cleaned_data
    try:
        postmortem_update(
            postmortem=postmortem,
            actor=request.user,
            title=data["title"],
            owner=data["owner"],
            due_date=data["due_date"],
        )
    except DomainError as exc:
        form.add_error(None, str(exc))
        return _workflow_response(request, number, status=409, settings_form=form)
    return _workflow_response(request, number, done="Saved.")


@login_required
@require_POST
def review_request_view(request: HttpRequest, number: int) -> HttpResponse:
    postmortem = _writable(request, number)
    if isinstance(postmortem, HttpResponse):
        return postmortem
    form = ReviewRequestForm(
        request.POST, team=postmortem.incident.service.team_id, auto_id="review-%s", exclude_ids=[]
    )
    if not form.is_valid():
        return _workflow_response(request, number, status=400, review_form=form)
    reviewers = form.cleaned_data["reviewers"]
    try:
        review_request(postmortem=postmortem, actor=request.user, reviewers=reviewers)
    except DomainError as exc:
        form.add_error(None, str(exc))
        return _workflow_response(request, number, status=409, review_form=form)
    names = ", ".join(person_name(user) for user in reviewers)
    return _workflow_response(request, number, done=f"Review requested from {names}.")


@login_required
@require_POST
def review_approve_view(request: HttpRequest, number: int) -> HttpResponse:
    postmortem = postmortem_get_for_user(user=request.user, number=number)
    if postmortem.is_published:
        return _refused(request, postmortem, _read_only_message(request, postmortem))
    if not is_reviewer(request.user, postmortem):
        return forbidden(request, "Only the people asked to review this postmortem can approve it.")
    try:
        review_approve(postmortem=postmortem, actor=request.user)
    except DomainError as exc:
        return _workflow_response(request, number, status=409, workflow_error=str(exc))
    return _workflow_response(request, number, done="Approved. Thank you for reviewing.")


@login_required
@require_POST
def postmortem_publish_view(request: HttpRequest, number: int) -> HttpResponse:
    postmortem = postmortem_get_for_user(user=request.user, number=number)
    if postmortem.is_published:
        return _refused(request, postmortem, "This postmortem is already published.")
    if not can_publish_postmortem(request.user, postmortem):
        return forbidden(
            request,
            f"Publishing is for the postmortem's owner or a manager of {postmortem.incident.service.team.name}.",
        )
    try:
        postmortem_publish(postmortem=postmortem, actor=request.user)
    except DomainError as exc:
        response = _workflow_response(request, number, status=409, workflow_error=str(exc))
        if wants_partial(request):
            # The form aims at the whole page body; the reason belongs in the review panel.
            response["HX-Retarget"] = "#pm-workflow"
        return response
    done = "Published. The postmortem is now read-only; its action items can still change."
    if not wants_partial(request):
        messages.success(request, done)
        return _back_to(postmortem)
    # Everything on the page turns read-only: htmx gets the whole body.
    postmortem = postmortem_get_for_user(user=request.user, number=number)
    return render(request, BODY_PARTIAL, {**_page_context(request, postmortem), "page_done": done})
