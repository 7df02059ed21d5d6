from __future__ import annotations

import pytest

from oncall.channels.base import PermanentError, TransientError
from oncall.channels.ntfy import NtfyChannel
from tests.oncall.channels.conftest import (
    NTFY_TOKEN,
    Reply,
    check_ntfy,
    decoded_header,
    make_message,
    ntfy_error,
    ntfy_stored,
    parse_ntfy_actions,
)

channel = NtfyChannel()


def test_page_is_published_to_the_topic_and_returns_the_ntfy_message_id(ntfy):
    message = make_message()

    delivered = channel.send(address="alice-pager-7f3k", message=message)

    assert delivered.provider_id == "hwQ2YpKdmg6p"
    request = ntfy.only
    assert request.method == "POST"
    assert request.path == "/alice-pager-7f3k"
    assert request.headers["authorization"] == f"Bearer {NTFY_TOKEN}"
    assert request.headers["x-title"] == "[SEV1] INC-42 Checkout down"
    assert request.headers["x-priority"] == "5"
    assert request.headers["x-tags"] == "rotating_light,sev1"
    assert request.headers["x-click"] == message.incident_url
    body = request.body.decode()
    assert message.summary in body
    assert f"Acknowledge: {message.ack_url}" in body


def test_actions_header_is_an_acknowledge_http_action_and_an_open_view_action_in_interop_syntax(ntfy):
    message = make_message()

    channel.send(address="alice-pager-7f3k", message=message)

    header = ntfy.only.headers["x-actions"]
    assert header == (
        f"http, Acknowledge, {message.ack_api_url}, method=POST, clear=true; view, Open incident, {message.incident_url}"
    )
    assert parse_ntfy_actions(header) == [
        {
            "action": "http",
            "label": "Acknowledge",
            "url": message.ack_api_url,
            "method": "POST",
            "clear": "true",
        },
        {"action": "view", "label": "Open incident", "url": message.incident_url},
    ]


def test_an_action_url_with_a_comma_is_quoted_so_ntfy_reads_it_whole(ntfy):
    message = make_message(incident_url="https://muster.example.org/incidents/42/?tab=timeline,alerts")

    channel.send(address="alice-pager-7f3k", message=message)

    [_, view] = parse_ntfy_actions(ntfy.only.headers["x-actions"])
    assert view["url"] == message.incident_url


def test_low_urgency_is_priority_3(ntfy):
    channel.send(address="alice-pager-7f3k", message=make_message(urgency="low", severity_label="SEV3"))

    assert ntfy.only.headers["x-priority"] == "3"
    assert ntfy.only.headers["x-tags"] == "warning,sev3"


def test_no_authorization_header_without_a_token(fake_provider, settings):
    server = fake_provider(check_ntfy(""), Reply(200, ntfy_stored()))
    settings.NTFY_URL = server.url + "/"  # a trailing slash must not make "//topic"
    settings.NTFY_TOKEN = ""

    channel.send(address="alice-pager-7f3k", message=make_message())

    assert "authorization" not in server.only.headers
    assert server.only.path == "/alice-pager-7f3k"


def test_non_ascii_title_travels_as_rfc2047(ntfy):
    channel.send(address="alice-pager-7f3k", message=make_message(title="Zahlungen fallen aus in Köln 🔥"))

    assert decoded_header(ntfy.only.headers["x-title"]) == "[SEV1] INC-42 Zahlungen fallen aus in Köln 🔥"


def test_a_huge_summary_stays_under_4096_bytes_and_keeps_the_ack_link(ntfy):
    message = make_message(summary="ü" * 5000)

    channel.send(address="alice-pager-7f3k", message=message)

    body = ntfy.only.body
    assert 4000 < len(body) <= 4096
    assert body.decode().endswith(f"...\nAcknowledge: {message.ack_url}")


def test_a_test_message_without_ack_link_has_only_the_open_action(ntfy):
    message = make_message(kind="test", title="Test page for alice", ack_url="", ack_api_url="")

    channel.send(address="alice-pager-7f3k", message=message)

    request = ntfy.only
    assert request.headers["x-title"] == "[Test] Test page for alice"
    assert request.headers["x-tags"] == "test_tube"
    assert [a["action"] for a in parse_ntfy_actions(request.headers["x-actions"])] == ["view"]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (429, ntfy_error(42901, 429, "limit reached: too many requests")),
        (429, ntfy_error(42908, 429, "limit reached: daily message quota reached")),
        (500, ntfy_error(50001, 500, "internal server error")),
        (502, "<html>Bad Gateway</html>"),
    ],
)
def test_rate_limits_and_server_errors_are_transient(ntfy, status, body):
    ntfy.reply(status, body)

    with pytest.raises(TransientError, match=f"HTTP {status}"):
        channel.send(address="alice-pager-7f3k", message=make_message())


@pytest.mark.parametrize(
    ("status", "body", "text"),
    [
        (401, ntfy_error(40101, 401, "unauthorized"), "40101"),
        (403, ntfy_error(40301, 403, "forbidden"), "forbidden"),
        (400, ntfy_error(40013, 400, "invalid request: actions invalid"), "actions invalid"),
    ],
)
def test_auth_and_request_errors_are_permanent(ntfy, status, body, text):
    ntfy.reply(status, body)

    with pytest.raises(PermanentError, match=text):
        channel.send(address="alice-pager-7f3k", message=make_message())


def test_no_answer_within_the_timeout_is_transient(ntfy, settings):
    settings.MUSTER_CHANNEL_TIMEOUT_SECONDS = 0.3
    ntfy.reply(200, ntfy_stored(), delay=1.5)

    with pytest.raises(TransientError, match=r"did not answer within 0\.3 s"):
        channel.send(address="alice-pager-7f3k", message=make_message())


def test_unavailable_without_a_server_url(settings):
    settings.NTFY_URL = ""

    available, reason = channel.availability()

    assert not available
    assert "NTFY_URL" in reason
    with pytest.raises(PermanentError, match="NTFY_URL"):
        channel.send(address="alice-pager-7f3k", message=make_message())


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("alice-pager-7f3k", "alice-pager-7f3k"),
        ("  Ops_Pager_2 ", "Ops_Pager_2"),
        ("https://ntfy.example.org/alice-pager-7f3k", "alice-pager-7f3k"),
    ],
)
def test_validate_address_accepts_topics_and_the_subscription_url(settings, raw, normalised):
    settings.NTFY_URL = "https://ntfy.example.org"

    assert channel.validate_address(raw) == normalised


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "1 to 64 letters"),
        ("alice pager", "1 to 64 letters"),
        ("alice/pager", "1 to 64 letters"),
        ("x" * 65, "1 to 64 letters"),
        ("pager.alice", "1 to 64 letters"),
        ("docs", "reserved"),
        ("https://ntfy.sh/alice-pager", "sends to https://ntfy.example.org only"),
    ],
)
def test_validate_address_rejects_with_a_clear_message(settings, raw, message):
    settings.NTFY_URL = "https://ntfy.example.org"

    with pytest.raises(ValueError, match=message):
        channel.validate_address(raw)
