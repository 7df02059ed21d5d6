"""Forms parse and validate input; the service functions in incidents.services do the writing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from incidents.choices import IncidentRoleKind, IntegrationKind, Role, Severity, Urgency
from incidents.models import Incident, Service, person_name
from incidents.services.heartbeat import (
    MAX_INTERVAL_MINUTES,
    MIN_INTERVAL_MINUTES,
    heartbeat_interval_problem,
)


class DateTimeLocalInput(forms.DateTimeInput):
    """The browser's native date-and-time picker; its value has no zone, so it is read in TIME_ZONE."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


class IncidentDeclareForm(forms.Form):
    service = forms.ModelChoiceField(queryset=Service.objects.none(), empty_label=None)
    title = forms.CharField(
        max_length=1024,
        widget=forms.TextInput(attrs={"placeholder": "Checkout returns 502 for some customers"}),
    )
    severity = forms.TypedChoiceField(choices=Severity.choices, coerce=int, initial=Severity.SEV3)
    urgency = forms.ChoiceField(
        choices=Urgency.choices,
        initial=Urgency.HIGH,
        help_text="High urgency pages the on-call responder now; low waits for working hours.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    impact_started_at = forms.DateTimeField(
        required=False,
        label="Impact started",
        widget=DateTimeLocalInput(),
        help_text="When customers were first affected, if earlier than now.",
    )

    def __init__(self, *args: Any, services: QuerySet[Service], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = services  # type: ignore[attr-defined]


class SeverityForm(forms.Form):
    severity = forms.TypedChoiceField(choices=Severity.choices, coerce=int)


class ResolveForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "What fixed it?"}),
    )


class NoteForm(forms.Form):
    text = forms.CharField(
        label="Note",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "What are you seeing or trying?"}),
    )


class RoleAssignForm(forms.Form):
    role = forms.ChoiceField(choices=IncidentRoleKind.choices)
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), label="Person", empty_label="Choose a person…"
    )

    def __init__(self, *args: Any, incident: Incident, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Anyone who may act on the incident may hold a role on it; viewers only watch.
        members = (
            get_user_model()
            .objects.filter(
                memberships__team_id=incident.service.team_id,
                memberships__role__gte=Role.RESPONDER,
            )
            .order_by("first_name", "last_name", "username")
        )
        field = self.fields["user"]
        field.queryset = members  # type: ignore[attr-defined]
        field.label_from_instance = person_name  # type: ignore[attr-defined]


class IntegrationCreateForm(forms.Form):
    kind = forms.ChoiceField(choices=IntegrationKind.choices, label="Sender")
    name = forms.CharField(
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Production Alertmanager"}),
        help_text="Defaults to the sender's name.",
    )
    heartbeat_interval_minutes = forms.IntegerField(
        required=False,
        min_value=MIN_INTERVAL_MINUTES,
        max_value=MAX_INTERVAL_MINUTES,
        label="Ping at least every (minutes)",
        widget=forms.NumberInput(attrs={"placeholder": "60"}),
        help_text="Heartbeat monitors only: an incident opens when no ping arrives for this long.",
    )
    # Generic webhooks only: where the fields sit in the sender's JSON. Empty means the defaults.
    title_path = forms.CharField(
        max_length=200,
        required=False,
        label="Title path",
        widget=forms.TextInput(attrs={"placeholder": "title"}),
    )
    severity_path = forms.CharField(
        max_length=200,
        required=False,
        label="Severity path",
        widget=forms.TextInput(attrs={"placeholder": "severity"}),
    )
    dedup_key_path = forms.CharField(
        max_length=200,
        required=False,
        label="Dedup key path",
        widget=forms.TextInput(attrs={"placeholder": "id"}),
    )
    action_path = forms.CharField(
        max_length=200,
        required=False,
        label="Status path",
        widget=forms.TextInput(attrs={"placeholder": "status"}),
    )

    WEBHOOK_PATHS = ("title_path", "severity_path", "dedup_key_path", "action_path")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        paths = {name: cleaned[name].strip() for name in self.WEBHOOK_PATHS if cleaned.get(name, "").strip()}
        if paths and cleaned.get("kind") != IntegrationKind.WEBHOOK:
            raise forms.ValidationError("JSON paths apply only to generic webhook integrations.")
        cleaned["config"] = paths
        if "kind" in cleaned and "heartbeat_interval_minutes" in cleaned:
            problem = heartbeat_interval_problem(
                kind=cleaned["kind"], minutes=cleaned["heartbeat_interval_minutes"]
            )
            if problem:
                self.add_error("heartbeat_interval_minutes", problem)
        return cleaned


class MaintenanceWindowForm(forms.Form):
    starts_at = forms.DateTimeField(label="Starts", widget=DateTimeLocalInput())
    ends_at = forms.DateTimeField(label="Ends", widget=DateTimeLocalInput())
    reason = forms.CharField(
        max_length=255,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Database upgrade"}),
    )
