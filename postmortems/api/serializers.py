"""Postmortem and action-item API serializers: input serializers parse one service call each,
output serializers only represent.

Bad input is a 400 naming the field: lengths, choices, dates, links and usernames are checked here,
with the services' limits, so that only the state rules (published is read-only, allowed status
changes) come back from the services as a 409.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.api.serializers import NamedChoiceField, UserSummarySerializer, absolute_url
from incidents.choices import IncidentStatus
from postmortems.blameless import BlamelessWarning, blameless_warnings
from postmortems.choices import (
    SECTION_PROMPTS,
    ActionItemKind,
    ActionItemPriority,
    ActionItemStatus,
    PostmortemStatus,
    SectionKey,
)
from postmortems.models import (
    ActionItem,
    Postmortem,
    PostmortemReviewer,
    PostmortemSection,
    ReviewComment,
    TimelineEntry,
)
from postmortems.selectors import incident_action_items, incident_metrics, postmortem_timeline
from postmortems.services import SECTION_MAX_LENGTH
from postmortems.services.action_items import DESCRIPTION_MAX_LENGTH, TRACKER_URL_MAX_LENGTH
from postmortems.services.reviews import COMMENT_MAX_LENGTH
from runbooks.markdown import render_markdown

TITLE_MAX_LENGTH = 200
# An imported entry carries its incident event's text, and a note may be this long.
TIMELINE_TEXT_MAX_LENGTH = 10_000
REASON_MAX_LENGTH = 5_000
MAX_REVIEWERS = 50


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def _today(serializer: serializers.Field | serializers.BaseSerializer) -> date:
    # The view puts "today where the caller is" in the context: overdue is judged by their date.
    today: date = serializer.context["today"]
    return today


# --- output: postmortems --------------------------------------------------------------------


class BlamelessWarningSerializer(serializers.Serializer):
    phrase = serializers.CharField(help_text="The words as written.")
    explanation = serializers.CharField(help_text="Why it reads as blame, and what to write instead.")
    start = serializers.IntegerField(help_text="Offset of the phrase in the body.")
    end = serializers.IntegerField()


class SectionSerializer(serializers.ModelSerializer):
    key = NamedChoiceField(SectionKey, read_only=True)
    title = serializers.CharField(source="get_key_display", read_only=True)
    prompt = serializers.SerializerMethodField(help_text="What the section asks the writer.")
    html = serializers.SerializerMethodField(help_text="The body, rendered and sanitised.")
    warnings = serializers.SerializerMethodField(
        help_text="Blaming phrases in the body. Advice only: they never stop a save."
    )
    updated_by = serializers.SerializerMethodField()

    class Meta:
        model = PostmortemSection
        fields = ["key", "title", "prompt", "body", "html", "warnings", "updated_at", "updated_by"]
        read_only_fields = fields

    def get_prompt(self, section: PostmortemSection) -> str:
        return SECTION_PROMPTS[section.key]

    def get_html(self, section: PostmortemSection) -> str:
        return render_markdown(section.body)

    @extend_schema_field(BlamelessWarningSerializer(many=True))
    def get_warnings(self, section: PostmortemSection) -> Any:
        given: list[BlamelessWarning] | None = self.context.get("warnings")
        found = given if given is not None else blameless_warnings(section.body)
        return BlamelessWarningSerializer(found, many=True).data

    def get_updated_by(self, section: PostmortemSection) -> str | None:
        return _username(section.updated_by)


class TimelineEntrySerializer(serializers.ModelSerializer):
    imported = serializers.SerializerMethodField(help_text="Copied from the incident's timeline.")
    edited = serializers.BooleanField(read_only=True, help_text="Imported, and its text changed since.")
    kind = serializers.CharField(
        read_only=True, help_text="The incident event's kind; empty if written here."
    )

    class Meta:
        model = TimelineEntry
        fields = [
            "id",
            "occurred_at",
            "text",
            "included",
            "kind",
            "actor",
            "imported",
            "edited",
            "source_text",
            "created_at",
        ]
        read_only_fields = fields

    def get_imported(self, entry: TimelineEntry) -> bool:
        return entry.source_event_id is not None


class ReviewerSerializer(serializers.ModelSerializer):
    user = UserSummarySerializer(read_only=True)
    requested_by = serializers.SerializerMethodField()
    approved = serializers.SerializerMethodField()

    class Meta:
        model = PostmortemReviewer
        fields = ["user", "requested_by", "requested_at", "approved", "approved_at"]
        read_only_fields = fields

    def get_requested_by(self, reviewer: PostmortemReviewer) -> str | None:
        return _username(reviewer.requested_by)

    def get_approved(self, reviewer: PostmortemReviewer) -> bool:
        return reviewer.approved_at is not None


class CommentSerializer(serializers.ModelSerializer):
    section = NamedChoiceField(SectionKey, read_only=True)
    author = UserSummarySerializer(read_only=True, allow_null=True)
    resolved = serializers.SerializerMethodField()
    resolved_by = serializers.SerializerMethodField()

    class Meta:
        model = ReviewComment
        fields = ["id", "section", "body", "author", "created_at", "resolved", "resolved_at", "resolved_by"]
        read_only_fields = fields

    def get_resolved(self, comment: ReviewComment) -> bool:
        return comment.resolved_at is not None

    def get_resolved_by(self, comment: ReviewComment) -> str | None:
        return _username(comment.resolved_by)


class MetricSerializer(serializers.Serializer):
    name = serializers.CharField(
        help_text="time_to_detect, time_to_acknowledge, time_to_mitigate, time_to_resolve"
    )
    label = serializers.CharField()  # type: ignore[assignment]  # the stubs know Field.label only
    seconds = serializers.FloatField(allow_null=True, help_text="Null until the moment has happened.")
    description = serializers.CharField(help_text="How it is measured.")


class ActionItemSummarySerializer(serializers.ModelSerializer):
    """An action item inside its postmortem: the incident would only repeat the parent."""

    url = serializers.SerializerMethodField()
    owner = UserSummarySerializer(read_only=True, allow_null=True)
    priority = NamedChoiceField(ActionItemPriority, read_only=True)
    kind = NamedChoiceField(ActionItemKind, read_only=True)
    status = NamedChoiceField(ActionItemStatus, read_only=True)
    overdue = serializers.SerializerMethodField(help_text="Open and past its due date, where you are.")

    class Meta:
        model = ActionItem
        fields = [
            "id",
            "url",
            "title",
            "owner",
            "due_date",
            "priority",
            "kind",
            "status",
            "overdue",
            "tracker_url",
        ]
        read_only_fields = fields

    def get_url(self, item: ActionItem) -> str:
        return absolute_url(item)

    def get_overdue(self, item: ActionItem) -> bool:
        return item.is_overdue(_today(self))


class ActionItemCountsSerializer(serializers.Serializer):
    open = serializers.IntegerField(help_text="Open or in progress.")
    overdue = serializers.IntegerField()
    closed = serializers.IntegerField(help_text="Done or won't do.")


class PostmortemSerializer(serializers.ModelSerializer):
    """One row of the list: everything comes from the list selector's joins, no extra queries."""

    number = serializers.IntegerField(
        source="incident.number", read_only=True, help_text="The incident's number."
    )
    reference = serializers.CharField(source="incident.reference", read_only=True)
    url = serializers.SerializerMethodField()
    status = NamedChoiceField(PostmortemStatus, read_only=True)
    incident_title = serializers.CharField(source="incident.title", read_only=True)
    incident_status = NamedChoiceField(IncidentStatus, source="incident.status", read_only=True)
    severity = serializers.IntegerField(
        source="incident.severity", read_only=True, help_text="1 (most severe) to 4."
    )
    service = serializers.CharField(source="incident.service.slug", read_only=True)
    team = serializers.CharField(source="incident.service.team.slug", read_only=True)
    owner = UserSummarySerializer(read_only=True, allow_null=True)
    overdue = serializers.SerializerMethodField(
        help_text="Not published and past its due date, where you are."
    )
    published_by = serializers.SerializerMethodField()

    class Meta:
        model = Postmortem
        fields = [
            "number",
            "reference",
            "url",
            "title",
            "status",
            "incident_title",
            "incident_status",
            "severity",
            "service",
            "team",
            "owner",
            "due_date",
            "overdue",
            "created_at",
            "updated_at",
            "review_requested_at",
            "published_at",
            "published_by",
        ]
        read_only_fields = fields

    def get_url(self, postmortem: Postmortem) -> str:
        return absolute_url(postmortem)

    def get_overdue(self, postmortem: Postmortem) -> bool:
        return postmortem.is_overdue(_today(self))

    def get_published_by(self, postmortem: Postmortem) -> str | None:
        return _username(postmortem.published_by)


class PostmortemDetailSerializer(PostmortemSerializer):
    sections = SectionSerializer(many=True, read_only=True, help_text="In the template's order.")
    timeline = serializers.SerializerMethodField(help_text="Every entry, the excluded ones too.")
    reviewers = ReviewerSerializer(many=True, read_only=True)
    comments = CommentSerializer(many=True, read_only=True)
    metrics = serializers.SerializerMethodField()
    action_items = serializers.SerializerMethodField(help_text="The incident's action items.")
    action_item_counts = serializers.SerializerMethodField()

    class Meta(PostmortemSerializer.Meta):
        fields = [
            *PostmortemSerializer.Meta.fields,
            "timeline_imported_at",
            "sections",
            "timeline",
            "reviewers",
            "comments",
            "metrics",
            "action_items",
            "action_item_counts",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Postmortem) -> dict[str, Any]:
        data = super().to_representation(instance)
        order = {key: index for index, key in enumerate(SectionKey.values)}
        data["sections"] = sorted(data["sections"], key=lambda section: order[section["key"]])
        return data

    @extend_schema_field(TimelineEntrySerializer(many=True))
    def get_timeline(self, postmortem: Postmortem) -> Any:
        return TimelineEntrySerializer(postmortem_timeline(postmortem=postmortem), many=True).data

    @extend_schema_field(MetricSerializer(many=True))
    def get_metrics(self, postmortem: Postmortem) -> Any:
        return [
            {
                "name": label.lower().replace(" ", "_"),
                "label": label,
                "seconds": duration.total_seconds() if duration is not None else None,
                "description": description,
            }
            for label, duration, description in incident_metrics(incident=postmortem.incident)
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The list and the counts come from one query.
        self._action_items: dict[int, list[ActionItem]] = {}

    def _items(self, postmortem: Postmortem) -> list[ActionItem]:
        if postmortem.pk not in self._action_items:
            self._action_items[postmortem.pk] = list(incident_action_items(incident=postmortem.incident))
        return self._action_items[postmortem.pk]

    @extend_schema_field(ActionItemSummarySerializer(many=True))
    def get_action_items(self, postmortem: Postmortem) -> Any:
        return ActionItemSummarySerializer(self._items(postmortem), many=True, context=self.context).data

    @extend_schema_field(ActionItemCountsSerializer)
    def get_action_item_counts(self, postmortem: Postmortem) -> dict[str, int]:
        items = self._items(postmortem)
        today = _today(self)
        return {
            "open": sum(item.is_open for item in items),
            "overdue": sum(item.is_overdue(today) for item in items),
            "closed": sum(not item.is_open for item in items),
        }


# --- output: action items -------------------------------------------------------------------


class ActionItemSerializer(ActionItemSummarySerializer):
    incident = serializers.IntegerField(
        source="incident.number", read_only=True, help_text="The incident's number."
    )
    incident_reference = serializers.CharField(source="incident.reference", read_only=True)
    incident_title = serializers.CharField(source="incident.title", read_only=True)
    team = serializers.CharField(source="incident.service.team.slug", read_only=True)
    postmortem_url = serializers.SerializerMethodField(help_text="The incident's postmortem, once started.")
    days_overdue = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField()
    closed_by = serializers.SerializerMethodField()

    class Meta(ActionItemSummarySerializer.Meta):
        fields = [
            "id",
            "url",
            "incident",
            "incident_reference",
            "incident_title",
            "team",
            "postmortem_url",
            "title",
            "description",
            "owner",
            "due_date",
            "priority",
            "kind",
            "status",
            "overdue",
            "days_overdue",
            "tracker_url",
            "verification",
            "wont_do_reason",
            "created_by",
            "created_at",
            "updated_at",
            "closed_at",
            "closed_by",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_postmortem_url(self, item: ActionItem) -> str | None:
        try:
            postmortem = item.incident.postmortem
        except ObjectDoesNotExist:
            return None
        return absolute_url(postmortem)

    def get_days_overdue(self, item: ActionItem) -> int:
        return item.days_overdue(_today(self))

    def get_created_by(self, item: ActionItem) -> str | None:
        return _username(item.created_by)

    def get_closed_by(self, item: ActionItem) -> str | None:
        return _username(item.closed_by)


# --- input ----------------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.STR)
class UsernameField(serializers.Field):
    """A person by username: anyone who can sign in, whatever their team (owners and reviewers
    often come from elsewhere). An unknown name is a 400 that repeats it."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or not data.strip():
            raise serializers.ValidationError("Give a username.")
        name = data.strip()
        user = get_user_model().objects.filter(username=name, is_active=True).first()
        if user is None:
            raise serializers.ValidationError(f"Nobody who can sign in is called {name!r}.")
        return user

    def to_representation(self, value: Any) -> str:
        return str(value.get_username())


class HttpUrlField(serializers.URLField):
    """Only http(s) links: a tracker link is opened by everyone who reads the item."""

    def to_internal_value(self, data: Any) -> str:
        url: str = super().to_internal_value(data)
        if url and urlsplit(url).scheme.lower() not in ("http", "https"):
            raise serializers.ValidationError("Give the full http:// or https:// link to the issue.")
        return url


class IncidentNumberField(serializers.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 999_999_999)
        kwargs.setdefault("help_text", "The incident's number (42 for INC-42).")
        super().__init__(**kwargs)


class PostmortemCreateSerializer(serializers.Serializer):
    incident = IncidentNumberField()
    owner = UsernameField(required=False, help_text="Username; defaults to you.")
    title = serializers.CharField(
        max_length=TITLE_MAX_LENGTH,
        required=False,
        default="",
        allow_blank=True,
        help_text="Defaults to the incident's title.",
    )


class PostmortemUpdateSerializer(serializers.Serializer):
    """PATCH: give only what changes. `owner` and `due_date` take null to clear them."""

    title = serializers.CharField(max_length=TITLE_MAX_LENGTH, required=False)
    owner = UsernameField(required=False, allow_null=True)
    due_date = serializers.DateField(required=False, allow_null=True)


class SectionWriteSerializer(serializers.Serializer):
    body = serializers.CharField(
        allow_blank=True, trim_whitespace=False, max_length=SECTION_MAX_LENGTH, help_text="Markdown."
    )


class TimelineEntryCreateSerializer(serializers.Serializer):
    occurred_at = serializers.DateTimeField(help_text="When it happened; without an offset, in UTC.")
    text = serializers.CharField(max_length=TIMELINE_TEXT_MAX_LENGTH)


class TimelineEntryUpdateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=TIMELINE_TEXT_MAX_LENGTH, required=False)
    included = serializers.BooleanField(required=False, help_text="false leaves it out of the postmortem.")
    occurred_at = serializers.DateTimeField(required=False)


class TimelineImportedSerializer(serializers.Serializer):
    imported = serializers.IntegerField(help_text="How many incident events were added.")


class ReviewRequestSerializer(serializers.Serializer):
    reviewers = serializers.ListField(
        child=serializers.CharField(max_length=150, allow_blank=True),
        min_length=1,
        max_length=MAX_REVIEWERS,
        help_text="Usernames, from any team. People asked before stay reviewers.",
    )

    def validate_reviewers(self, names: list[str]) -> list[Any]:
        wanted = list(dict.fromkeys(name.strip() for name in names if name.strip()))
        if not wanted:
            raise serializers.ValidationError("Name at least one reviewer.")
        found = {
            user.get_username(): user
            for user in get_user_model().objects.filter(username__in=wanted, is_active=True)
        }
        missing = [name for name in wanted if name not in found]
        if missing:
            raise serializers.ValidationError(
                f"Nobody who can sign in is called {', '.join(map(repr, missing))}."
            )
        return [found[name] for name in wanted]


class CommentCreateSerializer(serializers.Serializer):
    section = NamedChoiceField(SectionKey)
    body = serializers.CharField(max_length=COMMENT_MAX_LENGTH)


class ActionItemCreateSerializer(serializers.Serializer):
    incident = IncidentNumberField()
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH)
    description = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=DESCRIPTION_MAX_LENGTH
    )
    owner = UsernameField(required=False, allow_null=True, default=None, help_text="Username, from any team.")
    due_date = serializers.DateField(required=False, allow_null=True, default=None)
    priority = NamedChoiceField(ActionItemPriority, default=ActionItemPriority.MEDIUM)
    kind = NamedChoiceField(ActionItemKind, default=ActionItemKind.PREVENT)
    tracker_url = HttpUrlField(
        required=False,
        default="",
        allow_blank=True,
        max_length=TRACKER_URL_MAX_LENGTH,
        help_text="Jira, Linear or GitHub issue.",
    )


class ActionItemUpdateSerializer(serializers.Serializer):
    """PATCH: give only what changes. `owner` and `due_date` take null to clear them; the status
    changes through the status endpoint."""

    title = serializers.CharField(max_length=TITLE_MAX_LENGTH, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    owner = UsernameField(required=False, allow_null=True)
    due_date = serializers.DateField(required=False, allow_null=True)
    priority = NamedChoiceField(ActionItemPriority, required=False)
    kind = NamedChoiceField(ActionItemKind, required=False)
    tracker_url = HttpUrlField(required=False, allow_blank=True, max_length=TRACKER_URL_MAX_LENGTH)


class ActionItemStatusChangeSerializer(serializers.Serializer):
    status = NamedChoiceField(
        ActionItemStatus,
        help_text="open → in_progress → done / wont_do; closed items can only be reopened.",
    )
    reason = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=REASON_MAX_LENGTH,
        help_text="Why it won't be done (required for wont_do).",
    )
    verification = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=REASON_MAX_LENGTH,
        help_text="How we know the fix works (required to close a high-priority item as done).",
    )
