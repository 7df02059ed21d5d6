"""The REST API: each view parses with an input serializer, calls one service, answers with the result.

Reads go through the selectors, so an object of another team is a 404 and lists leave it out.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.api.permissions import IncidentAccess, ServiceAccess, require_manager, require_responder
from incidents.api.serializers import (
    AlertDetailSerializer,
    AlertSerializer,
    IncidentDeclareSerializer,
    IncidentDetailSerializer,
    IncidentNoteSerializer,
    IncidentResolveSerializer,
    IncidentRoleAssignSerializer,
    IncidentSerializer,
    IncidentSeveritySerializer,
    IntegrationCreatedSerializer,
    IntegrationCreateSerializer,
    IntegrationSerializer,
    IntegrationUpdateSerializer,
    ServiceCreateSerializer,
    ServiceSerializer,
    ServiceUpdateSerializer,
    TimelineEventSerializer,
)
from incidents.choices import TimelineKind
from incidents.filters import AlertFilter, IncidentFilter, IntegrationFilter
from incidents.models import Alert, Incident, Integration, Service
from incidents.selectors import (
    alert_list_for_user,
    incident_get_for_user,
    incident_list_for_user,
    incident_timeline,
    integration_list_for_user,
    service_list_for_user,
)
from incidents.services import (
    incident_acknowledge,
    incident_add_note,
    incident_assign_role,
    incident_declare,
    incident_mark_mitigated,
    incident_post_status_update,
    incident_resolve,
    incident_set_severity,
    integration_create,
    integration_update,
    service_create,
    service_update,
)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


# Documented on every action so that clients know a refusal is JSON with a reason.
_REFUSALS = {
    403: OpenApiResponse(ErrorSerializer, description="Your role in the owning team is too low."),
    404: OpenApiResponse(ErrorSerializer, description="No such object in your teams."),
}
_CONFLICT = {
    409: OpenApiResponse(ErrorSerializer, description="Not possible in the incident's current state.")
}


def _visible_service(user: Any, slug: str, *, field: str) -> Service:
    """A service named in a request body: unknown and invisible ones are the same 400."""
    service = service_list_for_user(user=user).filter(slug=slug).first()
    if service is None:
        raise serializers.ValidationError({field: [f"No service {slug!r}."]})
    return service


# --- incidents ------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Incidents in your teams, newest first"),
    retrieve=extend_schema(
        summary="One incident with its timeline and alerts",
        responses={200: IncidentDetailSerializer, **_REFUSALS},
    ),
)
class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = IncidentSerializer
    permission_classes = [IsAuthenticated, IncidentAccess]
    filter_backends = [DjangoFilterBackend]
    filterset_class = IncidentFilter
    lookup_field = "number"
    # Bounded so that an absurd number is a 404, not an integer overflow in the database.
    lookup_value_regex = r"[0-9]{1,9}"

    def get_queryset(self) -> QuerySet[Incident]:
        if getattr(self, "swagger_fake_view", False):
            return Incident.objects.none()
        return incident_list_for_user(user=self.request.user)

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return IncidentDetailSerializer if self.action == "retrieve" else IncidentSerializer

    def get_object(self) -> Incident:
        incident = incident_get_for_user(user=self.request.user, number=int(self.kwargs["number"]))
        self.check_object_permissions(self.request, incident)
        return incident

    def _incident_response(self, incident: Incident, status_code: int = status.HTTP_200_OK) -> Response:
        # Re-read through the selector: the services return a bare locked row without the joins.
        fresh = incident_get_for_user(user=self.request.user, number=incident.number)
        data = IncidentDetailSerializer(fresh, context=self.get_serializer_context()).data
        return Response(data, status=status_code)

    def _input(self, serializer_class: type[serializers.Serializer], **context: Any) -> dict[str, Any]:
        serializer = serializer_class(
            data=self.request.data, context={**self.get_serializer_context(), **context}
        )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @extend_schema(
        summary="Declare an incident",
        request=IncidentDeclareSerializer,
        responses={201: IncidentDetailSerializer, 403: _REFUSALS[403]},
    )
    def create(self, request: Request) -> Response:
        data = self._input(IncidentDeclareSerializer)
        service = _visible_service(request.user, data.pop("service"), field="service")
        require_responder(request.user, service)
        incident = incident_declare(service=service, actor=request.user, **data)
        return self._incident_response(incident, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: IncidentDetailSerializer, **_REFUSALS, **_CONFLICT})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, number: str) -> Response:
        incident = incident_acknowledge(incident=self.get_object(), actor=request.user)
        return self._incident_response(incident)

    @extend_schema(
        request=IncidentResolveSerializer, responses={200: IncidentDetailSerializer, **_REFUSALS, **_CONFLICT}
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, number: str) -> Response:
        incident = self.get_object()
        data = self._input(IncidentResolveSerializer)
        incident = incident_resolve(incident=incident, actor=request.user, note=data["note"])
        return self._incident_response(incident)

    @extend_schema(
        summary="Mark mitigated: impact has stopped, the incident stays open",
        request=None,
        responses={200: IncidentDetailSerializer, **_REFUSALS, **_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def mitigate(self, request: Request, number: str) -> Response:
        incident = incident_mark_mitigated(incident=self.get_object(), actor=request.user)
        return self._incident_response(incident)

    @extend_schema(
        request=IncidentSeveritySerializer,
        responses={200: IncidentDetailSerializer, **_REFUSALS, **_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def severity(self, request: Request, number: str) -> Response:
        incident = self.get_object()
        data = self._input(IncidentSeveritySerializer)
        incident = incident_set_severity(incident=incident, severity=data["severity"], actor=request.user)
        return self._incident_response(incident)

    @extend_schema(
        methods=["GET"],
        summary="The incident's notes, oldest first",
        request=None,
        responses={200: TimelineEventSerializer(many=True), **_REFUSALS},
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a note to the timeline",
        request=IncidentNoteSerializer,
        responses={201: IncidentDetailSerializer, **_REFUSALS, **_CONFLICT},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def notes(self, request: Request, number: str) -> Response:
        incident = self.get_object()
        if request.method == "GET":
            notes = incident_timeline(incident=incident).filter(kind=TimelineKind.NOTE)
            return Response(TimelineEventSerializer(notes, many=True).data)
        data = self._input(IncidentNoteSerializer)
        incident_add_note(incident=incident, text=data["text"], actor=request.user)
        return self._incident_response(incident, status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        summary="The incident's status updates for stakeholders, oldest first",
        request=None,
        responses={200: TimelineEventSerializer(many=True), **_REFUSALS},
    )
    @extend_schema(
        methods=["POST"],
        summary="Post a status update: on the timeline, and to the announcement channels",
        request=IncidentNoteSerializer,
        responses={201: IncidentDetailSerializer, **_REFUSALS, **_CONFLICT},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="status-updates",
        pagination_class=None,
        filter_backends=[],
    )
    def status_updates(self, request: Request, number: str) -> Response:
        incident = self.get_object()
        if request.method == "GET":
            updates = incident_timeline(incident=incident).filter(kind=TimelineKind.STATUS_UPDATE)
            return Response(TimelineEventSerializer(updates, many=True).data)
        data = self._input(IncidentNoteSerializer)
        incident_post_status_update(incident=incident, text=data["text"], actor=request.user)
        return self._incident_response(incident, status.HTTP_201_CREATED)

    @extend_schema(
        summary="The whole timeline, oldest first",
        request=None,
        responses={200: TimelineEventSerializer(many=True), **_REFUSALS},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def timeline(self, request: Request, number: str) -> Response:
        events = incident_timeline(incident=self.get_object())
        return Response(TimelineEventSerializer(events, many=True).data)

    @extend_schema(
        summary="Give someone an incident role (commander, communications, scribe)",
        request=IncidentRoleAssignSerializer,
        responses={200: IncidentDetailSerializer, **_REFUSALS, **_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def roles(self, request: Request, number: str) -> Response:
        incident = self.get_object()
        data = self._input(IncidentRoleAssignSerializer, incident=incident)
        incident_assign_role(incident=incident, role=data["role"], user=data["user"], actor=request.user)
        return self._incident_response(incident)


# --- services -------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Services of your teams with their open incident count"),
    retrieve=extend_schema(responses={200: ServiceSerializer, **_REFUSALS}),
)
class ServiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ServiceSerializer
    permission_classes = [IsAuthenticated, ServiceAccess]
    lookup_field = "slug"

    def get_queryset(self) -> QuerySet[Service]:
        if getattr(self, "swagger_fake_view", False):
            return Service.objects.none()
        return service_list_for_user(user=self.request.user).prefetch_related("integrations")

    def _service_response(self, service: Service, status_code: int = status.HTTP_200_OK) -> Response:
        # Through the selector again so the answer carries the open incident count.
        fresh = self.get_queryset().get(pk=service.pk)
        return Response(
            ServiceSerializer(fresh, context=self.get_serializer_context()).data, status=status_code
        )

    @extend_schema(
        summary="Create a service in a team you manage",
        request=ServiceCreateSerializer,
        responses={201: ServiceSerializer, 403: _REFUSALS[403]},
    )
    def create(self, request: Request) -> Response:
        serializer = ServiceCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        require_manager(request.user, serializer.validated_data["team"])
        service = service_create(actor=request.user, **serializer.validated_data)
        return self._service_response(service, status.HTTP_201_CREATED)

    @extend_schema(request=ServiceUpdateSerializer, responses={200: ServiceSerializer, **_REFUSALS})
    def partial_update(self, request: Request, slug: str) -> Response:
        service = self.get_object()
        serializer = ServiceUpdateSerializer(service, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return self._service_response(
            service_update(service=service, actor=request.user, **serializer.validated_data)
        )


# --- integrations ---------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Alert sources of your teams' services (keys are never shown again)"),
    retrieve=extend_schema(responses={200: IntegrationSerializer, **_REFUSALS}),
)
class IntegrationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = IntegrationSerializer
    permission_classes = [IsAuthenticated, ServiceAccess]
    filter_backends = [DjangoFilterBackend]
    filterset_class = IntegrationFilter
    lookup_value_regex = r"[0-9]{1,9}"

    def get_queryset(self) -> QuerySet[Integration]:
        if getattr(self, "swagger_fake_view", False):
            return Integration.objects.none()
        return integration_list_for_user(user=self.request.user)

    @extend_schema(
        summary="Add an alert source; the answer holds its key, once",
        request=IntegrationCreateSerializer,
        responses={201: IntegrationCreatedSerializer, 403: _REFUSALS[403], 409: _CONFLICT[409]},
    )
    def create(self, request: Request) -> Response:
        serializer = IntegrationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        service = _visible_service(request.user, data.pop("service"), field="service")
        require_manager(request.user, service.team)
        integration, key = integration_create(service=service, actor=request.user, **data)
        context = {**self.get_serializer_context(), "key": key}
        return Response(
            IntegrationCreatedSerializer(integration, context=context).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=IntegrationUpdateSerializer, responses={200: IntegrationSerializer, **_REFUSALS})
    def partial_update(self, request: Request, pk: str) -> Response:
        integration = self.get_object()
        serializer = IntegrationUpdateSerializer(integration, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        integration_update(integration=integration, actor=request.user, **serializer.validated_data)
        return Response(IntegrationSerializer(integration, context=self.get_serializer_context()).data)


# --- alerts ---------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Alerts on your teams' incidents, most recently seen first"),
    retrieve=extend_schema(responses={200: AlertDetailSerializer, **_REFUSALS}),
)
class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Read-only: alerts are written by their senders through ingestion, never by people."""

    serializer_class = AlertSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = AlertFilter
    lookup_value_regex = r"[0-9]{1,9}"

    def get_queryset(self) -> QuerySet[Alert]:
        if getattr(self, "swagger_fake_view", False):
            return Alert.objects.none()
        return alert_list_for_user(user=self.request.user)

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return AlertDetailSerializer if self.action == "retrieve" else AlertSerializer
