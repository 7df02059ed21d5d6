"""The chat commands (`/incident ack INC-4`) and button clicks, platform-neutral.

A small parser splits the text into words (double quotes group words; apostrophes are just
letters, so "declare Bob's checkout is down" works), then one function per command checks the
same permissions as the web and calls the same service, inside `acting_via` so the timeline records
the platform and chat user. Every outcome is a Reply: a refusal or bad argument is an ephemeral
answer with the reason, never an exception.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from incidents.chatops.identity import SlackLookupNeeded, muster_user_for, unknown_user_reply
from incidents.chatops.messages import incident_message, incident_url
from incidents.chatops.models import ChatWorkspace, IncidentChannel
from incidents.chatops.types import ChatContext, ChatUser, Reply
from incidents.choices import IncidentRoleKind, IncidentStatus, Role, Severity
from incidents.models import Incident, IncidentRole, Service, person_name
from incidents.permissions import can_act_on_incident, can_view_service
from incidents.selectors import incident_list_for_user, service_list_for_role, service_list_for_user
from incidents.services import (
    DomainError,
    incident_acknowledge,
    incident_add_note,
    incident_assign_role,
    incident_declare,
    incident_mark_mitigated,
    incident_post_status_update,
    incident_resolve,
    incident_set_severity,
)
from incidents.services.origin import acting_via
from oncall.selectors.schedules import service_oncall

logger = logging.getLogger(__name__)

LIST_LIMIT = 10
ONCALL_SERVICE_LIMIT = 10

_WORD = re.compile(r'"([^"]*)"|“([^”]*)”|(\S+)')
_REFERENCE = re.compile(r"^(?:INC-|#)(\d{1,9})$", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"^\d{1,9}$")
_SEVERITY = re.compile(r"^(?:sev)?([1-4])$", re.IGNORECASE)
_SEVERITY_WORD = re.compile(r"^sev([1-4])$", re.IGNORECASE)
_SLACK_MENTION = re.compile(r"^<@([A-Z0-9]+)(?:\|[^>]*)?>$", re.IGNORECASE)

_ROLES = {
    "commander": IncidentRoleKind.COMMANDER,
    "ic": IncidentRoleKind.COMMANDER,
    "comms": IncidentRoleKind.COMMUNICATIONS,
    "communications": IncidentRoleKind.COMMUNICATIONS,
    "scribe": IncidentRoleKind.SCRIBE,
}


# What a person sees when something unexpected broke inside a command: Slack would otherwise show
# an opaque "failed with the error http_service_error". Services are atomic, so nothing half-happened.
INTERNAL_ERROR_REPLY = Reply(
    text="Sorry, Muster ran into an internal error and did not carry that out. It has been logged; "
    "please try again in a minute, or use the web page."
)


def run_safely(call: Callable[[], Reply], *, platform: str) -> Reply:
    """A command's reply, or the apology when it broke (logged). Only "ask Slack who this is first"
    goes through, for the caller to act on."""
    try:
        return call()
    except SlackLookupNeeded:
        raise
    except Exception:
        logger.exception("A %s chat command failed", platform)
        return INTERNAL_ERROR_REPLY


class Refusal(Exception):
    """A command that cannot be carried out as asked; the message is the answer."""


# --- parsing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    value: str
    start: int
    end: int
    quoted: bool


def split_words(text: str) -> list[Word]:
    words = []
    for match in _WORD.finditer(text):
        straight, curly, bare = match.groups()
        quoted = bare is None
        value = straight if straight is not None else curly if curly is not None else bare
        words.append(Word(value=value, start=match.start(), end=match.end(), quoted=quoted))
    return words


@dataclass(frozen=True)
class Command:
    """One command as typed: its words after the command name, the raw text they came from, and
    who typed it where."""

    text: str
    args: list[Word]
    actor: Any
    chat_user: ChatUser
    context: ChatContext

    def text_of(self, words: list[Word]) -> str:
        """The words as typed (spacing and quotes kept), or a lone quoted phrase without its quotes."""
        if not words:
            return ""
        if len(words) == 1 and words[0].quoted:
            return words[0].value.strip()
        return self.text[words[0].start : words[-1].end].strip()


def _number_of(word: Word, *, bare: bool) -> int | None:
    match = _REFERENCE.match(word.value) or (_BARE_NUMBER.match(word.value) if bare else None)
    if match is None:
        return None
    return int(match.group(1) if match.groups() else match.group(0))


def _take_reference(args: list[Word], *, bare: bool = False) -> tuple[int | None, list[Word]]:
    """An incident number among the words (INC-4 or #4, and a plain 4 where `bare`), and the rest."""
    for index, word in enumerate(args):
        number = _number_of(word, bare=bare)
        if number is not None:
            return number, args[:index] + args[index + 1 :]
    return None, args


def _leading_reference(args: list[Word]) -> tuple[int | None, list[Word]]:
    """An INC-4 or #4 opening free text ("note INC-4 Rolled back"), and the words after it."""
    number = _number_of(args[0], bare=False) if args else None
    return number, args[1:] if number is not None else args


# --- finding the incident -------------------------------------------------------------------


def _visible_incident(actor: Any, number: int) -> Incident:
    incident = incident_list_for_user(user=actor).prefetch_related(None).filter(number=number).first()
    if incident is None:
        raise Refusal(f"No incident INC-{number} that you can see.")
    return incident


def _incident_for(command: Command, number: int | None, usage: str) -> Incident:
    """The incident named, else the one whose channel this is, else a refusal asking for the number."""
    if number is None:
        context = command.context
        if context.channel_id:
            number = (
                IncidentChannel.objects.filter(
                    platform=context.platform,
                    workspace_external_id=context.workspace_id,
                    channel_id=context.channel_id,
                )
                .values_list("incident__number", flat=True)
                .first()
            )
        if number is None:
            raise Refusal(
                f"Which incident? Give its number, e.g. `/incident {usage}`, or type the command "
                "in the incident's channel."
            )
    return _visible_incident(command.actor, number)


def _actionable(command: Command, number: int | None, usage: str, doing: str) -> Incident:
    incident = _incident_for(command, number, usage)
    if not can_act_on_incident(command.actor, incident):
        raise Refusal(f"{doing} needs the responder role in {incident.service.team.name}.")
    return incident


def _name(command: Command) -> str:
    return person_name(command.actor)


def _changed(incident: Incident, text: str) -> Reply:
    return Reply(
        text=text,
        in_channel=True,
        link_url=incident_url(incident),
        link_label=incident.reference,
    )


def _no_extra(args: list[Word], usage: str) -> None:
    if args:
        raise Refusal(f"I didn't understand “{args[0].value}”. Usage: `/incident {usage}`")


# --- commands -------------------------------------------------------------------------------


def _declare(command: Command) -> Reply:
    usage = "declare Checkout is down sev2 checkout"
    actor = command.actor
    declarable = {
        service.slug: service for service in service_list_for_role(user=actor, minimum=Role.RESPONDER)
    }
    if not declarable:
        raise Refusal("Declaring an incident needs the responder role in a team that owns a service.")
    words = list(command.args)
    severity: int | None = None
    service: Service | None = None
    # Severity and service come off the end, in either order; a title is always left over.
    while len(words) > 1:
        last = words[-1].value
        sev_match = _SEVERITY_WORD.match(last)
        if severity is None and sev_match:
            severity = int(sev_match.group(1))
        elif service is None and last.lower() in declarable:
            service = declarable[last.lower()]
        elif service is None and (refused := _viewable_service(actor, last)) is not None:
            raise Refusal(f"Declaring on {refused.name} needs the responder role in {refused.team.name}.")
        else:
            break
        words.pop()
    title = command.text_of(words)
    if not title:
        raise Refusal(f"An incident needs a title, e.g. `/incident {usage}`")
    if service is None:
        service = _default_service(command, declarable)
    with _via(command):
        incident = incident_declare(
            service=service, title=title, actor=actor, severity=severity or Severity.SEV3
        )
    message = incident_message(incident=incident)
    return dataclasses.replace(message, text=f"{message.text}\nDeclared by {_name(command)}")


def _viewable_service(actor: Any, slug: str) -> Service | None:
    """A service the user can see but not declare on, named where the service would go."""
    service = Service.objects.select_related("team").filter(slug=slug.lower()).first()
    return service if service is not None and can_view_service(actor, service) else None


def _default_service(command: Command, declarable: dict[str, Service]) -> Service:
    context = command.context
    workspace = (
        ChatWorkspace.objects.select_related("default_service__team")
        .filter(platform=context.platform, external_id=context.workspace_id)
        .first()
    )
    default = workspace.default_service if workspace is not None else None
    if default is not None:
        if default.slug in declarable:
            return declarable[default.slug]
        if can_view_service(command.actor, default):
            raise Refusal(
                f"Declaring on {default.name} needs the responder role in {default.team.name}. "
                f"Name a service you can declare on: {', '.join(sorted(declarable))}."
            )
    if len(declarable) == 1:
        return next(iter(declarable.values()))
    raise Refusal(
        "Which service? Add its name at the end, e.g. `/incident declare Checkout is down sev2 "
        f"{next(iter(sorted(declarable)))}`. Your services: {', '.join(sorted(declarable))}."
    )


def _ack(command: Command) -> Reply:
    number, rest = _take_reference(command.args, bare=True)
    _no_extra(rest, "ack INC-42")
    incident = _actionable(command, number, "ack INC-42", "Acknowledging")
    if incident.status == IncidentStatus.ACKNOWLEDGED:
        return Reply(text=f"{incident.reference} is already acknowledged.")
    with _via(command):
        incident = incident_acknowledge(incident=incident, actor=command.actor)
    return _changed(incident, f"{_name(command)} acknowledged {incident.reference}: {incident.title}")


def _resolve(command: Command) -> Reply:
    args = command.args
    number = _number_of(args[0], bare=True) if args else None
    note = command.text_of(args[1:] if number is not None else args)
    incident = _actionable(command, number, "resolve INC-42", "Resolving")
    if incident.status == IncidentStatus.RESOLVED:
        return Reply(text=f"{incident.reference} is already resolved.")
    with _via(command):
        incident = incident_resolve(incident=incident, actor=command.actor, note=note)
    text = f"{_name(command)} resolved {incident.reference}: {incident.title}"
    return _changed(incident, f"{text}\n{note}" if note else text)


def _mitigated(command: Command) -> Reply:
    number, rest = _take_reference(command.args)
    _no_extra(rest, "mitigated")
    incident = _actionable(command, number, "mitigated INC-42", "Marking an incident mitigated")
    if incident.mitigated_at is not None:
        return Reply(text=f"{incident.reference} is already marked mitigated.")
    with _via(command):
        incident = incident_mark_mitigated(incident=incident, actor=command.actor)
    return _changed(incident, f"{_name(command)} marked {incident.reference} mitigated: impact has stopped")


def _sev(command: Command) -> Reply:
    usage = "sev 2"
    number, rest = _take_reference(command.args)
    severity_match = _SEVERITY.match(rest[0].value) if len(rest) == 1 else None
    if severity_match is None:
        raise Refusal(f"Give a severity from 1 (worst) to 4, e.g. `/incident {usage}`")
    severity = int(severity_match.group(1))
    incident = _actionable(command, number, "sev 2 INC-42", "Changing the severity")
    previous = incident.severity
    if previous == severity:
        return Reply(text=f"{incident.reference} is already {Severity(severity).label}.")
    with _via(command):
        incident = incident_set_severity(incident=incident, severity=severity, actor=command.actor)
    return _changed(
        incident,
        f"{_name(command)} changed {incident.reference} from {Severity(previous).label} "
        f"to {Severity(severity).label}",
    )


def _note(command: Command) -> Reply:
    number, words = _leading_reference(command.args)
    text = command.text_of(words)
    if not text:
        raise Refusal("What should the note say? e.g. `/incident note Rolled back to v1.42`")
    incident = _actionable(command, number, "note INC-42 Rolled back", "Adding a note")
    with _via(command):
        incident_add_note(incident=incident, text=text, actor=command.actor)
    return _changed(incident, f"{_name(command)} added a note to {incident.reference}: {text}")


def _status(command: Command) -> Reply:
    number, words = _leading_reference(command.args)
    text = command.text_of(words)
    if not text:
        raise Refusal(
            "What should the update say? e.g. `/incident status Payments are failing for some customers`"
        )
    incident = _actionable(command, number, "status INC-42 Fix deployed", "Posting a status update")
    with _via(command):
        incident_post_status_update(incident=incident, text=text, actor=command.actor)
    return _changed(incident, f"*Status update on {incident.reference}* from {_name(command)}: {text}")


def _role(command: Command) -> Reply:
    usage = "role commander @sam"
    number, rest = _take_reference(command.args)
    if len(rest) != 2 or rest[0].value.lower() not in _ROLES:
        raise Refusal(f"Name a role (commander, comms or scribe) and a person, e.g. `/incident {usage}`")
    role = _ROLES[rest[0].value.lower()]
    mention = rest[1].value
    incident = _actionable(command, number, "role commander @sam INC-42", "Assigning roles")
    chat_user_id = _mentioned_user_id(command.context, mention)
    if chat_user_id is None:
        raise Refusal(f"I can't tell who {mention} is. Mention them so chat completes the name, e.g. {usage}")
    context = command.context
    person = muster_user_for(
        ChatUser(platform=context.platform, workspace_id=context.workspace_id, user_id=chat_user_id)
    )
    if person is None:
        raise Refusal(f"{mention} has not linked their Muster account yet, so they can't hold a role.")
    if not can_act_on_incident(person, incident):
        raise Refusal(
            f"{person_name(person)} can't hold a role on {incident.reference}: it needs the responder "
            f"role in {incident.service.team.name}."
        )
    if IncidentRole.objects.filter(incident=incident, role=role, user=person).exists():
        return Reply(
            text=f"{person_name(person)} is already {IncidentRoleKind(role).label.lower()} of {incident.reference}."
        )
    with _via(command):
        incident_assign_role(incident=incident, role=role, user=person, actor=command.actor)
    return _changed(
        incident,
        f"{_name(command)} made {person_name(person)} {IncidentRoleKind(role).label.lower()} "
        f"of {incident.reference}",
    )


def _mentioned_user_id(context: ChatContext, mention: str) -> str | None:
    if mention in context.mentions:
        return context.mentions[mention]
    match = _SLACK_MENTION.match(mention)
    if match is None:
        return None
    return context.mentions.get(f"<@{match.group(1)}>", match.group(1))


def _oncall(command: Command) -> Reply:
    actor = command.actor
    visible = service_list_for_user(user=actor)
    if len(command.args) > 1:
        raise Refusal("Name at most one service, e.g. `/incident oncall checkout`")
    if command.args:
        slug = command.args[0].value.lower()
        services = list(visible.filter(slug=slug))
        if not services:
            raise Refusal(f"No service “{command.args[0].value}” that you can see.")
    else:
        services = _oncall_default(command, visible)
        if not services:
            return Reply(text="You can't see any services yet.")
    now = timezone.now()
    lines = []
    for service in services:
        steps = service_oncall(service=service, at=now)
        people = []
        for step in steps:
            if step.oncall.user is not None:
                name = person_name(step.oncall.user)
                if name not in people:
                    people.append(name)
        if service.escalation_policy_id is None:
            who = "no escalation policy"
        elif not people:
            who = "nobody on call in its schedules"
        else:
            who = ", ".join(people)
        lines.append(f"*{service.name}*: {who}")
    return Reply(text="On call now:\n" + "\n".join(lines))


def _oncall_default(command: Command, visible: Any) -> list[Service]:
    context = command.context
    default_id = (
        ChatWorkspace.objects.filter(platform=context.platform, external_id=context.workspace_id)
        .values_list("default_service_id", flat=True)
        .first()
    )
    if default_id is not None:
        default = list(visible.filter(pk=default_id))
        if default:
            return default
    return list(visible[:ONCALL_SERVICE_LIMIT])


def _list(command: Command) -> Reply:
    _no_extra(command.args, "list")
    incidents = list(
        incident_list_for_user(user=command.actor)
        .prefetch_related(None)
        .open()
        .order_by("-number")[: LIST_LIMIT + 1]
    )
    if not incidents:
        return Reply(text="No open incidents that you can see.")
    lines = [
        f"{incident.reference} · {Severity(incident.severity).label} · "
        f"{IncidentStatus(incident.status).label} · {incident.service.name} · {incident.title}"
        for incident in incidents[:LIST_LIMIT]
    ]
    if len(incidents) > LIST_LIMIT:
        lines.append(f"… and more: {settings.MUSTER_BASE_URL.rstrip('/')}/")
    return Reply(text="Open incidents:\n" + "\n".join(lines))


HELP = (
    ("declare <title> [sev1..sev4] [service]", "declare Checkout is down sev2 checkout"),
    ("ack [INC-n]", "ack INC-42"),
    ("resolve [INC-n] [note]", "resolve INC-42 Rolled back"),
    ("mitigated [INC-n]", "mitigated"),
    ("sev <1-4> [INC-n]", "sev 2"),
    ("note [INC-n] <text>", "note Rolled back to v1.42"),
    ("status [INC-n] <update>", "status Fix deployed, error rate falling"),
    ("role commander|comms|scribe @person [INC-n]", "role commander @sam"),
    ("oncall [service]", "oncall checkout"),
    ("list", "list"),
    ("help", "help"),
)


def help_reply() -> Reply:
    lines = [f"`{usage}`  e.g. `/incident {example}`" for usage, example in HELP]
    return Reply(
        text="Muster commands (in an incident's channel the incident number can be left out):\n"
        + "\n".join(lines)
    )


COMMANDS: dict[str, Callable[[Command], Reply]] = {
    "declare": _declare,
    "ack": _ack,
    "acknowledge": _ack,
    "resolve": _resolve,
    "mitigated": _mitigated,
    "mitigate": _mitigated,
    "sev": _sev,
    "severity": _sev,
    "note": _note,
    "status": _status,
    "role": _role,
    "oncall": _oncall,
    "list": _list,
}


def _via(command: Command) -> Any:
    user = command.chat_user
    return acting_via(platform=user.platform, chat_user_id=user.user_id, chat_user_name=user.name)


# --- entry points ---------------------------------------------------------------------------


def dispatch(*, text: str, user: ChatUser, context: ChatContext) -> Reply:
    """Carry out one command typed in chat (`text` is what followed the slash command)."""
    words = split_words(text)
    name = words[0].value.lower() if words else "help"
    if name in ("help", "?"):
        return help_reply()
    handler = COMMANDS.get(name)
    if handler is None:
        return Reply(text=f"Unknown command “{words[0].value}”. Try /incident help.")
    actor = muster_user_for(user)
    if actor is None:
        return unknown_user_reply(user)
    command = Command(text=text, args=words[1:], actor=actor, chat_user=user, context=context)
    try:
        return handler(command)
    except (Refusal, DomainError) as exc:
        return Reply(text=str(exc))


_ACTIONS: dict[str, tuple[Callable[..., Incident], str, str, str]] = {
    "incident_ack": (incident_acknowledge, IncidentStatus.ACKNOWLEDGED, "Acknowledging", "Acknowledged"),
    "incident_resolve": (incident_resolve, IncidentStatus.RESOLVED, "Resolving", "Resolved"),
}


def handle_action(*, action_id: str, value: str, user: ChatUser, context: ChatContext) -> Reply:
    """A button click on an incident message: act, then answer with the message as it is now
    (in_channel), so the clicked message shows the new state and only the buttons still valid.
    A refusal is ephemeral and leaves the message alone."""
    if action_id not in _ACTIONS:
        return Reply(text="That button doesn't do anything any more.")
    number = _number_of(Word(value=value.strip(), start=0, end=0, quoted=False), bare=True)
    if number is None:
        return Reply(text="That button doesn't name an incident.")
    actor = muster_user_for(user)
    if actor is None:
        return unknown_user_reply(user)
    service_call, target_status, doing, done = _ACTIONS[action_id]
    command = Command(text="", args=[], actor=actor, chat_user=user, context=context)
    try:
        incident = _actionable(command, number, "", doing)
    except Refusal as exc:
        return Reply(text=str(exc))
    if incident.status == target_status:
        # Someone got there first: the message just catches up with the incident.
        return incident_message(incident=incident)
    try:
        with _via(command):
            incident = service_call(incident=incident, actor=actor)
    except DomainError as exc:
        # It moved on meanwhile (e.g. resolved): show the incident as it is, and why.
        incident.refresh_from_db()
        message = incident_message(incident=incident)
        return dataclasses.replace(message, text=f"{message.text}\n{exc}")
    message = incident_message(incident=incident)
    return dataclasses.replace(message, text=f"{message.text}\n{done} by {person_name(actor)}")
