"""The schedules API: schedules, their layers, overrides, computed shifts and "who is on call".

Same rules as the pages: reads go through the selectors (another team's schedule is a 404), writes
go through oncall.services.schedules, viewers read, managers change schedules and layers, responders
add overrides, and a person may remove an override that puts them on call. A refusal from a service
names the field at fault and answers 400.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import django_filters
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import permissions as rules
from incidents.api.permissions import require_manager
from incidents.api.serializers import NamedChoiceField
from incidents.api.views import ErrorSerializer
from incidents.choices import Role
from incidents.models import Team, person_name
from incidents.selectors import service_get_for_user
from oncall.models import Layer, Override, Schedule, ShiftUnit
from oncall.selectors.schedules import (
    OnCall,
    ShiftRow,
    layer_list_for_user,
    oncall_for_schedule,
    override_list_for_user,
    override_removable_by,
    schedule_get_for_user,
    schedule_list_for_user,
    schedule_shifts,
    service_oncall,
)
from oncall.services.schedules import (
    ScheduleInvalid,
    layer_create,
    layer_delete,
    layer_update,
    override_create,
    override_delete,
    schedule_create,
    schedule_delete,
    schedule_update,
)

SHIFTS_DEFAULT = timedelta(days=14)
SHIFTS_MAX = timedelta(days=93)

_REFUSALS = {
    403: OpenApiResponse(ErrorSerializer, description="Your role in the owning team is too low."),
    404: OpenApiResponse(ErrorSerializer, description="No such object in your teams."),
}
_BAD = {400: OpenApiResponse(description="The input names the problem field by field.")}


def _needs(role: Role, team: Team) -> str:
    return f"This needs the {role.label.lower()} role in team {team.name}."


def _require_responder(user: Any, team: Team) -> None:
    if not rules.has_role(user, team, Role.RESPONDER):
        raise exceptions.PermissionDenied(_needs(Role.RESPONDER, team))


@contextmanager
def _refusals_as_400() -> Iterator[None]:
    """A service's "that cannot be" is bad input here: 400 with the field that was wrong."""
    try:
        yield
    except ScheduleInvalid as exc:
        raise serializers.ValidationError({exc.field or "non_field_errors": [str(exc)]}) from exc


def _visible_schedule(user: Any, pk: int, *, field: str) -> Schedule:
    """A schedule named in a request body: unknown and invisible ones are the same 400."""
    schedule = schedule_list_for_user(user=user).filter(pk=pk).first()
    if schedule is None:
        raise serializers.ValidationError({field: [f"No schedule {pk}."]})
    return schedule


def _team_member(team: Team, username: str, *, field: str) -> Any:
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    # The same answer for "no such user" and "not in the team": do not reveal who exists.
    if user is None or rules.role_in_team(user, team) is None:
        raise serializers.ValidationError({field: [f"No member of team {team.name} named {username!r}."]})
    return user


def _schedule_url(schedule: Schedule) -> str:
    return settings.MUSTER_BASE_URL + reverse("oncall:schedule_detail", kwargs={"pk": schedule.pk})


# --- serializers ----------------------------------------------------------------------------


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk", read_only=True)
    username = serializers.CharField(source="get_username", read_only=True)
    name = serializers.SerializerMethodField()
    email = serializers.EmailField(read_only=True)

    def get_name(self, user: Any) -> str:
        return person_name(user)


class ScheduleSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    team: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Schedule
        fields = ["id", "url", "name", "team", "time_zone", "created_at"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, schedule: Schedule) -> str:
        return _schedule_url(schedule)


class ScheduleCreateSerializer(serializers.Serializer):
    team = serializers.SlugField(help_text="Slug of a team where you are a manager.")
    name = serializers.CharField(max_length=100)
    time_zone = serializers.CharField(
        max_length=64, default="UTC", help_text="IANA name such as Europe/Berlin; handoffs keep local time."
    )


class ScheduleUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    time_zone = serializers.CharField(max_length=64, required=False)


class RestrictionSerializer(serializers.Serializer):
    days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        min_length=1,
        help_text="0 (Monday) to 6 (Sunday): the days the window starts on.",
    )
    start = serializers.CharField(help_text="HH:MM in the schedule's zone.")
    end = serializers.CharField(help_text="HH:MM; at or before start runs into the next day.")


class LayerSerializer(serializers.ModelSerializer):
    schedule: serializers.PrimaryKeyRelatedField[Schedule] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    name = serializers.SerializerMethodField()
    shift_unit = NamedChoiceField(ShiftUnit, read_only=True)
    restrictions = RestrictionSerializer(many=True, read_only=True)
    participants = serializers.SerializerMethodField()

    class Meta:
        model = Layer
        fields = [
            "id",
            "schedule",
            "name",
            "position",
            "participants",
            "shift_count",
            "shift_unit",
            "start_date",
            "handoff_time",
            "restrictions",
        ]
        read_only_fields = fields

    def get_name(self, layer: Layer) -> str:
        return str(layer)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_participants(self, layer: Layer) -> list[str]:
        """Usernames of who rotates from now on, in order (from the prefetched epochs)."""
        epochs = list(layer.epochs.all())
        if not epochs:
            return []
        users: dict[int, Any] = self.context.get("users") or {}
        return [users[pk].get_username() for pk in epochs[-1].participants if pk in users]


class LayerWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    participants = serializers.ListField(
        child=serializers.CharField(), min_length=1, help_text="Usernames in rotation order."
    )
    shift_count = serializers.IntegerField(min_value=1, default=1)
    shift_unit = NamedChoiceField(ShiftUnit, default=ShiftUnit.WEEKS)
    start_date = serializers.DateField(help_text="The first shift starts on this day at handoff_time.")
    handoff_time = serializers.TimeField(help_text="HH:MM in the schedule's zone.")
    restrictions = RestrictionSerializer(many=True, required=False)


class LayerCreateSerializer(LayerWriteSerializer):
    schedule = serializers.IntegerField(help_text="Id of a schedule where you are a manager.")


class LayerUpdateSerializer(LayerWriteSerializer):
    """Every field optional; new participants take over at the next handoff."""

    participants = serializers.ListField(child=serializers.CharField(), min_length=1, required=False)
    shift_count = serializers.IntegerField(min_value=1, required=False)
    shift_unit = NamedChoiceField(ShiftUnit, required=False)
    start_date = serializers.DateField(required=False)
    handoff_time = serializers.TimeField(required=False)


class OverrideSerializer(serializers.ModelSerializer):
    schedule: serializers.PrimaryKeyRelatedField[Schedule] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    user = PersonSerializer(read_only=True)
    replaces = PersonSerializer(read_only=True, allow_null=True)
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = Override
        fields = ["id", "schedule", "user", "replaces", "starts_at", "ends_at", "created_by"]
        read_only_fields = fields

    def get_created_by(self, override: Override) -> str | None:
        return override.created_by.get_username() if override.created_by is not None else None


class OverrideCreateSerializer(serializers.Serializer):
    schedule = serializers.IntegerField(help_text="Id of a schedule where you are a responder.")
    user = serializers.CharField(
        required=False, help_text="Username of who is on call (a responder of the team); default: you."
    )
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    replaces = serializers.CharField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Username: only while this person would be on call from the layers.",
    )


class ShiftSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    user = PersonSerializer()
    layer = serializers.SerializerMethodField()
    override = serializers.IntegerField(source="override_id", allow_null=True)

    def get_layer(self, shift: ShiftRow) -> int | None:
        return shift.layer.pk if shift.layer is not None else None


class ScheduleBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    time_zone = serializers.CharField()


class OnCallEntrySerializer(serializers.Serializer):
    schedule = ScheduleBriefSerializer()
    step = serializers.IntegerField(
        allow_null=True, help_text="With service=: the escalation step (1 first) that targets the schedule."
    )
    user = PersonSerializer(allow_null=True, help_text="Null when nobody is on call.")
    shift_start = serializers.DateTimeField(
        allow_null=True, help_text="Null when unknown: nobody on call, or earlier than 14 days before `at`."
    )
    shift_end = serializers.DateTimeField(
        allow_null=True, help_text="Null when unknown: nobody on call, or later than 28 days after `at`."
    )


class OnCallSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    oncall = OnCallEntrySerializer(many=True)


# --- permissions ----------------------------------------------------------------------------


class ScheduleAccess(permissions.BasePermission):
    """Viewers read schedules and layers; managers of the team change them."""

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        schedule = obj if isinstance(obj, Schedule) else obj.schedule
        if request.method in permissions.SAFE_METHODS:
            return rules.has_role(request.user, schedule.team_id, Role.VIEWER)
        require_manager(request.user, schedule.team)
        return True


class OverrideAccess(permissions.BasePermission):
    """Viewers read overrides; managers remove any, anyone removes one that is theirs."""

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        assert isinstance(obj, Override)
        team = obj.schedule.team
        if request.method in permissions.SAFE_METHODS:
            return rules.has_role(request.user, team, Role.VIEWER)
        if not override_removable_by(user=request.user, override=obj):
            raise exceptions.PermissionDenied(
                f"Removing someone else's override needs the manager role in team {team.name}."
            )
        return True


# --- parsing query parameters ---------------------------------------------------------------

# "+01:00" in an unencoded query string arrives as " 01:00".
_SPACED_OFFSET = re.compile(r" (\d{2}(?::?\d{2})?)$")


def parse_moment(value: str | None, *, name: str, default: datetime) -> datetime:
    """An ISO 8601 date-time with a zone or offset from a query parameter, or 400 naming it."""
    if value is None or value == "":
        return default
    text = _SPACED_OFFSET.sub(r"+\1", value.strip())
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        raise serializers.ValidationError(
            {name: [f"{value!r} is not an ISO 8601 date-time such as 2026-03-02T09:00:00Z."]}
        )
    if timezone.is_naive(moment):
        raise serializers.ValidationError(
            {name: [f"{value!r} has no zone; add Z or an offset such as +01:00."]}
        )
    return moment


def _users_for_layers(layers: Sequence[Layer]) -> dict[int, Any]:
    ids = {pk for layer in layers for epoch in layer.epochs.all() for pk in epoch.participants}
    return {user.pk: user for user in get_user_model().objects.filter(pk__in=ids)} if ids else {}


# --- schedules ------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Schedules of your teams"),
    retrieve=extend_schema(responses={200: ScheduleSerializer, **_REFUSALS}),
    destroy=extend_schema(
        summary="Delete a schedule with its layers and overrides", responses={204: None, **_REFUSALS}
    ),
)
class ScheduleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = ScheduleSerializer
    permission_classes = [permissions.IsAuthenticated, ScheduleAccess]
    lookup_value_regex = r"[0-9]{1,9}"

    def get_queryset(self) -> QuerySet[Schedule]:
        if getattr(self, "swagger_fake_view", False):
            return Schedule.objects.none()
        return schedule_list_for_user(user=self.request.user)

    def _answer(self, schedule: Schedule, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=schedule.pk)
        return Response(ScheduleSerializer(fresh).data, status=status_code)

    @extend_schema(
        summary="Create a schedule in a team you manage",
        request=ScheduleCreateSerializer,
        responses={201: ScheduleSerializer, **_BAD, 403: _REFUSALS[403]},
    )
    def create(self, request: Request) -> Response:
        serializer = ScheduleCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        team = Team.objects.filter(slug=data.pop("team")).first()
        if team is None or rules.role_in_team(request.user, team) is None:
            raise serializers.ValidationError({"team": [f"No team {serializer.validated_data['team']!r}."]})
        require_manager(request.user, team)
        with _refusals_as_400():
            schedule = schedule_create(team=team, actor=request.user, **data)
        return self._answer(schedule, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Rename a schedule or change its zone",
        request=ScheduleUpdateSerializer,
        responses={200: ScheduleSerializer, **_BAD, **_REFUSALS},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        schedule = self.get_object()
        serializer = ScheduleUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with _refusals_as_400():
            schedule_update(schedule=schedule, actor=request.user, **serializer.validated_data)
        return self._answer(schedule)

    def perform_destroy(self, instance: Schedule) -> None:
        schedule_delete(schedule=instance, actor=self.request.user)

    @extend_schema(
        summary="Who is on call within [start, end), after layers and overrides",
        parameters=[
            OpenApiParameter(
                "start", OpenApiTypes.DATETIME, description="ISO 8601 with a zone; default now."
            ),
            OpenApiParameter(
                "end",
                OpenApiTypes.DATETIME,
                description="Default start + 14 days; at most 93 days after start.",
            ),
        ],
        responses={200: ShiftSerializer(many=True), **_BAD, **_REFUSALS},
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def shifts(self, request: Request, pk: str) -> Response:
        schedule = self.get_object()
        start = parse_moment(request.query_params.get("start"), name="start", default=timezone.now())
        end = parse_moment(request.query_params.get("end"), name="end", default=start + SHIFTS_DEFAULT)
        if end <= start:
            raise serializers.ValidationError({"end": ["end must be after start."]})
        if end - start > SHIFTS_MAX:
            raise serializers.ValidationError({"end": [f"Ask for at most {SHIFTS_MAX.days} days at a time."]})
        rows = schedule_shifts(schedule=schedule, start=start, end=end)
        return Response(ShiftSerializer(rows, many=True).data)


# --- layers ---------------------------------------------------------------------------------


class LayerFilter(django_filters.FilterSet):
    schedule = django_filters.NumberFilter(field_name="schedule_id", label="Schedule id")

    class Meta:
        model = Layer
        fields = ["schedule"]


@extend_schema_view(
    list=extend_schema(summary="Rotation layers of your teams' schedules"),
    retrieve=extend_schema(responses={200: LayerSerializer, **_REFUSALS}),
    destroy=extend_schema(summary="Remove a layer", responses={204: None, **_REFUSALS}),
)
class LayerViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = LayerSerializer
    permission_classes = [permissions.IsAuthenticated, ScheduleAccess]
    filter_backends = [DjangoFilterBackend]
    filterset_class = LayerFilter
    lookup_value_regex = r"[0-9]{1,9}"

    def get_queryset(self) -> QuerySet[Layer]:
        if getattr(self, "swagger_fake_view", False):
            return Layer.objects.none()
        return layer_list_for_user(user=self.request.user)

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        # One query for the people of every layer on the page instead of one per layer.
        if args and not kwargs.get("data"):
            instance = args[0]
            layers = list(instance) if isinstance(instance, Sequence | QuerySet) else [instance]
            kwargs["context"] = {**self.get_serializer_context(), "users": _users_for_layers(layers)}
        return super().get_serializer(*args, **kwargs)

    def _answer(self, layer: Layer, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=layer.pk)
        return Response(self.get_serializer(fresh).data, status=status_code)

    def _people(self, schedule: Schedule, usernames: list[str] | None) -> list[Any] | None:
        if usernames is None:
            return None
        return [_team_member(schedule.team, name, field="participants") for name in usernames]

    @extend_schema(
        summary="Add a rotation layer on top of a schedule's others",
        request=LayerCreateSerializer,
        responses={201: LayerSerializer, **_BAD, 403: _REFUSALS[403]},
    )
    def create(self, request: Request) -> Response:
        serializer = LayerCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        schedule = _visible_schedule(request.user, data.pop("schedule"), field="schedule")
        require_manager(request.user, schedule.team)
        data["participants"] = self._people(schedule, data["participants"])
        with _refusals_as_400():
            layer = layer_create(schedule=schedule, actor=request.user, **data)
        return self._answer(layer, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a layer; new participants take over at the next handoff",
        request=LayerUpdateSerializer,
        responses={200: LayerSerializer, **_BAD, **_REFUSALS},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        layer = self.get_object()
        serializer = LayerUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "participants" in data:
            data["participants"] = self._people(layer.schedule, data["participants"])
        with _refusals_as_400():
            layer_update(layer=layer, actor=request.user, **data)
        return self._answer(layer)

    def perform_destroy(self, instance: Layer) -> None:
        layer_delete(layer=instance, actor=self.request.user)


# --- overrides ------------------------------------------------------------------------------


class OverrideFilter(django_filters.FilterSet):
    schedule = django_filters.NumberFilter(field_name="schedule_id", label="Schedule id")
    user = django_filters.CharFilter(field_name="user__username", label="Username of who is on call")
    ends_after = django_filters.IsoDateTimeFilter(
        field_name="ends_at", lookup_expr="gt", label="Only overrides ending after this moment"
    )

    class Meta:
        model = Override
        fields = ["schedule", "user", "ends_after"]


@extend_schema_view(
    list=extend_schema(summary="Overrides in your teams' schedules, earliest first"),
    retrieve=extend_schema(responses={200: OverrideSerializer, **_REFUSALS}),
    destroy=extend_schema(
        summary="Remove an override (managers: any; others: their own)", responses={204: None, **_REFUSALS}
    ),
)
class OverrideViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = OverrideSerializer
    permission_classes = [permissions.IsAuthenticated, OverrideAccess]
    filter_backends = [DjangoFilterBackend]
    filterset_class = OverrideFilter
    lookup_value_regex = r"[0-9]{1,9}"

    def get_queryset(self) -> QuerySet[Override]:
        if getattr(self, "swagger_fake_view", False):
            return Override.objects.none()
        return override_list_for_user(user=self.request.user)

    @extend_schema(
        summary="Put someone on call for a stretch of time, ahead of every layer",
        request=OverrideCreateSerializer,
        responses={201: OverrideSerializer, **_BAD, 403: _REFUSALS[403]},
    )
    def create(self, request: Request) -> Response:
        serializer = OverrideCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        schedule = _visible_schedule(request.user, data["schedule"], field="schedule")
        _require_responder(request.user, schedule.team)
        user = _team_member(schedule.team, data["user"], field="user") if data.get("user") else request.user
        replaces = (
            _team_member(schedule.team, data["replaces"], field="replaces") if data["replaces"] else None
        )
        with _refusals_as_400():
            override = override_create(
                schedule=schedule,
                user=user,
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                replaces=replaces,
                actor=request.user,
            )
        fresh = self.get_queryset().get(pk=override.pk)
        return Response(OverrideSerializer(fresh).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Override) -> None:
        override_delete(override=instance, actor=self.request.user)


# --- who is on call -------------------------------------------------------------------------


def _entry(oncall: OnCall, step: int | None) -> dict[str, Any]:
    return {
        "schedule": oncall.schedule,
        "step": step,
        "user": oncall.user,
        "shift_start": oncall.shift_start if oncall.user is not None else None,
        "shift_end": oncall.shift_end if oncall.user is not None else None,
    }


class OnCallView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        summary="Who is on call for a service (through its escalation policy) or in a schedule",
        parameters=[
            OpenApiParameter("service", OpenApiTypes.STR, description="Service slug; give this or schedule."),
            OpenApiParameter("schedule", OpenApiTypes.INT, description="Schedule id; give this or service."),
            OpenApiParameter("at", OpenApiTypes.DATETIME, description="ISO 8601 with a zone; default now."),
        ],
        responses={
            200: OnCallSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="Neither or both of service and schedule, or a bad at."
            ),
            404: _REFUSALS[404],
        },
    )
    def get(self, request: Request) -> Response:
        service_slug = request.query_params.get("service", "").strip()
        schedule_id = request.query_params.get("schedule", "").strip()
        if bool(service_slug) == bool(schedule_id):
            return Response(
                {"detail": "Give either service=<slug> or schedule=<id> (exactly one)."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        at = parse_moment(request.query_params.get("at"), name="at", default=timezone.now())
        if service_slug:
            service = service_get_for_user(user=request.user, slug=service_slug)
            entries = [
                _entry(item.oncall, item.step_number) for item in service_oncall(service=service, at=at)
            ]
        else:
            if not re.fullmatch(r"[0-9]{1,9}", schedule_id):
                raise serializers.ValidationError({"schedule": [f"{schedule_id!r} is not a schedule id."]})
            schedule = schedule_get_for_user(user=request.user, pk=int(schedule_id))
            entries = [_entry(oncall_for_schedule(schedule=schedule, at=at), None)]
        return Response(OnCallSerializer({"at": at, "oncall": entries}).data)
