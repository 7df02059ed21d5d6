"""Runbook Markdown: rendered with the `markdown` package, then sanitised with nh3.

Runbook text is written by any responder and shown to everyone during incidents, so the rendered
HTML is never trusted: whatever Markdown (or raw HTML inside it) produces, nh3 keeps only the
allowlist below. Task-list items (`- [ ]`, `- [x]`) render as disabled checkboxes; on an incident
the same items become a checklist (`checklist_items`), ticked there and never in the runbook.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree

import markdown
import nh3
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

ALLOWED_TAGS = {
    *(f"h{level}" for level in range(1, 7)),
    "p",
    "ul",
    "ol",
    "li",
    "code",
    "pre",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "a",
    "img",
    "input",
    "blockquote",
    "em",
    "strong",
    "hr",
    "br",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt"},
    "input": {"checked"},
    # Table column alignment from the `tables` extension.
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}
# Every <input> that survives is a disabled checkbox, whatever the raw HTML asked for: the only
# inputs a runbook may show are its task-list boxes, and they are ticked on the incident instead.
FORCED_ATTRIBUTES = {"input": {"type": "checkbox", "disabled": "disabled"}}
ALLOWED_CLASSES = {"ul": {"task-list"}, "li": {"task-list-item"}}
URL_SCHEMES = {"http", "https", "mailto"}
# Removed together with their content (the rest lose only the tag and keep their text).
DROPPED_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "template", "noscript", "textarea"}

_TASK_MARKER = re.compile(r"^\[([ xX])\]\s+")
_CHECKLIST_LINE = re.compile(r"^\s*[-*+]\s+\[([ xX])\]\s+(\S.*?)\s*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


class _TaskListTreeprocessor(Treeprocessor):
    def run(self, root: etree.Element) -> None:
        # Only bullet lists, like `checklist_items`: "1. [ ]" is not a checklist step there either.
        for bullets in root.iter("ul"):
            for item in bullets.findall("li"):
                if self._make_task(item):
                    bullets.set("class", "task-list")

    @staticmethod
    def _make_task(item: etree.Element) -> bool:
        # Tight lists put the text straight into <li>; loose lists wrap it in a <p>.
        holder = item
        if not (item.text or "").strip() and len(item) and item[0].tag == "p":
            holder = item[0]
        match = _TASK_MARKER.match(holder.text or "")
        if match is None:
            return False
        box = etree.Element("input", {"type": "checkbox", "disabled": "disabled"})
        if match.group(1) in "xX":
            box.set("checked", "checked")
        box.tail = " " + (holder.text or "")[match.end() :]
        holder.text = ""
        holder.insert(0, box)
        item.set("class", "task-list-item")
        return True


class TaskListExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        # After "inline" so the marker is plain text; before "prettify", which only re-indents.
        md.treeprocessors.register(_TaskListTreeprocessor(md), "muster_task_list", 5)


def render_markdown(text: str) -> str:
    """Markdown to HTML that is safe to put on any page."""
    html = markdown.markdown(
        text,
        extensions=["tables", "fenced_code", "sane_lists", TaskListExtension()],
        output_format="html",
    )
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        set_tag_attribute_values=FORCED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def checklist_items(text: str) -> list[str]:
    """The text of each task-list item (`- [ ] step`, `* [x] step`), in order, skipping fenced
    code blocks: an example of a checklist inside a code block is not a step to tick."""
    items: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        fence_match = _FENCE.match(line)
        if fence is not None:
            marker = fence_match.group(1) if fence_match else ""
            if (
                marker
                and marker[0] == fence[0]
                and len(marker) >= len(fence)
                and not line.strip()[len(marker) :]
            ):
                fence = None
            continue
        if fence_match:
            fence = fence_match.group(1)
            continue
        match = _CHECKLIST_LINE.match(line)
        if match:
            items.append(match.group(2))
    return items
