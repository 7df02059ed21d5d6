"""Slack's three endpoints through real, signed requests (INTEROP.md §5)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.cache import cache

from incidents.chatops import tasks
from incidents.chatops.models import ChatEventReceipt, ChatIdentity, ChatWorkspace, IncidentChannel
from incidents.choices import IncidentRoleKind, IncidentStatus, Role, TimelineKind
from incidents.models import Incident, IncidentRole, TimelineEvent
from oncall.channels.base import PermanentError, TransientError
from tests.factories import IncidentFactory, MembershipFactory, UserFactory
from tests.oncall.channels.conftest import Recorded, fake_provider  # noqa: F401 - fixture
from tests.oncall.channels.conftest import Reply as ProviderReply

SECRET = "e3b0c44298fc1c149afbf4c8996fb924"
TEAM = "T0XYZ"
COMMANDS = "/chatops/slack/commands"
INTERACTIONS = "/chatops/slack/interactions"
EVENTS = "/chatops/slack/events"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _slack(settings):
    # Replay protection remembers signatures in the cache; each test gets an empty one of its own.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.SLACK_SIGNING_SECRET = SECRET
    settings.SLACK_BOT_TOKEN = ""
    settings.MUSTER_BASE_URL = "https://muster.example.org"
    cache.clear()
    yield
    cache.clear()


def sign(body: bytes, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def post(client, path: str, body: bytes, *, content_type: str, headers: dict[str, str] | None = None):
    return client.post(path, data=body, content_type=content_type, headers=headers or {})


def form_body(**fields: str) -> bytes:
    return urlencode(fields).encode()


def command_body(text: str, *, user_id: str = "U0ROSA", team_id: str = TEAM, **extra: str) -> bytes:
    fields = {
        "token": "deprecated-verification-token",
        "team_id": team_id,
        "team_domain": "acme",
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": user_id,
        "user_name": "rosa",
        "command": "/incident",
        "text": text,
        "api_app_id": "A0MUSTER",
        "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.com/commands/T0XYZ/1/abc",
        "trigger_id": "1234.5678.abcd",
    }
    fields.update(extra)
    return form_body(**fields)


def send_command(client, text: str, **fields: str):
    body = command_body(text, **fields)
    return post(client, COMMANDS, body, content_type="application/x-www-form-urlencoded", headers=sign(body))


@pytest.fixture
def rosa(responder):
    ChatIdentity.objects.create(
        user=responder,
        platform="slack",
        workspace_external_id=TEAM,
        chat_user_id="U0ROSA",
        chat_user_name="rosa",
        linked_via="link",
    )
    return responder


@pytest.fixture
def incident(service):
    return IncidentFactory(number=42, service=service, title="Checkout down")


def answer(response) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element for block in message["blocks"] if block["type"] == "actions" for element in block["elements"]
    ]


# --- Signature verification at the endpoint ---------------------------------------------------


def test_signed_command_is_answered(client, rosa):
    assert answer(send_command(client, "help"))["response_type"] == "ephemeral"


def test_command_signed_with_the_wrong_secret_is_refused_and_logged(client, rosa, caplog):
    body = command_body("list")

    with caplog.at_level(logging.WARNING, logger="incidents.chatops.views"):
        response = post(
            client,
            COMMANDS,
            body,
            content_type="application/x-www-form-urlencoded",
            headers=sign(body, secret="x"),
        )

    assert response.status_code == 401
    assert "error" in response.json()
    (record,) = [record for record in caplog.records if record.name == "incidents.chatops.views"]
    logged = record.getMessage()
    assert "slack" in logged
    assert TEAM in logged
    assert "127.0.0.1" in logged
    # Neither a secret nor the body (the legacy token is in it) ever reaches the log.
    assert SECRET not in logged
    assert "deprecated-verification-token" not in logged
    assert "text=" not in logged


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_stale_or_future_command_is_refused(client, rosa, age):
    body = command_body("list")
    headers = sign(body, timestamp=int(time.time()) - age)

    response = post(client, COMMANDS, body, content_type="application/x-www-form-urlencoded", headers=headers)

    assert response.status_code == 401


def test_replayed_command_is_refused_the_second_time(client, rosa, incident):
    # A note is the command a replay would visibly repeat.
    body = command_body("note INC-42 Rolled back")
    headers = sign(body)

    first = post(client, COMMANDS, body, content_type="application/x-www-form-urlencoded", headers=headers)
    second = post(client, COMMANDS, body, content_type="application/x-www-form-urlencoded", headers=headers)

    assert (first.status_code, second.status_code) == (200, 401)
    assert TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.NOTE).count() == 1


@pytest.mark.parametrize("missing", ["X-Slack-Request-Timestamp", "X-Slack-Signature"])
def test_command_without_signature_headers_is_refused(client, rosa, missing):
    body = command_body("list")
    headers = sign(body)
    del headers[missing]

    response = post(client, COMMANDS, body, content_type="application/x-www-form-urlencoded", headers=headers)

    assert response.status_code == 401


def test_command_with_a_tampered_body_is_refused(client, rosa, incident):
    body = command_body("list")
    headers = sign(body)
    tampered = command_body("resolve INC-42")

    response = post(
        client, COMMANDS, tampered, content_type="application/x-www-form-urlencoded", headers=headers
    )

    assert response.status_code == 401
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.TRIGGERED


def test_without_a_configured_secret_every_request_is_refused(client, rosa, settings):
    settings.SLACK_SIGNING_SECRET = ""
    body = command_body("help")

    response = post(
        client,
        COMMANDS,
        body,
        content_type="application/x-www-form-urlencoded",
        headers=sign(body, secret=""),
    )

    assert response.status_code == 401


def test_a_workspace_row_has_its_own_secret_and_the_environment_one_does_not_apply(client, rosa):
    ChatWorkspace.objects.create(platform="slack", external_id="T0ROW", signing_secret="row-secret")
    body = command_body("help", team_id="T0ROW")

    env_signed = post(
        client, COMMANDS, body, content_type="application/x-www-form-urlencoded", headers=sign(body)
    )
    row_signed = post(
        client,
        COMMANDS,
        body,
        content_type="application/x-www-form-urlencoded",
        headers=sign(body, secret="row-secret"),
    )

    assert env_signed.status_code == 401
    assert row_signed.status_code == 200


def test_a_workspace_row_may_hold_old_and_new_secret_during_rotation(client, rosa):
    ChatWorkspace.objects.create(
        platform="slack", external_id="T0ROW", signing_secret="new-secret old-secret"
    )
    for secret in ("new-secret", "old-secret"):
        body = command_body("help", team_id="T0ROW", trigger_id=secret)
        headers = sign(body, secret=secret)
        response = post(
            client, COMMANDS, body, content_type="application/x-www-form-urlencoded", headers=headers
        )
        assert response.status_code == 200


def test_ssl_check_is_answered_with_an_empty_200(client):
    response = post(
        client,
        COMMANDS,
        form_body(ssl_check="1", token="x"),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize("path", [COMMANDS, INTERACTIONS, EVENTS])
def test_get_is_refused_with_405(client, path):
    response = client.get(path)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "error" in response.json()


def test_a_body_over_one_mebibyte_is_refused_with_413(client):
    body = command_body("note " + "x" * (1024 * 1024))

    response = post(
        client, COMMANDS, body, content_type="application/x-www-form-urlencoded", headers=sign(body)
    )

    assert response.status_code == 413
    assert "error" in response.json()


def test_a_signed_command_without_user_id_is_a_400_naming_the_field(client):
    body = form_body(team_id=TEAM, text="list", command="/incident")

    response = post(
        client, COMMANDS, body, content_type="application/x-www-form-urlencoded", headers=sign(body)
    )

    assert response.status_code == 400
    assert "user_id" in response.json()["error"]


# --- Every command through the endpoint -------------------------------------------------------


def test_declare_opens_an_incident_and_posts_it_in_the_channel_with_buttons(client, rosa, service):
    message = answer(send_command(client, "declare Checkout is down sev2 checkout"))

    incident = Incident.objects.get(title="Checkout is down")
    assert incident.severity == 2
    assert incident.service == service
    assert message["response_type"] == "in_channel"
    section = message["blocks"][0]["text"]["text"]
    assert f"{incident.reference}: Checkout is down" in section
    assert message["text"] == section
    ack, resolve, open_ = buttons(message)
    assert (ack["action_id"], ack["value"], ack["style"]) == ("incident_ack", incident.reference, "primary")
    assert (resolve["action_id"], resolve["style"]) == ("incident_resolve", "danger")
    assert open_["url"] == f"https://muster.example.org/incidents/{incident.number}/"
    assert message["blocks"][1]["block_id"] == "inc_actions"


def test_ack_acknowledges(client, rosa, incident):
    message = answer(send_command(client, "ack INC-42"))

    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.ACKNOWLEDGED
    assert message["response_type"] == "in_channel"
    assert "acknowledged INC-42" in message["text"]
    assert "<https://muster.example.org/incidents/42/|INC-42>" in message["text"]


def test_resolve_with_a_note_resolves(client, rosa, incident):
    message = answer(send_command(client, "resolve INC-42 Rolled back to v1.41"))

    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.RESOLVED
    assert "Rolled back to v1.41" in message["text"]


def test_mitigated_marks_the_incident_in_its_own_channel(client, rosa, incident):
    IncidentChannel.objects.create(
        incident=incident, platform="slack", workspace_external_id=TEAM, channel_id="C0INC42"
    )

    message = answer(send_command(client, "mitigated", channel_id="C0INC42"))

    assert Incident.objects.get(pk=incident.pk).mitigated_at is not None
    assert "mitigated" in message["text"]


def test_sev_changes_the_severity(client, rosa, incident):
    answer(send_command(client, "sev 1 INC-42"))

    assert Incident.objects.get(pk=incident.pk).severity == 1


def test_note_adds_a_timeline_note_with_mrkdwn_control_characters_escaped(client, rosa, incident):
    message = answer(send_command(client, "note INC-42 <!channel> rolled back & watching"))

    assert TimelineEvent.objects.filter(incident=incident, text__contains="rolled back").exists()
    assert "<!channel>" not in message["text"]
    assert "&lt;!channel&gt; rolled back &amp; watching" in message["text"]


def test_status_posts_a_status_update(client, rosa, incident):
    message = answer(send_command(client, "status INC-42 Fix deployed, error rate falling"))

    assert "Fix deployed, error rate falling" in message["text"]
    assert message["response_type"] == "in_channel"


def test_role_assigns_the_mentioned_person(client, rosa, sam, incident):
    ChatIdentity.objects.create(
        user=sam, platform="slack", workspace_external_id=TEAM, chat_user_id="U0SAM", linked_via="link"
    )

    answer(send_command(client, "role commander <@U0SAM|sam> INC-42"))

    assert IncidentRole.objects.filter(incident=incident, user=sam, role=IncidentRoleKind.COMMANDER).exists()


def test_oncall_names_the_service(client, rosa, service):
    message = answer(send_command(client, "oncall checkout"))

    assert "On call now" in message["text"]
    assert "Checkout" in message["text"]


def test_list_shows_open_incidents(client, rosa, incident):
    message = answer(send_command(client, "list"))

    assert "INC-42" in message["text"]
    assert message["response_type"] == "ephemeral"


def test_help_lists_the_commands(client, rosa):
    message = answer(send_command(client, "help"))

    for name in ("declare", "ack", "resolve", "mitigated", "sev", "note", "status", "role", "oncall", "list"):
        assert name in message["text"]


def test_empty_text_is_help(client, rosa):
    assert "declare" in answer(send_command(client, ""))["text"]


def test_unknown_command_gets_a_helpful_ephemeral_reply(client, rosa):
    message = answer(send_command(client, "frobnicate INC-42"))

    assert message["response_type"] == "ephemeral"
    assert "help" in message["text"]


def test_bad_argument_gets_a_helpful_ephemeral_reply(client, rosa, incident):
    message = answer(send_command(client, "sev 9 INC-42"))

    assert message["response_type"] == "ephemeral"
    assert "1" in message["text"]
    assert Incident.objects.get(pk=incident.pk).severity == incident.severity


def test_unknown_slack_user_is_told_how_to_link_not_served(client, incident):
    message = answer(send_command(client, "ack INC-42", user_id="U0STRANGER"))

    assert message["response_type"] == "ephemeral"
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.TRIGGERED


def test_an_unexpected_failure_is_an_apology_not_an_error_page(client, rosa, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("incidents.chatops.commands.dispatch", broken)

    message = answer(send_command(client, "list"))

    assert message["response_type"] == "ephemeral"
    assert "internal error" in message["text"]
    assert "database on fire" not in message["text"]
    assert any(record.exc_info for record in caplog.records if record.name == "incidents.chatops.commands")


# --- users.info for people who have not linked yet ------------------------------------------

BOT_TOKEN = "xoxb-1-2-bot-token"


def check_users_info(request: Recorded) -> list[str]:
    problems = []
    if (request.method, request.path) != ("POST", "/users.info"):
        problems.append(f"{request.method} {request.path}")
    if request.headers.get("authorization") != f"Bearer {BOT_TOKEN}":
        problems.append("bot token missing or wrong")
    if request.form().get("user") != "U0RILEY":
        problems.append(f"user {request.form().get('user')!r}")
    return problems


@pytest.fixture
def slack_api(fake_provider, settings):  # noqa: F811 - the imported fixture
    provider = fake_provider(
        check_users_info,
        ProviderReply(
            200, {"ok": True, "user": {"id": "U0RILEY", "profile": {"email": "Riley@Example.org"}}}
        ),
    )
    settings.SLACK_API_URL = provider.url
    settings.SLACK_BOT_TOKEN = BOT_TOKEN
    return provider


def test_a_slack_user_with_the_same_email_as_a_muster_user_is_recognised_after_the_answer(
    client, team, incident, slack_api, response_url, settings, django_capture_on_commit_callbacks
):
    # Asking Slack who typed the command is a call to the internet, too slow for Slack's 3 seconds:
    # the command is answered "one moment" at once, then run by a worker that answers via response_url.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    riley = UserFactory(username="riley", email="riley@example.org")
    MembershipFactory(team=team, user=riley, role=Role.RESPONDER)

    with django_capture_on_commit_callbacks(execute=True):
        first = answer(send_command(client, "ack INC-42", user_id="U0RILEY", response_url=response_url.url))

    assert first["response_type"] == "ephemeral"
    assert first["text"].startswith("One moment")
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.ACKNOWLEDGED
    (later,) = response_url.messages
    assert later["response_type"] == "in_channel"
    assert "acknowledged" in later["text"].lower()
    assert ChatIdentity.objects.get(chat_user_id="U0RILEY").user == riley

    second = answer(send_command(client, "note INC-42 second command asks Slack nothing", user_id="U0RILEY"))

    assert second["response_type"] == "in_channel"
    assert len(slack_api.requests) == 1


def test_a_slack_user_slack_does_not_name_either_gets_the_link_through_response_url(
    client, incident, slack_api, response_url, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    slack_api.reply(200, {"ok": False, "error": "missing_scope", "needed": "users:read.email"})

    with django_capture_on_commit_callbacks(execute=True):
        answer(send_command(client, "ack INC-42", user_id="U0RILEY", response_url=response_url.url))

    (later,) = response_url.messages
    assert later["response_type"] == "ephemeral"
    assert "/chatops/link/" in later["text"]
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.TRIGGERED


def test_without_a_broker_the_lookup_happens_while_slack_waits(
    client, team, incident, slack_api, monkeypatch
):
    riley = UserFactory(username="riley", email="riley@example.org")
    MembershipFactory(team=team, user=riley, role=Role.RESPONDER)

    def no_broker(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(tasks.slack_command_later, "delay", no_broker)

    message = answer(send_command(client, "ack INC-42", user_id="U0RILEY"))

    assert message["response_type"] == "in_channel"
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.ACKNOWLEDGED


def test_a_linked_slack_user_costs_no_users_info_call(client, rosa, slack_api):
    answer(send_command(client, "list"))

    assert slack_api.requests == []


# --- Interactivity ----------------------------------------------------------------------------


class ResponseUrlServer:
    """A local stand-in for hooks.slack.com: records every POST, answers as told."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 200
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                headers = {name.lower(): value for name, value in self.headers.items()}
                recorder.requests.append((self.path, headers, self.rfile.read(length)))
                body = b"ok" if recorder.status == 200 else b"expired_url"
                self.send_response(recorder.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/actions/T0XYZ/1/xyz"

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, body in self.requests]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def response_url() -> Iterator[ResponseUrlServer]:
    server = ResponseUrlServer()
    yield server
    server.close()


def click_body(
    action_id: str, value: str, *, response_url: str, user_id: str = "U0ROSA", **extra: Any
) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": "rosa", "name": "rosa", "team_id": TEAM},
        "api_app_id": "A0MUSTER",
        "token": "deprecated",
        "container": {"type": "message", "message_ts": "1741083300.000100", "channel_id": "C0INC001"},
        "trigger_id": "1234.5678.abcd",
        "team": {"id": TEAM, "domain": "acme"},
        "channel": {"id": "C0INC001", "name": "inc-42"},
        "message": {"ts": "1741083300.000100", "text": "INC-42"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "inc_actions",
                "value": value,
                "action_ts": "1741083301.123",
            }
        ],
    }
    payload.update(extra)
    return form_body(payload=json.dumps(payload))


def click(client, body: bytes, **sign_kwargs: Any):
    return post(
        client,
        INTERACTIONS,
        body,
        content_type="application/x-www-form-urlencoded",
        headers=sign(body, **sign_kwargs),
    )


def test_acknowledge_click_is_acked_at_once_and_replaces_the_message(
    client, rosa, incident, response_url, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    body = click_body("incident_ack", "INC-42", response_url=response_url.url)

    with django_capture_on_commit_callbacks(execute=True):
        response = click(client, body)

    assert response.status_code == 200
    assert response.content == b""
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.ACKNOWLEDGED
    (path, headers, _) = response_url.requests[0]
    assert path == "/actions/T0XYZ/1/xyz"
    assert headers["content-type"] == "application/json"
    (message,) = response_url.messages
    assert message["replace_original"] is True
    assert message["response_type"] == "in_channel"
    assert "Acknowledged" in message["text"]
    assert [b["action_id"] for b in buttons(message)] == ["incident_resolve", "incident_open"]


def test_resolve_click_resolves_and_leaves_only_the_open_button(
    client, rosa, incident, response_url, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True

    with django_capture_on_commit_callbacks(execute=True):
        click(client, click_body("incident_resolve", "INC-42", response_url=response_url.url))

    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.RESOLVED
    (message,) = response_url.messages
    assert "Resolved" in message["text"]
    assert [b["action_id"] for b in buttons(message)] == ["incident_open"]


def test_refused_click_is_said_to_the_clicker_alone_and_keeps_the_message(
    client, incident, response_url, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True

    with django_capture_on_commit_callbacks(execute=True):
        click(
            client, click_body("incident_ack", "INC-42", response_url=response_url.url, user_id="U0STRANGER")
        )

    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.TRIGGERED
    (message,) = response_url.messages
    assert message["replace_original"] is False
    assert message["response_type"] == "ephemeral"


def test_open_button_click_does_nothing(
    client, rosa, incident, response_url, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = click(client, click_body("incident_open", "INC-42", response_url=response_url.url))

    assert response.status_code == 200
    assert callbacks == []


def test_click_with_a_bad_signature_is_refused(client, rosa, incident, response_url):
    response = click(
        client, click_body("incident_ack", "INC-42", response_url=response_url.url), secret="nope"
    )

    assert response.status_code == 401
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.TRIGGERED


def test_replayed_click_is_refused(client, rosa, incident, response_url, django_capture_on_commit_callbacks):
    body = click_body("incident_ack", "INC-42", response_url=response_url.url)
    headers = sign(body)

    with django_capture_on_commit_callbacks(execute=False):
        first = post(
            client, INTERACTIONS, body, content_type="application/x-www-form-urlencoded", headers=headers
        )
        second = post(
            client, INTERACTIONS, body, content_type="application/x-www-form-urlencoded", headers=headers
        )

    assert (first.status_code, second.status_code) == (200, 401)


def test_stale_click_is_refused(client, rosa, incident, response_url):
    response = click(
        client,
        click_body("incident_ack", "INC-42", response_url=response_url.url),
        timestamp=int(time.time()) - 400,
    )

    assert response.status_code == 401


def test_other_interaction_types_are_acknowledged_without_doing_anything(client, rosa):
    body = form_body(
        payload=json.dumps({"type": "view_closed", "team": {"id": TEAM}, "user": {"id": "U0ROSA"}})
    )

    response = click(client, body)

    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (form_body(payload="{not json"), "JSON"),
        (form_body(payload="[1, 2]"), "object"),
        (form_body(other="x"), "payload"),
        (form_body(payload=json.dumps({"type": "block_actions", "team": {"id": TEAM}})), "user.id"),
    ],
)
def test_signed_but_malformed_interaction_is_a_400_naming_the_problem(client, body, problem):
    response = click(client, body)

    assert response.status_code == 400
    assert problem in response.json()["error"]


def test_response_url_delivery_retries_on_a_server_error_and_gives_up_on_a_client_error(response_url):
    response_url.status = 503
    with pytest.raises(TransientError):
        tasks.response_post(response_url=response_url.url, message={"text": "hi"})

    response_url.status = 404
    with pytest.raises(PermanentError):
        tasks.response_post(response_url=response_url.url, message={"text": "hi"})

    # The task swallows a permanent refusal (an expired response_url) instead of retrying it.
    tasks.slack_response_deliver.apply(args=[response_url.url, json.dumps({"text": "hi"})]).get()
    assert len(response_url.requests) == 3


def test_response_url_delivery_task_retries_a_server_error_then_gives_up(response_url, caplog):
    response_url.status = 503

    tasks.slack_response_deliver.apply(args=[response_url.url, json.dumps({"text": "hi"})])

    assert len(response_url.requests) == 1 + len(tasks.RESPONSE_URL_RETRY_SECONDS)
    assert any("Gave up" in record.getMessage() for record in caplog.records)


# --- Events API -------------------------------------------------------------------------------


def send_event(client, payload: dict[str, Any], **headers: str):
    body = json.dumps(payload).encode()
    return post(client, EVENTS, body, content_type="application/json", headers={**sign(body), **headers})


def test_url_verification_echoes_the_challenge(client):
    response = send_event(
        client,
        {
            "token": "x",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        },
    )

    assert answer(response) == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_url_verification_with_a_bad_signature_is_refused(client):
    body = json.dumps({"challenge": "abc", "type": "url_verification"}).encode()

    response = post(client, EVENTS, body, content_type="application/json", headers=sign(body, secret="wrong"))

    assert response.status_code == 401
    assert b"abc" not in response.content


def test_url_verification_accepts_the_secret_of_a_workspace_row(client, settings):
    settings.SLACK_SIGNING_SECRET = ""
    ChatWorkspace.objects.create(platform="slack", external_id="T0ROW", signing_secret="row-secret")
    body = json.dumps({"challenge": "abc", "type": "url_verification"}).encode()

    response = post(
        client, EVENTS, body, content_type="application/json", headers=sign(body, secret="row-secret")
    )

    assert answer(response) == {"challenge": "abc"}


def event(event_id: str = "Ev0PV52K21") -> dict[str, Any]:
    return {
        "token": "x",
        "team_id": TEAM,
        "api_app_id": "A0MUSTER",
        "event": {"type": "member_joined_channel", "user": "U0ROSA", "channel": "C0INC001"},
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1741083300,
        "authorizations": [{"team_id": TEAM, "user_id": "U0BOT", "is_bot": True}],
    }


def test_event_is_acknowledged_and_recorded_once(client):
    first = send_event(client, event())
    retry = send_event(client, event(), **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})

    assert (first.status_code, retry.status_code) == (200, 200)
    assert list(ChatEventReceipt.objects.values_list("event_id", flat=True)) == ["Ev0PV52K21"]


def test_different_events_each_get_a_receipt(client):
    send_event(client, event("Ev1"))
    send_event(client, event("Ev2"))

    assert ChatEventReceipt.objects.count() == 2


def test_event_with_a_stale_signature_is_refused(client):
    body = json.dumps(event()).encode()

    response = post(
        client,
        EVENTS,
        body,
        content_type="application/json",
        headers=sign(body, timestamp=int(time.time()) - 301),
    )

    assert response.status_code == 401
    assert not ChatEventReceipt.objects.exists()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "JSON"),
        (b"[]", "object"),
        (json.dumps({"type": "event_callback", "team_id": TEAM}).encode(), "event_id"),
        (json.dumps({"type": "url_verification"}).encode(), "challenge"),
    ],
)
def test_signed_but_malformed_event_is_a_400(client, body, problem):
    response = post(client, EVENTS, body, content_type="application/json", headers=sign(body))

    assert response.status_code == 400
    assert problem in response.json()["error"]


def test_unknown_envelope_types_are_acknowledged(client):
    assert send_event(client, {"type": "app_rate_limited", "team_id": TEAM}).status_code == 200


def test_a_click_by_someone_only_slack_can_name_is_carried_out_by_a_worker(
    client, team, incident, slack_api, response_url, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    riley = UserFactory(username="riley", email="riley@example.org")
    MembershipFactory(team=team, user=riley, role=Role.RESPONDER)
    body = click_body("incident_ack", "INC-42", response_url=response_url.url, user_id="U0RILEY")

    with django_capture_on_commit_callbacks(execute=True):
        response = click(client, body)

    assert response.status_code == 200
    assert response.content == b""
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.ACKNOWLEDGED
    (message,) = response_url.messages
    assert message["replace_original"] is True
    assert "Acknowledged by" in message["text"]
    assert len(slack_api.requests) == 1
