"""Input serializers parse requests for one service call each; output serializers only represent.

Nothing here saves a model except the plain service CRUD, which has no domain logic to go through.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import TextChoices
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents import permissions as rules
from incidents.choices import (
    AlertStatus,
    IncidentRoleKind,
    IncidentStatus,
    IntegrationKind,
    Severity,
    TimelineKind,
    Urgency,
)
from incidents.ingest import webhook
from incidents.ingest.links import ingest_url
from incidents.models import (
    Alert,
    Incident,
    IncidentRole,
    Integration,
    Service,
    Team,
    TimelineEvent,
    person_name,
)
from incidents.selectors import incident_alerts, incident_timeline
from incidents.services.heartbeat import (
    MAX_INTERVAL_MINUTES,
    MIN_INTERVAL_MINUTES,
    heartbeat_interval_problem,
)


def absolute_url(obj: Any) -> str:
    """The page a person opens for this object; API clients put it in chat messages and tickets."""
    return settings.MUSTER_BASE_URL + obj.get_absolute_url()


def _seconds(duration: timedelta | None) -> float | None:
    return None if duration is None else duration.total_seconds()


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 1, "maximum": 4},
            {"type": "string", "enum": Severity.labels},
        ],
        "description": "1 (most severe) to 4, or SEV1 to SEV4.",
    }
)
class SeverityField(serializers.Field):
    """Accepts 1-4 or "SEV1".."SEV4" (what people type in chat); always answers with the number."""

    default_error_messages = {"invalid": "Severity must be 1-4 or one of " + ", ".join(Severity.labels) + "."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        value: Any = data
        if isinstance(data, str):
            text = data.strip().upper()
            value = text.removeprefix("SEV")
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.fail("invalid")
        if number not in Severity.values or (isinstance(value, float) and value != number):
            self.fail("invalid")
        return number

    def to_representation(self, value: Any) -> int:
        return int(value)


class NamedChoiceField(serializers.ChoiceField):
    """A choice field whose schema is a component named after its choices class.

    Incidents and alerts both have a `status`, integrations and timeline events both a `kind`;
    spectacular would otherwise name those enums by field name and warn about the collision.
    """

    def __init__(self, choices_class: type[TextChoices], **kwargs: Any) -> None:
        self.choices_class = choices_class
        super().__init__(choices=choices_class.choices, **kwargs)


class NamedChoiceFieldSchema(OpenApiSerializerFieldExtension):
    target_class = NamedChoiceField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        choices_class = self.target.choices_class
        component = ResolvedComponent(
            name=choices_class.__name__,
            type=ResolvedComponent.SCHEMA,
            object=choices_class,
            schema={
                "type": "string",
                "enum": list(choices_class.values),
                "description": "\n".join(f"* `{value}` - {label}" for value, label in choices_class.choices),
            },
        )
        auto_schema.registry.register_on_missing(component)
        return dict(component.ref)


# --- people ---------------------------------------------------------------------------------


class UserSummarySerializer(serializers.Serializer):
    username = serializers.CharField(source="get_username", read_only=True)
    name = serializers.SerializerMethodField()

    def get_name(self, user: Any) -> str:
        return person_name(user)


# --- incidents ------------------------------------------------------------------------------


class IncidentRoleSerializer(serializers.ModelSerializer):
    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = IncidentRole
        fields = ["role", "user", "assigned_at"]


class DurationsSerializer(serializers.Serializer):
    """Seconds since detection (impact start for `detect`); null until the moment happens."""

    detect = serializers.FloatField(allow_null=True)
    acknowledge = serializers.FloatField(allow_null=True)
    mitigate = serializers.FloatField(allow_null=True)
    resolve = serializers.FloatField(allow_null=True)


class IncidentSerializer(serializers.ModelSerializer):
    """One row of the list. Everything here comes from the list selector's joins: no extra queries."""

    url = serializers.SerializerMethodField()
    reference = serializers.CharField(read_only=True)
    severity = serializers.IntegerField(read_only=True, help_text="1 (most severe) to 4.")
    severity_label = serializers.CharField(source="get_severity_display", read_only=True)
    service: serializers.SlugRelatedField[Service] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    team = serializers.CharField(source="service.team.slug", read_only=True)
    status = NamedChoiceField(IncidentStatus, read_only=True)
    roles = IncidentRoleSerializer(many=True, read_only=True)
    durations = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "number",
            "reference",
            "url",
            "title",
            "status",
            "severity",
            "severity_label",
            "urgency",
            "suppressed",
            "service",
            "team",
            "roles",
            "created_at",
            "updated_at",
            "impact_started_at",
            "detected_at",
            "acknowledged_at",
            "mitigated_at",
            "resolved_at",
            "durations",
        ]
        read_only_fields = fields

    def get_url(self, incident: Incident) -> str:
        return absolute_url(incident)

    @extend_schema_field(DurationsSerializer)
    def get_durations(self, incident: Incident) -> dict[str, float | None]:
        return {
            "detect": _seconds(incident.time_to_detect),
            "acknowledge": _seconds(incident.time_to_acknowledge),
            "mitigate": _seconds(incident.time_to_mitigate),
            "resolve": _seconds(incident.time_to_resolve),
        }


class TimelineEventSerializer(serializers.ModelSerializer):
    kind = NamedChoiceField(TimelineKind, read_only=True)
    actor = serializers.CharField(source="actor_name", read_only=True)
    actor_username = serializers.SerializerMethodField()

    class Meta:
        model = TimelineEvent
        fields = ["id", "created_at", "kind", "text", "actor", "actor_username", "data"]
        read_only_fields = fields

    def get_actor_username(self, event: TimelineEvent) -> str | None:
        return event.actor_user.get_username() if event.actor_user is not None else None


class IntegrationSummarySerializer(serializers.ModelSerializer):
    kind = NamedChoiceField(IntegrationKind, read_only=True)

    class Meta:
        model = Integration
        fields = ["id", "name", "kind", "enabled"]
        read_only_fields = fields


class AlertSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    incident = serializers.IntegerField(source="incident.number", read_only=True)
    incident_reference = serializers.CharField(source="incident.reference", read_only=True)
    service = serializers.CharField(source="incident.service.slug", read_only=True)
    integration = IntegrationSummarySerializer(read_only=True)
    status = NamedChoiceField(AlertStatus, read_only=True)
    severity = serializers.IntegerField(read_only=True, help_text="1 (most severe) to 4.")
    labels = serializers.JSONField(read_only=True)
    details = serializers.JSONField(read_only=True)
    links = serializers.JSONField(read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "url",
            "incident",
            "incident_reference",
            "service",
            "integration",
            "dedup_key",
            "status",
            "severity",
            "summary",
            "source",
            "labels",
            "details",
            "links",
            "first_seen",
            "last_seen",
            "resolved_at",
            "repeat_count",
        ]
        read_only_fields = fields

    def get_url(self, alert: Alert) -> str:
        return absolute_url(alert)


class AlertDetailSerializer(AlertSerializer):
    raw_payload = serializers.JSONField(read_only=True)

    class Meta(AlertSerializer.Meta):
        fields = [*AlertSerializer.Meta.fields, "raw_payload"]
        read_only_fields = fields


class IncidentAlertSerializer(AlertSerializer):
    """An alert shown inside its incident: the incident and service would only repeat the parent."""

    class Meta(AlertSerializer.Meta):
        fields = [
            f for f in AlertSerializer.Meta.fields if f not in {"incident", "incident_reference", "service"}
        ]
        read_only_fields = fields


class IncidentDetailSerializer(IncidentSerializer):
    declared_by = UserSummarySerializer(read_only=True, allow_null=True)
    timeline = serializers.SerializerMethodField()
    alerts = serializers.SerializerMethodField()

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "description", "declared_by", "timeline", "alerts"]
        read_only_fields = fields

    @extend_schema_field(TimelineEventSerializer(many=True))
    def get_timeline(self, incident: Incident) -> Any:
        return TimelineEventSerializer(incident_timeline(incident=incident), many=True).data

    @extend_schema_field(IncidentAlertSerializer(many=True))
    def get_alerts(self, incident: Incident) -> Any:
        return IncidentAlertSerializer(incident_alerts(incident=incident), many=True).data


class IncidentDeclareSerializer(serializers.Serializer):
    service = serializers.SlugField(help_text="Slug of a service where you are a responder.")
    title = serializers.CharField(max_length=1024)
    severity = SeverityField(default=Severity.SEV3)
    urgency = serializers.ChoiceField(choices=Urgency.choices, default=Urgency.HIGH)
    description = serializers.CharField(default="", allow_blank=True, trim_whitespace=False)
    impact_started_at = serializers.DateTimeField(default=None, allow_null=True)

    def validate_impact_started_at(self, value: Any) -> Any:
        # Time to detect is measured from here; a future start would make it meaningless.
        if value is not None and value > timezone.now():
            raise serializers.ValidationError("Impact cannot start in the future.")
        return value


class IncidentResolveSerializer(serializers.Serializer):
    note = serializers.CharField(default="", allow_blank=True, max_length=10_000)


class IncidentSeveritySerializer(serializers.Serializer):
    severity = SeverityField()


class IncidentNoteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=10_000)


class IncidentRoleAssignSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=IncidentRoleKind.choices)
    user = serializers.CharField(help_text="Username of a member of the team that owns the incident.")

    def validate_user(self, username: str) -> Any:
        incident: Incident = self.context["incident"]
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        # The same answer for "no such user" and "not in the team": do not reveal who exists.
        if user is None or not rules.can_view_incident(user, incident):
            raise serializers.ValidationError(
                f"No member of team {incident.service.team.name} named {username!r}."
            )
        return user


# --- services and integrations --------------------------------------------------------------


class ServiceSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    team: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    open_incident_count = serializers.IntegerField(read_only=True)
    integrations = IntegrationSummarySerializer(many=True, read_only=True)

    class Meta:
        model = Service
        fields = [
            "slug",
            "url",
            "name",
            "description",
            "team",
            "open_incident_count",
            "integrations",
            "created_at",
        ]
        read_only_fields = fields

    def get_url(self, service: Service) -> str:
        return absolute_url(service)


class ServiceCreateSerializer(serializers.ModelSerializer):
    team: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Team.objects.all(),
        help_text="Slug of a team where you are a manager.",
    )

    class Meta:
        model = Service
        fields = ["slug", "name", "description", "team"]

    def validate_team(self, team: Team) -> Team:
        # Teams the user cannot see are reported like missing ones.
        if rules.role_in_team(self.context["request"].user, team) is None:
            raise serializers.ValidationError(f"No team {team.slug!r}.")
        return team


class ServiceUpdateSerializer(serializers.ModelSerializer):
    """The slug is the service's address in URLs and alert routing, so it does not change."""

    class Meta:
        model = Service
        fields = ["name", "description"]


class IntegrationSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    service: serializers.SlugRelatedField[Service] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    kind = NamedChoiceField(IntegrationKind, read_only=True)
    config = serializers.JSONField(read_only=True)

    class Meta:
        model = Integration
        fields = [
            "id",
            "url",
            "service",
            "kind",
            "name",
            "key_prefix",
            "enabled",
            "auto_resolve",
            "rate_limit_per_minute",
            "config",
            "heartbeat_interval_minutes",
            "last_ping_at",
            "heartbeat_due_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_url(self, integration: Integration) -> str:
        return absolute_url(integration)


class IntegrationCreatedSerializer(IntegrationSerializer):
    """The only answer that ever carries the key: it is stored hashed and cannot be shown again."""

    key = serializers.SerializerMethodField()
    ingest_url = serializers.SerializerMethodField()

    class Meta(IntegrationSerializer.Meta):
        fields = [*IntegrationSerializer.Meta.fields, "key", "ingest_url"]
        read_only_fields = fields

    def get_key(self, integration: Integration) -> str:
        return str(self.context["key"])

    @extend_schema_field(OpenApiTypes.URI)
    def get_ingest_url(self, integration: Integration) -> str:
        return ingest_url(kind=integration.kind, key=self.context["key"])


class IntegrationCreateSerializer(serializers.Serializer):
    service = serializers.SlugField(help_text="Slug of a service where you are a manager.")
    kind = NamedChoiceField(IntegrationKind)
    name = serializers.CharField(default="", allow_blank=True, max_length=100)
    config = serializers.DictField(
        default=dict,
        help_text="Generic webhook only: title_path, severity_path, dedup_key_path, source_path, "
        "action_path (dotted paths into the sender's JSON), resolve_values, acknowledge_values.",
    )
    heartbeat_interval_minutes = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=MIN_INTERVAL_MINUTES,
        max_value=MAX_INTERVAL_MINUTES,
        help_text="Heartbeat only, and required for it: an incident opens when no ping arrives for this "
        "many minutes (plus a tenth, at least one minute, of grace). Armed by the first ping.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if problem := heartbeat_interval_problem(
            kind=attrs["kind"], minutes=attrs.get("heartbeat_interval_minutes")
        ):
            raise serializers.ValidationError({"heartbeat_interval_minutes": [problem]})
        config = attrs.get("config") or {}
        if config and attrs["kind"] != IntegrationKind.WEBHOOK:
            raise serializers.ValidationError(
                {"config": ["Only generic webhook integrations take settings."]}
            )
        if problems := webhook.config_problems(config):
            raise serializers.ValidationError({"config": problems})
        return attrs


class IntegrationUpdateSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=100)
    config = serializers.DictField(required=False, help_text="Generic webhook only; see creation.")
    heartbeat_interval_minutes = serializers.IntegerField(
        required=False,
        min_value=MIN_INTERVAL_MINUTES,
        max_value=MAX_INTERVAL_MINUTES,
        help_text="Heartbeat only; see creation.",
    )

    class Meta:
        model = Integration
        fields = ["name", "enabled", "auto_resolve", "config", "heartbeat_interval_minutes"]

    def validate_heartbeat_interval_minutes(self, minutes: int) -> int:
        if self.instance is not None and (
            problem := heartbeat_interval_problem(kind=self.instance.kind, minutes=minutes)
        ):
            raise serializers.ValidationError(problem)
        return minutes

    def validate_config(self, config: dict[str, Any]) -> dict[str, Any]:
        if config and self.instance is not None and self.instance.kind != IntegrationKind.WEBHOOK:
            raise serializers.ValidationError("Only generic webhook integrations take settings.")
        if problems := webhook.config_problems(config):
            raise serializers.ValidationError(problems)
        return config
