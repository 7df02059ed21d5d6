"""Action-item pages: all items (filtered), "my action items", a team's open and overdue items, one
item with its edit form and status changes, and adding an item to an incident.

Views parse input, check permissions, call one service and respond; reads go through
postmortems.selectors. Lists are a fixed number of queries whatever their length. The status
change also answers htmx from the action-items panel (incident card and postmortem page), with the
refreshed panel and the reason inline when a change is refused.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.core.validators import slug_re
from django.db.models import Count, F, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.models import Incident
from incidents.responses import forbidden, htmx_details, render_page, wants_partial
from incidents.selectors import incident_get_for_user, team_list_for_user
from incidents.services import DomainError
from postmortems.choices import OPEN_ACTION_ITEM_STATUSES, ActionItemPriority, ActionItemStatus
from postmortems.dates import person_today
from postmortems.filters import OPEN, ActionItemFilter
from postmortems.forms import ActionItemForm, ActionItemStatusForm, people_in_teams
from postmortems.models import ActionItem
from postmortems.permissions import can_add_action_item, can_change_action_item
from postmortems.selectors import action_item_get_for_user, action_item_list_for_user
from postmortems.services import action_item_create, action_item_set_status, action_item_update
from postmortems.views.incident import PANEL_TEMPLATE, ItemLine, action_items_panel, item_lines

PAGE_SIZE = 50
RECENTLY_CLOSED = 20

LIST_PAGE = "postmortems/action_item_list.html"
LIST_PARTIAL = "postmortems/partials/_action_item_list.html"
MINE_PAGE = "postmortems/my_action_items.html"
TEAM_PAGE = "postmortems/team_action_items.html"
DETAIL_PAGE = "postmortems/action_item_detail.html"
DETAIL_PARTIAL = "postmortems/partials/_action_item.html"
EDIT_PAGE = "postmortems/action_item_edit.html"
CREATE_PAGE = "postmortems/action_item_create.html"
PANEL_TARGET = "action-items"
ITEM_FORM_ID = "item-%s"


def _by_due_date(items: QuerySet[ActionItem]) -> QuerySet[ActionItem]:
    """Soonest due first (so overdue items lead), items without a due date last."""
    return items.order_by(F("due_date").asc(nulls_last=True), "pk")


def _page_query(data: Any) -> str:
    query = data.copy()
    query.pop("page", None)
    return str(query.urlencode())


# --- lists ----------------------------------------------------------------------------------


@login_required
@require_GET
def action_item_list_view(request: HttpRequest) -> HttpResponse:
    data = request.GET.copy()
    # Open items are what people come for; "Any status" is an explicit empty value.
    data.setdefault("status", OPEN)
    queryset = _by_due_date(action_item_list_for_user(user=request.user))
    filterset = ActionItemFilter(data, queryset=queryset, request=request)
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(data.get("page"))
    selected = {name: data.get(name, "") for name in ("owner", "team", "status", "priority", "overdue")}
    context: dict[str, Any] = {
        "filterset": filterset,
        "page": page,
        "lines": item_lines(page.object_list, user=request.user, today=person_today(request.user)),
        "query": _page_query(data),
        "selected": selected,
        "filters_active": any(selected[name] for name in ("owner", "team", "priority", "overdue"))
        or selected["status"] != OPEN,
        # A link to the team's own page; only for something that can be a team's slug.
        "team_slug": selected["team"] if slug_re.fullmatch(selected["team"]) else "",
    }
    if not wants_partial(request):
        teams = list(team_list_for_user(user=request.user).order_by("name"))
        context.update(teams=teams, people=people_in_teams(teams), priorities=ActionItemPriority.choices)
    return render_page(request, LIST_PAGE, LIST_PARTIAL, context)


def _split_overdue(lines: list[ItemLine]) -> tuple[list[ItemLine], list[ItemLine]]:
    return [line for line in lines if line.overdue], [line for line in lines if not line.overdue]


@login_required
@require_GET
def my_action_items_view(request: HttpRequest) -> HttpResponse:
    """Mine: overdue first, then the rest of the open ones, then what I closed lately."""
    today = person_today(request.user)
    mine = action_item_list_for_user(user=request.user).filter(owner_id=request.user.pk)
    page = Paginator(_by_due_date(mine.open()), PAGE_SIZE).get_page(request.GET.get("page"))
    overdue, still_open = _split_overdue(item_lines(page.object_list, user=request.user, today=today))
    closed: list[ItemLine] = []
    if page.number == 1:
        recent = mine.exclude(status__in=OPEN_ACTION_ITEM_STATUSES).order_by(
            F("closed_at").desc(nulls_last=True), "-pk"
        )[:RECENTLY_CLOSED]
        closed = item_lines(recent, user=request.user, today=today)
    context = {"page": page, "overdue": overdue, "open": still_open, "closed": closed}
    return render(request, MINE_PAGE, context)


@login_required
@require_GET
def team_action_items_view(request: HttpRequest, slug: str) -> HttpResponse:
    team = team_list_for_user(user=request.user).filter(slug=slug).first()
    if team is None:
        raise Http404(f"No team {slug!r} you can see.")
    today = person_today(request.user)
    items = action_item_list_for_user(user=request.user).filter(incident__service__team=team)
    is_open = Q(status__in=OPEN_ACTION_ITEM_STATUSES)
    counts = items.aggregate(
        open=Count("pk", filter=is_open),
        overdue=Count("pk", filter=is_open & Q(due_date__lt=today)),
        high=Count("pk", filter=is_open & Q(priority=ActionItemPriority.HIGH)),
        unowned=Count("pk", filter=is_open & Q(owner__isnull=True)),
        done_lately=Count(
            "pk",
            filter=Q(status=ActionItemStatus.DONE, closed_at__gte=timezone.now() - timedelta(days=30)),
        ),
    )
    page = Paginator(_by_due_date(items.open()), PAGE_SIZE).get_page(request.GET.get("page"))
    overdue, still_open = _split_overdue(item_lines(page.object_list, user=request.user, today=today))
    context = {"team": team, "counts": counts, "page": page, "overdue": overdue, "open": still_open}
    return render(request, TEAM_PAGE, context)


# --- one item -------------------------------------------------------------------------------


def _item_context(request: HttpRequest, item: ActionItem, error: str = "", **extra: Any) -> dict[str, Any]:
    line = ItemLine(
        item,
        person_today(request.user),
        can_change_action_item(request.user, item),
        error=error,
        expanded=bool(error),
    )
    return {"line": line, "item": item, "incident": item.incident, **extra}


@login_required
@require_GET
def action_item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = action_item_get_for_user(user=request.user, pk=pk)
    return render_page(request, DETAIL_PAGE, DETAIL_PARTIAL, _item_context(request, item))


def _changeable(request: HttpRequest, pk: int) -> ActionItem | HttpResponse:
    item = action_item_get_for_user(user=request.user, pk=pk)
    if not can_change_action_item(request.user, item):
        return forbidden(
            request,
            f"Changing “{item.title}” is for its owner and the responders of "
            f"{item.incident.service.team.name}.",
        )
    return item


def _initial(item: ActionItem) -> dict[str, Any]:
    fields = ("title", "description", "due_date", "priority", "kind", "tracker_url")
    return {"owner": item.owner_id, **{name: getattr(item, name) for name in fields}}


@login_required
@require_http_methods(["GET", "POST"])
def action_item_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    item = _changeable(request, pk)
    if isinstance(item, HttpResponse):
        return item
    team_id = item.incident.service.team_id
    if request.method == "GET":
        form = ActionItemForm(team=team_id, initial=_initial(item), auto_id=ITEM_FORM_ID)
        return render(request, EDIT_PAGE, _item_context(request, item, form=form))
    form = ActionItemForm(request.POST, team=team_id, auto_id=ITEM_FORM_ID)
    status = 400
    if form.is_valid():
        try:
            action_item_update(item=item, actor=request.user, **form.item_fields())
        except DomainError as exc:
            form.add_error(None, str(exc))
            status = 409
        else:
            messages.success(request, "Action item saved.")
            return redirect(item)
    return render(request, EDIT_PAGE, _item_context(request, item, form=form), status=status)


def _from_panel(request: HttpRequest) -> bool:
    htmx = htmx_details(request)
    return wants_partial(request) and htmx is not None and htmx.target == PANEL_TARGET


def _panel_response(
    request: HttpRequest, incident: Incident, *, status: int = 200, **extra: Any
) -> HttpResponse:
    on_postmortem = request.POST.get("from") == "postmortem"
    panel = action_items_panel(user=request.user, incident=incident, on_postmortem=on_postmortem, **extra)
    return render(request, PANEL_TEMPLATE, {"ai_panel": panel, "incident": incident}, status=status)


@login_required
@require_POST
def action_item_status_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Start, done, won't do, reopen. Refusals (no reason, no verification for a high-priority item,
    a move the item cannot make) are shown on the item, with what was typed kept."""
    item = _changeable(request, pk)
    if isinstance(item, HttpResponse):
        return item
    form = ActionItemStatusForm(request.POST)
    error, status = "", 200
    if not form.is_valid():
        error, status = "Choose what happened to the action item.", 400
    else:
        data = form.cleaned_data
        try:
            item = action_item_set_status(
                item=item,
                actor=request.user,
                status=data["status"],
                reason=data["reason"],
                verification=data["verification"],
            )
        except DomainError as exc:
            error, status = str(exc), 400
    done = "" if error else f"“{item.title}” is now {item.get_status_display().lower()}."
    if _from_panel(request):
        extra: dict[str, Any] = {"done": done}
        if error:
            extra.update(errors={item.pk: error}, typed=request.POST)
        return _panel_response(request, item.incident, status=status, **extra)
    if not wants_partial(request) and not error:
        messages.success(request, done)
        return redirect(item)
    item = action_item_get_for_user(user=request.user, pk=pk)
    context = _item_context(request, item, error=error, done=done, typed=request.POST)
    return render_page(request, DETAIL_PAGE, DETAIL_PARTIAL, context, status=status)


# --- adding one to an incident --------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def action_item_create_view(request: HttpRequest, number: int) -> HttpResponse:
    incident = incident_get_for_user(user=request.user, number=number)
    if not can_add_action_item(request.user, incident):
        return forbidden(
            request,
            f"Adding action items to {incident.reference} needs the responder role in "
            f"{incident.service.team.name}.",
        )
    team_id = incident.service.team_id
    if request.method == "GET":
        form = ActionItemForm(team=team_id, initial={"owner": request.user.pk}, auto_id=ITEM_FORM_ID)
        return render(request, CREATE_PAGE, {"incident": incident, "form": form})
    form = ActionItemForm(request.POST, team=team_id, auto_id=ITEM_FORM_ID)
    status = 400
    if form.is_valid():
        try:
            item = action_item_create(incident=incident, actor=request.user, **form.item_fields())
        except DomainError as exc:
            form.add_error(None, str(exc))
            status = 409
        else:
            done = f"Action item “{item.title}” added."
            if wants_partial(request):
                return _panel_response(request, incident, done=done)
            messages.success(request, done)
            back = incident.get_absolute_url()
            if request.POST.get("from") == "postmortem" and hasattr(incident, "postmortem"):
                back = incident.postmortem.get_absolute_url()
            return redirect(back + "#action-items")
    if wants_partial(request):
        return _panel_response(request, incident, status=status, form=form)
    return render(request, CREATE_PAGE, {"incident": incident, "form": form}, status=status)
