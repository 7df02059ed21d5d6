"""The runbook REST API: parse with an input serializer, call one service, answer with the result.

Reads go through runbooks.selectors, so a runbook the user may not read is a 404. Responders of any
team read; responders of the owning team change; its managers delete.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.api.views import ErrorSerializer
from incidents.choices import Role
from incidents.models import Team
from incidents.permissions import has_role
from runbooks.api.serializers import (
    DiffQuerySerializer,
    DiffSerializer,
    RevisionCreateSerializer,
    RevisionSerializer,
    RevisionSummarySerializer,
    RunbookCreateSerializer,
    RunbookDetailSerializer,
    RunbookSerializer,
    RunbookUpdateSerializer,
    StaleRevisionSerializer,
)
from runbooks.diff import side_by_side, unified_diff
from runbooks.models import Runbook
from runbooks.permissions import can_delete_runbook, can_edit_runbook
from runbooks.selectors import revision_get, revision_list, runbook_get_for_user, runbook_list
from runbooks.services import (
    StaleRevision,
    revision_create,
    runbook_create,
    runbook_delete,
    runbook_mark_reviewed,
    runbook_update,
)

_REFUSALS = {
    403: OpenApiResponse(ErrorSerializer, description="Your role in the owning team is too low."),
    404: OpenApiResponse(ErrorSerializer, description="No such runbook, or not one you may read."),
}
_BAD_INPUT = {400: OpenApiResponse(description="A field is missing or wrong; the body names it.")}


def _require_edit(user: Any, runbook: Runbook) -> None:
    if not can_edit_runbook(user, runbook):
        raise exceptions.PermissionDenied(
            f"Changing this runbook needs the responder role in team {runbook.team}."
        )


def _require_delete(user: Any, runbook: Runbook) -> None:
    if not can_delete_runbook(user, runbook):
        raise exceptions.PermissionDenied(
            f"Deleting this runbook needs the manager role in team {runbook.team}."
        )


@extend_schema_view(
    list=extend_schema(
        summary="Runbooks you may read, by title (best match first when searching)",
        parameters=[
            OpenApiParameter("q", str, description="Search titles and current text."),
            OpenApiParameter("team", str, description="Owner team's slug."),
            OpenApiParameter("overdue", bool, description="Only runbooks due for review."),
        ],
    ),
    retrieve=extend_schema(
        summary="One runbook with its current text", responses={200: RunbookDetailSerializer, **_REFUSALS}
    ),
)
class RunbookViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = RunbookSerializer
    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"

    def get_queryset(self) -> QuerySet[Runbook]:
        if getattr(self, "swagger_fake_view", False):
            return Runbook.objects.none()
        params = self.request.query_params
        team = None
        if params.get("team"):
            team = Team.objects.filter(slug=params["team"]).first()
            if team is None:
                raise serializers.ValidationError({"team": [f"No team {params['team']!r}."]})
        return runbook_list(
            user=self.request.user,
            query=params.get("q") or None,
            team=team,
            overdue_only=params.get("overdue", "").lower() in {"1", "true", "yes"},
        ).select_related("last_reviewed_by")

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return RunbookDetailSerializer if self.action == "retrieve" else RunbookSerializer

    def get_object(self) -> Runbook:
        return runbook_get_for_user(user=self.request.user, slug=self.kwargs["slug"])

    def _runbook_response(self, runbook: Runbook, status_code: int = status.HTTP_200_OK) -> Response:
        # Re-read through the selector for its joins; the services return the bare row.
        fresh = runbook_get_for_user(user=self.request.user, slug=runbook.slug)
        data = RunbookDetailSerializer(fresh, context=self.get_serializer_context()).data
        return Response(data, status=status_code)

    def _input(self, serializer_class: type[serializers.Serializer], **kwargs: Any) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context(), **kwargs)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @extend_schema(
        summary="Write a runbook; its body becomes revision 1",
        request=RunbookCreateSerializer,
        responses={201: RunbookDetailSerializer, **_BAD_INPUT, 403: _REFUSALS[403]},
    )
    def create(self, request: Request) -> Response:
        data = self._input(RunbookCreateSerializer)
        team: Team = data.pop("team")
        if not has_role(request.user, team, Role.RESPONDER):
            raise exceptions.PermissionDenied(
                f"Writing a runbook for team {team} needs the responder role in it."
            )
        runbook = runbook_create(team=team, actor=request.user, **data)
        return self._runbook_response(runbook, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a runbook's title, services, labels or review interval",
        request=RunbookUpdateSerializer,
        responses={200: RunbookDetailSerializer, **_BAD_INPUT, **_REFUSALS},
    )
    def partial_update(self, request: Request, slug: str) -> Response:
        runbook = self.get_object()
        _require_edit(request.user, runbook)
        data = self._input(RunbookUpdateSerializer, partial=True)
        runbook_update(runbook=runbook, actor=request.user, **data)
        return self._runbook_response(runbook)

    @extend_schema(summary="Delete a runbook and its history", responses={204: None, **_REFUSALS})
    def destroy(self, request: Request, slug: str) -> Response:
        runbook = self.get_object()
        _require_delete(request.user, runbook)
        runbook_delete(runbook=runbook, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        methods=["GET"],
        summary="The runbook's revisions, newest first",
        request=None,
        responses={200: RevisionSummarySerializer(many=True), **_REFUSALS},
    )
    @extend_schema(
        methods=["POST"],
        summary="Save new text as the next revision",
        request=RevisionCreateSerializer,
        responses={
            201: RevisionSerializer,
            **_BAD_INPUT,
            **_REFUSALS,
            409: OpenApiResponse(
                StaleRevisionSerializer,
                description="`base_revision` is no longer the latest, or the text is unchanged. Nothing was saved.",
            ),
        },
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def revisions(self, request: Request, slug: str) -> Response:
        runbook = self.get_object()
        if request.method == "GET":
            return Response(RevisionSummarySerializer(revision_list(runbook=runbook), many=True).data)
        _require_edit(request.user, runbook)
        data = self._input(RevisionCreateSerializer)
        try:
            revision = revision_create(
                runbook=runbook,
                body=data["body"],
                actor=request.user,
                note=data["note"],
                base_number=data.get("base_revision"),
            )
        except StaleRevision as exc:
            stale = {
                "detail": str(exc),
                "latest_revision": exc.latest.number,
                "base_revision": exc.base_number,
                "diff": unified_diff(
                    exc.latest.body,
                    data["body"],
                    old_label=f"revision {exc.latest.number}",
                    new_label="your text",
                ),
            }
            return Response(stale, status=status.HTTP_409_CONFLICT)
        return Response(RevisionSerializer(revision).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="One revision with its text", responses={200: RevisionSerializer, **_REFUSALS}, request=None
    )
    @action(detail=True, methods=["get"], url_path=r"revisions/(?P<number>[0-9]{1,9})")
    def revision(self, request: Request, slug: str, number: str) -> Response:
        runbook = self.get_object()
        return Response(RevisionSerializer(revision_get(runbook=runbook, number=int(number))).data)

    @extend_schema(
        summary="The difference between two revisions",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.INT, required=True, description="Older revision number."),
            OpenApiParameter("to", OpenApiTypes.INT, required=True, description="Newer revision number."),
        ],
        request=None,
        responses={200: DiffSerializer, **_BAD_INPUT, **_REFUSALS},
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def diff(self, request: Request, slug: str) -> Response:
        runbook = self.get_object()
        query = DiffQuerySerializer(
            data={
                "from_revision": request.query_params.get("from"),
                "to_revision": request.query_params.get("to"),
            }
        )
        if not query.is_valid():
            errors = {"from" if k == "from_revision" else "to": v for k, v in query.errors.items()}
            raise serializers.ValidationError(errors)
        old = revision_get(runbook=runbook, number=query.validated_data["from_revision"])
        new = revision_get(runbook=runbook, number=query.validated_data["to_revision"])
        rows = side_by_side(old.body, new.body)
        data = {
            "from_revision": old.number,
            "to_revision": new.number,
            "unified": unified_diff(
                old.body, new.body, old_label=f"revision {old.number}", new_label=f"revision {new.number}"
            ),
            "rows": [
                {
                    "kind": row.kind,
                    "old_number": row.old_number,
                    "old_text": row.old_text,
                    "new_number": row.new_number,
                    "new_text": row.new_text,
                }
                for row in rows
            ],
        }
        return Response(DiffSerializer(data).data)

    @extend_schema(
        summary="Record that the runbook was reviewed now (closes its open review requests)",
        request=None,
        responses={200: RunbookDetailSerializer, **_REFUSALS},
    )
    @action(detail=True, methods=["post"])
    def reviewed(self, request: Request, slug: str) -> Response:
        runbook = self.get_object()
        _require_edit(request.user, runbook)
        runbook_mark_reviewed(runbook=runbook, actor=request.user)
        return self._runbook_response(runbook)
