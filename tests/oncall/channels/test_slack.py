from __future__ import annotations

import pytest

from oncall.channels.base import PermanentError, TransientError
from oncall.channels.slack import SlackChannel
from tests.oncall.channels.conftest import make_message, slack_posted

channel = SlackChannel()


def _buttons(payload):
    return [
        element for block in payload["blocks"] if block["type"] == "actions" for element in block["elements"]
    ]


def test_page_is_a_direct_message_with_acknowledge_and_open_buttons_and_returns_ts(slack):
    message = make_message()

    delivered = channel.send(address="U0ABC1234", message=message)

    assert delivered.provider_id == "1772442000.123456"
    payload = slack.only.json()
    assert payload["channel"] == "U0ABC1234"
    assert payload["text"] == "[SEV1] INC-42 Checkout down"
    ack, open_ = _buttons(payload)
    assert (ack["action_id"], ack["value"], ack["text"]["text"]) == ("incident_ack", "INC-42", "Acknowledge")
    assert (open_["url"], open_["text"]["text"]) == (message.incident_url, "Open incident")
    section = payload["blocks"][0]["text"]["text"]
    assert f"<{message.incident_url}|INC-42 · Checkout down>" in section
    assert "SEV1 · high urgency · Checkout" in section


def test_mrkdwn_control_characters_in_the_title_are_escaped(slack):
    channel.send(address="U0ABC1234", message=make_message(title="<!channel> & <https://evil.example|click>"))

    section = slack.only.json()["blocks"][0]["text"]["text"]
    assert "<!channel>" not in section
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in section


def test_a_message_without_ack_link_has_no_acknowledge_button(slack):
    channel.send(
        address="U0ABC1234", message=make_message(kind="shift", title="Your shift starts", ack_url="")
    )

    assert [b["action_id"] for b in _buttons(slack.only.json())] == ["incident_open"]


def test_ratelimited_in_an_ok_false_body_is_transient(slack):
    slack.reply(200, {"ok": False, "error": "ratelimited"})

    with pytest.raises(TransientError, match="ratelimited"):
        channel.send(address="U0ABC1234", message=make_message())


def test_http_429_is_transient_with_slacks_retry_after(slack):
    slack.reply(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "30"})

    with pytest.raises(TransientError) as raised:
        channel.send(address="U0ABC1234", message=make_message())
    assert raised.value.retry_after == 30


def test_slack_server_error_is_transient(slack):
    slack.reply(503, "upstream connect error")

    with pytest.raises(TransientError, match="HTTP 503"):
        channel.send(address="U0ABC1234", message=make_message())


@pytest.mark.parametrize(
    "error", ["channel_not_found", "user_not_found", "invalid_auth", "not_authed", "missing_scope"]
)
def test_address_and_auth_errors_are_permanent(slack, error):
    slack.reply(200, {"ok": False, "error": error})

    with pytest.raises(PermanentError, match=error):
        channel.send(address="U0ABC1234", message=make_message())


def test_no_answer_within_the_timeout_is_transient(slack, settings):
    settings.MUSTER_CHANNEL_TIMEOUT_SECONDS = 0.3
    slack.reply(200, slack_posted(), delay=1.5)

    with pytest.raises(TransientError, match="did not answer"):
        channel.send(address="U0ABC1234", message=make_message())


def test_unavailable_without_a_bot_token(settings):
    settings.SLACK_BOT_TOKEN = ""

    available, reason = channel.availability()

    assert not available
    assert "SLACK_BOT_TOKEN" in reason


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("U0ABC1234", "U0ABC1234"), (" w0abc1234 ", "W0ABC1234"), ("<@U0ABC1234|alice>", "U0ABC1234")],
)
def test_validate_address_accepts_member_ids(raw, normalised):
    assert channel.validate_address(raw) == normalised


@pytest.mark.parametrize("raw", ["", "@alice", "alice", "C0INC001", "U0", "U0ABC-1234"])
def test_validate_address_rejects_names_and_channels_with_a_clear_message(raw):
    with pytest.raises(ValueError, match="Slack member ID, which starts with U or W"):
        channel.validate_address(raw)
