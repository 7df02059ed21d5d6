from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from django.core.cache import cache

from incidents.chatops.verify import (
    mattermost_token_valid,
    slack_request_valid,
    slack_signature_first_use,
    teams_request_valid,
)

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BODY = b"token=xyz&team_id=T0XYZ&user_id=U0ABC123&command=%2Fincident&text=ack+INC-42"
NOW = 1_772_442_000.0
# A Teams security token as the Teams client shows it: base64 of random bytes.
TEAMS_TOKEN = base64.b64encode(b"teams-outgoing-webhook-key-32-by").decode()


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    basestring = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), basestring, hashlib.sha256).hexdigest()


def teams_authorization(token: str, body: bytes) -> str:
    digest = hmac.new(base64.b64decode(token), body, hashlib.sha256).digest()
    return "HMAC " + base64.b64encode(digest).decode()


def slack_valid(*, secrets=(SLACK_SECRET,), timestamp=str(int(NOW)), signature=None, body=BODY, now=NOW):
    if signature is None:
        signature = slack_signature(SLACK_SECRET, timestamp, body)
    return slack_request_valid(
        secrets=list(secrets), timestamp=timestamp, signature=signature, body=body, now=now
    )


# --- Slack v0 ---------------------------------------------------------------------------------


def test_slack_signature_over_the_raw_body_is_valid():
    assert slack_valid()


def test_slack_signature_is_checked_against_the_example_from_slacks_documentation():
    # The worked example in Slack's "Verifying requests from Slack" guide.
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGl"
        b"gcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert slack_request_valid(
        secrets=[secret], timestamp="1531420618", signature=signature, body=body, now=1531420618
    )


def test_slack_signature_with_the_wrong_secret_is_refused():
    signature = slack_signature("some-other-secret", str(int(NOW)), BODY)
    assert not slack_valid(signature=signature)


def test_slack_signature_over_a_tampered_body_is_refused():
    signature = slack_signature(SLACK_SECRET, str(int(NOW)), BODY)
    assert not slack_valid(signature=signature, body=BODY.replace(b"ack", b"resolve"))


def test_slack_signature_with_a_changed_timestamp_is_refused():
    signature = slack_signature(SLACK_SECRET, str(int(NOW)), BODY)
    assert not slack_valid(signature=signature, timestamp=str(int(NOW) - 1))


@pytest.mark.parametrize("age", [301, -301, 3600, -86400])
def test_slack_request_outside_the_five_minute_window_is_refused_both_ways(age):
    timestamp = str(int(NOW) - age)
    assert not slack_valid(timestamp=timestamp, signature=slack_signature(SLACK_SECRET, timestamp, BODY))


@pytest.mark.parametrize("age", [300, -300, 0])
def test_slack_request_at_the_edge_of_the_window_is_accepted(age):
    timestamp = str(int(NOW) - age)
    assert slack_valid(timestamp=timestamp, signature=slack_signature(SLACK_SECRET, timestamp, BODY))


@pytest.mark.parametrize(
    "timestamp", ["", "abc", "1772442000.5", "-1772442000", " 1772442000", "\uff11\uff12\uff13"]
)
def test_slack_timestamp_that_is_not_unix_seconds_is_refused(timestamp):
    assert not slack_valid(timestamp=timestamp, signature=slack_signature(SLACK_SECRET, timestamp, BODY))


@pytest.mark.parametrize("signature", ["", "v0=", "v1=abc", "garbage", "v0=ünïcode"])
def test_slack_malformed_signature_is_refused_without_raising(signature):
    assert not slack_valid(signature=signature)


def test_slack_accepts_either_secret_during_a_rotation():
    timestamp = str(int(NOW))
    for secret in ("old-secret", "new-secret"):
        signature = slack_signature(secret, timestamp, BODY)
        assert slack_request_valid(
            secrets=["new-secret", "old-secret"], timestamp=timestamp, signature=signature, body=BODY, now=NOW
        )


def test_slack_without_any_secret_refuses_everything():
    assert not slack_valid(secrets=())
    assert not slack_valid(secrets=("",), signature=slack_signature("", str(int(NOW)), BODY))


def test_slack_uses_the_current_time_when_none_is_given():
    timestamp = str(int(time.time()))
    signature = slack_signature(SLACK_SECRET, timestamp, BODY)
    assert slack_request_valid(secrets=[SLACK_SECRET], timestamp=timestamp, signature=signature, body=BODY)
    stale = str(int(time.time()) - 600)
    signature = slack_signature(SLACK_SECRET, stale, BODY)
    assert not slack_request_valid(secrets=[SLACK_SECRET], timestamp=stale, signature=signature, body=BODY)


def test_a_slack_signature_is_accepted_once_and_then_refused_as_a_replay(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    signature = slack_signature(SLACK_SECRET, str(int(NOW)), BODY)

    assert slack_signature_first_use(signature=signature)
    assert not slack_signature_first_use(signature=signature)
    assert slack_signature_first_use(signature=slack_signature(SLACK_SECRET, str(int(NOW) + 1), BODY))


# --- Mattermost -------------------------------------------------------------------------------


def test_mattermost_token_must_match_one_of_the_configured_tokens():
    assert mattermost_token_valid(tokens=["old-token", "new-token"], request_token="new-token")
    assert mattermost_token_valid(tokens=["old-token", "new-token"], request_token="old-token")
    assert not mattermost_token_valid(tokens=["old-token"], request_token="new-token")
    assert not mattermost_token_valid(tokens=["old-token"], request_token="old-token ")


def test_mattermost_empty_tokens_never_match():
    assert not mattermost_token_valid(tokens=[""], request_token="")
    assert not mattermost_token_valid(tokens=[], request_token="anything")
    assert not mattermost_token_valid(tokens=["token"], request_token="")


def test_mattermost_non_ascii_token_is_refused_without_raising():
    assert not mattermost_token_valid(tokens=["token"], request_token="tökén")


# --- Teams ------------------------------------------------------------------------------------

TEAMS_BODY = b'{"type":"message","text":"<at>Muster</at> list"}'


def test_teams_hmac_with_the_decoded_security_token_as_key_is_valid():
    authorization = teams_authorization(TEAMS_TOKEN, TEAMS_BODY)
    assert teams_request_valid(secrets=[TEAMS_TOKEN], authorization=authorization, body=TEAMS_BODY)


def test_teams_hmac_keyed_with_the_token_text_itself_is_refused():
    # The classic mistake: using the base64 text as the key instead of the bytes it encodes.
    digest = hmac.new(TEAMS_TOKEN.encode(), TEAMS_BODY, hashlib.sha256).digest()
    authorization = "HMAC " + base64.b64encode(digest).decode()
    assert not teams_request_valid(secrets=[TEAMS_TOKEN], authorization=authorization, body=TEAMS_BODY)


def test_teams_hmac_over_a_tampered_body_is_refused():
    authorization = teams_authorization(TEAMS_TOKEN, TEAMS_BODY)
    tampered = TEAMS_BODY.replace(b"list", b"declare")
    assert not teams_request_valid(secrets=[TEAMS_TOKEN], authorization=authorization, body=tampered)


def test_teams_hmac_with_another_webhooks_token_is_refused():
    other = base64.b64encode(b"another-webhook-key-of-32-bytes!").decode()
    authorization = teams_authorization(other, TEAMS_BODY)
    assert not teams_request_valid(secrets=[TEAMS_TOKEN], authorization=authorization, body=TEAMS_BODY)
    assert teams_request_valid(secrets=[TEAMS_TOKEN, other], authorization=authorization, body=TEAMS_BODY)


@pytest.mark.parametrize(
    "authorization", ["", "HMAC", "HMAC ", "Bearer abc", "HMACabc", "HMAC not-base64-at-all!", "HMAC ü"]
)
def test_teams_malformed_authorization_is_refused_without_raising(authorization):
    assert not teams_request_valid(secrets=[TEAMS_TOKEN], authorization=authorization, body=TEAMS_BODY)


@pytest.mark.parametrize("secret", ["", "not base64!", "abc", "ü"])
def test_teams_security_token_that_is_not_base64_is_skipped(secret):
    authorization = teams_authorization(TEAMS_TOKEN, TEAMS_BODY)
    assert not teams_request_valid(secrets=[secret], authorization=authorization, body=TEAMS_BODY)
    assert teams_request_valid(secrets=[secret, TEAMS_TOKEN], authorization=authorization, body=TEAMS_BODY)
