"""PagerDuty Events API v2 (INTEROP.md §1): alert events and change events, with PagerDuty's bodies."""

from __future__ import annotations

import uuid
from typing import Any

from incidents.ingest import severity
from incidents.ingest.events import Action, AlertEvent, ChangeEventData, IngestError
from incidents.ingest.http import ErrorStyle
from incidents.ingest.parsing import JsonObject, Problems, load_json, optional_timestamp

SUMMARY_MAX = 1024
DEDUP_KEY_MAX = 255
ACTIONS = ("trigger", "acknowledge", "resolve")

INVALID = "Event object is invalid"
UNRECOGNIZED = "Event object format is unrecognized"

_STATUS_TEXT = {
    405: "method not allowed",
    413: "request too large",
    429: "throttle event",
    503: "unavailable",
}


def _render_error(status: int, error: IngestError, elapsed: float) -> tuple[int, dict[str, Any]]:
    if error.message == UNRECOGNIZED:
        return 400, {"status": "Unrecognized object", "message": UNRECOGNIZED, "errors": error.errors}
    if status in _STATUS_TEXT:
        return status, {"status": _STATUS_TEXT[status], "message": error.message, "errors": error.errors}
    # PagerDuty answers every other refusal, a bad or disabled routing key included, with its 400 shape:
    # SDKs parse that body, and 400 is what tells them not to retry.
    return 400, {"status": "invalid event", "message": INVALID, "errors": error.errors}


STYLE = ErrorStyle(render=_render_error)


def load_event(body: bytes) -> JsonObject:
    try:
        data = load_json(body)
    except IngestError:
        raise IngestError(UNRECOGNIZED, ["JSON parse error"]) from None
    if not isinstance(data, dict):
        raise IngestError(UNRECOGNIZED, ["Event must be a JSON object"])
    return data


def routing_key(data: JsonObject) -> str:
    problems = Problems()
    key = problems.string(data, "routing_key", required=True)
    problems.raise_if_any(INVALID)
    assert key is not None
    return key


def _links(problems: Problems, data: JsonObject, *, with_client: bool) -> list[dict[str, str]]:
    links: list[dict[str, str]] = []
    for index, link in enumerate(problems.array(data, "links")):
        path = f"links[{index}]."
        if not isinstance(link, dict):
            problems.add(f"'links[{index}]' must be an object.")
            continue
        href = problems.string(link, "href", path=path, required=True)
        text = problems.string(link, "text", path=path)
        if href:
            links.append({"href": href, "text": text or href})
    for index, image in enumerate(problems.array(data, "images")):
        path = f"images[{index}]."
        if not isinstance(image, dict):
            problems.add(f"'images[{index}]' must be an object.")
            continue
        src = problems.string(image, "src", path=path, required=True)
        href = problems.string(image, "href", path=path)
        alt = problems.string(image, "alt", path=path)
        if src:
            links.append({"href": href or src, "text": alt or "Image", "image": src})
    if with_client:
        client = problems.string(data, "client")
        client_url = problems.string(data, "client_url")
        if client_url:
            links.append({"href": client_url, "text": f"View in {client}" if client else client_url})
    return links


def _custom_details(payload: JsonObject) -> dict[str, Any]:
    """custom_details become the alert's details; PagerDuty also allows a bare string there."""
    custom = payload.get("custom_details")
    if isinstance(custom, dict):
        return custom
    return {} if custom is None else {"custom_details": custom}


def parse_alert_event(data: JsonObject) -> AlertEvent:
    problems = Problems()
    action = data.get("event_action")
    if action is None:
        problems.add("'event_action' is missing.")
    elif action not in ACTIONS:
        problems.add(f"'event_action' must be one of {', '.join(ACTIONS)}; got {str(action)[:40]!r}.")
    dedup_key = problems.string(data, "dedup_key", max_length=DEDUP_KEY_MAX)
    if action in ("acknowledge", "resolve") and not data.get("dedup_key"):
        problems.add(f"'dedup_key' is required to {action} an alert.")
    # The routing key is a credential: it must not be kept in the stored payload.
    raw = {k: v for k, v in data.items() if k != "routing_key"}
    if action != "trigger":
        problems.raise_if_any(INVALID)
        assert dedup_key is not None
        follow_up: Action = "acknowledge" if action == "acknowledge" else "resolve"
        return AlertEvent(action=follow_up, dedup_key=dedup_key, group_key=dedup_key, raw=raw)

    payload = problems.obj(data, "payload", required=True)
    # Without a payload object, "'payload' is missing" says it all; don't list each of its fields too.
    has_payload = isinstance(data.get("payload"), dict)
    summary = problems.string(
        payload, "summary", path="payload.", required=has_payload, max_length=SUMMARY_MAX
    )
    source = problems.string(payload, "source", path="payload.", required=has_payload)
    severity_word = problems.string(payload, "severity", path="payload.", required=has_payload)
    if severity_word and severity_word not in severity.PAGERDUTY_SEVERITIES:
        problems.add(
            f"'payload.severity' must be one of {', '.join(severity.PAGERDUTY_SEVERITIES)}; got {severity_word[:40]!r}."
        )
    occurred = optional_timestamp(problems, payload, "timestamp", path="payload.")
    labels = {}
    for field in ("component", "group", "class"):
        value = problems.string(payload, field, path="payload.")
        if value:
            labels[field] = value
    links = _links(problems, data, with_client=True)
    problems.raise_if_any(INVALID)

    assert summary is not None
    assert severity_word is not None
    details = _custom_details(payload)
    # PagerDuty generates a key for keyless triggers and returns it, so each is its own alert.
    dedup_key = dedup_key or uuid.uuid4().hex
    sev, urgency = severity.from_word(severity_word) or severity.DEFAULT
    return AlertEvent(
        action="trigger",
        dedup_key=dedup_key,
        group_key=dedup_key,
        summary=summary,
        severity=sev,
        urgency=urgency,
        source=source or "",
        labels=labels,
        details=details,
        links=links,
        raw=raw,
        occurred_at=occurred.moment if occurred else None,
    )


def parse_change_event(data: JsonObject) -> ChangeEventData:
    problems = Problems()
    payload = problems.obj(data, "payload", required=True)
    has_payload = isinstance(data.get("payload"), dict)
    summary = problems.string(
        payload, "summary", path="payload.", required=has_payload, max_length=SUMMARY_MAX
    )
    source = problems.string(payload, "source", path="payload.")
    occurred = optional_timestamp(problems, payload, "timestamp", path="payload.")
    links = _links(problems, data, with_client=False)
    problems.raise_if_any(INVALID)
    assert summary is not None
    details = _custom_details(payload)
    return ChangeEventData(
        summary=summary,
        source=source or "",
        occurred_at=occurred.moment if occurred else None,
        details=details,
        links=links,
    )
