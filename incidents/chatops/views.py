"""The chat platforms' endpoints (INTEROP.md §5 and §6): verify, parse, call the dispatcher, answer.

Every endpoint reads the raw body first, looks at it only far enough to know which workspace's
secret applies, verifies the signature or token, and only then trusts anything in it. A refused
request gets a 401 and a log line naming the platform, the claimed workspace and the remote address;
a verified but malformed one gets a 400 naming the problem. Commands themselves never produce an
error page: the dispatcher answers unknown commands and bad arguments with a helpful reply.
"""

from __future__ import annotations

import functools
import html
import json
import logging
import re
from collections.abc import Callable
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qs

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from incidents.chatops import commands, identity, render, slack_api, tasks, verify, workspaces
from incidents.chatops.messages import ACTION_COMMANDS
from incidents.chatops.models import ChatEventReceipt, ChatPlatform
from incidents.chatops.types import ChatContext, ChatUser, Reply
from incidents.ingest.events import IngestError
from incidents.ingest.http import read_body

logger = logging.getLogger(__name__)

# Slack and Mattermost bodies are a few kilobytes; Mattermost itself reads answers up to 1 MiB.
MAX_BODY_BYTES = 1024 * 1024
# Button clicks carried out here; others (the "Open" link button also reports its clicks) are ignored.
SLACK_ACTIONS = frozenset(ACTION_COMMANDS)

Form = dict[str, list[str]]
Handler = Callable[[HttpRequest, bytes], HttpResponse]


class BadRequest(Exception):
    """A verified request the endpoint cannot make sense of: answered 400 with the message."""


class Unverified(Exception):
    """The request is not from the platform it claims to be from: answered 401."""

    def __init__(self, *, platform: str, workspace_id: str, reason: str) -> None:
        super().__init__(reason)
        self.platform = platform
        self.workspace_id = workspace_id
        self.reason = reason


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def chat_endpoint(handler: Handler) -> Callable[[HttpRequest], HttpResponse]:
    """POST only, a bounded raw body, and JSON for every refusal."""

    @csrf_exempt
    @functools.wraps(handler)
    def view(request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            response = _error(405, f"Method {request.method} is not allowed; use POST.")
            response["Allow"] = "POST"
            return response
        try:
            body = read_body(request, limit=MAX_BODY_BYTES)
        except IngestError as exc:
            return _error(exc.status, exc.message)
        try:
            return handler(request, body)
        except Unverified as exc:
            # Never the body or a secret: only enough to find a misconfigured workspace or a prober.
            logger.warning(
                "Refused a %s request for workspace %r from %s: %s",
                exc.platform,
                exc.workspace_id[:100],
                request.META.get("REMOTE_ADDR", "?"),
                exc.reason,
            )
            return _error(401, f"The request could not be verified: {exc.reason}.")
        except BadRequest as exc:
            return _error(400, str(exc))

    return view


def _safely(call: Callable[[], Reply], *, platform: str) -> Reply:
    return commands.run_safely(call, platform=platform)


LOOKING_UP_REPLY = Reply(text="One moment: asking Slack who you are. The answer follows here.")


def _now_or_later(run: Callable[[], Reply], *, defer: Callable[[], object] | None) -> Reply | None:
    """Run a Slack command or click while Slack waits, unless that would mean asking Slack who the
    user is (users.info, a call to the internet inside a 3-second budget): then hand it to a worker,
    which answers through response_url, and return None. Nothing has happened when the lookup turns
    out to be needed: the user is looked up before anything is done."""
    if defer is not None:
        try:
            with identity.slack_lookups(timeout=0):
                return _safely(run, platform="slack")
        except identity.SlackLookupNeeded:
            pass
        try:
            defer()
        except Exception:  # no broker: ask Slack quickly while it waits, rather than not answer
            logger.warning("could not hand a Slack request to a worker; running it now", exc_info=True)
        else:
            return None
    with identity.slack_lookups(timeout=slack_api.USERS_INFO_QUICK_TIMEOUT_SECONDS):
        return _safely(run, platform="slack")


# --- Parsing helpers (used before and after verification) -------------------------------------


def _form(body: bytes) -> Form:
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise BadRequest("The form body is not UTF-8.") from None


def _field(form: Form, name: str) -> str:
    values = form.get(name)
    return values[-1] if values else ""


def _required(form: Form, *names: str) -> None:
    missing = [name for name in names if not _field(form, name)]
    if missing:
        raise BadRequest(f"The request has no {', '.join(missing)}.")


def _json_object(raw: bytes | str, *, what: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(f"The {what} is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest(f"The {what} must be a JSON object.")
    return data


def _claimed(parse: Callable[[], str]) -> str:
    """A workspace id read from an unverified body, only to pick the secret; "" if unreadable."""
    try:
        value = parse()
    except (BadRequest, AttributeError, TypeError, KeyError):
        return ""
    return value if isinstance(value, str) else ""


def _claimed_form(body: bytes) -> Form:
    try:
        return _form(body)
    except BadRequest:
        return {}


def _get(data: Any, *path: str) -> Any:
    """data[path[0]][path[1]]… or None when any step is missing or not an object."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


# --- Slack ------------------------------------------------------------------------------------


def _verify_slack(request: HttpRequest, body: bytes, *, team_id: str, replay_check: bool = True) -> None:
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if not timestamp or not signature:
        raise Unverified(platform="slack", workspace_id=team_id, reason="signature headers missing")
    secrets = workspaces.slack_signing_secrets(team_id=team_id)
    if not secrets:
        raise Unverified(platform="slack", workspace_id=team_id, reason="no signing secret configured")
    if not verify.slack_request_valid(secrets=secrets, timestamp=timestamp, signature=signature, body=body):
        raise Unverified(platform="slack", workspace_id=team_id, reason="bad signature or stale timestamp")
    if replay_check and not verify.slack_signature_first_use(signature=signature):
        raise Unverified(platform="slack", workspace_id=team_id, reason="replayed request")


def _slack_user(*, team_id: str, user_id: str, name: str) -> ChatUser:
    # No email here: identity.muster_user_for asks Slack for it only when the member ID is unknown.
    return ChatUser(platform=ChatPlatform.SLACK, workspace_id=team_id, user_id=user_id, name=name)


SLACK_MENTION_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")


def _slack_mentions(text: str) -> dict[str, str]:
    """Slack escapes mentions as <@U123|name> (or <@U123>); every way the dispatcher may look one
    up maps to the member id."""
    mentions: dict[str, str] = {}
    for match in SLACK_MENTION_RE.finditer(text):
        user_id, name = match.group(1), match.group(2)
        mentions[match.group(0)] = user_id
        mentions[f"<@{user_id}>"] = user_id
        if name:
            mentions[f"@{name}"] = user_id
    return mentions


@chat_endpoint
def slack_commands(request: HttpRequest, body: bytes) -> HttpResponse:
    form = _claimed_form(body)
    if _field(form, "ssl_check") == "1":
        # Slack checks the certificate with a token-only POST; there is nothing to act on or leak.
        return HttpResponse(status=200)
    team_id = _field(form, "team_id")
    _verify_slack(request, body, team_id=team_id)
    form = _form(body)
    _required(form, "team_id", "user_id")
    text = _field(form, "text")
    user = _slack_user(team_id=team_id, user_id=_field(form, "user_id"), name=_field(form, "user_name"))
    context = ChatContext(
        platform=ChatPlatform.SLACK,
        workspace_id=team_id,
        channel_id=_field(form, "channel_id"),
        channel_name=_field(form, "channel_name"),
        response_url=_field(form, "response_url"),
        mentions=_slack_mentions(text),
    )
    reply = _now_or_later(
        lambda: commands.dispatch(text=text, user=user, context=context),
        defer=(
            (lambda: tasks.slack_command_later.delay(text, asdict(user), asdict(context)))
            if context.response_url
            else None
        ),
    )
    return JsonResponse(render.slack_message(reply or LOOKING_UP_REPLY))


def _interaction_team(payload: dict[str, Any]) -> str:
    # team is null for org-wide apps on Enterprise Grid; the user's own team is then the workspace.
    return _text(_get(payload, "team", "id")) or _text(_get(payload, "user", "team_id"))


@chat_endpoint
def slack_interactions(request: HttpRequest, body: bytes) -> HttpResponse:
    form = _claimed_form(body)
    team_id = _claimed(lambda: _interaction_team(_json_object(_field(form, "payload"), what="payload")))
    _verify_slack(request, body, team_id=team_id)
    form = _form(body)
    if not _field(form, "payload"):
        raise BadRequest("The request has no payload field.")
    payload = _json_object(_field(form, "payload"), what="payload")
    if payload.get("type") != "block_actions":
        # Modals, shortcuts and message actions are not offered by Muster; acknowledge and move on.
        return HttpResponse(status=200)
    team_id = _interaction_team(payload)
    user_id = _text(_get(payload, "user", "id"))
    actions = payload.get("actions")
    if not team_id or not user_id or not isinstance(actions, list):
        raise BadRequest("A block_actions payload needs team.id, user.id and actions.")
    user = _slack_user(
        team_id=team_id,
        user_id=user_id,
        name=_text(_get(payload, "user", "username")) or _text(_get(payload, "user", "name")),
    )
    response_url = _text(payload.get("response_url"))
    context = ChatContext(
        platform=ChatPlatform.SLACK,
        workspace_id=team_id,
        channel_id=_text(_get(payload, "channel", "id")),
        channel_name=_text(_get(payload, "channel", "name")),
        response_url=response_url,
    )
    for action in actions:
        action_id = _text(_get(action, "action_id"))
        if action_id not in SLACK_ACTIONS:
            continue
        value = _text(_get(action, "value"))
        click = functools.partial(
            commands.handle_action, action_id=action_id, value=value, user=user, context=context
        )
        later = functools.partial(
            tasks.slack_action_later.delay, action_id, value, asdict(user), asdict(context)
        )
        reply = _now_or_later(click, defer=later if response_url else None)
        if reply is not None and response_url:
            _answer_later(response_url, render.slack_interaction_answer(reply))
    # The click is acknowledged at once; the message itself changes through response_url.
    return HttpResponse(status=200)


def _answer_later(response_url: str, message: dict[str, Any]) -> None:
    message_json = json.dumps(message)
    transaction.on_commit(lambda: tasks.slack_response_deliver.delay(response_url, message_json))


@chat_endpoint
def slack_events(request: HttpRequest, body: bytes) -> HttpResponse:
    team_id = _claimed(lambda: _text(_json_object(body, what="body").get("team_id")))
    # Replays are caught by event_id below; a retry of an event must find its receipt, not a 401.
    _verify_slack(request, body, team_id=team_id, replay_check=False)
    data = _json_object(body, what="body")
    kind = data.get("type")
    if kind == "url_verification":
        challenge = data.get("challenge")
        if not isinstance(challenge, str) or not challenge:
            raise BadRequest("url_verification needs a challenge string.")
        return JsonResponse({"challenge": challenge})
    if kind != "event_callback":
        return HttpResponse(status=200)
    event_id = _text(data.get("event_id"))
    if not event_id:
        raise BadRequest("event_callback needs an event_id.")
    try:
        with transaction.atomic():
            ChatEventReceipt.objects.create(event_id=event_id[:100])
    except IntegrityError:
        logger.info(
            "Slack event %s already handled (retry %s)", event_id, request.headers.get("X-Slack-Retry-Num")
        )
        return HttpResponse(status=200)
    # No event is acted on yet: the subscription exists so that Slack can be pointed here now and
    # channel events (members joining an incident channel, say) added later without reconfiguring.
    return HttpResponse(status=200)


# --- Mattermost -------------------------------------------------------------------------------


def _mattermost_mentions(form: Form) -> dict[str, str]:
    # Mattermost sends the names (without @) and the ids as parallel repeated fields.
    names = [name for value in form.get("user_mentions", []) for name in value.split(",") if name]
    ids = [user_id for value in form.get("user_mentions_ids", []) for user_id in value.split(",") if user_id]
    return {f"@{name.lstrip('@')}": user_id for name, user_id in zip(names, ids, strict=False)}


@chat_endpoint
def mattermost_commands(request: HttpRequest, body: bytes) -> HttpResponse:
    form = _claimed_form(body)
    team_id = _field(form, "team_id")
    scheme, _, header_token = request.headers.get("Authorization", "").partition(" ")
    token = header_token.strip() if scheme.lower() == "token" else _field(form, "token")
    tokens = workspaces.mattermost_command_tokens(team_id=team_id)
    if not token:
        raise Unverified(platform="mattermost", workspace_id=team_id, reason="no token")
    if not verify.mattermost_token_valid(tokens=tokens, request_token=token):
        raise Unverified(platform="mattermost", workspace_id=team_id, reason="wrong token")
    form = _form(body)
    _required(form, "team_id", "user_id")
    text = _field(form, "text")
    user = ChatUser(
        platform=ChatPlatform.MATTERMOST,
        workspace_id=team_id,
        user_id=_field(form, "user_id"),
        name=_field(form, "user_name"),
    )
    context = ChatContext(
        platform=ChatPlatform.MATTERMOST,
        workspace_id=team_id,
        channel_id=_field(form, "channel_id"),
        channel_name=_field(form, "channel_name"),
        response_url=_field(form, "response_url"),
        mentions=_mattermost_mentions(form),
    )
    reply = _safely(lambda: commands.dispatch(text=text, user=user, context=context), platform="mattermost")
    # Mattermost wants exactly 200 and reads the body as JSON only with this content type.
    return JsonResponse(render.mattermost_message(reply), status=200)


# --- Microsoft Teams --------------------------------------------------------------------------

TEAMS_MENTION_RE = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)
HTML_BREAK_RE = re.compile(r"<br\s*/?>|</p>|</div>", re.IGNORECASE)
HTML_TAG_RE = re.compile(r"<[^>]*>")


def teams_command_text(text: str) -> str:
    """The command the person typed: the first <at>…</at> (the mention of Muster that sent the
    message here) removed, other mentions as @Name, HTML tags and entities gone, spaces collapsed."""
    text = TEAMS_MENTION_RE.sub("", text, count=1)
    text = TEAMS_MENTION_RE.sub(lambda match: "@" + HTML_TAG_RE.sub("", match.group(1)).strip(), text)
    text = HTML_BREAK_RE.sub(" ", text)
    text = html.unescape(HTML_TAG_RE.sub("", text))
    return " ".join(text.split())


def _teams_mentions(activity: dict[str, Any]) -> dict[str, str]:
    mentions: dict[str, str] = {}
    entities = activity.get("entities")
    for entity in entities if isinstance(entities, list) else []:
        if _get(entity, "type") != "mention":
            continue
        user_id = _text(_get(entity, "mentioned", "id"))
        name = _text(_get(entity, "mentioned", "name")) or teams_command_text(_text(_get(entity, "text")))
        if user_id and name:
            mentions[f"@{name.strip()}"] = user_id
    return mentions


@chat_endpoint
def teams_messages(request: HttpRequest, body: bytes) -> HttpResponse:
    team_id = _claimed(lambda: _text(_get(_json_object(body, what="body"), "channelData", "team", "id")))
    secrets = workspaces.teams_outgoing_secrets(team_id=team_id)
    authorization = request.headers.get("Authorization", "")
    if not authorization:
        raise Unverified(platform="teams", workspace_id=team_id, reason="no Authorization header")
    if not secrets:
        raise Unverified(platform="teams", workspace_id=team_id, reason="no security token configured")
    if not verify.teams_request_valid(secrets=secrets, authorization=authorization, body=body):
        raise Unverified(platform="teams", workspace_id=team_id, reason="bad HMAC")
    activity = _json_object(body, what="body")
    user_id = _text(_get(activity, "from", "id"))
    if not user_id:
        raise BadRequest("The activity has no from.id.")
    channel_id = (
        _text(_get(activity, "channelData", "channel", "id"))
        or (
            # A reply in a thread carries ";messageid=…" after the channel's conversation id.
            _text(_get(activity, "conversation", "id")).split(";")[0]
        )
    )
    user = ChatUser(
        platform=ChatPlatform.TEAMS,
        workspace_id=team_id,
        user_id=user_id,
        name=_text(_get(activity, "from", "name")),
    )
    context = ChatContext(
        platform=ChatPlatform.TEAMS,
        workspace_id=team_id,
        channel_id=channel_id,
        channel_name=_text(_get(activity, "channelData", "channel", "name")),
        mentions=_teams_mentions(activity),
    )
    text = teams_command_text(_text(activity.get("text")))
    reply = _safely(lambda: commands.dispatch(text=text, user=user, context=context), platform="teams")
    return JsonResponse(render.teams_message(reply))
