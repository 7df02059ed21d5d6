"""How chat shows an incident: its headline facts and the buttons that still make sense for its
status. Used by command answers, button clicks and announcements alike."""

from __future__ import annotations

from django.conf import settings

from incidents.chatops.types import Button, Reply
from incidents.choices import IncidentStatus, Severity
from incidents.models import Incident

# The buttons that act on an incident, and the command that does the same when typed.
ACTION_COMMANDS = {"incident_ack": "ack", "incident_resolve": "resolve"}


def incident_url(incident: Incident) -> str:
    return settings.MUSTER_BASE_URL.rstrip("/") + incident.get_absolute_url()


def slack_channel_url(*, channel_id: str, team_id: str = "") -> str:
    """A link that opens the channel in the Slack app (or in the browser, for people without it)."""
    url = f"https://slack.com/app_redirect?channel={channel_id}"
    return f"{url}&team={team_id}" if team_id else url


def incident_message(*, incident: Incident, headline: str = "", extra: tuple[Button, ...] = ()) -> Reply:
    """The incident's reference, title and facts, under an optional headline ("Riley changed
    severity from SEV3 to SEV2"), with Acknowledge / Resolve / Open buttons as its status allows."""
    facts = [
        Severity(incident.severity).label,
        IncidentStatus(incident.status).label,
        incident.service.name,
    ]
    if incident.mitigated_at is not None and incident.is_open:
        facts.append("mitigated")
    buttons = []
    if incident.status == IncidentStatus.TRIGGERED:
        buttons.append(
            Button(action_id="incident_ack", label="Acknowledge", value=incident.reference, style="primary")
        )
    if incident.is_open:
        buttons.append(
            Button(action_id="incident_resolve", label="Resolve", value=incident.reference, style="danger")
        )
    url = incident_url(incident)
    buttons.append(Button(action_id="incident_open", label="Open", value=incident.reference, url=url))
    text = f"*{incident.reference}: {incident.title}*\n" + " · ".join(facts)
    return Reply(
        text=f"{headline}\n{text}" if headline else text,
        in_channel=True,
        buttons=(*buttons, *extra),
        link_url=url,
        link_label=incident.reference,
    )
