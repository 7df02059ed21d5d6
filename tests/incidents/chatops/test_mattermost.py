"""The Mattermost slash command endpoint (INTEROP.md §6.1): token, same commands, Mattermost's JSON."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import pytest

from incidents.chatops.models import ChatIdentity, ChatWorkspace
from incidents.choices import IncidentRoleKind, IncidentStatus
from incidents.models import Incident, IncidentRole, TimelineEvent
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db

TOKEN = "xr3j5x3p4pfjpe5xp5tkpgxpmr"
TEAM = "ee9rqo8x9fgk3pmc4q8rm7d5ch"
URL = "/chatops/mattermost/commands"


@pytest.fixture(autouse=True)
def _mattermost(settings):
    settings.MATTERMOST_COMMAND_TOKEN = TOKEN
    settings.MUSTER_BASE_URL = "https://muster.example.org"


@pytest.fixture
def rosa(responder):
    ChatIdentity.objects.create(
        user=responder,
        platform="mattermost",
        workspace_external_id=TEAM,
        chat_user_id="rosa-mm-id",
        chat_user_name="rosa",
        linked_via="link",
    )
    return responder


@pytest.fixture
def incident(service):
    return IncidentFactory(number=42, service=service, title="Checkout down")


def command_body(text: str, *, token: str = TOKEN, team_id: str = TEAM, **extra: Any) -> bytes:
    fields: list[tuple[str, str]] = [
        ("channel_id", "cjx5gtst3ffmxrnkcuy6nnabbe"),
        ("channel_name", "town-square"),
        ("command", "/incident"),
        ("response_url", "https://chat.example.org/hooks/commands/nnm7bu9m3f8zxqsu5oiqxfe8ya"),
        ("team_domain", "acme"),
        ("team_id", team_id),
        ("text", text),
        ("token", token),
        ("trigger_id", "eHB5ZWtpb2Rk"),
        ("user_id", "rosa-mm-id"),
        ("user_name", "rosa"),
    ]
    fields = [(name, value) for name, value in fields if name not in extra]
    for name, value in extra.items():
        for item in value if isinstance(value, list) else [value]:
            fields.append((name, item))
    return urlencode(fields).encode()


def send(client, text: str, *, header_token: str | None = TOKEN, **fields: Any):
    headers = {"Accept": "application/json"}
    if header_token is not None:
        headers["Authorization"] = f"Token {header_token}"
    return client.post(
        URL,
        data=command_body(text, **fields),
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )


def answer(response) -> dict[str, Any]:
    # Mattermost takes the body as JSON only with this content type, and only from exactly 200.
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert set(data) == {"response_type", "text"}
    return data


# --- Token verification -----------------------------------------------------------------------


def test_token_in_the_authorization_header_is_accepted(client, rosa):
    assert answer(send(client, "help", token=""))["response_type"] == "ephemeral"


def test_token_in_the_form_is_accepted_without_the_header(client, rosa):
    assert answer(send(client, "help", header_token=None))["response_type"] == "ephemeral"


def test_wrong_token_is_refused_and_logged_without_the_token(client, rosa, caplog):
    with caplog.at_level(logging.WARNING, logger="incidents.chatops.views"):
        response = send(client, "list", header_token="wrong-token", token="wrong-token")

    assert response.status_code == 401
    assert "error" in response.json()
    (record,) = [record for record in caplog.records if record.name == "incidents.chatops.views"]
    assert "mattermost" in record.getMessage()
    assert TEAM in record.getMessage()
    assert "wrong-token" not in record.getMessage()


def test_missing_token_is_refused(client, rosa):
    assert send(client, "list", header_token=None, token="").status_code == 401


def test_workspace_row_token_applies_to_its_team_only(client, rosa):
    ChatWorkspace.objects.create(platform="mattermost", external_id="other-team", command_token="row-token")

    assert send(client, "help", team_id="other-team", header_token="row-token").status_code == 200
    assert send(client, "help", team_id="other-team", header_token=TOKEN).status_code == 401
    assert send(client, "help", header_token="row-token").status_code == 401


def test_get_is_refused_with_405(client):
    assert client.get(URL).status_code == 405


def test_verified_request_without_user_id_is_a_400(client):
    body = urlencode({"team_id": TEAM, "text": "list", "token": TOKEN}).encode()

    response = client.post(URL, data=body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400
    assert "user_id" in response.json()["error"]


# --- The same commands, in Mattermost's format ------------------------------------------------


def test_declare_posts_the_incident_with_the_commands_its_buttons_stand_for(client, rosa, service):
    message = answer(send(client, "declare Checkout is down sev2"))

    incident = Incident.objects.get(title="Checkout is down")
    assert incident.severity == 2
    assert message["response_type"] == "in_channel"
    page = f"https://muster.example.org/incidents/{incident.number}/"
    assert f"Acknowledge: `/incident ack {incident.reference}`" in message["text"]
    assert f"Resolve: `/incident resolve {incident.reference}`" in message["text"]
    assert f"[Open]({page})" in message["text"]
    # Slack's *bold* is Markdown's italics; Mattermost gets **bold**.
    assert f"**{incident.reference}: Checkout is down**" in message["text"]
    assert "<http" not in message["text"]


def test_ack_acknowledges(client, rosa, incident):
    message = answer(send(client, "ack INC-42"))

    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.ACKNOWLEDGED
    assert "[INC-42](https://muster.example.org/incidents/42/)" in message["text"]


def test_resolve_resolves(client, rosa, incident):
    answer(send(client, "resolve 42 fixed"))

    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.RESOLVED


def test_mitigated_sev_note_and_status(client, rosa, incident):
    answer(send(client, "mitigated INC-42"))
    answer(send(client, "sev 1 INC-42"))
    answer(send(client, "note INC-42 rolled back"))
    answer(send(client, "status INC-42 fix deployed"))

    incident.refresh_from_db()
    assert incident.mitigated_at is not None
    assert incident.severity == 1
    assert TimelineEvent.objects.filter(incident=incident, text__contains="rolled back").exists()


def test_role_uses_the_mentions_mattermost_resolved(client, rosa, sam, incident):
    ChatIdentity.objects.create(
        user=sam,
        platform="mattermost",
        workspace_external_id=TEAM,
        chat_user_id="sam-mm-id",
        linked_via="link",
    )

    answer(send(client, "role scribe @sam INC-42", user_mentions=["sam"], user_mentions_ids=["sam-mm-id"]))

    assert IncidentRole.objects.filter(incident=incident, user=sam, role=IncidentRoleKind.SCRIBE).exists()


def test_oncall_list_and_help(client, rosa, incident):
    assert "On call now" in answer(send(client, "oncall checkout"))["text"]
    assert "INC-42" in answer(send(client, "list"))["text"]
    assert "declare" in answer(send(client, "help"))["text"]


def test_unknown_command_and_unknown_user_get_ephemeral_answers(client, rosa, incident):
    unknown = answer(send(client, "frobnicate"))
    stranger = answer(send(client, "ack INC-42", user_id="somebody-else"))

    assert unknown["response_type"] == stranger["response_type"] == "ephemeral"
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.TRIGGERED
