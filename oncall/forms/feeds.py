"""The form that picks what a new calendar feed shows: my shifts, or one schedule the person can see."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from oncall.models import Schedule

MY_SHIFTS = "mine"


class CalendarFeedForm(forms.Form):
    source = forms.ChoiceField(label="Show", choices=())

    def __init__(self, *args: Any, schedules: QuerySet[Schedule], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schedules = {str(schedule.pk): schedule for schedule in schedules}
        field = self.fields["source"]
        field.choices = [  # type: ignore[attr-defined]
            (MY_SHIFTS, "My shifts, in every schedule"),
            *(
                (pk, f"Everyone on {schedule.name} ({schedule.team.name})")
                for pk, schedule in self._schedules.items()
            ),
        ]

    def clean_source(self) -> Schedule | None:
        value = self.cleaned_data["source"]
        return None if value == MY_SHIFTS else self._schedules[value]
