"""Runbook API serializers: input serializers parse one service call each, output ones represent.

Bad input is a 400 naming the field: the checks the services would answer with a 409 (labels,
unknown services, the review interval) are made here first, with the same wording.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.api.serializers import absolute_url
from incidents.models import Membership, Service, Team, person_name
from incidents.services import DomainError
from runbooks.markdown import render_markdown
from runbooks.models import Runbook, RunbookRevision
from runbooks.services.runbooks import MAX_REVIEW_INTERVAL_DAYS, clean_labels

# --- output ---------------------------------------------------------------------------------


class RunbookSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="The runbook's page.")
    team: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    services: serializers.SlugRelatedField[Service] = serializers.SlugRelatedField(
        slug_field="slug", many=True, read_only=True
    )
    current_revision = serializers.SerializerMethodField(help_text="Number of the latest revision.")
    last_reviewed_by = serializers.SerializerMethodField()
    review_due_at = serializers.SerializerMethodField(help_text="When the next review is due.")
    review_overdue = serializers.SerializerMethodField()

    class Meta:
        model = Runbook
        fields = [
            "slug",
            "title",
            "url",
            "team",
            "services",
            "labels",
            "review_interval_days",
            "current_revision",
            "last_reviewed_at",
            "last_reviewed_by",
            "review_due_at",
            "review_overdue",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_url(self, runbook: Runbook) -> str:
        return absolute_url(runbook)

    def get_current_revision(self, runbook: Runbook) -> int | None:
        return runbook.current_revision.number if runbook.current_revision else None

    def get_last_reviewed_by(self, runbook: Runbook) -> str | None:
        user = runbook.last_reviewed_by
        return user.get_username() if user is not None else None

    def get_review_overdue(self, runbook: Runbook) -> bool:
        return runbook.review_overdue()

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_review_due_at(self, runbook: Runbook) -> str:
        return str(serializers.DateTimeField().to_representation(runbook.review_due_at()))


class RunbookDetailSerializer(RunbookSerializer):
    body = serializers.SerializerMethodField(help_text="The current revision's Markdown.")
    html = serializers.SerializerMethodField(help_text="The current revision, rendered and sanitised.")

    class Meta(RunbookSerializer.Meta):
        fields = [*RunbookSerializer.Meta.fields, "body", "html"]
        read_only_fields = fields

    def get_body(self, runbook: Runbook) -> str:
        return runbook.current_revision.body if runbook.current_revision else ""

    def get_html(self, runbook: Runbook) -> str:
        return render_markdown(self.get_body(runbook))


class RevisionSummarySerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = RunbookRevision
        fields = ["number", "note", "author", "created_at", "restored_from"]
        read_only_fields = fields

    def get_author(self, revision: RunbookRevision) -> str | None:
        return person_name(revision.author) if revision.author is not None else None


class RevisionSerializer(RevisionSummarySerializer):
    html = serializers.SerializerMethodField(help_text="The revision, rendered and sanitised.")

    class Meta(RevisionSummarySerializer.Meta):
        fields = [*RevisionSummarySerializer.Meta.fields, "body", "html"]
        read_only_fields = fields

    def get_html(self, revision: RunbookRevision) -> str:
        return render_markdown(revision.body)


class DiffRowSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["equal", "insert", "delete", "replace"])
    old_number = serializers.IntegerField(allow_null=True)
    old_text = serializers.CharField()
    new_number = serializers.IntegerField(allow_null=True)
    new_text = serializers.CharField()


class DiffSerializer(serializers.Serializer):
    from_revision = serializers.IntegerField()
    to_revision = serializers.IntegerField()
    unified = serializers.CharField(help_text="A unified diff; empty when the texts are the same.")
    rows = DiffRowSerializer(many=True, help_text="Every line of both texts, aligned side by side.")


class StaleRevisionSerializer(serializers.Serializer):
    detail = serializers.CharField()
    latest_revision = serializers.IntegerField(help_text="The revision to base the next attempt on.")
    base_revision = serializers.IntegerField()
    diff = serializers.CharField(help_text="Unified diff from the latest revision to the refused text.")


# --- input ----------------------------------------------------------------------------------


@extend_schema_field(
    {
        "oneOf": [
            {"type": "object", "additionalProperties": {"type": "string"}},
            {"type": "string", "example": "alertname=PgReplicationLag, team=db"},
        ],
        "description": "Alert labels this runbook is for: an object, or 'name=value, name2=value2'.",
    }
)
class LabelsField(serializers.Field):
    def to_internal_value(self, data: Any) -> dict[str, str]:
        if data is None:
            return {}
        try:
            return clean_labels(data)
        except DomainError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def to_representation(self, value: Any) -> Any:
        return value


class ServiceSlugsField(serializers.ListField):
    """Service slugs; every unknown one is named in the error."""

    child = serializers.SlugField()

    def to_internal_value(self, data: Any) -> list[Service]:
        slugs = list(dict.fromkeys(super().to_internal_value(data)))
        found = {service.slug: service for service in Service.objects.filter(slug__in=slugs)}
        unknown = [slug for slug in slugs if slug not in found]
        if unknown:
            raise serializers.ValidationError(f"No service {', '.join(map(repr, unknown))}.")
        return [found[slug] for slug in slugs]


class _RunbookMetadataInput(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    services = ServiceSlugsField(required=False, help_text="Slugs of the services this runbook covers.")
    labels = LabelsField(required=False)
    review_interval_days = serializers.IntegerField(
        min_value=1, max_value=MAX_REVIEW_INTERVAL_DAYS, required=False
    )


class RunbookCreateSerializer(_RunbookMetadataInput):
    body = serializers.CharField(help_text="Markdown; becomes revision 1.", trim_whitespace=False)
    team = serializers.SlugField(
        required=False,
        help_text="Owner team's slug; may be left out by someone who belongs to exactly one team.",
    )
    slug = serializers.SlugField(
        required=False, max_length=200, help_text="Defaults to one made from the title."
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")

    def validate_team(self, slug: str) -> Team:
        team = Team.objects.filter(slug=slug).first()
        if team is None:
            raise serializers.ValidationError(f"No team {slug!r}.")
        return team

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "team" not in attrs:
            user = self.context["request"].user
            team_ids = list(Membership.objects.filter(user=user).values_list("team_id", flat=True)[:2])
            if len(team_ids) != 1:
                raise serializers.ValidationError(
                    {"team": ["Name the owner team by its slug: you are not in exactly one team."]}
                )
            attrs["team"] = Team.objects.get(pk=team_ids[0])
        return attrs


class RunbookUpdateSerializer(_RunbookMetadataInput):
    """PATCH: every field optional; the text changes by posting a revision."""

    title = serializers.CharField(max_length=200, required=False)


class RevisionCreateSerializer(serializers.Serializer):
    body = serializers.CharField(help_text="Markdown.", trim_whitespace=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    base_revision = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="The revision your text started from; a newer one makes the request a 409.",
    )


class DiffQuerySerializer(serializers.Serializer):
    # `from` is a Python keyword, so the query parameters are mapped by hand in the view.
    from_revision = serializers.IntegerField(min_value=1)
    to_revision = serializers.IntegerField(min_value=1)
