"""The Opsgenie Alert API subset alert senders use (INTEROP.md §4): create, close, acknowledge, and the
message/description updates Alertmanager's opsgenie_configs send with `update_alerts: true`.

Identifiers on close/acknowledge: `identifierType=alias` names the alias given at create time.
`id` (the default) and `tiny` name Muster's alert id, since Muster has no separate Opsgenie ids; when
no alert of this integration has that id, the identifier is taken as an alias instead, so a sender
that closes by the alias it created with works whichever identifierType it sends.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.http import HttpRequest

from incidents.ingest import severity
from incidents.ingest.events import Action, AlertEvent, IngestError
from incidents.ingest.parsing import JsonObject, Problems, json_type
from incidents.models import Alert, Integration

MESSAGE_MAX = 130
ALIAS_MAX = 512
DESCRIPTION_MAX = 15000
TAGS_MAX = 20
TAG_MAX = 50
ENTITY_MAX = 512
SOURCE_MAX = 100
DEDUP_KEY_MAX = 255
IDENTIFIER_TYPES = ("id", "alias", "tiny")

INVALID = "Request body is not processable. Please check the errors."


def api_key(request: HttpRequest) -> str | None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "geniekey":
        return None
    return key.strip() or None


def dedup_key_for_alias(alias: str) -> str:
    """Aliases may be 512 characters, dedup keys 255: long ones are hashed, the same way every time,
    so that the close for an alias finds the alert its create opened."""
    if len(alias) <= DEDUP_KEY_MAX:
        return alias
    return "sha256:" + hashlib.sha256(alias.encode()).hexdigest()


def parse_create(data: JsonObject) -> AlertEvent:
    problems = Problems()
    message = problems.string(data, "message", required=True, max_length=MESSAGE_MAX)
    alias = problems.string(data, "alias", max_length=ALIAS_MAX)
    description = problems.string(data, "description", max_length=DESCRIPTION_MAX)
    entity = problems.string(data, "entity", max_length=ENTITY_MAX)
    source = problems.string(data, "source", max_length=SOURCE_MAX)
    priority = problems.string(data, "priority")
    if priority is not None and severity.from_priority(priority) is None:
        problems.add(
            f"'priority' must be one of {', '.join(severity.OPSGENIE_PRIORITIES)}; got {priority[:20]!r}."
        )
    tags = problems.array(data, "tags")
    if len(tags) > TAGS_MAX:
        problems.add(f"'tags' has {len(tags)} entries; the limit is {TAGS_MAX}.")
    for index, tag in enumerate(tags):
        if not isinstance(tag, str):
            problems.add(f"'tags[{index}]' must be a string, not {json_type(tag)}.")
        elif len(tag) > TAG_MAX:
            problems.add(f"'tags[{index}]' is longer than {TAG_MAX} characters.")
    extra = problems.string_map(data, "details")
    problems.raise_if_any(INVALID, status=422)
    assert message is not None

    # Without an alias every create is its own alert, as in Opsgenie.
    dedup_key = dedup_key_for_alias(alias) if alias else uuid.uuid4().hex
    sev, urgency = severity.from_priority(priority or "P3") or severity.DEFAULT
    details: dict[str, Any] = {"priority": (priority or "P3").upper()}
    if description:
        details["description"] = description
    if tags:
        details["tags"] = tags
    if entity:
        details["entity"] = entity
    if extra:
        details["details"] = extra
    if alias and dedup_key != alias:
        details["alias"] = alias
    return AlertEvent(
        action="trigger",
        dedup_key=dedup_key,
        group_key=dedup_key,
        summary=message,
        severity=sev,
        urgency=urgency,
        source=source or entity or "",
        details=details,
        raw=data,
    )


def identifier_type(request: HttpRequest) -> str:
    value = request.GET.get("identifierType", "id").lower()
    if value not in IDENTIFIER_TYPES:
        raise IngestError(
            INVALID,
            [f"'identifierType' must be one of {', '.join(IDENTIFIER_TYPES)}; got {value[:20]!r}."],
            422,
        )
    return value


def dedup_key_for_identifier(*, integration: Integration, identifier: str, kind: str) -> str:
    if kind != "alias" and identifier.isdigit():
        found = (
            Alert.objects.filter(integration=integration, pk=int(identifier))
            .values_list("dedup_key", flat=True)
            .first()
        )
        if found is not None:
            return found
    return dedup_key_for_alias(identifier)


def parse_action_body(data: JsonObject) -> dict[str, str]:
    """Close and acknowledge take an optional {user, source, note}: kept for the alert's raw payload."""
    problems = Problems()
    fields = {}
    for key, limit in (("user", 100), ("source", SOURCE_MAX), ("note", 25000)):
        value = problems.string(data, key, max_length=limit)
        if value:
            fields[key] = value
    problems.raise_if_any(INVALID, status=422)
    return fields


def action_event(*, action: Action, dedup_key: str, fields: dict[str, str]) -> AlertEvent:
    return AlertEvent(action=action, dedup_key=dedup_key, group_key=dedup_key, raw=fields)
