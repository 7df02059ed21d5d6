"""Runbooks as Markdown files with front matter, the form teams keep them in git today:

    ---
    title: Postgres replication lag
    slug: pg-replication-lag
    services: [checkout, search]
    labels: {alertname: PgReplicationLag, team: db}
    review_interval_days: 90
    ---
    # Postgres replication lag
    ...

The front matter is a strict subset of YAML (plain or quoted strings, an integer, flow `[...]`
lists and `{...}` maps, or the same as indented block lists/maps), parsed here so the web process
needs no YAML library; anything outside the subset is refused with the line it is on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from incidents.models import Team
from incidents.services.errors import DomainError
from runbooks.models import Runbook
from runbooks.services.errors import NothingChanged
from runbooks.services.runbooks import (
    clean_body,
    clean_labels,
    clean_services,
    clean_slug,
    revision_create,
    runbook_create,
    runbook_update,
)

FRONT_MATTER_KEYS = ("title", "slug", "services", "labels", "review_interval_days")
IMPORT_NOTE = "Imported from Markdown"
_FENCE_LINE = "---"
# A plain scalar that YAML would read as something other than this exact string must be quoted.
_NEEDS_QUOTES = re.compile(
    r"""^$|^\s|\s$|[:#,\[\]{}"'&*!|>%@`]|^[-?]|^(true|false|yes|no|on|off|null|~)$|^[-+.\d]""", re.I
)


class FrontMatterError(DomainError):
    pass


@dataclass
class RunbookFile:
    body: str
    meta: dict[str, Any] = field(default_factory=dict)


# --- writing --------------------------------------------------------------------------------


def _scalar(value: str) -> str:
    return json.dumps(value, ensure_ascii=False) if _NEEDS_QUOTES.search(value) else value


def runbook_export_markdown(runbook: Runbook) -> str:
    """The runbook's current text with its metadata as front matter; importing it gives it back."""
    services = ", ".join(_scalar(s) for s in sorted(runbook.services.values_list("slug", flat=True)))
    labels = ", ".join(f"{_scalar(k)}: {_scalar(v)}" for k, v in sorted(runbook.labels.items()))
    body = runbook.current_revision.body if runbook.current_revision else ""
    return (
        f"{_FENCE_LINE}\n"
        f"title: {_scalar(runbook.title)}\n"
        f"slug: {_scalar(runbook.slug)}\n"
        f"services: [{services}]\n"
        f"labels: {{{labels}}}\n"
        f"review_interval_days: {runbook.review_interval_days}\n"
        f"{_FENCE_LINE}\n"
        f"{body}\n"
    )


# --- reading --------------------------------------------------------------------------------


def _parse_scalar(text: str, line_number: int) -> str:
    text = text.strip()
    if text.startswith('"'):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise FrontMatterError(
                f'Front matter line {line_number}: unterminated or invalid "quoted" text.'
            ) from None
        if not isinstance(value, str):
            raise FrontMatterError(f"Front matter line {line_number}: expected text.")
        return value
    if text.startswith("'"):
        if len(text) < 2 or not text.endswith("'") or "'" in text[1:-1].replace("''", ""):
            raise FrontMatterError(f"Front matter line {line_number}: unterminated 'quoted' text.")
        return text[1:-1].replace("''", "'")
    if text and text[0] in "[{&*!|>%@`":
        raise FrontMatterError(f"Front matter line {line_number}: {text!r} is not plain text; quote it.")
    # As in YAML, " #" starts a comment after a plain value.
    return re.split(r"\s#", text, maxsplit=1)[0].strip()


def _split_flow(inner: str, line_number: int) -> list[str]:
    """Split the inside of `[...]`/`{...}` on top-level commas, respecting quotes."""
    parts, current, quote = [], "", ""
    for char in inner:
        if quote:
            current += char
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
            current += char
        elif char == ",":
            parts.append(current)
            current = ""
        elif char in "[]{}":
            raise FrontMatterError(
                f"Front matter line {line_number}: nested lists or maps are not supported."
            )
        else:
            current += char
    if quote:
        raise FrontMatterError(f"Front matter line {line_number}: unterminated quoted text.")
    parts.append(current)
    stripped = [part.strip() for part in parts]
    if stripped == [""]:
        return []
    if "" in stripped:
        raise FrontMatterError(f"Front matter line {line_number}: empty item.")
    return stripped


def _split_pair(text: str, line_number: int) -> tuple[str, str]:
    """`key: value` → (key, value); the key may be quoted, and the colon must be followed by a
    space or the end (as in YAML, `http://x` is one value)."""
    quote = ""
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'" and index == 0:
            quote = char
        elif char == ":" and (index + 1 == len(text) or text[index + 1] == " "):
            return _parse_scalar(text[:index], line_number), text[index + 1 :].strip()
    raise FrontMatterError(f"Front matter line {line_number}: expected `name: value`, got {text!r}.")


def _parse_value(raw: str, block: list[tuple[int, str]], line_number: int) -> Any:
    if raw.startswith("["):
        if not raw.endswith("]"):
            raise FrontMatterError(f"Front matter line {line_number}: a list must end with ].")
        return [_parse_scalar(item, line_number) for item in _split_flow(raw[1:-1], line_number)]
    if raw.startswith("{"):
        if not raw.endswith("}"):
            raise FrontMatterError(f"Front matter line {line_number}: a map must end with }}.")
        pairs = [_split_pair(item, line_number) for item in _split_flow(raw[1:-1], line_number)]
        return {key: _parse_scalar(value, line_number) for key, value in pairs}
    if raw == "" and block:
        if all(text.startswith("- ") or text == "-" for _, text in block):
            return [_parse_scalar(text[1:], number) for number, text in block]
        mapping: dict[str, str] = {}
        for number, text in block:
            key, value = _split_pair(text, number)
            mapping[key] = _parse_scalar(value, number)
        return mapping
    if block:
        raise FrontMatterError(f"Front matter line {block[0][0]}: unexpected indented line.")
    return _parse_scalar(raw, line_number)


def parse_runbook_markdown(text: str) -> RunbookFile:
    """Split a Markdown file into its front matter (validated keys) and body."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != _FENCE_LINE:
        return RunbookFile(body=text)
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].rstrip() in (_FENCE_LINE, "..."))
    except StopIteration:
        raise FrontMatterError(
            "The front matter starting with --- on line 1 is never closed with ---."
        ) from None

    # Group each top-level `key: value` line with the indented lines under it.
    entries: list[tuple[int, str, list[tuple[int, str]]]] = []
    for number, line in enumerate(lines[1:end], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0] in " \t":
            if not entries:
                raise FrontMatterError(f"Front matter line {number}: unexpected indented line.")
            entries[-1][2].append((number, line.strip()))
        else:
            entries.append((number, line, []))

    meta: dict[str, Any] = {}
    for number, line, block in entries:
        key, raw = _split_pair(line, number)
        if key not in FRONT_MATTER_KEYS:
            raise FrontMatterError(
                f"Front matter line {number}: unknown field {key!r} (known: {', '.join(FRONT_MATTER_KEYS)})."
            )
        if key in meta:
            raise FrontMatterError(f"Front matter line {number}: {key!r} is given twice.")
        value = _parse_value(raw, block, number)
        if key == "services" and not isinstance(value, list):
            value = [value] if value else []
        if key == "labels" and not isinstance(value, dict):
            if value:
                raise FrontMatterError(f"Front matter line {number}: labels must be a map like {{team: db}}.")
            value = {}
        if key in ("title", "slug") and not isinstance(value, str):
            raise FrontMatterError(f"Front matter line {number}: {key} must be text.")
        if key == "review_interval_days":
            if not isinstance(value, str) or not value.isdigit():
                raise FrontMatterError(
                    f"Front matter line {number}: review_interval_days must be a whole number."
                )
            value = int(value)
        meta[key] = value
    return RunbookFile(body="\n".join(lines[end + 1 :]), meta=meta)


def _title_from_body(body: str) -> str:
    for line in body.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return ""


@transaction.atomic
def runbook_import_markdown(
    *, team: Team, text: str, actor: Any, slug: str | None = None
) -> tuple[Runbook, str]:
    """Create or update the runbook a Markdown file describes; returns it and "created",
    "updated" or "unchanged". The runbook is found by the front matter's slug, else `slug` (e.g.
    the file name). An existing runbook gets a new revision only when the text changed; fields
    missing from the front matter are left as they are."""
    parsed = parse_runbook_markdown(text)
    meta = parsed.meta
    body = clean_body(parsed.body)
    chosen_slug = meta.get("slug") or slug
    if chosen_slug is not None:
        chosen_slug = clean_slug(chosen_slug)
    # Validate everything before writing anything, so a bad file changes nothing.
    services = clean_services(meta["services"]) if "services" in meta else None
    labels = clean_labels(meta["labels"]) if "labels" in meta else None

    runbook = Runbook.objects.select_for_update().filter(slug=chosen_slug).first() if chosen_slug else None
    if runbook is None:
        title = meta.get("title") or _title_from_body(body)
        if not title:
            raise FrontMatterError(
                "The file needs a title: a `title:` in its front matter or a `# Heading` line."
            )
        runbook = runbook_create(
            team=team,
            title=title,
            body=body,
            actor=actor,
            services=services or (),
            labels=labels,
            slug=chosen_slug,
            review_interval_days=meta.get(
                "review_interval_days", Runbook._meta.get_field("review_interval_days").default
            ),
            note=IMPORT_NOTE,
        )
        return runbook, "created"

    if runbook.team_id != team.pk:
        raise DomainError(
            f"The runbook {runbook.slug!r} belongs to the team {runbook.team.name}, not {team.name}."
        )
    before = (
        runbook.title,
        runbook.labels,
        runbook.review_interval_days,
        sorted(runbook.services.values_list("pk", flat=True)),
    )
    runbook_update(
        runbook=runbook,
        actor=actor,
        title=meta.get("title"),
        services=services,
        labels=labels,
        review_interval_days=meta.get("review_interval_days"),
    )
    after = (
        runbook.title,
        runbook.labels,
        runbook.review_interval_days,
        sorted(runbook.services.values_list("pk", flat=True)),
    )
    try:
        revision_create(runbook=runbook, body=body, actor=actor, note=IMPORT_NOTE)
    except NothingChanged:
        return runbook, "updated" if before != after else "unchanged"
    return runbook, "updated"
