"""The chat settings page (/settings/chat/): chat workspaces and their secrets (superusers), the
environment's single-workspace settings (superusers), announcement channels (team managers), and
the URLs to paste into Slack, Mattermost and Teams.

Views parse, check permissions, call one service and redirect; a form with errors re-renders the
page with status 400. The two test buttons answer htmx with a small result partial, and a plain
POST with a redirect and a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from incidents.chatops.announcements import post_test_message
from incidents.chatops.forms import (
    SECRET_HELP,
    AnnouncementChannelCreateForm,
    AnnouncementChannelUpdateForm,
    WorkspaceCreateForm,
    WorkspaceUpdateForm,
)
from incidents.chatops.models import AnnouncementChannel, ChatWorkspace
from incidents.chatops.selectors import (
    ChannelRow,
    announcement_channel_get,
    announcement_channel_list_for_user,
    can_manage_announcement_channel,
    channels_by_team,
    describe_secret,
    services_managed_by,
    slack_workspace_choices,
    team_managers_for_user,
    teams_managed_by,
    without_webhook_url,
    workspace_get,
    workspace_list,
)
from incidents.chatops.settings_services import (
    PLATFORM_SECRETS,
    CheckLine,
    announcement_channel_create,
    announcement_channel_delete,
    announcement_channel_set_enabled,
    announcement_channel_update,
    workspace_create,
    workspace_delete,
    workspace_test_connection,
    workspace_update,
)
from incidents.models import Service
from incidents.responses import forbidden, wants_partial
from incidents.services.errors import DomainError
from oncall.channels.base import PermanentError, TransientError

PAGE = "incidents/chat/settings.html"
CHECKS_PARTIAL = "incidents/chat/partials/_checks.html"
ENDPOINTS = ("slack_commands", "slack_interactions", "slack_events", "mattermost_commands", "teams_messages")
ENVIRONMENT = ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "MATTERMOST_COMMAND_TOKEN", "TEAMS_OUTGOING_SECRET")
WORKSPACES_ONLY_SUPERUSERS = "Chat workspaces hold secrets for the whole installation: only a Muster administrator (superuser) can change them."


def endpoint_urls() -> dict[str, str]:
    base = str(settings.MUSTER_BASE_URL).rstrip("/")
    return {name: base + reverse(f"chatops:{name}") for name in ENDPOINTS}


def _settings_url(anchor: str = "") -> str:
    return reverse("chatops:chat_settings") + (f"#{anchor}" if anchor else "")


def _add_error(form: forms.Form, exc: DomainError) -> None:
    field = getattr(exc, "field", None)
    form.add_error(field if field in form.fields else None, str(exc))


# --- the page --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkspaceItem:
    workspace: ChatWorkspace
    secrets: list[tuple[str, str]]  # (label, "set · ends in …4f2a")
    form: WorkspaceUpdateForm


@dataclass(frozen=True)
class ChannelItem:
    row: ChannelRow
    form: AnnouncementChannelUpdateForm


def _all_services() -> Any:
    return Service.objects.select_related("team").order_by("name")


def _page(
    request: HttpRequest,
    *,
    status: int = 200,
    workspace_form: WorkspaceCreateForm | None = None,
    workspace_forms: dict[int, WorkspaceUpdateForm] | None = None,
    channel_form: AnnouncementChannelCreateForm | None = None,
    channel_forms: dict[int, AnnouncementChannelUpdateForm] | None = None,
) -> HttpResponse:
    user: Any = request.user
    workspace_forms = workspace_forms or {}
    channel_forms = channel_forms or {}
    slack_workspaces = list(slack_workspace_choices())
    context: dict[str, Any] = {"is_superuser": user.is_superuser, "endpoints": endpoint_urls()}
    if user.is_superuser:
        services = _all_services()
        context["workspaces"] = [
            WorkspaceItem(
                workspace=workspace,
                secrets=[
                    (SECRET_HELP[name][0], describe_secret(getattr(workspace, name)))
                    for name in PLATFORM_SECRETS[workspace.platform]
                ],
                form=workspace_forms.get(workspace.pk)
                or WorkspaceUpdateForm(workspace=workspace, services=services),
            )
            for workspace in workspace_list()
        ]
        context["workspace_form"] = workspace_form or WorkspaceCreateForm(services=services)
        context["environment"] = [(name, bool(getattr(settings, name, ""))) for name in ENVIRONMENT]
    groups = channels_by_team(announcement_channel_list_for_user(user=user))
    context["channel_groups"] = [
        (
            group.team_name,
            [
                ChannelItem(
                    row=row,
                    form=channel_forms.get(row.channel.pk)
                    or AnnouncementChannelUpdateForm(channel=row.channel, workspaces=slack_workspaces),
                )
                for row in group.rows
            ],
        )
        for group in groups
    ]
    teams = teams_managed_by(user=user)
    services_managed = services_managed_by(user=user)
    context["can_add_channels"] = teams.exists()
    if context["can_add_channels"]:
        context["channel_form"] = channel_form or AnnouncementChannelCreateForm(
            teams=teams, services=services_managed, workspaces=slack_workspaces
        )
    else:
        context["managers"] = list(team_managers_for_user(user=user))
    return render(request, PAGE, context, status=status)


@login_required
@require_GET
def chat_settings(request: HttpRequest) -> HttpResponse:
    return _page(request)


# --- workspaces ------------------------------------------------------------------------------


@never_cache
@login_required
@require_POST
def workspace_create_view(request: HttpRequest) -> HttpResponse:
    if not request.user.is_superuser:
        return forbidden(request, WORKSPACES_ONLY_SUPERUSERS)
    form = WorkspaceCreateForm(request.POST, services=_all_services())
    if form.is_valid():
        data = form.cleaned_data
        try:
            workspace = workspace_create(
                actor=request.user,
                platform=data["platform"],
                external_id=data["external_id"],
                name=data["name"],
                default_service=data["default_service"],
                secrets=form.secrets(),
            )
        except DomainError as exc:
            _add_error(form, exc)
        else:
            messages.success(request, f"Added {workspace}. Use “Test connection” to check it.")
            return HttpResponseRedirect(_settings_url(f"workspace-{workspace.pk}"))
    return _page(request, status=400, workspace_form=form)


@never_cache
@login_required
@require_POST
def workspace_update_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.is_superuser:
        return forbidden(request, WORKSPACES_ONLY_SUPERUSERS)
    workspace = workspace_get(pk=pk)
    form = WorkspaceUpdateForm(request.POST, workspace=workspace, services=_all_services())
    if form.is_valid():
        try:
            workspace_update(
                workspace=workspace,
                actor=request.user,
                name=form.cleaned_data["name"],
                default_service=form.cleaned_data["default_service"],
                secrets=form.secrets(),
                clear=form.cleared(),
            )
        except DomainError as exc:
            _add_error(form, exc)
        else:
            messages.success(request, f"Saved {workspace}.")
            return HttpResponseRedirect(_settings_url(f"workspace-{workspace.pk}"))
    return _page(request, status=400, workspace_forms={workspace.pk: form})


@login_required
@require_POST
def workspace_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.is_superuser:
        return forbidden(request, WORKSPACES_ONLY_SUPERUSERS)
    workspace = workspace_get(pk=pk)
    label = str(workspace)
    workspace_delete(workspace=workspace, actor=request.user)
    messages.success(
        request, f"Removed {label}. Its requests are now checked against the environment's secrets."
    )
    return HttpResponseRedirect(_settings_url("workspaces"))


def _checks_response(
    request: HttpRequest, lines: list[CheckLine], *, title: str, anchor: str
) -> HttpResponse:
    if wants_partial(request):
        return render(request, CHECKS_PARTIAL, {"lines": lines, "title": title})
    levels = {"ok": messages.SUCCESS, "warn": messages.WARNING, "fail": messages.ERROR, "info": messages.INFO}
    for line in lines:
        messages.add_message(request, levels[line.status], f"{title}: {line.text}")
    return HttpResponseRedirect(_settings_url(anchor))


@never_cache
@login_required
@require_POST
def workspace_test_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Asks Slack about the bot token while the person waits, so the answer shows at once."""
    if not request.user.is_superuser:
        return forbidden(request, WORKSPACES_ONLY_SUPERUSERS)
    workspace = workspace_get(pk=pk)
    lines = workspace_test_connection(workspace=workspace, endpoint_urls=endpoint_urls())
    return _checks_response(request, lines, title=f"Test of {workspace}", anchor=f"workspace-{workspace.pk}")


# --- announcement channels -------------------------------------------------------------------


def _manageable_channel(request: HttpRequest, pk: int) -> AnnouncementChannel | HttpResponse:
    channel = announcement_channel_get(pk=pk)
    if not can_manage_announcement_channel(request.user, channel):
        owner = channel.team or (channel.service.team if channel.service else None)
        return forbidden(
            request, f"Changing the announcement channels of {owner} needs the manager role in that team."
        )
    return channel


@never_cache
@login_required
@require_POST
def announcement_channel_create_view(request: HttpRequest) -> HttpResponse:
    teams = teams_managed_by(user=request.user)
    if not teams.exists():
        return forbidden(request, "Adding announcement channels needs the manager role in a team.")
    form = AnnouncementChannelCreateForm(
        request.POST,
        teams=teams,
        services=services_managed_by(user=request.user),
        workspaces=list(slack_workspace_choices()),
    )
    if form.is_valid():
        data = form.cleaned_data
        team, service = data["scope"]
        try:
            channel = announcement_channel_create(
                actor=request.user,
                team=team,
                service=service,
                kind=data["kind"],
                name=data["name"],
                webhook_url=data["webhook_url"],
                workspace=data["workspace"],
                channel_id=data["channel_id"],
                least_severe=data["least_severe"],
                create_incident_channels=data["create_incident_channels"],
            )
        except DomainError as exc:
            _add_error(form, exc)
        else:
            messages.success(request, f"Added {channel.name}. Send a test message to check that it arrives.")
            return HttpResponseRedirect(_settings_url(f"channel-{channel.pk}"))
    elif form.has_error("scope", "invalid_choice"):
        # The select offers only what the user manages: anything else is another team's.
        return forbidden(
            request, "You can add announcement channels only to the teams and services you manage."
        )
    return _page(request, status=400, channel_form=form)


@never_cache
@login_required
@require_POST
def announcement_channel_update_view(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _manageable_channel(request, pk)
    if isinstance(channel, HttpResponse):
        return channel
    form = AnnouncementChannelUpdateForm(
        request.POST, channel=channel, workspaces=list(slack_workspace_choices())
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            announcement_channel_update(
                channel=channel,
                actor=request.user,
                name=data["name"],
                webhook_url=data.get("webhook_url") or "",
                workspace=data.get("workspace"),
                channel_id=data.get("channel_id") or "",
                least_severe=data["least_severe"],
                create_incident_channels=bool(data.get("create_incident_channels")),
            )
        except DomainError as exc:
            _add_error(form, exc)
        else:
            messages.success(request, f"Saved {channel.name}.")
            return HttpResponseRedirect(_settings_url(f"channel-{channel.pk}"))
    return _page(request, status=400, channel_forms={channel.pk: form})


@login_required
@require_POST
def announcement_channel_enabled_view(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _manageable_channel(request, pk)
    if isinstance(channel, HttpResponse):
        return channel
    enabled = request.POST.get("enabled") == "1"
    announcement_channel_set_enabled(channel=channel, actor=request.user, enabled=enabled)
    if enabled:
        messages.success(request, f"{channel.name} announces incidents again.")
    else:
        messages.success(
            request, f"{channel.name} is paused: nothing is announced there until you turn it on."
        )
    return HttpResponseRedirect(_settings_url(f"channel-{channel.pk}"))


@login_required
@require_POST
def announcement_channel_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _manageable_channel(request, pk)
    if isinstance(channel, HttpResponse):
        return channel
    name = channel.name
    announcement_channel_delete(channel=channel, actor=request.user)
    messages.success(request, f"Removed {name}.")
    return HttpResponseRedirect(_settings_url("channels"))


@never_cache
@login_required
@require_POST
def announcement_channel_test_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Posts for real and waits for Slack's or Mattermost's answer, to show it at once."""
    channel = _manageable_channel(request, pk)
    if isinstance(channel, HttpResponse):
        return channel
    try:
        post_test_message(channel=channel, by=request.user)
    except (TransientError, PermanentError) as exc:
        lines = [CheckLine("fail", f"Not sent: {without_webhook_url(str(exc), channel)}")]
    else:
        lines = [CheckLine("ok", f"Sent. Look for the test message in {channel.name}.")]
    return _checks_response(
        request, lines, title=f"Test message to {channel.name}", anchor=f"channel-{channel.pk}"
    )
