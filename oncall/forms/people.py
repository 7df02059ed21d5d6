"""Forms for escalation policies and a person's notification settings. They parse and offer only
allowed choices; oncall.services.people validates again and writes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from incidents.choices import Urgency
from incidents.models import Service, Team, person_name
from oncall.models import ContactKind, ContactMethod, EscalationPolicy
from oncall.selectors.people import ChannelStatus, step_target_choices
from oncall.services.people import (
    MAX_REPEAT_COUNT,
    MAX_RULE_DELAY_MINUTES,
    MAX_SHIFT_NUDGE_MINUTES,
    MAX_STEP_DELAY_MINUTES,
    StepSpec,
    time_zone_names,
)


class PersonChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return person_name(obj)


class ScheduleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} (whoever is on call)"


class TeamChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"All responders in {obj.name}"


class EscalationPolicyForm(forms.Form):
    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"placeholder": "Primary on call"}))
    repeat_count = forms.IntegerField(
        label="Repeat",
        min_value=0,
        max_value=MAX_REPEAT_COUNT,
        initial=0,
        help_text="How many more times to run all the steps when nobody acknowledges.",
    )


class EscalationPolicyCreateForm(EscalationPolicyForm):
    team = forms.ModelChoiceField(queryset=Team.objects.none(), empty_label=None)

    field_order = ["name", "team", "repeat_count"]

    def __init__(self, *args: Any, teams: QuerySet[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams  # type: ignore[attr-defined]


class StepForm(forms.Form):
    delay_minutes = forms.IntegerField(
        label="Then wait (minutes)",
        min_value=1,
        max_value=MAX_STEP_DELAY_MINUTES,
        initial=10,
        help_text="Before the next step, if nobody has acknowledged.",
    )
    users = PersonChoiceField(
        label="People", queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )
    schedules = ScheduleChoiceField(
        label="Schedules", queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )
    teams = TeamChoiceField(label="Teams", queryset=None, required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, policy: EscalationPolicy, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, queryset in step_target_choices(policy=policy, user=user).items():
            self.fields[name].queryset = queryset  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("users") or data.get("schedules") or data.get("teams")):
            raise forms.ValidationError("Choose at least one person, schedule or team to notify.")
        return data

    def spec(self) -> StepSpec:
        data = self.cleaned_data
        return StepSpec(
            delay_minutes=data["delay_minutes"],
            users=list(data["users"]),
            schedules=list(data["schedules"]),
            teams=list(data["teams"]),
        )


class StepMoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "Up"), ("down", "Down")])


class ServiceAssignForm(forms.Form):
    service = forms.ModelChoiceField(
        queryset=Service.objects.none(), empty_label="Choose a service…", label="Service"
    )

    def __init__(self, *args: Any, services: QuerySet[Service], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = services  # type: ignore[attr-defined]
        self.fields["service"].label_from_instance = _service_label  # type: ignore[attr-defined]


def _service_label(service: Service) -> str:
    if service.escalation_policy is None:
        return f"{service.name} (no policy yet)"
    return f"{service.name} (now: {service.escalation_policy.name})"


class ContactMethodForm(forms.Form):
    kind = forms.ChoiceField(label="Channel", choices=ContactKind.choices)
    address = forms.CharField(max_length=500)
    label = forms.CharField(
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Work phone"}),
    )

    def __init__(self, *args: Any, channels: dict[str, ChannelStatus], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Unconfigured channels stay selectable (an admin may configure them later), but say so.
        self.fields["kind"].choices = [(kind, status.display) for kind, status in channels.items()]  # type: ignore[attr-defined]
        self.fields["address"].help_text = (
            "Email address; mobile number with country code (+44 7700 900123); ntfy topic; "
            "Slack member ID (U…); or webhook URL."
        )


class ContactMethodEditForm(forms.Form):
    address = forms.CharField(max_length=500)
    label = forms.CharField(max_length=100, required=False)


class NotificationRuleForm(forms.Form):
    urgency = forms.ChoiceField(choices=Urgency.choices, initial=Urgency.HIGH)
    contact_method = forms.ModelChoiceField(
        queryset=ContactMethod.objects.none(), empty_label=None, label="Notify by"
    )
    delay_minutes = forms.IntegerField(
        label="After (minutes)",
        min_value=0,
        max_value=MAX_RULE_DELAY_MINUTES,
        initial=0,
        help_text="Minutes after you are paged; 0 is at once.",
    )

    def __init__(self, *args: Any, contact_methods: QuerySet[ContactMethod], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact_method"].queryset = contact_methods  # type: ignore[attr-defined]
        self.fields["contact_method"].label_from_instance = _contact_label  # type: ignore[attr-defined]


def _contact_label(contact_method: ContactMethod) -> str:
    text = f"{contact_method.get_kind_display()}: {contact_method.address}"
    return f"{text} ({contact_method.label})" if contact_method.label else text


class ProfileForm(forms.Form):
    time_zone = forms.ChoiceField(
        choices=(), help_text="Shift times and reminder emails are shown in this zone."
    )
    shift_nudges = forms.BooleanField(required=False, label="Remind me before my on-call shifts start")
    shift_nudge_minutes = forms.IntegerField(
        label="Remind me (minutes before)", min_value=1, max_value=MAX_SHIFT_NUDGE_MINUTES
    )
    action_item_digest = forms.BooleanField(
        required=False, label="Email me a weekly digest of my open action items"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(name, name) for name in sorted(time_zone_names())]  # type: ignore[attr-defined]
