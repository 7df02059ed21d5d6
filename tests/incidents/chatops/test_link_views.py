from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client

from incidents.chatops.identity import link_url_for
from incidents.chatops.models import ChatIdentity
from incidents.chatops.types import ChatUser
from tests.clients import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

RILEY = ChatUser(platform="slack", workspace_id="T0XYZ", user_id="U0RILEY", name="riley")


@pytest.fixture
def riley():
    return UserFactory(username="riley")


def link_path(chat_user: ChatUser = RILEY) -> str:
    return urlsplit(link_url_for(chat_user)).path


def test_the_link_page_needs_a_signed_in_user():
    response = Client().get(link_path())
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_the_link_page_asks_for_confirmation_and_links_nothing_yet(riley):
    response = client_for(riley).get(link_path())
    assert response.status_code == 200
    content = response.content.decode()
    assert "Link Slack user <strong>@riley</strong> in workspace <code>T0XYZ</code>" in content
    assert "to your Muster account <strong>riley</strong>?" in content
    assert "csrfmiddlewaretoken" in content
    assert not ChatIdentity.objects.exists()


def test_confirming_links_the_chat_account_to_the_signed_in_user(riley):
    response = client_for(riley).post(link_path())
    assert response.status_code == 200
    assert "Go back to Slack and try again." in response.content.decode()
    identity = ChatIdentity.objects.get()
    assert (identity.user, identity.platform, identity.workspace_external_id, identity.chat_user_id) == (
        riley,
        "slack",
        "T0XYZ",
        "U0RILEY",
    )
    assert (identity.linked_via, identity.chat_user_name) == ("link", "riley")


def test_linking_again_moves_the_chat_account_to_the_new_user(riley):
    old = UserFactory(username="old")
    ChatIdentity.objects.create(
        user=old, platform="slack", workspace_external_id="T0XYZ", chat_user_id="U0RILEY", linked_via="email"
    )
    client_for(riley).post(link_path())
    identity = ChatIdentity.objects.get()
    assert (identity.user, identity.linked_via) == (riley, "link")


def test_the_post_needs_the_csrf_token(riley):
    client = Client(enforce_csrf_checks=True)
    client.force_login(riley)
    assert client.post(link_path()).status_code == 403
    assert not ChatIdentity.objects.exists()


def test_an_expired_link_says_so_and_links_nothing(riley, time_machine):
    time_machine.move_to("2026-03-01 12:00Z", tick=False)
    path = link_path()
    time_machine.shift(25 * 60 * 60)
    response = client_for(riley).post(path)
    assert response.status_code == 400
    content = response.content.decode()
    assert "This link has expired" in content
    assert "Ask the bot for a new one" in content
    assert not ChatIdentity.objects.exists()


def test_a_forged_link_is_refused(riley):
    response = client_for(riley).get("/chatops/link/not-a-real-token/")
    assert response.status_code == 400
    assert not ChatIdentity.objects.exists()
