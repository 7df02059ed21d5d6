"""Forms for the chat settings page. They parse; settings_services validates and writes.

Every secret input is a password field that never renders its value: a stored secret is shown
only through selectors.describe_secret / describe_webhook, and a form sent back with an error
asks for the secret again rather than echo it into the page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from incidents.chatops.models import AnnouncementChannel, AnnouncementKind, ChatPlatform, ChatWorkspace
from incidents.chatops.selectors import severity_range
from incidents.chatops.settings_services import PLATFORM_SECRETS, SECRET_FIELDS
from incidents.choices import Severity
from incidents.models import Service, Team

SEVERITY_CHOICES = [(int(value), severity_range(int(value))) for value in Severity.values]


def _secret_field(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=200,
        strip=True,
        help_text=help_text,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


SECRET_HELP = {
    "signing_secret": (
        "Signing secret (Slack)",
        "Basic Information ▸ App Credentials ▸ Signing Secret. Two separated by a space while you rotate.",
    ),
    "bot_token": ("Bot token (Slack)", "OAuth & Permissions ▸ Bot User OAuth Token, xoxb-…"),
    "command_token": ("Command token (Mattermost)", "The token the slash command shows."),
    "outgoing_secret": (
        "Security token (Teams)",
        "The outgoing webhook's security token, shown once when it is created.",
    ),
}


class _DefaultServiceMixin(forms.Form):
    default_service = forms.ModelChoiceField(
        queryset=Service.objects.none(),
        required=False,
        empty_label="None: /incident declare needs a service",
        help_text="Incidents declared from this workspace without a service go here.",
    )

    def _set_services(self, services: QuerySet[Service]) -> None:
        self.fields["default_service"].queryset = services  # type: ignore[attr-defined]


class WorkspaceCreateForm(_DefaultServiceMixin):
    platform = forms.ChoiceField(choices=ChatPlatform.choices)
    external_id = forms.CharField(
        label="Team ID",
        max_length=100,
        help_text="Slack: T0123ABCD (app.slack.com/client/T0123ABCD/…). Mattermost: the team's ID. "
        "Teams: the team's ID (channelData.team.id).",
    )
    name = forms.CharField(max_length=100, required=False, help_text="How you know it, e.g. Acme.")
    field_order = ["platform", "external_id", "name", "default_service", *SECRET_FIELDS]

    def __init__(self, *args: Any, services: QuerySet[Service], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._set_services(services)
        for name in SECRET_FIELDS:
            self.fields[name] = _secret_field(*SECRET_HELP[name])
        self.order_fields(self.field_order)

    def secrets(self) -> dict[str, str]:
        return {name: self.cleaned_data.get(name) or "" for name in SECRET_FIELDS}


class WorkspaceUpdateForm(_DefaultServiceMixin):
    """Only the secrets the workspace's platform uses, each with a "clear" box: a blank input keeps
    what is stored."""

    name = forms.CharField(max_length=100, required=False)

    def __init__(
        self, *args: Any, workspace: ChatWorkspace, services: QuerySet[Service], **kwargs: Any
    ) -> None:
        kwargs.setdefault("prefix", f"ws{workspace.pk}")
        kwargs.setdefault(
            "initial", {"name": workspace.name, "default_service": workspace.default_service_id}
        )
        super().__init__(*args, **kwargs)
        self._set_services(services)
        self.secret_names = PLATFORM_SECRETS[workspace.platform]
        for name in self.secret_names:
            label, help_text = SECRET_HELP[name]
            self.fields[name] = _secret_field(label, f"Leave empty to keep the stored one. {help_text}")
            self.fields[f"clear_{name}"] = forms.BooleanField(
                required=False, label=f"Remove the {label.lower()}"
            )

    def secrets(self) -> dict[str, str]:
        return {name: self.cleaned_data.get(name) or "" for name in self.secret_names}

    def cleared(self) -> set[str]:
        return {name for name in self.secret_names if self.cleaned_data.get(f"clear_{name}")}

    def secret_pairs(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[name], self[f"clear_{name}"]) for name in self.secret_names]


def _scope_choices(teams: QuerySet[Team], services: QuerySet[Service]) -> list[Any]:
    team_choices = [(f"team:{team.pk}", f"All services of {team.name}") for team in teams]
    service_choices = [(f"service:{s.pk}", f"{s.name} only ({s.team.name})") for s in services]
    choices: list[Any] = [("", "Choose…")]
    if team_choices:
        choices.append(("A team", team_choices))
    if service_choices:
        choices.append(("One service", service_choices))
    return choices


class _ChannelFields(forms.Form):
    name = forms.CharField(
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": "#incidents"}),
        help_text="How people know the channel.",
    )
    webhook_url = forms.CharField(
        label="Webhook URL",
        required=False,
        max_length=500,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="Webhooks only. Slack: https://hooks.slack.com/services/…; Mattermost: "
        "https://chat.example.org/hooks/…. Kept secret: only its host and last characters are shown.",
    )
    # Choices from a list read once per page, not a queryset: every channel row has this select.
    workspace = forms.TypedChoiceField(
        label="Slack workspace",
        choices=(),
        coerce=int,
        empty_value=None,
        required=False,
        help_text="Slack channels only: whose bot token posts.",
    )
    channel_id = forms.CharField(
        label="Channel ID",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "C0123ABCD", "autocapitalize": "characters"}),
        help_text="Slack channels only: channel name ▸ About ▸ Channel ID. Invite the bot to the channel.",
    )
    least_severe = forms.TypedChoiceField(
        label="Announce",
        choices=SEVERITY_CHOICES,
        coerce=int,
        initial=Severity.SEV4,
        help_text="Incidents of these severities.",
    )
    create_incident_channels = forms.BooleanField(
        required=False,
        label="Create a Slack channel for each new incident",
        help_text="Slack channels only; the bot token needs channels:manage.",
    )

    def _set_workspaces(self, workspaces: list[ChatWorkspace]) -> None:
        self._workspaces = {workspace.pk: workspace for workspace in workspaces}
        if "workspace" in self.fields:
            self.fields["workspace"].choices = [  # type: ignore[attr-defined]
                ("", "The bot token in SLACK_BOT_TOKEN"),
                *((workspace.pk, workspace.name or workspace.external_id) for workspace in workspaces),
            ]

    def clean_workspace(self) -> ChatWorkspace | None:
        pk = self.cleaned_data.get("workspace")
        return self._workspaces.get(pk) if pk is not None else None


class AnnouncementChannelCreateForm(_ChannelFields):
    scope = forms.ChoiceField(label="Announce incidents of", choices=())
    kind = forms.ChoiceField(label="Post with", choices=AnnouncementKind.choices)
    field_order = [
        "scope",
        "kind",
        "name",
        "webhook_url",
        "workspace",
        "channel_id",
        "least_severe",
        "create_incident_channels",
    ]

    def __init__(
        self,
        *args: Any,
        teams: QuerySet[Team],
        services: QuerySet[Service],
        workspaces: list[ChatWorkspace],
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("prefix", "new")
        super().__init__(*args, **kwargs)
        self._teams, self._services = teams, services
        self.fields["scope"].choices = _scope_choices(teams, services)  # type: ignore[attr-defined]
        self._set_workspaces(workspaces)

    def clean_scope(self) -> tuple[Team | None, Service | None]:
        kind, _, pk = str(self.cleaned_data["scope"]).partition(":")
        # Only what the user manages is offered; anything else is refused as not offered.
        if kind == "team" and pk.isdigit():
            team = self._teams.filter(pk=int(pk)).first()
            if team is not None:
                return team, None
        if kind == "service" and pk.isdigit():
            service = self._services.filter(pk=int(pk)).first()
            if service is not None:
                return None, service
        raise forms.ValidationError("Choose one of the teams or services you manage.")


class AnnouncementChannelUpdateForm(_ChannelFields):
    """The fields of the channel's kind only; a blank webhook URL keeps the stored one."""

    def __init__(
        self, *args: Any, channel: AnnouncementChannel, workspaces: list[ChatWorkspace], **kwargs: Any
    ) -> None:
        kwargs.setdefault("prefix", f"ch{channel.pk}")
        kwargs.setdefault(
            "initial",
            {
                "name": channel.name,
                "workspace": channel.workspace_id,
                "channel_id": channel.channel_id,
                "least_severe": channel.least_severe,
                "create_incident_channels": channel.create_incident_channels,
            },
        )
        super().__init__(*args, **kwargs)
        if channel.kind == AnnouncementKind.SLACK_CHANNEL:
            del self.fields["webhook_url"]
        else:
            for name in ("workspace", "channel_id", "create_incident_channels"):
                del self.fields[name]
            self.fields[
                "webhook_url"
            ].help_text = "Leave empty to keep the stored URL. Kept secret: only its host and last characters are shown."
        self._set_workspaces(workspaces)
