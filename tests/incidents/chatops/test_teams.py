"""The Microsoft Teams outgoing webhook endpoint (INTEROP.md §6.3): HMAC, `@Muster <command>`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from typing import Any

import pytest

from incidents.chatops.models import ChatIdentity, ChatWorkspace
from incidents.chatops.views import teams_command_text
from incidents.choices import IncidentRoleKind, IncidentStatus
from incidents.models import Incident, IncidentRole
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db

SECURITY_TOKEN = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
TEAM = "19:3f2b8c0e1a4d4c5f9e7a6b5c4d3e2f1a@thread.tacv2"
URL = "/chatops/teams/messages"


@pytest.fixture(autouse=True)
def _teams(settings):
    settings.TEAMS_OUTGOING_SECRET = SECURITY_TOKEN
    settings.MUSTER_BASE_URL = "https://muster.example.org"


@pytest.fixture
def rosa(responder):
    ChatIdentity.objects.create(
        user=responder,
        platform="teams",
        workspace_external_id=TEAM,
        chat_user_id="29:1rosa-aad",
        chat_user_name="Rosa Diaz",
        linked_via="link",
    )
    return responder


@pytest.fixture
def incident(service):
    return IncidentFactory(number=42, service=service, title="Checkout down")


def activity(
    text: str, *, user_id: str = "29:1rosa-aad", team_id: str = TEAM, **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "message",
        "id": "1741083300123",
        "timestamp": "2026-03-04T10:15:00.123Z",
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "channelId": "msteams",
        "from": {"id": user_id, "name": "Rosa Diaz", "aadObjectId": "6b1c6a33-aad"},
        "conversation": {"isGroup": True, "id": "19:incidents@thread.tacv2;messageid=1741083300123"},
        "recipient": None,
        "textFormat": "plain",
        "text": text,
        "entities": [
            {
                "type": "mention",
                "text": "<at>Muster</at>",
                "mentioned": {"id": "28:muster-bot", "name": "Muster"},
            }
        ],
        "channelData": {
            "teamsChannelId": "19:incidents@thread.tacv2",
            "teamsTeamId": team_id,
            "channel": {"id": "19:incidents@thread.tacv2"},
            "team": {"id": team_id},
            "tenant": {"id": "72f988bf-tenant"},
        },
    }
    data.update(extra)
    return data


def authorization(body: bytes, token: str = SECURITY_TOKEN) -> str:
    digest = hmac.new(base64.b64decode(token), body, hashlib.sha256).digest()
    return "HMAC " + base64.b64encode(digest).decode()


def send(client, text: str, *, token: str = SECURITY_TOKEN, **kwargs: Any):
    body = json.dumps(activity(text, **kwargs)).encode()
    return client.post(
        URL, data=body, content_type="application/json", headers={"Authorization": authorization(body, token)}
    )


def answer(response) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["type"] == "message"
    return data


# --- HMAC verification ------------------------------------------------------------------------


def test_signed_message_is_answered(client, rosa):
    help_text = answer(send(client, "<at>Muster</at> help"))["text"]
    assert "declare" in help_text
    # Teams has no slash command: the examples say how to ask Muster there.
    assert "@Muster declare" in help_text
    assert "/incident" not in help_text


def test_message_signed_with_another_token_is_refused_and_logged(client, rosa, caplog):
    other = base64.b64encode(b"another-webhook-security-token!!").decode()

    with caplog.at_level(logging.WARNING, logger="incidents.chatops.views"):
        response = send(client, "<at>Muster</at> list", token=other)

    assert response.status_code == 401
    (record,) = [record for record in caplog.records if record.name == "incidents.chatops.views"]
    assert "teams" in record.getMessage()
    assert TEAM in record.getMessage()
    assert SECURITY_TOKEN not in record.getMessage()


def test_tampered_body_is_refused(client, rosa, incident):
    body = json.dumps(activity("<at>Muster</at> list")).encode()
    tampered = body.replace(b"list", b"resolve INC-42")

    response = client.post(
        URL, data=tampered, content_type="application/json", headers={"Authorization": authorization(body)}
    )

    assert response.status_code == 401
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.TRIGGERED


def test_missing_authorization_is_refused(client, rosa):
    body = json.dumps(activity("<at>Muster</at> help")).encode()

    assert client.post(URL, data=body, content_type="application/json").status_code == 401


def test_a_team_with_a_row_uses_its_own_token(client, rosa):
    row_token = base64.b64encode(b"row-token-row-token-row-token-!!").decode()
    ChatWorkspace.objects.create(
        platform="teams", external_id="19:other@thread.tacv2", outgoing_secret=row_token
    )

    assert (
        send(client, "<at>Muster</at> help", team_id="19:other@thread.tacv2", token=row_token).status_code
        == 200
    )
    assert send(client, "<at>Muster</at> help", team_id="19:other@thread.tacv2").status_code == 401


def test_a_security_token_that_is_not_base64_refuses_instead_of_crashing(client, rosa, settings):
    settings.TEAMS_OUTGOING_SECRET = "not base64!"

    assert send(client, "<at>Muster</at> help").status_code == 401


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "JSON"),
        (b"[]", "object"),
        (json.dumps({"type": "message", "text": "hi"}).encode(), "from.id"),
    ],
)
def test_signed_but_malformed_activity_is_a_400(client, body, problem):
    response = client.post(
        URL, data=body, content_type="application/json", headers={"Authorization": authorization(body)}
    )

    assert response.status_code == 400
    assert problem in response.json()["error"]


# --- Mention and HTML stripping ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("html_text", "command"),
    [
        ("<at>Muster</at> declare Checkout is down", "declare Checkout is down"),
        ("<at>Muster</at>&nbsp;ack INC-42\n", "ack INC-42"),
        (
            "<p><at>Muster</at> note INC-42 rolled back &amp; watching</p>",
            "note INC-42 rolled back & watching",
        ),
        ("<div><at>Muster</at> role commander <at>Sam Okafor</at></div>", "role commander @Sam Okafor"),
        ("<at>Muster</at> status <b>fixed</b><br>error rate &lt; 1%", "status fixed error rate < 1%"),
    ],
)
def test_teams_text_becomes_the_typed_command(html_text, command):
    assert teams_command_text(html_text) == command


# --- The same commands ------------------------------------------------------------------------


def test_declare_answers_with_markdown_links(client, rosa, service):
    message = answer(send(client, "<at>Muster</at> declare Checkout is down sev1 checkout"))

    incident = Incident.objects.get(title="Checkout is down")
    assert incident.severity == 1
    assert f"[Open](https://muster.example.org/incidents/{incident.number}/)" in message["text"]
    # Teams has no slash command: the action is the message to write.
    assert f"Acknowledge: `@Muster ack {incident.reference}`" in message["text"]


def test_html_in_a_title_is_stored_as_text_and_escaped_in_the_answer(client, rosa, service):
    message = answer(send(client, "<at>Muster</at> declare Fix &lt;script&gt; loader sev2"))

    assert Incident.objects.filter(title="Fix <script> loader").exists()
    assert "<script>" not in message["text"]
    assert "Fix &lt;script&gt; loader" in message["text"]


def test_ack_resolve_and_the_rest(client, rosa, incident):
    answer(send(client, "<at>Muster</at> ack INC-42"))
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.ACKNOWLEDGED
    answer(send(client, "<at>Muster</at> mitigated INC-42"))
    answer(send(client, "<at>Muster</at> sev 1 INC-42"))
    answer(send(client, "<at>Muster</at> note INC-42 rolled back"))
    answer(send(client, "<at>Muster</at> status INC-42 fix deployed"))
    assert "INC-42" in answer(send(client, "<at>Muster</at> list"))["text"]
    assert "On call now" in answer(send(client, "<at>Muster</at> oncall"))["text"]
    answer(send(client, "<at>Muster</at> resolve INC-42"))

    incident.refresh_from_db()
    assert (incident.status, incident.severity) == (IncidentStatus.RESOLVED, 1)
    assert incident.mitigated_at is not None


def test_role_uses_the_mention_entities(client, rosa, sam, incident):
    ChatIdentity.objects.create(
        user=sam, platform="teams", workspace_external_id=TEAM, chat_user_id="29:1sam-aad", linked_via="link"
    )
    entities = [
        {
            "type": "mention",
            "text": "<at>Muster</at>",
            "mentioned": {"id": "28:muster-bot", "name": "Muster"},
        },
        {"type": "mention", "text": "<at>Sam</at>", "mentioned": {"id": "29:1sam-aad", "name": "Sam"}},
    ]

    answer(send(client, "<at>Muster</at> role comms <at>Sam</at> INC-42", entities=entities))

    assert IncidentRole.objects.filter(
        incident=incident, user=sam, role=IncidentRoleKind.COMMUNICATIONS
    ).exists()


def test_unknown_command_and_unknown_user_are_answered_not_errors(client, rosa, incident):
    assert "help" in answer(send(client, "<at>Muster</at> frobnicate"))["text"]
    answer(send(client, "<at>Muster</at> ack INC-42", user_id="29:1stranger"))

    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.TRIGGERED
