from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.urls import resolve

from incidents.chatops.identity import (
    chat_user_from_link_token,
    link_url_for,
    muster_user_for,
    unknown_user_reply,
)
from incidents.chatops.models import ChatIdentity
from incidents.chatops.types import ChatUser
from tests.factories import ContactMethodFactory, UserFactory

pytestmark = pytest.mark.django_db

RILEY = ChatUser(platform="slack", workspace_id="T0XYZ", user_id="U0RILEY", name="riley")


def test_a_linked_chat_identity_is_the_user():
    riley = UserFactory(username="riley")
    ChatIdentity.objects.create(
        user=riley, platform="slack", workspace_external_id="T0XYZ", chat_user_id="U0RILEY", linked_via="link"
    )
    assert muster_user_for(RILEY) == riley


def test_the_same_chat_user_id_in_another_workspace_is_someone_else():
    riley = UserFactory(username="riley")
    ChatIdentity.objects.create(
        user=riley,
        platform="slack",
        workspace_external_id="T0OTHER",
        chat_user_id="U0RILEY",
        linked_via="link",
    )
    assert muster_user_for(RILEY) is None


def test_a_deactivated_user_is_not_found_even_when_linked():
    riley = UserFactory(username="riley", is_active=False)
    ChatIdentity.objects.create(
        user=riley, platform="slack", workspace_external_id="T0XYZ", chat_user_id="U0RILEY", linked_via="link"
    )
    assert muster_user_for(RILEY) is None


def test_a_slack_contact_method_with_the_member_id_finds_the_user_and_is_remembered():
    riley = UserFactory(username="riley")
    ContactMethodFactory(user=riley, kind="slack", address="U0RILEY")
    assert muster_user_for(RILEY) == riley
    identity = ChatIdentity.objects.get()
    assert (identity.user, identity.linked_via, identity.chat_user_name) == (riley, "contact_method", "riley")


def test_a_slack_member_id_claimed_by_two_people_matches_nobody():
    for name in ("riley", "rory"):
        ContactMethodFactory(user=UserFactory(username=name), kind="slack", address="U0RILEY")
    assert muster_user_for(RILEY) is None
    assert not ChatIdentity.objects.exists()


def test_the_email_address_finds_the_user_case_insensitively_and_is_remembered():
    riley = UserFactory(username="riley", email="Riley@Example.org")
    assert muster_user_for(replace(RILEY, email="riley@example.ORG")) == riley
    assert ChatIdentity.objects.get().linked_via == "email"


def test_an_email_address_shared_by_two_accounts_matches_nobody():
    UserFactory(username="riley", email="ops@example.org")
    UserFactory(username="rory", email="ops@example.org")
    assert muster_user_for(replace(RILEY, email="ops@example.org")) is None


def test_an_inactive_users_contact_method_or_email_matches_nobody():
    riley = UserFactory(username="riley", email="riley@example.org", is_active=False)
    ContactMethodFactory(user=riley, kind="slack", address="U0RILEY")
    assert muster_user_for(replace(RILEY, email="riley@example.org")) is None


def test_a_slack_contact_method_does_not_match_a_mattermost_user_with_the_same_id():
    ContactMethodFactory(user=UserFactory(username="riley"), kind="slack", address="U0RILEY")
    assert muster_user_for(ChatUser(platform="mattermost", workspace_id="T0XYZ", user_id="U0RILEY")) is None


def test_an_unknown_chat_user_is_none():
    UserFactory(username="riley")
    assert muster_user_for(RILEY) is None


def test_the_link_url_is_absolute_and_carries_the_chat_user(settings):
    settings.MUSTER_BASE_URL = "https://muster.example.org"
    url = link_url_for(RILEY)
    assert url.startswith("https://muster.example.org/chatops/link/")
    match = resolve(urlsplit(url).path)
    assert match.view_name == "chatops:link"
    assert chat_user_from_link_token(match.kwargs["token"]) == RILEY


def test_a_link_token_expires_after_a_day(time_machine):
    time_machine.move_to("2026-03-01 12:00Z", tick=False)
    url = link_url_for(RILEY)
    token = resolve(urlsplit(url).path).kwargs["token"]
    time_machine.shift(24 * 60 * 60 + 5)
    with pytest.raises(signing.SignatureExpired):
        chat_user_from_link_token(token)


def test_a_tampered_link_token_is_refused():
    token = resolve(urlsplit(link_url_for(RILEY)).path).kwargs["token"]
    with pytest.raises(signing.BadSignature):
        chat_user_from_link_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))


def test_the_unknown_user_reply_offers_the_link_and_for_slack_the_alternatives():
    reply = unknown_user_reply(RILEY)
    assert not reply.in_channel
    assert "Open this link while signed in to Muster to link your account: http" in reply.text
    assert "U0RILEY" in reply.text
    assert "/my/notifications/" in reply.text
    assert "same email address" in reply.text


def test_the_unknown_user_reply_for_mattermost_only_offers_the_link():
    reply = unknown_user_reply(ChatUser(platform="mattermost", workspace_id="team1", user_id="abc"))
    assert "Open this link" in reply.text
    assert "Slack" not in reply.text
