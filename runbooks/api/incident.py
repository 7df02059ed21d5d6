"""Runbooks on an incident over the API: list the attached runbooks with their checklists, attach
one, tick or untick a checklist item, and say afterwards whether it was accurate. The same services
as the incident page; the incident is read through the selector, so another team's is a 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.api.permissions import require_responder
from incidents.models import Incident
from incidents.selectors import incident_get_for_user
from incidents.services import DomainError
from runbooks.markdown import checklist_items
from runbooks.matching import runbook_use_get, runbook_uses_for_incident, runbooks_attachable
from runbooks.models import RunbookUse
from runbooks.permissions import can_read_runbook
from runbooks.services import checklist_tick, checklist_untick, runbook_attach, runbook_use_feedback


class ChecklistItemSerializer(serializers.Serializer):
    item = serializers.IntegerField(help_text="0-based index, as in the tick endpoint.")
    text = serializers.CharField()
    ticked_by = serializers.CharField(allow_null=True)
    ticked_at = serializers.DateTimeField(allow_null=True)


class RunbookUseSerializer(serializers.ModelSerializer):
    runbook = serializers.CharField(source="runbook.slug", read_only=True, help_text="The runbook's slug.")
    title = serializers.CharField(source="runbook.title", read_only=True)
    revision = serializers.IntegerField(source="revision.number", read_only=True)
    attached_by = serializers.CharField(source="attached_by.username", read_only=True, allow_null=True)
    checklist = serializers.SerializerMethodField()

    class Meta:
        model = RunbookUse
        fields = ["id", "runbook", "title", "revision", "attached_by", "attached_at", "accurate", "checklist"]

    @extend_schema_field(ChecklistItemSerializer(many=True))
    def get_checklist(self, use: RunbookUse) -> list[dict[str, Any]]:
        ticks = {tick.item: tick for tick in use.ticks.all()}
        items = []
        for index, text in enumerate(checklist_items(use.revision.body)):
            tick = ticks.get(index)
            ticked_by = tick.ticked_by.username if tick is not None and tick.ticked_by is not None else None
            items.append(
                {
                    "item": index,
                    "text": text,
                    "ticked_by": ticked_by,
                    "ticked_at": tick.ticked_at if tick is not None else None,
                }
            )
        return items


class AttachSerializer(serializers.Serializer):
    runbook = serializers.SlugField(help_text="The runbook's slug.")


class TickSerializer(serializers.Serializer):
    item = serializers.IntegerField(min_value=0)
    ticked = serializers.BooleanField(default=True, help_text="false takes the tick back.")


class FeedbackSerializer(serializers.Serializer):
    accurate = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class IncidentRunbookViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[RunbookUse]):
    """`/api/v1/incidents/{number}/runbooks/`: the runbooks used on one incident."""

    serializer_class = RunbookUseSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = None
    lookup_value_regex = "[0-9]+"

    def _incident(self) -> Incident:
        return incident_get_for_user(user=self.request.user, number=int(self.kwargs["number"]))

    def _actionable(self) -> Incident:
        incident = self._incident()
        require_responder(self.request.user, incident.service)
        return incident

    def get_queryset(self) -> QuerySet[RunbookUse]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no incident
            return RunbookUse.objects.none()
        return runbook_uses_for_incident(incident=self._incident())

    def _answer(self, incident: Incident, use_id: int, code: int = status.HTTP_200_OK) -> Response:
        use = runbook_use_get(incident=incident, pk=use_id)
        return Response(RunbookUseSerializer(use).data, status=code)

    @extend_schema(request=AttachSerializer, responses={201: RunbookUseSerializer})
    def create(self, request: Request, number: str) -> Response:
        """Attach a runbook at its current revision (attaching it again returns the same use)."""
        incident = self._actionable()
        data = AttachSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        runbook = runbooks_attachable().filter(slug=data.validated_data["runbook"]).first()
        if runbook is None or not can_read_runbook(request.user, runbook):
            raise ValidationError({"runbook": "No runbook with text has this slug."})
        use = runbook_attach(incident=incident, runbook=runbook, actor=request.user)
        return self._answer(incident, use.pk, status.HTTP_201_CREATED)

    @extend_schema(request=TickSerializer, responses={200: RunbookUseSerializer})
    @action(detail=True, methods=["post"])
    def tick(self, request: Request, number: str, pk: str) -> Response:
        incident = self._actionable()
        use = runbook_use_get(incident=incident, pk=int(pk))
        data = TickSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = data.validated_data["item"]
        try:
            if data.validated_data["ticked"]:
                checklist_tick(use=use, item=item, actor=request.user)
            else:
                checklist_untick(use=use, item=item, actor=request.user)
        except DomainError as exc:
            raise ValidationError({"item": str(exc)}) from None
        return self._answer(incident, use.pk)

    @extend_schema(request=FeedbackSerializer, responses={200: RunbookUseSerializer})
    @action(detail=True, methods=["post"])
    def feedback(self, request: Request, number: str, pk: str) -> Response:
        """Was the runbook accurate? `false` (with a reason) asks its owners to review it."""
        incident = self._actionable()
        use = runbook_use_get(incident=incident, pk=int(pk))
        data = FeedbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        runbook_use_feedback(
            use=use,
            accurate=data.validated_data["accurate"],
            reason=data.validated_data["reason"],
            actor=request.user,
        )
        return self._answer(incident, use.pk)
