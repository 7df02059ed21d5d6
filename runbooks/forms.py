"""Forms parse and validate runbook input; runbooks.services does the writing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from incidents.models import Service, Team
from incidents.services import DomainError
from runbooks.models import DEFAULT_REVIEW_INTERVAL_DAYS, Runbook

LABELS_HELP = "Alert labels this runbook is for, e.g. alertname=PgReplicationLag, team=db."
MAX_IMPORT_BYTES = 512 * 1024


def labels_as_text(labels: dict[str, str] | None) -> str:
    return ", ".join(f"{key}={value}" for key, value in (labels or {}).items())


class LabelsField(forms.CharField):
    """`k=v, k2=v2` in the form, a dict once cleaned (parsed by the same function as the API)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Alert labels")
        kwargs.setdefault("help_text", LABELS_HELP)
        kwargs.setdefault("widget", forms.TextInput(attrs={"placeholder": "alertname=PgReplicationLag"}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> dict[str, str]:  # type: ignore[override]
        from runbooks.services import parse_labels

        text = super().to_python(value)
        try:
            return dict(parse_labels(text)) if text else {}
        except DomainError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def prepare_value(self, value: Any) -> Any:
        return labels_as_text(value) if isinstance(value, dict) else value


class _RunbookMetadataForm(forms.Form):
    title = forms.CharField(
        max_length=200, widget=forms.TextInput(attrs={"placeholder": "Postgres replication lag"})
    )
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
        help_text="Incidents on these services show this runbook.",
    )
    labels = LabelsField()
    review_interval_days = forms.IntegerField(
        label="Review every (days)",
        min_value=1,
        max_value=3650,
        initial=DEFAULT_REVIEW_INTERVAL_DAYS,
    )

    def __init__(self, *args: Any, services: QuerySet[Service], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["services"].queryset = services  # type: ignore[attr-defined]


class RunbookCreateForm(_RunbookMetadataForm):
    team = forms.ModelChoiceField(queryset=Team.objects.none(), label="Owner team")
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 18, "class": "mono"}),
        help_text="Markdown: headings, tables, fenced code and - [ ] checklist items.",
    )
    note = forms.CharField(max_length=300, required=False, label="Change note", initial="First version")

    field_order = ["title", "team", "services", "labels", "review_interval_days", "body", "note"]

    def __init__(self, *args: Any, teams: QuerySet[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams  # type: ignore[attr-defined]
        if teams.count() == 1:
            self.fields["team"].initial = teams.first()


class RunbookEditForm(_RunbookMetadataForm):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 22, "class": "mono"}),
        help_text="Markdown. Saving adds a new revision; earlier ones are kept.",
    )
    note = forms.CharField(
        max_length=300,
        required=False,
        label="Change note",
        widget=forms.TextInput(attrs={"placeholder": "What changed, and why"}),
    )
    # The revision the text was based on: saving on top of a newer one is refused, never merged.
    base_number = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    @classmethod
    def initial_for(cls, runbook: Runbook) -> dict[str, Any]:
        current = runbook.current_revision
        return {
            "title": runbook.title,
            "services": list(runbook.services.all()),
            "labels": runbook.labels,
            "review_interval_days": runbook.review_interval_days,
            "body": current.body if current else "",
            "base_number": current.number if current else 0,
        }


class RunbookImportForm(forms.Form):
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        label="Owner team",
        help_text="Used for new runbooks; an existing runbook with the same slug gets a new revision.",
    )
    file = forms.FileField(
        label="Markdown file",
        help_text="A .md file; front matter may set title, slug, services, labels and review_interval_days.",
        widget=forms.ClearableFileInput(attrs={"accept": ".md,.markdown,text/markdown"}),
    )

    def __init__(self, *args: Any, teams: QuerySet[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams  # type: ignore[attr-defined]
        if teams.count() == 1:
            self.fields["team"].initial = teams.first()

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_IMPORT_BYTES // 1024} KiB.")
        try:
            return str(upload.read().decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("The file is not UTF-8 text.") from exc


class DiffPickForm(forms.Form):
    """`?from=N&to=M&view=split|unified` on the diff page."""

    from_number = forms.IntegerField(min_value=1)
    to_number = forms.IntegerField(min_value=1)
    view = forms.ChoiceField(choices=[("split", "Side by side"), ("unified", "Unified")], required=False)

    @classmethod
    def from_query(cls, query: Any) -> DiffPickForm:
        return cls(
            {"from_number": query.get("from"), "to_number": query.get("to"), "view": query.get("view", "")}
        )
