"""users.info against a local stand-in for Slack that checks each request (INTEROP.md §5)."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from incidents.chatops.identity import muster_user_for
from incidents.chatops.models import ChatIdentity
from incidents.chatops.slack_api import slack_user_email
from incidents.chatops.types import ChatUser
from tests.factories import UserFactory
from tests.oncall.channels.conftest import Recorded, Reply, fake_provider  # noqa: F401 - fixture

TOKEN = "xoxb-test-token"


def check_users_info(request: Recorded) -> list[str]:
    problems = []
    if request.method != "POST" or request.path != "/users.info":
        problems.append(f"{request.method} {request.path}")
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        problems.append("bot token missing or wrong")
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        problems.append(f"content type {request.headers.get('content-type')}")
    elif parse_qs(request.body.decode()).get("user") != ["U0RILEY"]:
        problems.append(f"body {request.body!r}")
    return problems


@pytest.fixture
def slack(fake_provider, settings):  # noqa: F811 - the imported fixture
    provider = fake_provider(
        check_users_info,
        Reply(200, {"ok": True, "user": {"id": "U0RILEY", "profile": {"email": "riley@example.org"}}}),
    )
    settings.SLACK_API_URL = provider.url
    return provider


def test_the_email_comes_from_the_users_profile(slack):
    assert slack_user_email(bot_token=TOKEN, user_id="U0RILEY") == "riley@example.org"
    assert len(slack.requests) == 1


def test_a_token_without_the_email_scope_gives_no_email(slack):
    slack.reply(200, {"ok": False, "error": "missing_scope", "needed": "users:read.email"})

    assert slack_user_email(bot_token=TOKEN, user_id="U0RILEY") == ""


def test_no_token_asks_nothing(slack):
    assert slack_user_email(bot_token="", user_id="U0RILEY") == ""
    assert slack.requests == []


def test_slack_not_answering_gives_no_email(settings):
    settings.SLACK_API_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    assert slack_user_email(bot_token=TOKEN, user_id="U0RILEY") == ""


@pytest.mark.django_db
def test_a_slack_user_unknown_by_member_id_is_found_by_the_email_slack_gives_and_remembered(slack, settings):
    settings.SLACK_BOT_TOKEN = TOKEN
    riley = UserFactory(username="riley", email="Riley@example.org")
    chat_user = ChatUser(platform="slack", workspace_id="T0XYZ", user_id="U0RILEY", name="riley")

    assert muster_user_for(chat_user) == riley
    assert ChatIdentity.objects.get(chat_user_id="U0RILEY").linked_via == "email"
    assert muster_user_for(chat_user) == riley
    assert len(slack.requests) == 1  # the second time, the remembered identity answers
