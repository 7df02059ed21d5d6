"""Forms for schedules, layers and overrides. They parse input; oncall.services.schedules writes and
decides what makes sense (who may be on call, how long a shift may be)."""

from __future__ import annotations

import re
import zoneinfo
from functools import cache
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from incidents.choices import Role
from incidents.forms import DateTimeLocalInput
from incidents.models import Team, person_name
from oncall.models import Layer, Schedule, ShiftUnit
from oncall.selectors.schedules import layer_participants
from oncall.services.schedules import ScheduleInvalid

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    # In the tz database, but not zones anyone would pick for a team.
    junk = {"Factory", "localtime", "posixrules"}
    names = sorted(zoneinfo.available_timezones() - junk)
    return [(name, name.replace("_", " ")) for name in names]


def team_responders(team: Team | int) -> QuerySet[Any]:
    """Who may be on call for the team: its members with at least the responder role."""
    team_id = team if isinstance(team, int) else team.pk
    return (
        get_user_model()
        .objects.filter(memberships__team_id=team_id, memberships__role__gte=Role.RESPONDER, is_active=True)
        .order_by("first_name", "last_name", "username")
    )


def apply_service_error(form: forms.Form, error: ScheduleInvalid) -> None:
    """Show a service's refusal next to the field it names, or above the form."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, str(error))


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%H:%M")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class ScheduleForm(forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.none(), empty_label=None)
    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"placeholder": "Payments primary"}))
    time_zone = forms.ChoiceField(
        choices=time_zone_choices,
        initial="UTC",
        help_text="Handoffs and restrictions are wall-clock times in this zone, the same all year.",
    )

    def __init__(self, *args: Any, teams: QuerySet[Team] | None = None, **kwargs: Any) -> None:
        """Without `teams` (editing), the schedule stays in its team and the field is left out."""
        super().__init__(*args, **kwargs)
        if teams is None:
            del self.fields["team"]
        else:
            self.fields["team"].queryset = teams  # type: ignore[attr-defined]


class LayerForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Primary"}),
        help_text="Defaults to “Layer 1”, “Layer 2”…",
    )
    participants = forms.CharField(
        label="Who rotates, in order",
        widget=forms.TextInput(attrs={"placeholder": "riley, sam, morgan", "autocomplete": "off"}),
        help_text="Usernames separated by commas; the first takes the first shift.",
    )
    shift_count = forms.IntegerField(
        label="Shift length", min_value=1, initial=1, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )
    shift_unit = forms.ChoiceField(label="Unit", choices=ShiftUnit.choices, initial=ShiftUnit.WEEKS)
    start_date = forms.DateField(label="Rotation starts on", widget=DateInput())
    handoff_time = forms.TimeField(label="Handoff at", initial="09:00", widget=TimeInput())
    restrict_days = forms.TypedMultipleChoiceField(
        label="Only on",
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave empty to be on call around the clock.",
    )
    restrict_start = forms.TimeField(label="From", required=False, widget=TimeInput())
    restrict_end = forms.TimeField(
        label="Until", required=False, widget=TimeInput(), help_text="Before “From” runs past midnight."
    )

    def __init__(self, *args: Any, schedule: Schedule, layer: Layer | None = None, **kwargs: Any) -> None:
        self.schedule = schedule
        if layer is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(layer)
        super().__init__(*args, **kwargs)
        self.responders = list(team_responders(schedule.team_id))
        self.mixed_restrictions = layer is not None and len(layer.restrictions) > 1

    @staticmethod
    def initial_for(layer: Layer) -> dict[str, Any]:
        windows = layer.restrictions
        initial: dict[str, Any] = {
            "name": layer.name,
            "participants": ", ".join(u.get_username() for u in layer_participants(layer=layer)),
            "shift_count": layer.shift_count,
            "shift_unit": layer.shift_unit,
            "start_date": layer.start_date,
            "handoff_time": layer.handoff_time,
        }
        if windows:
            initial["restrict_days"] = sorted({day for window in windows for day in window["days"]})
            initial["restrict_start"] = windows[0]["start"]
            initial["restrict_end"] = windows[0]["end"]
        return initial

    def clean_participants(self) -> list[Any]:
        names = [name for name in re.split(r"[\s,]+", self.cleaned_data["participants"]) if name]
        if not names:
            raise forms.ValidationError("Name at least one person.")
        users = {
            user.get_username().lower(): user
            for user in get_user_model().objects.filter(username__in=names + [n.lower() for n in names])
        }
        unknown = [name for name in names if name.lower() not in users]
        if unknown:
            raise forms.ValidationError(f"Nobody is called {', '.join(repr(n) for n in unknown)}.")
        return [users[name.lower()] for name in names]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        days = cleaned.get("restrict_days") or []
        start, end = cleaned.get("restrict_start"), cleaned.get("restrict_end")
        if days and (start is None or end is None):
            raise forms.ValidationError(
                "Give the hours of the restriction (from and until), or clear the days."
            )
        if not days and (start is not None or end is not None):
            raise forms.ValidationError("Pick the days the hours apply to, or clear the hours.")
        cleaned["restrictions"] = (
            [{"days": sorted(days), "start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}]
            if days and start is not None and end is not None
            else []
        )
        return cleaned

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "participants": data["participants"],
            "shift_count": data["shift_count"],
            "shift_unit": data["shift_unit"],
            "start_date": data["start_date"],
            "handoff_time": data["handoff_time"],
            "restrictions": data["restrictions"],
        }


class OverrideForm(forms.Form):
    """Datetimes are read in the current zone: the views activate the schedule's zone around it."""

    user = forms.ModelChoiceField(queryset=get_user_model().objects.none(), label="Who is on call")
    starts_at = forms.DateTimeField(label="From", widget=DateTimeLocalInput())
    ends_at = forms.DateTimeField(label="Until", widget=DateTimeLocalInput())

    def __init__(self, *args: Any, schedule: Schedule, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["user"]
        field.queryset = team_responders(schedule.team_id)  # type: ignore[attr-defined]
        field.label_from_instance = person_name  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        starts_at, ends_at = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", "The override must end after it starts.")
        return cleaned


class TakeShiftForm(forms.Form):
    """The shift a "Take this shift" button stands for, as ISO 8601 with an offset."""

    start = forms.DateTimeField(widget=forms.HiddenInput)
    end = forms.DateTimeField(widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end <= start:
            raise forms.ValidationError("That shift ends before it starts.")
        return cleaned
