"""The postmortem as one Markdown document, to paste into a wiki or attach to a ticket."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from incidents.models import Incident, person_name
from incidents.services.errors import DomainError
from postmortems.choices import SECTION_PROMPTS, ActionItemStatus, SectionKey
from postmortems.models import ActionItem, Postmortem
from postmortems.selectors import incident_metrics, postmortem_timeline


def format_duration(duration: timedelta) -> str:
    """`4 min`, `1 h 12 min`, `2 h`; under a minute is `under 1 min`."""
    minutes = int(duration.total_seconds() // 60)
    if minutes < 1:
        return "under 1 min"
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _one_line(text: str) -> str:
    """Text for a table cell or list line: on one line, and a pipe cannot end the cell early."""
    return " ".join(text.split()).replace("|", "\\|")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError(
            f"{name!r} is not a time zone Muster knows (use an IANA name like Europe/Berlin)."
        ) from None


def _when(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"


def postmortem_export_markdown(*, postmortem: Postmortem, time_zone: str) -> str:
    zone = _zone(time_zone)
    incident: Incident = postmortem.incident
    lines = [f"# Postmortem: {postmortem.title}", ""]
    lines += _facts(postmortem, incident, zone)
    lines += ["", "## Metrics", ""]
    for label, duration, how in incident_metrics(incident=incident):
        value = format_duration(duration) if duration is not None else "not recorded"
        lines.append(f"- **{label}:** {value} ({how.lower()})")

    bodies = dict(postmortem.sections.values_list("key", "body"))
    for key, label in SectionKey.choices:
        lines += ["", f"## {label}", ""]
        if key == SectionKey.TIMELINE:
            lines += _timeline_table(postmortem, zone)
        body = (bodies.get(key) or "").strip()
        if body:
            lines.append(body)
        elif key != SectionKey.TIMELINE:
            lines.append(f"_Not written yet. {SECTION_PROMPTS[key]}_")

    lines += ["", "## Action items", ""]
    items = list(
        ActionItem.objects.filter(incident=incident).select_related("owner").order_by("due_date", "pk")
    )
    if not items:
        lines.append("_None recorded._")
    lines += [_action_item_line(item) for item in items]
    return "\n".join(lines).rstrip() + "\n"


def _facts(postmortem: Postmortem, incident: Incident, zone: ZoneInfo) -> list[str]:
    service = incident.service
    facts = [
        f"- **Incident:** {incident.reference}: {incident.title}",
        f"- **Severity:** {incident.get_severity_display()}",
        f"- **Service:** {service.name} (team {service.team.name})",
        f"- **Owner:** {person_name(postmortem.owner) if postmortem.owner else 'nobody yet'}",
        f"- **Status:** {postmortem.get_status_display()}",
        f"- **Due:** {postmortem.due_date.isoformat() if postmortem.due_date else 'no due date'}",
    ]
    if postmortem.published_at is not None:
        by = f" by {person_name(postmortem.published_by)}" if postmortem.published_by else ""
        facts.append(f"- **Published:** {_when(postmortem.published_at, zone)} ({zone.key}){by}")
    for label, moment in (
        ("Impact started", incident.impact_started_at),
        ("Detected", incident.detected_at),
        ("Resolved", incident.resolved_at),
    ):
        if moment is not None:
            facts.append(f"- **{label}:** {_when(moment, zone)} ({zone.key})")
    facts.append(f"- **Times are in:** {zone.key}")
    return facts


def _timeline_table(postmortem: Postmortem, zone: ZoneInfo) -> list[str]:
    entries = list(postmortem_timeline(postmortem=postmortem, included_only=True))
    if not entries:
        return ["_No timeline entries._", ""]
    rows = [f"| Time ({zone.key}) | Who | What |", "|---|---|---|"]
    rows += [
        f"| {_when(entry.occurred_at, zone)} | {_one_line(entry.actor) or ' '} | {_one_line(entry.text)} |"
        for entry in entries
    ]
    return [*rows, ""]


def _action_item_line(item: ActionItem) -> str:
    box = "x" if item.status == ActionItemStatus.DONE else " "
    details = [
        item.get_status_display(),
        f"{item.get_priority_display().lower()} priority",
        item.get_kind_display().lower(),
        f"owner {person_name(item.owner)}" if item.owner else "no owner",
        f"due {item.due_date.isoformat()}" if item.due_date else "no due date",
    ]
    if item.tracker_url:
        details.append(f"tracker {item.tracker_url}")
    line = f"- [{box}] **{_one_line(item.title)}** ({'; '.join(details)})"
    if item.status == ActionItemStatus.WONT_DO and item.wont_do_reason:
        line += f"\n  - Won't do: {_one_line(item.wont_do_reason)}"
    if item.status == ActionItemStatus.DONE and item.verification:
        line += f"\n  - Verified: {_one_line(item.verification)}"
    return line
