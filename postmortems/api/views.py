"""The postmortem and action-item REST API: parse with an input serializer, call one service, answer
with the result.

Reads go through postmortems.selectors, so a postmortem or item the caller may not see is a 404.
The write checks are postmortems.permissions, as on the pages, and a refusal is a 403 naming what
is needed. The state rules (a published postmortem is read-only, the allowed status changes) are
the services' DomainErrors, which the API answers with 409.

Action items cannot be deleted: they are the incident's history. Close one as "won't do" with a
reason instead.
"""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.api.views import ErrorSerializer
from incidents.models import Incident, person_zone
from incidents.selectors import incident_list_for_user
from postmortems import permissions as rules
from postmortems.api.serializers import (
    ActionItemCreateSerializer,
    ActionItemSerializer,
    ActionItemStatusChangeSerializer,
    ActionItemUpdateSerializer,
    CommentCreateSerializer,
    CommentSerializer,
    PostmortemCreateSerializer,
    PostmortemDetailSerializer,
    PostmortemSerializer,
    PostmortemUpdateSerializer,
    ReviewRequestSerializer,
    SectionSerializer,
    SectionWriteSerializer,
    TimelineEntryCreateSerializer,
    TimelineEntrySerializer,
    TimelineEntryUpdateSerializer,
    TimelineImportedSerializer,
)
from postmortems.choices import SectionKey
from postmortems.dates import person_today
from postmortems.filters import ActionItemFilter, PostmortemFilter
from postmortems.models import ActionItem, Postmortem, TimelineEntry
from postmortems.selectors import (
    action_item_get_for_user,
    action_item_list_for_user,
    postmortem_get_for_user,
    postmortem_list_for_user,
    postmortem_timeline,
)
from postmortems.services import (
    action_item_create,
    action_item_set_status,
    action_item_update,
    comment_add,
    comment_resolve,
    postmortem_create,
    postmortem_export_markdown,
    postmortem_publish,
    postmortem_update,
    review_approve,
    review_request,
    section_update,
    timeline_entry_add,
    timeline_entry_delete,
    timeline_entry_update,
    timeline_import,
)

_REFUSALS = {
    403: OpenApiResponse(ErrorSerializer, description="Not allowed; the detail names the role needed."),
    404: OpenApiResponse(ErrorSerializer, description="No such object, or not one you may see."),
}
_CONFLICT = {
    409: OpenApiResponse(
        ErrorSerializer,
        description="Not possible as things are (for instance, the postmortem is published); "
        "the detail says why.",
    )
}
_BAD_INPUT = {400: OpenApiResponse(description="A field is missing or wrong; the body names it.")}
_WRITE = {**_BAD_INPUT, **_REFUSALS, **_CONFLICT}

_ID = r"[0-9]{1,9}"
_SECTION_KEY = OpenApiParameter(
    "key", str, OpenApiParameter.PATH, enum=SectionKey.values, description="The section of the template."
)
_ENTRY_ID = OpenApiParameter("entry_id", int, OpenApiParameter.PATH, description="A timeline entry's id.")
_COMMENT_ID = OpenApiParameter("comment_id", int, OpenApiParameter.PATH, description="A comment's id.")


def _team_name(incident: Incident) -> str:
    return str(incident.service.team.name)


def _require_write(user: Any, incident: Incident) -> None:
    if not rules.can_write_postmortem(user, incident):
        raise exceptions.PermissionDenied(
            f"Writing this postmortem needs the responder role in team {_team_name(incident)}."
        )


def _require_comment(user: Any, postmortem: Postmortem) -> None:
    if not rules.can_comment_on_postmortem(user, postmortem):
        raise exceptions.PermissionDenied(
            "Commenting needs the responder role in team "
            f"{_team_name(postmortem.incident)}, or being asked to review this postmortem."
        )


def _require_publish(user: Any, postmortem: Postmortem) -> None:
    # A published postmortem is the service's 409 for anyone who could write it; the rule itself
    # says "no" to everyone once it is published.
    if postmortem.is_published:
        _require_write(user, postmortem.incident)
    elif not rules.can_publish_postmortem(user, postmortem):
        raise exceptions.PermissionDenied(
            "Publishing needs the manager role in team "
            f"{_team_name(postmortem.incident)}, or being the postmortem's owner (a responder)."
        )


def _require_change_item(user: Any, item: ActionItem) -> None:
    if not rules.can_change_action_item(user, item):
        raise exceptions.PermissionDenied(
            "Changing this action item needs the responder role in team "
            f"{_team_name(item.incident)}, or being its owner."
        )


def _visible_incident(user: Any, number: int) -> Incident:
    """An incident named in a request body: unknown and invisible ones are the same 400."""
    incident = incident_list_for_user(user=user).filter(number=number).first()
    if incident is None:
        raise serializers.ValidationError({"incident": [f"No incident INC-{number} in your teams."]})
    return incident


class MarkdownRenderer(renderers.BaseRenderer):
    """Lets clients ask for `text/markdown`; an error asked for that way is its plain message."""

    media_type = "text/markdown"
    format = "md"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        if isinstance(data, str):
            return data.encode()
        if isinstance(data, dict) and "detail" in data:
            return str(data["detail"]).encode()
        return json.dumps(data).encode()


class _ViewSet(viewsets.GenericViewSet):
    """What both viewsets share: the caller's date for "overdue", and parsing a request body."""

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        # "Overdue" is judged by the caller's own date.
        context["today"] = person_today(self.request.user, now=timezone.now())
        return context

    def _input(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


# --- postmortems ----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Postmortems you may read, newest first"),
    retrieve=extend_schema(
        summary="One postmortem: sections, timeline, reviews, metrics and action items",
        responses={200: PostmortemDetailSerializer, **_REFUSALS},
    ),
)
class PostmortemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _ViewSet):
    """`/api/v1/postmortems/{number}/`: the postmortem of incident `number`."""

    serializer_class = PostmortemSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = PostmortemFilter
    lookup_field = "incident__number"
    lookup_url_kwarg = "number"
    lookup_value_regex = _ID

    def get_queryset(self) -> QuerySet[Postmortem]:
        if getattr(self, "swagger_fake_view", False):
            return Postmortem.objects.none()
        return postmortem_list_for_user(user=self.request.user).select_related("published_by")

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return PostmortemDetailSerializer if self.action == "retrieve" else PostmortemSerializer

    def get_object(self) -> Postmortem:
        return postmortem_get_for_user(user=self.request.user, number=int(self.kwargs["number"]))

    def _postmortem_response(self, number: int, code: int = status.HTTP_200_OK) -> Response:
        # Re-read through the selector: the services return the bare row, without what it shows.
        fresh = postmortem_get_for_user(user=self.request.user, number=number)
        data = PostmortemDetailSerializer(fresh, context=self.get_serializer_context()).data
        return Response(data, status=code)

    @extend_schema(
        summary="Start the postmortem of an incident (sections, imported timeline, due date)",
        request=PostmortemCreateSerializer,
        responses={201: PostmortemDetailSerializer, **_BAD_INPUT, 403: _REFUSALS[403], **_CONFLICT},
    )
    def create(self, request: Request) -> Response:
        data = self._input(PostmortemCreateSerializer)
        incident = _visible_incident(request.user, data["incident"])
        _require_write(request.user, incident)
        postmortem_create(incident=incident, actor=request.user, owner=data.get("owner"), title=data["title"])
        return self._postmortem_response(incident.number, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change the title, owner or due date",
        request=PostmortemUpdateSerializer,
        responses={200: PostmortemDetailSerializer, **_WRITE},
    )
    def partial_update(self, request: Request, number: str) -> Response:
        postmortem = self.get_object()
        _require_write(request.user, postmortem.incident)
        data = self._input(PostmortemUpdateSerializer)
        postmortem_update(postmortem=postmortem, actor=request.user, **data)
        return self._postmortem_response(postmortem.incident.number)

    # --- sections ---

    def _section_key(self, key: str) -> str:
        if key not in SectionKey.values:
            raise exceptions.NotFound(
                f"There is no section {key!r}; sections are {', '.join(SectionKey.values)}."
            )
        return key

    @extend_schema(
        summary="Every section, in the template's order",
        request=None,
        responses={200: SectionSerializer(many=True), **_REFUSALS},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def sections(self, request: Request, number: str) -> Response:
        postmortem = self.get_object()
        order = {key: index for index, key in enumerate(SectionKey.values)}
        rows = sorted(postmortem.sections.all(), key=lambda section: order[section.key])
        return Response(SectionSerializer(rows, many=True).data)

    @extend_schema(
        summary="One section with its rendered text and blameless-language warnings",
        parameters=[_SECTION_KEY],
        request=None,
        responses={200: SectionSerializer, **_REFUSALS},
    )
    @action(detail=True, methods=["get"], url_path=r"sections/(?P<key>[^/.]+)", filter_backends=[])
    def section(self, request: Request, number: str, key: str) -> Response:
        postmortem = self.get_object()
        key = self._section_key(key)
        row = next((section for section in postmortem.sections.all() if section.key == key), None)
        if row is None:
            raise exceptions.NotFound(f"This postmortem has no {key!r} section.")
        return Response(SectionSerializer(row).data)

    @extend_schema(
        summary="Save a section's Markdown; warnings point out blaming phrases but never stop the save",
        parameters=[_SECTION_KEY],
        request=SectionWriteSerializer,
        responses={200: SectionSerializer, **_WRITE},
    )
    @section.mapping.put
    @section.mapping.patch
    def section_write(self, request: Request, number: str, key: str) -> Response:
        postmortem = self.get_object()
        key = self._section_key(key)
        _require_write(request.user, postmortem.incident)
        data = self._input(SectionWriteSerializer)
        update = section_update(postmortem=postmortem, key=key, body=data["body"], actor=request.user)
        return Response(SectionSerializer(update.section, context={"warnings": update.warnings}).data)

    # --- timeline ---

    @extend_schema(
        methods=["GET"],
        summary="The postmortem's timeline, oldest first (excluded entries too)",
        request=None,
        responses={200: TimelineEntrySerializer(many=True), **_REFUSALS},
    )
    @extend_schema(
        methods=["POST"],
        summary="Add an entry by hand: something the incident's timeline did not record",
        request=TimelineEntryCreateSerializer,
        responses={201: TimelineEntrySerializer, **_WRITE},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def timeline(self, request: Request, number: str) -> Response:
        postmortem = self.get_object()
        if request.method == "GET":
            return Response(
                TimelineEntrySerializer(postmortem_timeline(postmortem=postmortem), many=True).data
            )
        _require_write(request.user, postmortem.incident)
        data = self._input(TimelineEntryCreateSerializer)
        entry = timeline_entry_add(postmortem=postmortem, actor=request.user, **data)
        return Response(TimelineEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Copy the incident's new timeline events; edited entries stay as they are",
        request=None,
        responses={200: TimelineImportedSerializer, **_REFUSALS, **_CONFLICT},
    )
    @action(detail=True, methods=["post"], url_path="timeline/import", filter_backends=[])
    def timeline_import(self, request: Request, number: str) -> Response:
        postmortem = self.get_object()
        _require_write(request.user, postmortem.incident)
        imported = timeline_import(postmortem=postmortem, actor=request.user)
        return Response(TimelineImportedSerializer({"imported": imported}).data)

    def _entry(self, postmortem: Postmortem, entry_id: str) -> TimelineEntry:
        entry = postmortem.timeline_entries.filter(pk=int(entry_id)).first()
        if entry is None:
            raise exceptions.NotFound(f"This postmortem has no timeline entry {entry_id}.")
        entry.postmortem = postmortem
        return entry

    @extend_schema(
        summary="Edit an entry's text or time, or include or exclude it",
        parameters=[_ENTRY_ID],
        request=TimelineEntryUpdateSerializer,
        responses={200: TimelineEntrySerializer, **_WRITE},
    )
    @action(detail=True, methods=["patch"], url_path=rf"timeline/(?P<entry_id>{_ID})", filter_backends=[])
    def timeline_entry(self, request: Request, number: str, entry_id: str) -> Response:
        postmortem = self.get_object()
        _require_write(request.user, postmortem.incident)
        entry = self._entry(postmortem, entry_id)
        data = self._input(TimelineEntryUpdateSerializer)
        entry = timeline_entry_update(entry=entry, actor=request.user, **data)
        return Response(TimelineEntrySerializer(entry).data)

    @extend_schema(
        summary="Delete an entry written by hand (imported ones are excluded instead: 409)",
        parameters=[_ENTRY_ID],
        request=None,
        responses={204: None, **_REFUSALS, **_CONFLICT},
    )
    @timeline_entry.mapping.delete
    def timeline_entry_remove(self, request: Request, number: str, entry_id: str) -> Response:
        postmortem = self.get_object()
        _require_write(request.user, postmortem.incident)
        timeline_entry_delete(entry=self._entry(postmortem, entry_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # --- review ---

    @extend_schema(
        summary="Ask people (from any team) to review; a draft moves to in review",
        request=ReviewRequestSerializer,
        responses={200: PostmortemDetailSerializer, **_WRITE},
    )
    @action(detail=True, methods=["post"], url_path="request-review", filter_backends=[])
    def request_review(self, request: Request, number: str) -> Response:
        postmortem = self.get_object()
        _require_write(request.user, postmortem.incident)
        data = self._input(ReviewRequestSerializer)
        review_request(postmortem=postmortem, actor=request.user, reviewers=data["reviewers"])
        return self._postmortem_response(postmortem.incident.number)

    @extend_schema(
        summary="Approve, as one of the people asked to review",
        request=None,
        responses={200: PostmortemDetailSerializer, **_REFUSALS, **_CONFLICT},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def approve(self, request: Request, number: str) -> Response:
        postmortem = self.get_object()
        if not rules.is_reviewer(request.user, postmortem):
            raise exceptions.PermissionDenied(
                "Only the people asked to review this postmortem can approve it."
            )
        review_approve(postmortem=postmortem, actor=request.user)
        return self._postmortem_response(postmortem.incident.number)

    @extend_schema(
        methods=["GET"],
        summary="Review comments, oldest first",
        parameters=[
            OpenApiParameter("section", str, enum=SectionKey.values, description="Only this section's."),
            OpenApiParameter("resolved", bool, description="Only resolved (true) or open (false) ones."),
        ],
        request=None,
        responses={200: CommentSerializer(many=True), **_REFUSALS},
    )
    @extend_schema(
        methods=["POST"],
        summary="Comment on a section",
        request=CommentCreateSerializer,
        responses={201: CommentSerializer, **_WRITE},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def comments(self, request: Request, number: str) -> Response:
        postmortem = self.get_object()
        if request.method == "GET":
            comments = list(postmortem.comments.all())
            section = request.query_params.get("section")
            if section:
                if section not in SectionKey.values:
                    raise serializers.ValidationError({"section": [f"There is no section {section!r}."]})
                comments = [comment for comment in comments if comment.section == section]
            resolved = request.query_params.get("resolved", "").lower()
            if resolved in {"true", "1", "false", "0"}:
                want = resolved in {"true", "1"}
                comments = [comment for comment in comments if (comment.resolved_at is not None) == want]
            return Response(CommentSerializer(comments, many=True).data)
        _require_comment(request.user, postmortem)
        data = self._input(CommentCreateSerializer)
        comment = comment_add(postmortem=postmortem, actor=request.user, **data)
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Mark a comment as dealt with",
        parameters=[_COMMENT_ID],
        request=None,
        responses={200: CommentSerializer, **_REFUSALS, **_CONFLICT},
    )
    @action(
        detail=True, methods=["post"], url_path=rf"comments/(?P<comment_id>{_ID})/resolve", filter_backends=[]
    )
    def comment_resolve(self, request: Request, number: str, comment_id: str) -> Response:
        postmortem = self.get_object()
        comment = next((c for c in postmortem.comments.all() if c.pk == int(comment_id)), None)
        if comment is None:
            raise exceptions.NotFound(f"This postmortem has no comment {comment_id}.")
        _require_comment(request.user, postmortem)
        comment.postmortem = postmortem
        return Response(CommentSerializer(comment_resolve(comment=comment, actor=request.user)).data)

    @extend_schema(
        summary="Publish: records who and when; afterwards only the action items change",
        request=None,
        responses={200: PostmortemDetailSerializer, **_REFUSALS, **_CONFLICT},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def publish(self, request: Request, number: str) -> Response:
        postmortem = self.get_object()
        _require_publish(request.user, postmortem)
        postmortem_publish(postmortem=postmortem, actor=request.user)
        return self._postmortem_response(postmortem.incident.number)

    @extend_schema(
        summary="The whole postmortem as one Markdown document",
        parameters=[
            OpenApiParameter(
                "time_zone",
                str,
                description="IANA time zone for the timeline's times; defaults to your profile's.",
            )
        ],
        request=None,
        responses={(200, "text/markdown"): OpenApiTypes.STR, **_BAD_INPUT, **_REFUSALS},
    )
    @action(
        detail=True,
        methods=["get"],
        filter_backends=[],
        renderer_classes=[renderers.JSONRenderer, MarkdownRenderer],
    )
    def export(self, request: Request, number: str) -> HttpResponse:
        postmortem = self.get_object()
        zone = request.query_params.get("time_zone") or str(person_zone(request.user))
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise serializers.ValidationError(
                {"time_zone": [f"{zone!r} is not a time zone Muster knows; use one like Europe/Berlin."]}
            ) from None
        text = postmortem_export_markdown(postmortem=postmortem, time_zone=zone)
        response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="INC-{postmortem.incident.number}-postmortem.md"'
        return response


# --- action items ---------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Action items of your teams and the ones you own, soonest due first"),
    retrieve=extend_schema(summary="One action item", responses={200: ActionItemSerializer, **_REFUSALS}),
)
class ActionItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _ViewSet):
    """No DELETE (405): action items are the incident's history; close one as won't do instead."""

    serializer_class = ActionItemSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ActionItemFilter
    lookup_value_regex = _ID

    def get_queryset(self) -> QuerySet[ActionItem]:
        if getattr(self, "swagger_fake_view", False):
            return ActionItem.objects.none()
        return action_item_list_for_user(user=self.request.user).select_related("created_by", "closed_by")

    def get_object(self) -> ActionItem:
        return action_item_get_for_user(user=self.request.user, pk=int(self.kwargs["pk"]))

    def _item_response(self, item: ActionItem, code: int = status.HTTP_200_OK) -> Response:
        # Re-read through the selector for its joins; the services return the bare row.
        fresh = self.get_queryset().get(pk=item.pk)
        return Response(ActionItemSerializer(fresh, context=self.get_serializer_context()).data, status=code)

    @extend_schema(
        summary="Add an action item to an incident (its postmortem need not exist yet)",
        request=ActionItemCreateSerializer,
        responses={201: ActionItemSerializer, **_BAD_INPUT, 403: _REFUSALS[403], **_CONFLICT},
    )
    def create(self, request: Request) -> Response:
        data = self._input(ActionItemCreateSerializer)
        incident = _visible_incident(request.user, data.pop("incident"))
        if not rules.can_add_action_item(request.user, incident):
            raise exceptions.PermissionDenied(
                f"Adding action items needs the responder role in team {_team_name(incident)}."
            )
        item = action_item_create(incident=incident, actor=request.user, **data)
        return self._item_response(item, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change an action item (not its status: see the status endpoint)",
        request=ActionItemUpdateSerializer,
        responses={200: ActionItemSerializer, **_WRITE},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        item = self.get_object()
        _require_change_item(request.user, item)
        data = self._input(ActionItemUpdateSerializer)
        action_item_update(item=item, actor=request.user, **data)
        return self._item_response(item)

    @extend_schema(
        summary="Move an item along open → in progress → done / won't do (or reopen it)",
        request=ActionItemStatusChangeSerializer,
        responses={200: ActionItemSerializer, **_WRITE},
    )
    @action(detail=True, methods=["post"], url_path="status", filter_backends=[])
    def set_status(self, request: Request, pk: str) -> Response:
        item = self.get_object()
        _require_change_item(request.user, item)
        data = self._input(ActionItemStatusChangeSerializer)
        action_item_set_status(item=item, actor=request.user, **data)
        return self._item_response(item)
