"""Browser UI for escalation policies and a person's own notification settings.

Views parse input, check permissions, call one service and respond. Step changes and contact-method
changes answer htmx with the section they changed (the full page includes the same partial); every
form also works as a plain POST + redirect.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.models import Service
from incidents.responses import forbidden, render_page, wants_partial
from incidents.services import DomainError
from oncall.forms.people import (
    ContactMethodEditForm,
    ContactMethodForm,
    EscalationPolicyCreateForm,
    EscalationPolicyForm,
    NotificationRuleForm,
    ProfileForm,
    ServiceAssignForm,
    StepForm,
    StepMoveForm,
)
from oncall.models import EscalationPolicy, EscalationStep
from oncall.selectors.people import (
    assignable_services,
    can_manage_policy,
    channel_statuses,
    contact_method_get_for_user,
    contact_methods_for_user,
    notification_ladders,
    notification_rule_get_for_user,
    notification_rules_for_user,
    policy_flow,
    policy_flow_text,
    policy_get_for_user,
    policy_list_for_user,
    profile_for_user,
    repeat_text,
    step_get,
    teams_managed_by,
)
from oncall.services import (
    InvalidAddress,
    contact_method_create,
    contact_method_delete,
    contact_method_send_test,
    contact_method_update,
    escalation_policy_create,
    escalation_policy_delete,
    escalation_policy_update,
    escalation_step_add,
    escalation_step_delete,
    escalation_step_move,
    escalation_step_update,
    notification_rule_create,
    notification_rule_delete,
    profile_update,
    service_escalation_policy_set,
)

POLICY_PAGE = "oncall/people/policy_detail.html"
STEPS_PARTIAL = "oncall/people/partials/_policy_steps.html"
NOTIFICATIONS_PAGE = "oncall/people/notifications.html"
SETTINGS_PARTIAL = "oncall/people/partials/_notification_settings.html"
PROFILE_PARTIAL = "oncall/people/partials/_profile.html"
TEST_RESULT_PARTIAL = "oncall/people/partials/_test_result.html"


# --- escalation policies --------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def policy_list(request: HttpRequest) -> HttpResponse:
    teams = teams_managed_by(user=request.user)
    status = 200
    if request.method == "POST":
        if not teams.exists():
            return forbidden(request, "Creating an escalation policy needs the manager role in a team.")
        form = EscalationPolicyCreateForm(request.POST, teams=teams)
        if form.is_valid():
            data = form.cleaned_data
            try:
                policy = escalation_policy_create(
                    team=data["team"],
                    name=data["name"],
                    repeat_count=data["repeat_count"],
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Created “{policy.name}”. Add its first step below.")
                return redirect("oncall:policy_detail", pk=policy.pk)
        status = 400
    else:
        form = EscalationPolicyCreateForm(teams=teams)
    policies = [
        {
            "policy": policy,
            "flow_text": policy_flow_text(policy),
            "can_manage": can_manage_policy(request.user, policy),
        }
        for policy in policy_list_for_user(user=request.user)
    ]
    context = {"policies": policies, "create_form": form if teams.exists() else None}
    return render(request, "oncall/people/policy_list.html", context, status=status)


def _policy_context(
    request: HttpRequest,
    policy: EscalationPolicy,
    *,
    settings_form: forms.Form | None = None,
    add_step_form: StepForm | None = None,
    step_form: StepForm | None = None,
    assign_form: forms.Form | None = None,
) -> dict[str, Any]:
    can_manage = can_manage_policy(request.user, policy)
    flow = policy_flow(policy)
    steps = []
    for item in flow:
        form = None
        if can_manage:
            if step_form is not None and step_form.prefix == _step_prefix(item.step):
                form = step_form
            else:
                form = StepForm(
                    policy=policy,
                    user=request.user,
                    prefix=_step_prefix(item.step),
                    initial={
                        "delay_minutes": item.step.delay_minutes,
                        "users": [u.pk for u in item.step.users.all()],
                        "schedules": [s.pk for s in item.step.schedules.all()],
                        "teams": [t.pk for t in item.step.teams.all()],
                    },
                )
        steps.append({"flow": item, "form": form})
    context: dict[str, Any] = {
        "policy": policy,
        "steps": steps,
        "flow_text": policy_flow_text(policy),
        "repeat_text": repeat_text(policy.repeat_count) if policy.repeat_count else "",
        "services": list(policy.services.all()),
        "can_manage": can_manage,
    }
    if can_manage:
        context["settings_form"] = settings_form or EscalationPolicyForm(
            initial={"name": policy.name, "repeat_count": policy.repeat_count}
        )
        context["add_step_form"] = add_step_form or StepForm(policy=policy, user=request.user, prefix="new")
        context["assign_form"] = assign_form or ServiceAssignForm(services=assignable_services(policy=policy))
    return context


def _step_prefix(step: EscalationStep) -> str:
    return f"step-{step.pk}"


@login_required
@require_http_methods(["GET", "POST"])
def policy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The editor: the steps as a flow, and (for managers) the forms that change them."""
    policy = policy_get_for_user(user=request.user, pk=pk)
    if request.method == "GET":
        return render_page(request, POLICY_PAGE, STEPS_PARTIAL, _policy_context(request, policy))
    if not can_manage_policy(request.user, policy):
        return forbidden(request, f"Changing {policy.name} needs the manager role in {policy.team.name}.")
    form = EscalationPolicyForm(request.POST)
    if form.is_valid():
        try:
            escalation_policy_update(
                policy=policy,
                name=form.cleaned_data["name"],
                repeat_count=form.cleaned_data["repeat_count"],
                actor=request.user,
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Saved.")
            return redirect("oncall:policy_detail", pk=policy.pk)
    policy = policy_get_for_user(user=request.user, pk=pk)
    return render(request, POLICY_PAGE, _policy_context(request, policy, settings_form=form), status=400)


def _managed_policy(request: HttpRequest, pk: int) -> EscalationPolicy | HttpResponse:
    policy = policy_get_for_user(user=request.user, pk=pk)
    if not can_manage_policy(request.user, policy):
        return forbidden(request, f"Changing {policy.name} needs the manager role in {policy.team.name}.")
    return policy


def _after_step_change(request: HttpRequest, pk: int, **invalid: Any) -> HttpResponse:
    """htmx gets the refreshed steps section; a plain form post goes back to the editor."""
    if not invalid and not wants_partial(request):
        return HttpResponseRedirect(reverse("oncall:policy_detail", kwargs={"pk": pk}) + "#steps")
    # Fetched again through the selector so the flow shows what was just written.
    policy = policy_get_for_user(user=request.user, pk=pk)
    status = 400 if invalid and not wants_partial(request) else 200
    return render_page(
        request, POLICY_PAGE, STEPS_PARTIAL, _policy_context(request, policy, **invalid), status
    )


@login_required
@require_POST
def step_add(request: HttpRequest, pk: int) -> HttpResponse:
    policy = _managed_policy(request, pk)
    if isinstance(policy, HttpResponse):
        return policy
    form = StepForm(request.POST, policy=policy, user=request.user, prefix="new")
    if form.is_valid():
        try:
            step = escalation_step_add(policy=policy, spec=form.spec(), actor=request.user)
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Added step {step.position + 1}.")
            return _after_step_change(request, pk)
    return _after_step_change(request, pk, add_step_form=form)


@login_required
@require_POST
def step_update(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    policy = _managed_policy(request, pk)
    if isinstance(policy, HttpResponse):
        return policy
    step = step_get(policy=policy, pk=step_pk)
    form = StepForm(request.POST, policy=policy, user=request.user, prefix=_step_prefix(step))
    if form.is_valid():
        try:
            escalation_step_update(step=step, spec=form.spec(), actor=request.user)
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Saved step {step.position + 1}.")
            return _after_step_change(request, pk)
    return _after_step_change(request, pk, step_form=form)


@login_required
@require_POST
def step_move(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    policy = _managed_policy(request, pk)
    if isinstance(policy, HttpResponse):
        return policy
    step = step_get(policy=policy, pk=step_pk)
    form = StepMoveForm(request.POST)
    if form.is_valid():
        offset = -1 if form.cleaned_data["direction"] == "up" else 1
        escalation_step_move(step=step, position=step.position + offset, actor=request.user)
    else:
        messages.error(request, "Move a step up or down.")
    return _after_step_change(request, pk)


@login_required
@require_POST
def step_delete(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    policy = _managed_policy(request, pk)
    if isinstance(policy, HttpResponse):
        return policy
    step = step_get(policy=policy, pk=step_pk)
    number = step.position + 1
    escalation_step_delete(step=step, actor=request.user)
    messages.success(request, f"Removed step {number}.")
    return _after_step_change(request, pk)


@login_required
@require_POST
def policy_delete(request: HttpRequest, pk: int) -> HttpResponse:
    policy = _managed_policy(request, pk)
    if isinstance(policy, HttpResponse):
        return policy
    try:
        escalation_policy_delete(policy=policy, actor=request.user)
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("oncall:policy_detail", pk=pk)
    messages.success(request, f"Deleted “{policy.name}”.")
    return redirect("oncall:policy_list")


@login_required
@require_POST
def policy_service_assign(request: HttpRequest, pk: int) -> HttpResponse:
    policy = _managed_policy(request, pk)
    if isinstance(policy, HttpResponse):
        return policy
    form = ServiceAssignForm(request.POST, services=assignable_services(policy=policy))
    if form.is_valid():
        service: Service = form.cleaned_data["service"]
        try:
            service_escalation_policy_set(service=service, policy=policy, actor=request.user)
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{service.name} now pages with “{policy.name}”.")
            return HttpResponseRedirect(reverse("oncall:policy_detail", kwargs={"pk": pk}) + "#services")
    policy = policy_get_for_user(user=request.user, pk=pk)
    return render(request, POLICY_PAGE, _policy_context(request, policy, assign_form=form), status=400)


@login_required
@require_POST
def policy_service_remove(request: HttpRequest, pk: int, slug: str) -> HttpResponse:
    policy = _managed_policy(request, pk)
    if isinstance(policy, HttpResponse):
        return policy
    service = policy.services.filter(slug=slug).first()
    if service is None:
        messages.error(request, f"{slug} does not page with “{policy.name}”.")
    else:
        service_escalation_policy_set(service=service, policy=None, actor=request.user)
        messages.warning(
            request,
            f"{service.name} has no escalation policy now: its incidents page nobody, only "
            f"the managers of {policy.team.name} are told.",
        )
    return HttpResponseRedirect(reverse("oncall:policy_detail", kwargs={"pk": pk}) + "#services")


# --- my notifications -----------------------------------------------------------------------


def _contact_prefix(pk: int) -> str:
    return f"cm-{pk}"


def _notifications_context(
    request: HttpRequest,
    *,
    contact_form: ContactMethodForm | None = None,
    edit_form: ContactMethodEditForm | None = None,
    rule_form: NotificationRuleForm | None = None,
    profile_form: ProfileForm | None = None,
) -> dict[str, Any]:
    user = request.user
    channels = channel_statuses()
    methods = []
    for method in contact_methods_for_user(user=user):
        form = edit_form if edit_form is not None and edit_form.prefix == _contact_prefix(method.pk) else None
        methods.append(
            {
                "method": method,
                "channel": channels[method.kind],
                "form": form
                or ContactMethodEditForm(
                    prefix=_contact_prefix(method.pk),
                    initial={"address": method.address, "label": method.label},
                ),
            }
        )
    rules = list(notification_rules_for_user(user=user))
    profile = profile_for_user(user=user)
    return {
        "methods": methods,
        "channels": list(channels.values()),
        "unavailable_channels": [status for status in channels.values() if not status.available],
        "ladders": notification_ladders(user=user, rules=rules),
        "contact_form": contact_form or ContactMethodForm(channels=channels),
        "rule_form": rule_form or NotificationRuleForm(contact_methods=contact_methods_for_user(user=user)),
        "profile": profile,
        "profile_form": profile_form
        or ProfileForm(
            initial={
                "time_zone": profile.time_zone,
                "shift_nudges": profile.shift_nudges,
                "shift_nudge_minutes": profile.shift_nudge_minutes,
                "action_item_digest": profile.action_item_digest,
            }
        ),
    }


@login_required
@require_GET
def my_notifications(request: HttpRequest) -> HttpResponse:
    return render_page(request, NOTIFICATIONS_PAGE, SETTINGS_PARTIAL, _notifications_context(request))


def _after_settings_change(request: HttpRequest, **invalid: Any) -> HttpResponse:
    if not invalid and not wants_partial(request):
        return HttpResponseRedirect(reverse("oncall:my_notifications") + "#contact-methods")
    status = 400 if invalid and not wants_partial(request) else 200
    return render_page(
        request, NOTIFICATIONS_PAGE, SETTINGS_PARTIAL, _notifications_context(request, **invalid), status
    )


@login_required
@require_POST
def contact_method_create_view(request: HttpRequest) -> HttpResponse:
    form = ContactMethodForm(request.POST, channels=channel_statuses())
    if form.is_valid():
        data = form.cleaned_data
        try:
            method = contact_method_create(
                user=request.user,
                kind=data["kind"],
                address=data["address"],
                label=data["label"],
                actor=request.user,
            )
        except InvalidAddress as exc:
            form.add_error("address", str(exc))
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"Added {method.get_kind_display()} {method.address}. Send a test, then add a rule that uses it.",
            )
            return _after_settings_change(request)
    return _after_settings_change(request, contact_form=form)


@login_required
@require_POST
def contact_method_update_view(request: HttpRequest, pk: int) -> HttpResponse:
    method = contact_method_get_for_user(user=request.user, pk=pk)
    form = ContactMethodEditForm(request.POST, prefix=_contact_prefix(pk))
    if form.is_valid():
        try:
            contact_method_update(
                contact_method=method,
                address=form.cleaned_data["address"],
                label=form.cleaned_data["label"],
                actor=request.user,
            )
        except InvalidAddress as exc:
            form.add_error("address", str(exc))
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Saved {method.get_kind_display()} {method.address}.")
            return _after_settings_change(request)
    return _after_settings_change(request, edit_form=form)


@login_required
@require_POST
def contact_method_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    method = contact_method_get_for_user(user=request.user, pk=pk)
    rules = contact_method_delete(contact_method=method, actor=request.user)
    also = f" and the {rules} rule{'s' if rules != 1 else ''} that used it" if rules else ""
    messages.success(request, f"Removed {method.get_kind_display()} {method.address}{also}.")
    return _after_settings_change(request)


@login_required
@require_POST
def contact_method_test_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Sends for real and waits for the channel's answer, so the outcome can be shown at once."""
    method = contact_method_get_for_user(user=request.user, pk=pk)
    result = contact_method_send_test(contact_method=method, actor=request.user)
    if wants_partial(request):
        return render(request, TEST_RESULT_PARTIAL, {"result": result, "method": method})
    level = messages.SUCCESS if result.sent else messages.ERROR
    messages.add_message(
        request, level, f"Test {method.get_kind_display()} {method.address}: {result.detail}"
    )
    return HttpResponseRedirect(reverse("oncall:my_notifications") + "#contact-methods")


@login_required
@require_POST
def notification_rule_create_view(request: HttpRequest) -> HttpResponse:
    form = NotificationRuleForm(request.POST, contact_methods=contact_methods_for_user(user=request.user))
    if form.is_valid():
        data = form.cleaned_data
        try:
            notification_rule_create(
                user=request.user,
                contact_method=data["contact_method"],
                urgency=data["urgency"],
                delay_minutes=data["delay_minutes"],
                actor=request.user,
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Rule added.")
            return _after_settings_change(request)
    return _after_settings_change(request, rule_form=form)


@login_required
@require_POST
def notification_rule_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    rule = notification_rule_get_for_user(user=request.user, pk=pk)
    notification_rule_delete(rule=rule, actor=request.user)
    messages.success(request, "Rule removed.")
    return _after_settings_change(request)


@login_required
@require_POST
def profile_update_view(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            profile_update(
                user=request.user,
                time_zone=data["time_zone"],
                shift_nudges=data["shift_nudges"],
                shift_nudge_minutes=data["shift_nudge_minutes"],
                action_item_digest=data["action_item_digest"],
                actor=request.user,
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            if wants_partial(request):
                return render(request, PROFILE_PARTIAL, {**_notifications_context(request), "saved": True})
            messages.success(request, "Profile saved.")
            return HttpResponseRedirect(reverse("oncall:my_notifications") + "#profile")
    if wants_partial(request):
        return render(request, PROFILE_PARTIAL, _notifications_context(request, profile_form=form))
    return render(request, NOTIFICATIONS_PAGE, _notifications_context(request, profile_form=form), status=400)
