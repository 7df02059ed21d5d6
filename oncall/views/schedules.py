"""Browser UI for schedules: the list of who is on call, a schedule's two-week timeline, the forms
that edit schedules and layers, overrides (one POST to take a shift) and "my shifts".

Views parse, check the role, call one service and respond. Actions on the schedule page answer htmx
with the refreshed schedule body and plain form posts with a redirect back to the page.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from incidents.choices import Role
from incidents.models import Team, person_name
from incidents.permissions import has_role
from incidents.responses import forbidden, wants_partial
from incidents.services import DomainError
from oncall import rotation
from oncall.forms.schedules import (
    LayerForm,
    OverrideForm,
    ScheduleForm,
    TakeShiftForm,
    apply_service_error,
)
from oncall.models import Schedule
from oncall.selectors.schedules import (
    MY_SHIFTS_DAYS,
    layer_get_for_user,
    oncall_for_schedules,
    override_list_for_user,
    override_removable_by,
    schedule_get_for_user,
    schedule_list_for_user,
    schedule_timeline,
    shifts_for_user,
)
from oncall.services.schedules import (
    ScheduleInvalid,
    layer_create,
    layer_delete,
    layer_update,
    override_create,
    override_delete,
    schedule_create,
    schedule_delete,
    schedule_update,
)

BODY_PARTIAL = "oncall/schedules/partials/_schedule_body.html"
OVERRIDE_FORM_PARTIAL = "oncall/schedules/partials/_override_form.html"
OVERRIDE_SLOT = "override-slot"


def _managed_teams(user: Any) -> Any:
    if user.is_superuser:
        return Team.objects.order_by("name")
    return Team.objects.filter(memberships__user=user, memberships__role__gte=Role.MANAGER).order_by("name")


def _can_manage(user: Any, schedule: Schedule) -> bool:
    return has_role(user, schedule.team_id, Role.MANAGER)


def _can_respond(user: Any, schedule: Schedule) -> bool:
    return has_role(user, schedule.team_id, Role.RESPONDER)


def _in_zone(schedule: Schedule) -> Any:
    """Form datetimes without an offset are read (and shown) in the schedule's zone."""
    return timezone.override(rotation.to_zone(schedule.time_zone))


# --- list -----------------------------------------------------------------------------------


@login_required
@require_GET
def schedule_list(request: HttpRequest) -> HttpResponse:
    schedules = list(schedule_list_for_user(user=request.user))
    context = {
        "rows": oncall_for_schedules(schedules=schedules, at=timezone.now()),
        "can_create": _managed_teams(request.user).exists(),
    }
    return render(request, "oncall/schedules/schedule_list.html", context)


# --- schedule page --------------------------------------------------------------------------


def _schedule_context(request: HttpRequest, schedule: Schedule) -> dict[str, Any]:
    timeline = schedule_timeline(schedule=schedule, at=timezone.now())
    return {
        "schedule": schedule,
        "timeline": timeline,
        "can_manage": _can_manage(request.user, schedule),
        "can_respond": _can_respond(request.user, schedule),
        "deletable_overrides": {
            override.pk
            for override in timeline.overrides
            if override_removable_by(user=request.user, override=override)
        },
    }


def _schedule_response(request: HttpRequest, schedule: Schedule) -> HttpResponse:
    context = _schedule_context(request, schedule)
    template = BODY_PARTIAL if wants_partial(request) else "oncall/schedules/schedule_detail.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_GET
def schedule_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _schedule_response(request, schedule_get_for_user(user=request.user, pk=pk))


def _after_action(request: HttpRequest, schedule: Schedule) -> HttpResponse:
    if wants_partial(request):
        return _schedule_response(request, schedule)
    return redirect("oncall:schedule_detail", pk=schedule.pk)


# --- schedules ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def schedule_create_view(request: HttpRequest) -> HttpResponse:
    teams = _managed_teams(request.user)
    if not teams.exists():
        return forbidden(request, "Creating a schedule needs the manager role in a team.")
    form = ScheduleForm(request.POST or None, teams=teams)
    if request.method == "POST" and form.is_valid():
        try:
            schedule = schedule_create(
                team=form.cleaned_data["team"],
                name=form.cleaned_data["name"],
                time_zone=form.cleaned_data["time_zone"],
                actor=request.user,
            )
        except ScheduleInvalid as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, f"{schedule.name} created. Add a rotation layer to put people on call.")
            return redirect("oncall:layer_create", pk=schedule.pk)
    status = 400 if form.is_bound else 200
    return render(request, "oncall/schedules/schedule_form.html", {"form": form}, status=status)


def _manageable_schedule(request: HttpRequest, pk: int, doing: str) -> Schedule | HttpResponse:
    schedule = schedule_get_for_user(user=request.user, pk=pk)
    if not _can_manage(request.user, schedule):
        return forbidden(request, f"{doing} {schedule.name} needs the manager role in {schedule.team.name}.")
    return schedule


@login_required
@require_http_methods(["GET", "POST"])
def schedule_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = _manageable_schedule(request, pk, "Changing")
    if isinstance(schedule, HttpResponse):
        return schedule
    initial = {"name": schedule.name, "time_zone": schedule.time_zone}
    form = ScheduleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            schedule_update(schedule=schedule, actor=request.user, **form.cleaned_data)
        except ScheduleInvalid as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, "Schedule saved.")
            return redirect("oncall:schedule_detail", pk=schedule.pk)
    status = 400 if form.is_bound else 200
    context = {"form": form, "schedule": schedule}
    return render(request, "oncall/schedules/schedule_form.html", context, status=status)


@login_required
@require_POST
def schedule_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = _manageable_schedule(request, pk, "Deleting")
    if isinstance(schedule, HttpResponse):
        return schedule
    name = schedule.name
    schedule_delete(schedule=schedule, actor=request.user)
    messages.success(request, f"{name} deleted.")
    return redirect("oncall:schedule_list")


# --- layers ---------------------------------------------------------------------------------


def _layer_form_page(request: HttpRequest, context: dict[str, Any], status: int) -> HttpResponse:
    return render(request, "oncall/schedules/layer_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def layer_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = _manageable_schedule(request, pk, "Adding a layer to")
    if isinstance(schedule, HttpResponse):
        return schedule
    initial = {"start_date": timezone.now().astimezone(rotation.to_zone(schedule.time_zone)).date()}
    form = LayerForm(request.POST or None, schedule=schedule, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            layer_create(schedule=schedule, actor=request.user, **form.service_arguments())
        except ScheduleInvalid as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, "Layer added.")
            return redirect("oncall:schedule_detail", pk=schedule.pk)
    context = {"form": form, "schedule": schedule}
    return _layer_form_page(request, context, 400 if form.is_bound else 200)


@login_required
@require_http_methods(["GET", "POST"])
def layer_edit_view(request: HttpRequest, pk: int, layer_pk: int) -> HttpResponse:
    schedule = _manageable_schedule(request, pk, "Changing the layers of")
    if isinstance(schedule, HttpResponse):
        return schedule
    layer = layer_get_for_user(user=request.user, schedule=schedule, pk=layer_pk)
    form = LayerForm(request.POST or None, schedule=schedule, layer=layer)
    if request.method == "POST" and form.is_valid():
        try:
            layer_update(layer=layer, actor=request.user, **form.service_arguments())
        except ScheduleInvalid as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, "Layer saved. New participants take over at the next handoff.")
            return redirect("oncall:schedule_detail", pk=schedule.pk)
    context = {"form": form, "schedule": schedule, "layer": layer}
    return _layer_form_page(request, context, 400 if form.is_bound else 200)


@login_required
@require_POST
def layer_delete_view(request: HttpRequest, pk: int, layer_pk: int) -> HttpResponse:
    schedule = _manageable_schedule(request, pk, "Changing the layers of")
    if isinstance(schedule, HttpResponse):
        return schedule
    layer = layer_get_for_user(user=request.user, schedule=schedule, pk=layer_pk)
    layer_delete(layer=layer, actor=request.user)
    messages.success(request, f"{layer} removed.")
    return redirect("oncall:schedule_detail", pk=schedule.pk)


# --- overrides ------------------------------------------------------------------------------


def _respondable_schedule(request: HttpRequest, pk: int) -> Schedule | HttpResponse:
    schedule = schedule_get_for_user(user=request.user, pk=pk)
    if not _can_respond(request.user, schedule):
        return forbidden(
            request,
            f"Changing who is on call in {schedule.name} needs the responder role in {schedule.team.name}.",
        )
    return schedule


@login_required
@require_POST
def shift_take_view(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Take this shift": the signed-in person is on call for the shift, from now if it has begun."""
    schedule = _respondable_schedule(request, pk)
    if isinstance(schedule, HttpResponse):
        return schedule
    form = TakeShiftForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That shift could not be read; reload the page and try again.")
        return _after_action(request, schedule)
    starts_at = max(form.cleaned_data["start"], timezone.now())
    try:
        override_create(
            schedule=schedule,
            user=request.user,
            starts_at=starts_at,
            ends_at=form.cleaned_data["end"],
            actor=request.user,
        )
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "You are on call for that shift.")
    return _after_action(request, schedule)


@login_required
@require_http_methods(["GET", "POST"])
def override_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The "Override…" form, prefilled from the shift it was opened on (`?start=&end=&user=`)."""
    schedule = _respondable_schedule(request, pk)
    if isinstance(schedule, HttpResponse):
        return schedule
    with _in_zone(schedule):
        if request.method == "POST":
            form = OverrideForm(request.POST, schedule=schedule)
            if form.is_valid():
                try:
                    override_create(schedule=schedule, actor=request.user, **form.cleaned_data)
                except ScheduleInvalid as exc:
                    apply_service_error(form, exc)
                else:
                    who = person_name(form.cleaned_data["user"])
                    messages.success(request, f"{who} is on call for that time.")
                    return _after_action(request, schedule)
        else:
            form = OverrideForm(schedule=schedule, initial=_override_initial(request))
        context = {"schedule": schedule, "override_form": form, "inline": wants_partial(request)}
        if not wants_partial(request):
            status = 400 if form.is_bound else 200
            return render(request, "oncall/schedules/override_form.html", context, status=status)
        # The form posts with the schedule body as its target; a refusal goes back into the form.
        response = render(request, OVERRIDE_FORM_PARTIAL, context)
        return reswap(retarget(response, f"#{OVERRIDE_SLOT}"), "innerHTML")


def _override_initial(request: HttpRequest) -> dict[str, Any]:
    """Prefill from the query string; anything unreadable is simply left for the person to fill."""
    probe = TakeShiftForm({"start": request.GET.get("start", ""), "end": request.GET.get("end", "")})
    initial: dict[str, Any] = {"user": request.user.pk}
    if probe.is_valid():
        now = timezone.now().replace(second=0, microsecond=0)
        initial["starts_at"] = max(probe.cleaned_data["start"], now)
        initial["ends_at"] = probe.cleaned_data["end"]
    else:
        start = timezone.now().replace(second=0, microsecond=0)
        initial.update(starts_at=start, ends_at=start + timedelta(hours=1))
    return initial


@login_required
@require_POST
def override_delete_view(request: HttpRequest, pk: int, override_pk: int) -> HttpResponse:
    schedule = schedule_get_for_user(user=request.user, pk=pk)
    override = override_list_for_user(user=request.user).filter(schedule=schedule, pk=override_pk).first()
    if override is None:
        # Already gone (a double click, or someone else removed it): the page shows the truth.
        messages.info(request, "That override no longer exists.")
        return _after_action(request, schedule)
    if not override_removable_by(user=request.user, override=override):
        return forbidden(
            request, f"Removing someone else's override needs the manager role in {schedule.team.name}."
        )
    override_delete(override=override, actor=request.user)
    messages.success(request, "Override removed.")
    return _after_action(request, schedule)


# --- my shifts ------------------------------------------------------------------------------


def viewer_zone_name(user: Any) -> str:
    """The person's zone from their profile; UTC without a profile or with an unknown zone."""
    profile = getattr(user, "profile", None)
    name = getattr(profile, "time_zone", "") or "UTC"
    try:
        rotation.to_zone(name)
    except ValueError:
        return "UTC"
    return name


@login_required
@require_GET
def my_shifts(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    end = now + timedelta(days=MY_SHIFTS_DAYS)
    context = {
        "shifts": shifts_for_user(user=request.user, start=now, end=end),
        "zone_name": viewer_zone_name(request.user),
        "days": MY_SHIFTS_DAYS,
        "now": now,
    }
    return render(request, "oncall/schedules/my_shifts.html", context)
