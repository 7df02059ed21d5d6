"""Generic JSON webhooks: the integration's config says where each field sits in the sender's body.

Config keys (all optional), each a dotted path with numeric list indexes, e.g. "alerts.0.labels.host":

    title_path       the alert summary              default: first of title, summary, message
    severity_path    critical/warning/P1/sev2/...   default: first of severity, priority, level
    dedup_key_path   identifies one alert           default: first of id, dedup_key, key, alert_id
    source_path      host or system                 default: first of source, host
    action_path      trigger/ack/resolve status     default: first of status, state, action
    resolve_values        values at action_path that resolve      default: resolved, ok, closed, ...
    acknowledge_values    values at action_path that acknowledge  default: acknowledged, ack, ...

Without a dedup key the title identifies the alert, so repeats of one message deduplicate and a
"resolved" message with the same title resolves it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from incidents.ingest import severity
from incidents.ingest.events import Action, AlertEvent, IngestError
from incidents.ingest.parsing import JsonObject

SUMMARY_MAX = 1024
DEDUP_KEY_MAX = 255

DEFAULT_PATHS: dict[str, tuple[str, ...]] = {
    "title_path": ("title", "summary", "message"),
    "severity_path": ("severity", "priority", "level"),
    "dedup_key_path": ("id", "dedup_key", "key", "alert_id"),
    "source_path": ("source", "host"),
    "action_path": ("status", "state", "action"),
}
DEFAULT_RESOLVE_VALUES = ("resolved", "resolve", "ok", "closed", "close", "recovered", "inactive")
DEFAULT_ACKNOWLEDGE_VALUES = ("acknowledged", "acknowledge", "ack")

_MISSING = object()


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted path like "alerts.0.title", or _MISSING."""
    current = data
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif (
            isinstance(current, list)
            and part.lstrip("-").isdigit()
            and -len(current) <= int(part) < len(current)
        ):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None or value is _MISSING:
        return None
    if isinstance(value, str | int | float):
        text = str(value).strip()
        return text or None
    return None


VALUE_LIST_SETTINGS = ("resolve_values", "acknowledge_values")


def config_problems(config: Any) -> list[str]:
    """What is wrong with a webhook integration's settings, checked when they are saved so a sender
    never pays for a typo in them."""
    if not isinstance(config, dict):
        return ["The settings must be a JSON object."]
    problems = []
    for name, value in config.items():
        if name in DEFAULT_PATHS:
            if value not in (None, "") and (not isinstance(value, str) or not value.strip()):
                problems.append(f"'{name}' must be a dotted path such as 'alert.title'.")
        elif name in VALUE_LIST_SETTINGS:
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                problems.append(f"'{name}' must be a list of strings.")
        else:
            known = ", ".join([*DEFAULT_PATHS, *VALUE_LIST_SETTINGS])
            problems.append(f"Unknown setting '{name}' (known: {known}).")
    return problems


def _config_paths(config: dict[str, Any], name: str) -> tuple[tuple[str, ...], bool]:
    """The paths to try for one field, and whether the integration configured them explicitly."""
    configured = config.get(name)
    if configured in (None, ""):
        return DEFAULT_PATHS[name], False
    if not isinstance(configured, str):
        raise IngestError(f"The integration's '{name}' setting must be a dotted path string.", status=400)
    return (configured,), True


def _first_text(data: JsonObject, paths: tuple[str, ...]) -> str | None:
    for path in paths:
        text = _scalar_text(lookup(data, path))
        if text is not None:
            return text
    return None


def _values(config: dict[str, Any], name: str, default: tuple[str, ...]) -> set[str]:
    configured = config.get(name)
    if configured is None:
        return set(default)
    if not isinstance(configured, list) or not all(isinstance(v, str) for v in configured):
        raise IngestError(f"The integration's '{name}' setting must be a list of strings.", status=400)
    return {v.lower() for v in configured}


def parse_webhook(data: JsonObject, *, config: dict[str, Any]) -> AlertEvent:
    title_paths, title_configured = _config_paths(config, "title_path")
    title = _first_text(data, title_paths)
    if title is None:
        where = f"'{title_paths[0]}'" if title_configured else " or ".join(f"'{p}'" for p in title_paths)
        raise IngestError(
            "The webhook body has no title.",
            [f"No text at {where}; the integration reads the alert title from there."],
        )

    status_text = _first_text(data, _config_paths(config, "action_path")[0])
    action: Action = "trigger"
    if status_text is not None:
        status = status_text.lower()
        if status in _values(config, "resolve_values", DEFAULT_RESOLVE_VALUES):
            action = "resolve"
        elif status in _values(config, "acknowledge_values", DEFAULT_ACKNOWLEDGE_VALUES):
            action = "acknowledge"

    dedup_key = _first_text(data, _config_paths(config, "dedup_key_path")[0])
    if dedup_key is None:
        dedup_key = "title:" + hashlib.sha256(title.encode()).hexdigest()
    elif len(dedup_key) > DEDUP_KEY_MAX:
        dedup_key = "sha256:" + hashlib.sha256(dedup_key.encode()).hexdigest()

    sev, urgency = severity.from_any(_first_text(data, _config_paths(config, "severity_path")[0]))
    source = _first_text(data, _config_paths(config, "source_path")[0]) or ""
    return AlertEvent(
        action=action,
        dedup_key=dedup_key,
        group_key=dedup_key,
        summary=title[:SUMMARY_MAX],
        severity=sev,
        urgency=urgency,
        source=source,
        # Top-level scalars read as key/value context; nested structure stays in the raw payload.
        details={k: v for k, v in data.items() if _scalar_text(v) is not None},
        raw=data,
    )
