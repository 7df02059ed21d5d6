"""Forms parse and validate postmortem and action-item input; postmortems.services does the writing
(and checks the state rules again)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, QuerySet

from incidents.models import Membership, Team, person_name
from postmortems.choices import ActionItemKind, ActionItemPriority, ActionItemStatus, SectionKey

MAX_SECTION_CHARS = 100_000
MAX_COMMENT_CHARS = 5_000
MAX_TIMELINE_TEXT_CHARS = 2_000


def people_for_team(team: Team | int) -> QuerySet[Any]:
    """Active people, the team's members first: owners and reviewers are usually in the team, but
    anyone may be asked (a database expert reviewing a checkout postmortem)."""
    User = get_user_model()
    team_id = team if isinstance(team, int) else team.pk
    in_team = Membership.objects.filter(team_id=team_id, user=OuterRef("pk"))
    return (
        User.objects.filter(is_active=True)
        .annotate(in_team=Exists(in_team))
        .order_by("-in_team", "first_name", "last_name", "username")
    )


def people_in_teams(teams: list[Team]) -> list[Any]:
    """Whom the lists' owner filter offers: active members of the viewer's teams (one query)."""
    if not teams:
        return []
    return list(
        get_user_model()
        .objects.filter(memberships__team__in=teams, is_active=True)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def person_label(user: Any) -> str:
    name = person_name(user)
    return name if name == user.get_username() else f"{name} ({user.get_username()})"


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return person_label(obj)


class PersonMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return person_label(obj)


class DateInput(forms.DateInput):
    input_type = "date"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


# --- postmortems ----------------------------------------------------------------------------


class PostmortemSettingsForm(forms.Form):
    title = forms.CharField(max_length=200)
    owner = PersonChoiceField(
        queryset=None,
        required=False,
        empty_label="Nobody yet",
        help_text="Writes it, gathers the reviews and may publish it.",
    )
    due_date = forms.DateField(required=False, label="Due date", widget=DateInput)

    def __init__(self, *args: Any, team: Team | int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = people_for_team(team)  # type: ignore[attr-defined]


class SectionForm(forms.Form):
    body = forms.CharField(
        required=False,
        max_length=MAX_SECTION_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10, "class": "mono"}),
        help_text="Markdown: lists, **bold**, `code`, tables and links.",
    )


class TimelineEntryForm(forms.Form):
    """One change to an entry: its text, whether the postmortem shows it, or (for a hand-written
    entry) deleting it. `part` says which, so a checkbox left unticked is not mistaken for a text
    edit."""

    TEXT = "text"
    INCLUDED = "included"
    DELETE = "delete"

    part = forms.ChoiceField(choices=[(TEXT, "Text"), (INCLUDED, "Shown"), (DELETE, "Delete")])
    text = forms.CharField(required=False, max_length=MAX_TIMELINE_TEXT_CHARS)
    included = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("part") == self.TEXT and not data.get("text"):
            self.add_error("text", "Write what happened, or untick the entry to leave it out.")
        return data


class TimelineAddForm(forms.Form):
    occurred_at = forms.DateTimeField(
        label="When",
        widget=DateTimeLocalInput,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
    )
    text = forms.CharField(
        label="What happened",
        max_length=MAX_TIMELINE_TEXT_CHARS,
        widget=forms.TextInput(attrs={"placeholder": "Customer support reported failed payments"}),
    )


class ReviewRequestForm(forms.Form):
    team_members = PersonMultipleChoiceField(
        queryset=None, required=False, label="From the team", widget=forms.CheckboxSelectMultiple
    )
    others = forms.CharField(
        required=False,
        max_length=500,
        label="Anyone else",
        help_text="Usernames, separated by commas, e.g. someone from another team.",
        widget=forms.TextInput(attrs={"placeholder": "dana, li.wei", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, team: Team | int, exclude_ids: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        team_id = team if isinstance(team, int) else team.pk
        User = get_user_model()
        members = User.objects.filter(is_active=True, memberships__team_id=team_id).exclude(
            pk__in=exclude_ids
        )
        self.fields["team_members"].queryset = members.order_by(  # type: ignore[attr-defined]
            "first_name", "last_name", "username"
        )

    def clean_others(self) -> list[Any]:
        names = [name.strip() for name in self.cleaned_data["others"].replace(";", ",").split(",")]
        User = get_user_model()
        people, missing = [], []
        for name in filter(None, names):
            user = User.objects.filter(username__iexact=name, is_active=True).first()
            if user is None:
                missing.append(name)
            else:
                people.append(user)
        if missing:
            raise forms.ValidationError(f"Nobody who can sign in is called {', '.join(missing)}.")
        return people

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        people: dict[int, Any] = {}
        for user in [*data.get("team_members", []), *data.get("others", [])]:
            people[user.pk] = user
        if not people and not self.errors:
            raise forms.ValidationError("Choose at least one person to review it.")
        data["reviewers"] = list(people.values())
        return data


class CommentForm(forms.Form):
    section = forms.ChoiceField(choices=SectionKey.choices, widget=forms.HiddenInput)
    body = forms.CharField(
        max_length=MAX_COMMENT_CHARS,
        label="Comment",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Ask a question or suggest a change"}),
    )


# --- action items ---------------------------------------------------------------------------


def _check_tracker_url(value: str) -> str:
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise forms.ValidationError("Paste the full http(s) link to the Jira, Linear or GitHub issue.")
    return value


class ActionItemForm(forms.Form):
    title = forms.CharField(
        max_length=200, widget=forms.TextInput(attrs={"placeholder": "Alert on checkout p99 latency"})
    )
    description = forms.CharField(required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 3}))
    owner = PersonChoiceField(queryset=None, required=False, empty_label="Nobody yet")
    due_date = forms.DateField(required=False, label="Due date", widget=DateInput)
    priority = forms.ChoiceField(choices=ActionItemPriority.choices, initial=ActionItemPriority.MEDIUM)
    kind = forms.ChoiceField(
        choices=ActionItemKind.choices,
        initial=ActionItemKind.PREVENT,
        help_text="Prevent it happening again, detect it sooner, mitigate it faster, or fix a process.",
    )
    tracker_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="Tracker link",
        help_text="Jira, Linear or GitHub issue, if the work is tracked there.",
        widget=forms.URLInput(attrs={"placeholder": "https://jira.example.com/browse/PAY-123"}),
    )

    def __init__(self, *args: Any, team: Team | int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = people_for_team(team)  # type: ignore[attr-defined]

    def clean_tracker_url(self) -> str:
        return _check_tracker_url(self.cleaned_data["tracker_url"])

    def item_fields(self) -> dict[str, Any]:
        """The cleaned fields as action_item_create / action_item_update take them."""
        return {name: self.cleaned_data[name] for name in self.fields}


class ActionItemStatusForm(forms.Form):
    status = forms.ChoiceField(choices=ActionItemStatus.choices)
    reason = forms.CharField(required=False, max_length=5_000, label="Why not")
    verification = forms.CharField(required=False, max_length=5_000, label="How we know it works")
