"""REST API for escalation policies and a person's own contact methods and notification rules.

The same services as the web UI. Policies of teams the caller is not in are 404; changing one needs
the manager role in its team (403 naming the role). Contact methods and rules are always the
caller's own: anyone else's are 404.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import permissions as rules
from incidents.api.permissions import require_manager
from incidents.api.serializers import NamedChoiceField
from incidents.api.views import ErrorSerializer
from incidents.choices import Urgency
from incidents.models import Service, Team
from oncall.models import ContactKind, ContactMethod, EscalationPolicy, NotificationRule, Schedule
from oncall.selectors.people import (
    channel_statuses,
    contact_methods_for_user,
    notification_rules_for_user,
    policy_flow_text,
    policy_get_for_user,
    policy_list_for_user,
)
from oncall.services import (
    InvalidAddress,
    StepSpec,
    contact_method_create,
    contact_method_delete,
    contact_method_send_test,
    contact_method_update,
    escalation_policy_create,
    escalation_policy_delete,
    escalation_policy_update,
    notification_rule_create,
    notification_rule_delete,
    service_escalation_policy_set,
)
from oncall.services.people import MAX_REPEAT_COUNT, MAX_RULE_DELAY_MINUTES, MAX_STEP_DELAY_MINUTES

_REFUSALS = {
    403: OpenApiResponse(ErrorSerializer, description="Your role in the policy's team is too low."),
    404: OpenApiResponse(ErrorSerializer, description="No such object in your teams."),
}
_NOT_YOURS = {404: OpenApiResponse(ErrorSerializer, description="You have no such object.")}
_CONFLICT = {
    409: OpenApiResponse(ErrorSerializer, description="Not possible as things are; the detail says why.")
}
_ID = r"[0-9]{1,9}"


def _caller(field: Any) -> Any:
    return field.context["request"].user


# --- escalation policies --------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.INT)
class _PeopleField(serializers.PrimaryKeyRelatedField):
    """People in the caller's teams; anyone else is reported like an id that does not exist."""

    def get_queryset(self) -> QuerySet[Any]:
        team_ids = rules.visible_team_ids(_caller(self))
        people = get_user_model().objects.all()
        return people if team_ids is None else people.filter(memberships__team_id__in=team_ids).distinct()


@extend_schema_field(OpenApiTypes.INT)
class _SchedulesField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self) -> QuerySet[Schedule]:
        team_ids = rules.visible_team_ids(_caller(self))
        return Schedule.objects.all() if team_ids is None else Schedule.objects.filter(team_id__in=team_ids)


@extend_schema_field(OpenApiTypes.INT)
class _TeamsField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self) -> QuerySet[Team]:
        team_ids = rules.visible_team_ids(_caller(self))
        return Team.objects.all() if team_ids is None else Team.objects.filter(pk__in=team_ids)


class EscalationStepSerializer(serializers.Serializer):
    position = serializers.IntegerField(read_only=True, help_text="0 for the first step.")
    delay_minutes = serializers.IntegerField(
        min_value=1,
        max_value=MAX_STEP_DELAY_MINUTES,
        help_text="Minutes this step waits for an acknowledgement before the next step fires.",
    )
    users = serializers.ManyRelatedField(
        child_relation=_PeopleField(), required=False, help_text="User ids: people paged directly."
    )
    schedules = serializers.ManyRelatedField(
        child_relation=_SchedulesField(),
        required=False,
        help_text="Schedule ids: whoever is on call in the schedule when the step fires.",
    )
    teams = serializers.ManyRelatedField(
        child_relation=_TeamsField(), required=False, help_text="Team ids: every responder of the team."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not (attrs.get("users") or attrs.get("schedules") or attrs.get("teams")):
            raise serializers.ValidationError(
                "A step has to notify someone: give at least one of users, schedules or teams."
            )
        return attrs


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}], "description": "Slug or id."})
class TeamField(serializers.RelatedField):
    """A team by slug ("payments") or id; a team the caller is not in is reported as missing."""

    def get_queryset(self) -> QuerySet[Team]:
        team_ids = rules.visible_team_ids(_caller(self))
        return Team.objects.all() if team_ids is None else Team.objects.filter(pk__in=team_ids)

    def to_internal_value(self, data: Any) -> Team:
        if isinstance(data, int) and not isinstance(data, bool):
            team = self.get_queryset().filter(pk=data).first()
        elif isinstance(data, str) and data.strip():
            team = self.get_queryset().filter(slug=data.strip()).first()
        else:
            raise serializers.ValidationError("Give the team's slug (or id).")
        if team is None:
            raise serializers.ValidationError(f"No team {data!r} that you are in.")
        return team

    def to_representation(self, value: Any) -> str:
        return str(value.slug)


class EscalationPolicyWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    team = TeamField(help_text="The owning team's slug (or id). A policy never moves to another team.")
    repeat_count = serializers.IntegerField(
        min_value=0,
        max_value=MAX_REPEAT_COUNT,
        default=0,
        help_text="How many more times to run all the steps when nobody acknowledges.",
    )
    steps = EscalationStepSerializer(many=True, required=False, help_text="In order; replaces every step.")


class EscalationPolicySerializer(serializers.ModelSerializer):
    team: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    steps = EscalationStepSerializer(many=True, read_only=True)
    services: serializers.SlugRelatedField[Service] = serializers.SlugRelatedField(
        slug_field="slug", many=True, read_only=True, help_text="Services that page with this policy."
    )
    flow = serializers.SerializerMethodField(help_text="The policy in words, as the web page shows it.")
    url = serializers.SerializerMethodField(help_text="The policy's page.")

    class Meta:
        model = EscalationPolicy
        fields = ["id", "name", "team", "repeat_count", "steps", "services", "flow", "url"]

    def get_flow(self, policy: EscalationPolicy) -> str:
        return policy_flow_text(policy)

    def get_url(self, policy: EscalationPolicy) -> str:
        return settings.MUSTER_BASE_URL + reverse("oncall:policy_detail", kwargs={"pk": policy.pk})


class ServiceAssignSerializer(serializers.Serializer):
    service = serializers.SlugField(help_text="The slug of a service of the policy's team.")


def _specs(steps: list[dict[str, Any]]) -> list[StepSpec]:
    return [
        StepSpec(
            delay_minutes=step["delay_minutes"],
            users=list(step.get("users", [])),
            schedules=list(step.get("schedules", [])),
            teams=list(step.get("teams", [])),
        )
        for step in steps
    ]


class PolicyAccess(permissions.BasePermission):
    """Members of the policy's team read it; its managers change it."""

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        assert isinstance(obj, EscalationPolicy)
        if request.method not in permissions.SAFE_METHODS:
            require_manager(request.user, obj.team)
        return True


@extend_schema_view(
    list=extend_schema(summary="Escalation policies of your teams, with their steps in order"),
    retrieve=extend_schema(
        summary="One escalation policy", responses={200: EscalationPolicySerializer, **_REFUSALS}
    ),
    destroy=extend_schema(
        summary="Delete a policy no service pages with",
        responses={204: None, **_REFUSALS, **_CONFLICT},
    ),
)
class EscalationPolicyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = EscalationPolicySerializer
    permission_classes = [permissions.IsAuthenticated, PolicyAccess]
    lookup_value_regex = _ID

    def get_queryset(self) -> QuerySet[EscalationPolicy]:
        if getattr(self, "swagger_fake_view", False):
            return EscalationPolicy.objects.none()
        return policy_list_for_user(user=self.request.user)

    def get_object(self) -> EscalationPolicy:
        policy = policy_get_for_user(user=self.request.user, pk=int(self.kwargs["pk"]))
        self.check_object_permissions(self.request, policy)
        return policy

    def _policy_response(self, policy: EscalationPolicy, status_code: int = status.HTTP_200_OK) -> Response:
        # Through the selector again, so the answer shows the steps as they now are.
        fresh = policy_get_for_user(user=self.request.user, pk=policy.pk)
        return Response(self.get_serializer(fresh).data, status=status_code)

    @extend_schema(
        summary="Create a policy, with its steps, in a team you manage",
        request=EscalationPolicyWriteSerializer,
        responses={201: EscalationPolicySerializer, 403: _REFUSALS[403], **_CONFLICT},
    )
    def create(self, request: Request) -> Response:
        serializer = EscalationPolicyWriteSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        require_manager(request.user, data["team"])
        policy = escalation_policy_create(
            team=data["team"],
            name=data["name"],
            repeat_count=data["repeat_count"],
            steps=_specs(data.get("steps", [])),
            actor=request.user,
        )
        return self._policy_response(policy, status.HTTP_201_CREATED)

    def _write(self, request: Request, *, partial: bool) -> Response:
        policy = self.get_object()
        serializer = EscalationPolicyWriteSerializer(
            data=request.data, partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "team" in data and data["team"].pk != policy.team_id:
            raise serializers.ValidationError(
                {"team": ["A policy stays in its team; create a new policy in the other team instead."]}
            )
        steps = data.get("steps")
        if steps is None and not partial:
            steps = []  # a PUT says what the policy is: no steps given means no steps
        escalation_policy_update(
            policy=policy,
            name=data.get("name"),
            repeat_count=data.get("repeat_count"),
            steps=None if steps is None else _specs(steps),
            actor=request.user,
        )
        return self._policy_response(policy)

    @extend_schema(
        summary="Replace a policy: name, repeat count and every step",
        request=EscalationPolicyWriteSerializer,
        responses={200: EscalationPolicySerializer, **_REFUSALS, **_CONFLICT},
    )
    def update(self, request: Request, pk: str) -> Response:
        return self._write(request, partial=False)

    @extend_schema(
        summary="Change some of a policy; `steps`, when given, replaces every step",
        request=EscalationPolicyWriteSerializer,
        responses={200: EscalationPolicySerializer, **_REFUSALS, **_CONFLICT},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        return self._write(request, partial=True)

    def perform_destroy(self, instance: EscalationPolicy) -> None:
        escalation_policy_delete(policy=instance, actor=self.request.user)

    @extend_schema(
        summary="Make a service of the policy's team page with this policy",
        request=ServiceAssignSerializer,
        responses={200: EscalationPolicySerializer, **_REFUSALS, **_CONFLICT},
    )
    @action(detail=True, methods=["post"], url_path="services")
    def assign_service(self, request: Request, pk: str) -> Response:
        policy = self.get_object()
        serializer = ServiceAssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        slug = serializer.validated_data["service"]
        service = policy.team.services.filter(slug=slug).first()
        if service is None:
            raise serializers.ValidationError({"service": [f"{policy.team.name} has no service {slug!r}."]})
        service_escalation_policy_set(service=service, policy=policy, actor=request.user)
        return self._policy_response(policy)

    @extend_schema(
        summary="Stop a service paging with this policy (it is left with none)",
        request=None,
        responses={200: EscalationPolicySerializer, **_REFUSALS},
    )
    @action(detail=True, methods=["delete"], url_path=r"services/(?P<slug>[-a-zA-Z0-9_]+)")
    def unassign_service(self, request: Request, pk: str, slug: str) -> Response:
        policy = self.get_object()
        service = policy.services.filter(slug=slug).first()
        if service is None:
            raise serializers.ValidationError({"service": [f"{slug!r} does not page with {policy.name}."]})
        service_escalation_policy_set(service=service, policy=None, actor=request.user)
        return self._policy_response(policy)


# --- contact methods ------------------------------------------------------------------------


class ContactMethodSerializer(serializers.ModelSerializer):
    kind = NamedChoiceField(ContactKind, read_only=True)
    available = serializers.SerializerMethodField(help_text="Whether this server can send on the channel.")
    unavailable_reason = serializers.SerializerMethodField(
        help_text="What an admin has to set, if unavailable."
    )

    class Meta:
        model = ContactMethod
        fields = ["id", "kind", "address", "label", "available", "unavailable_reason", "created_at"]

    def _status(self, method: ContactMethod) -> tuple[bool, str]:
        # Asked once per response by the view, not once per row.
        channel = self.context["channel_statuses"][method.kind]
        return channel.available, channel.reason

    def get_available(self, method: ContactMethod) -> bool:
        return self._status(method)[0]

    def get_unavailable_reason(self, method: ContactMethod) -> str:
        return self._status(method)[1]


class ContactMethodCreateSerializer(serializers.Serializer):
    kind = NamedChoiceField(ContactKind)
    address = serializers.CharField(
        max_length=500,
        help_text="Email address; mobile number in international format (+44 7700 900123); ntfy topic; "
        "Slack member ID; or webhook URL.",
    )
    label = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")  # type: ignore[assignment]


class ContactMethodUpdateSerializer(serializers.Serializer):
    address = serializers.CharField(max_length=500, required=False)
    label = serializers.CharField(max_length=100, required=False, allow_blank=True)  # type: ignore[assignment]


class ContactTestStatus(models.TextChoices):
    SENT = "sent", "Sent: the provider accepted it"
    FAILED = "failed", "Failed: the provider refused or could not be reached"
    UNAVAILABLE = "unavailable", "Unavailable: the channel is not configured on this server"


class ContactTestResultSerializer(serializers.Serializer):
    status = NamedChoiceField(ContactTestStatus)
    detail = serializers.CharField()


def _address_problem(exc: InvalidAddress) -> serializers.ValidationError:
    return serializers.ValidationError({"address": [str(exc)]})


@extend_schema_view(
    list=extend_schema(summary="Your contact methods"),
    retrieve=extend_schema(
        summary="One of your contact methods", responses={200: ContactMethodSerializer, **_NOT_YOURS}
    ),
    destroy=extend_schema(
        summary="Delete a contact method and the rules that use it", responses={204: None, **_NOT_YOURS}
    ),
)
class ContactMethodViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = ContactMethodSerializer
    lookup_value_regex = _ID

    def get_queryset(self) -> QuerySet[ContactMethod]:
        if getattr(self, "swagger_fake_view", False):
            return ContactMethod.objects.none()
        return contact_methods_for_user(user=self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "channel_statuses": channel_statuses()}

    @extend_schema(
        summary="Add a contact method; the address is checked the way its channel needs it",
        request=ContactMethodCreateSerializer,
        responses={201: ContactMethodSerializer, **_CONFLICT},
    )
    def create(self, request: Request) -> Response:
        serializer = ContactMethodCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            method = contact_method_create(user=request.user, actor=request.user, **serializer.validated_data)
        except InvalidAddress as exc:
            raise _address_problem(exc) from None
        return Response(self.get_serializer(method).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a contact method's address or label (its channel stays)",
        request=ContactMethodUpdateSerializer,
        responses={200: ContactMethodSerializer, **_NOT_YOURS, **_CONFLICT},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        method = self.get_object()
        serializer = ContactMethodUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            contact_method_update(contact_method=method, actor=request.user, **serializer.validated_data)
        except InvalidAddress as exc:
            raise _address_problem(exc) from None
        return Response(self.get_serializer(method).data)

    def perform_destroy(self, instance: ContactMethod) -> None:
        contact_method_delete(contact_method=instance, actor=self.request.user)

    @extend_schema(
        summary="Send a real test message now and say how it went",
        description="Answers 200 whatever the outcome: `status` says whether the provider took it.",
        request=None,
        responses={200: ContactTestResultSerializer, **_NOT_YOURS},
    )
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str) -> Response:
        result = contact_method_send_test(contact_method=self.get_object(), actor=request.user)
        return Response({"status": result.status, "detail": result.detail})


# --- notification rules ---------------------------------------------------------------------


class NotificationRuleSerializer(serializers.ModelSerializer):
    urgency = NamedChoiceField(Urgency, read_only=True)
    channel = NamedChoiceField(ContactKind, source="contact_method.kind", read_only=True)
    address = serializers.CharField(source="contact_method.address", read_only=True)

    class Meta:
        model = NotificationRule
        fields = ["id", "urgency", "contact_method", "channel", "address", "delay_minutes"]


@extend_schema_field(OpenApiTypes.INT)
class _OwnContactMethodField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self) -> QuerySet[ContactMethod]:
        return contact_methods_for_user(user=_caller(self))


class NotificationRuleCreateSerializer(serializers.Serializer):
    urgency = NamedChoiceField(Urgency, default=Urgency.HIGH)
    contact_method = _OwnContactMethodField(help_text="The id of one of your contact methods.")
    delay_minutes = serializers.IntegerField(
        min_value=0, max_value=MAX_RULE_DELAY_MINUTES, default=0, help_text="Minutes after the page starts."
    )


@extend_schema_view(
    list=extend_schema(summary="Your notification rules, by urgency and delay"),
    retrieve=extend_schema(
        summary="One of your rules", responses={200: NotificationRuleSerializer, **_NOT_YOURS}
    ),
    destroy=extend_schema(summary="Delete one of your rules", responses={204: None, **_NOT_YOURS}),
)
class NotificationRuleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = NotificationRuleSerializer
    lookup_value_regex = _ID

    def get_queryset(self) -> QuerySet[NotificationRule]:
        if getattr(self, "swagger_fake_view", False):
            return NotificationRule.objects.none()
        return notification_rules_for_user(user=self.request.user)

    @extend_schema(
        summary="Add a rule: notify by one of your contact methods so many minutes after a page starts",
        request=NotificationRuleCreateSerializer,
        responses={201: NotificationRuleSerializer, **_CONFLICT},
    )
    def create(self, request: Request) -> Response:
        serializer = NotificationRuleCreateSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        rule = notification_rule_create(user=request.user, actor=request.user, **serializer.validated_data)
        return Response(self.get_serializer(rule).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: NotificationRule) -> None:
        notification_rule_delete(rule=instance, actor=self.request.user)
