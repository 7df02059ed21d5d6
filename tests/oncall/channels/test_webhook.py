from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from oncall.channels.base import PermanentError, TransientError
from oncall.channels.webhook import WebhookChannel
from tests.oncall.channels.conftest import WEBHOOK_SECRET, make_message

channel = WebhookChannel()


def test_page_is_posted_as_signed_json(webhook_receiver):
    message = make_message()

    channel.send(address=webhook_receiver.url + "/hooks/muster?team=payments", message=message)

    request = webhook_receiver.only
    assert request.path == "/hooks/muster?team=payments"
    assert request.headers["x-muster-signature"] == (
        hmac.new(WEBHOOK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    )
    assert request.headers["x-muster-notification"] == "17"
    payload = request.json()
    assert payload["event"] == "notification.page"
    assert payload["kind"] == "page"
    assert payload["incident"] == {
        "reference": "INC-42",
        "title": "Checkout down",
        "severity": "SEV1",
        "urgency": "high",
        "service": "Checkout",
        "url": message.incident_url,
        "summary": message.summary,
    }
    assert payload["ack_url"] == message.ack_url
    assert payload["sent_at"] == int(request.headers["x-muster-timestamp"])


def test_provider_id_is_the_receivers_request_id_when_it_sends_one(webhook_receiver):
    webhook_receiver.reply(202, {"accepted": True}, headers={"X-Request-Id": "req-8812"})

    delivered = channel.send(address=webhook_receiver.url, message=make_message())

    assert delivered.provider_id == "req-8812"


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
def test_server_errors_and_rate_limits_are_transient(webhook_receiver, status):
    webhook_receiver.reply(status, "try later", headers={"Retry-After": "12"})

    with pytest.raises(TransientError, match=f"HTTP {status}: try later") as raised:
        channel.send(address=webhook_receiver.url, message=make_message())
    assert raised.value.retry_after == 12


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_client_errors_are_permanent(webhook_receiver, status):
    webhook_receiver.reply(status, {"error": "no such hook"})

    with pytest.raises(PermanentError, match=f"HTTP {status}"):
        channel.send(address=webhook_receiver.url, message=make_message())


def test_a_redirect_is_not_followed_and_is_permanent(webhook_receiver):
    webhook_receiver.reply(301, "", headers={"Location": "https://hooks.example.org/new"})

    with pytest.raises(PermanentError, match=re.escape("redirect to https://hooks.example.org/new")):
        channel.send(address=webhook_receiver.url, message=make_message())
    assert len(webhook_receiver.requests) == 1


def test_no_answer_within_the_timeout_is_transient(webhook_receiver, settings):
    settings.MUSTER_CHANNEL_TIMEOUT_SECONDS = 0.3
    webhook_receiver.reply(204, delay=1.5)

    with pytest.raises(TransientError, match=r"did not answer within 0\.3 s"):
        channel.send(address=webhook_receiver.url, message=make_message())


def test_refused_connection_is_transient(settings, closed_port):
    settings.MUSTER_WEBHOOK_SIGNING_SECRET = WEBHOOK_SECRET

    with pytest.raises(TransientError, match="could not reach the webhook"):
        channel.send(address=f"http://127.0.0.1:{closed_port}/hook", message=make_message())


def test_unavailable_until_the_signing_secret_is_set(settings):
    settings.MUSTER_WEBHOOK_SIGNING_SECRET = ""

    available, reason = channel.availability()

    assert not available
    assert "MUSTER_WEBHOOK_SIGNING_SECRET" in reason
    with pytest.raises(PermanentError, match="MUSTER_WEBHOOK_SIGNING_SECRET"):
        channel.send(address="http://127.0.0.1:9/hook", message=make_message())


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("https://hooks.example.org/muster", "https://hooks.example.org/muster"),
        ("  http://alert-bridge:8080/in?x=1 ", "http://alert-bridge:8080/in?x=1"),
        ("HTTPS://[2001:db8::1]/hook", "HTTPS://[2001:db8::1]/hook"),
    ],
)
def test_validate_address_accepts_http_and_https_urls(raw, normalised):
    assert channel.validate_address(raw) == normalised


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "full http:// or https:// URL"),
        ("hooks.example.org/muster", "full http:// or https:// URL"),
        ("ftp://hooks.example.org/muster", "full http:// or https:// URL"),
        ("https:///muster", "full http:// or https:// URL"),
        ("https://hooks.example.org:99999/muster", "not a valid URL"),
        ("https://hooks.example.org/a b", "cannot contain spaces"),
        ("https://hooks.example.org/" + "a" * 2000, "longer than 2000"),
    ],
)
def test_validate_address_rejects_with_a_clear_message(raw, message):
    with pytest.raises(ValueError, match=message):
        channel.validate_address(raw)
