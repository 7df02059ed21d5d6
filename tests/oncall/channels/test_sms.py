from __future__ import annotations

import pytest

from oncall.channels.base import PermanentError, TransientError
from oncall.channels.sms import SmsChannel
from tests.oncall.channels.conftest import TWILIO_FROM, make_message, twilio_error, utf16_length

channel = SmsChannel()


def test_page_is_posted_to_twilio_and_returns_the_message_sid(twilio):
    message = make_message()

    delivered = channel.send(address="+14155550123", message=message)

    assert delivered.provider_id == "SM1f0e8ae6ade43cb3c0ce4525424e404f"
    form = twilio.only.form()
    assert form["To"] == "+14155550123"
    assert form["From"] == TWILIO_FROM
    assert "MessagingServiceSid" not in form
    assert form["Body"].startswith("[SEV1] INC-42 Checkout down\n")
    assert f"Ack: {message.ack_url}" in form["Body"]
    assert f"Open: {message.incident_url}" in form["Body"]


def test_messaging_service_is_used_instead_of_a_from_number_when_configured(twilio, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG9752274e9e519418a7406176694466fa"

    channel.send(address="+14155550123", message=make_message())

    form = twilio.only.form()
    assert form["MessagingServiceSid"] == "MG9752274e9e519418a7406176694466fa"
    assert "From" not in form


def test_long_title_and_summary_are_cut_to_1600_characters_keeping_the_ack_link(twilio):
    message = make_message(title="Checkout down " * 40, summary="🔥 error budget burning " * 200)

    channel.send(address="+14155550123", message=message)

    body = twilio.only.form()["Body"]
    assert utf16_length(body) <= 1600
    assert utf16_length(body) > 1500, "the room is used, not thrown away"
    assert f"Ack: {message.ack_url}" in body
    assert body.startswith("[SEV1] INC-42 Checkout down")
    assert "...\nAck:" in body


def test_invalid_to_number_is_permanent(twilio):
    twilio.reply(400, twilio_error(21211, 400, "The 'To' number +15005550001 is not a valid phone number."))

    with pytest.raises(PermanentError, match=r"21211.*not a valid phone number.*errors/21211"):
        channel.send(address="+15005550001", message=make_message())


def test_rejected_credentials_are_permanent(twilio):
    twilio.reply(401, twilio_error(20003, 401, "Authenticate"))

    with pytest.raises(PermanentError, match="20003"):
        channel.send(address="+14155550123", message=make_message())


def test_rate_limit_is_transient_and_carries_retry_after(twilio):
    twilio.reply(429, twilio_error(20429, 429, "Too Many Requests"), headers={"Retry-After": "7"})

    with pytest.raises(TransientError, match="20429") as raised:
        channel.send(address="+14155550123", message=make_message())
    assert raised.value.retry_after == 7


def test_server_error_is_transient(twilio):
    twilio.reply(503, "<html><body>Service Unavailable</body></html>")

    with pytest.raises(TransientError, match="HTTP 503"):
        channel.send(address="+14155550123", message=make_message())


def test_no_answer_within_the_timeout_is_transient(twilio, settings):
    settings.MUSTER_CHANNEL_TIMEOUT_SECONDS = 0.3
    twilio.reply(201, {"sid": "SMlate"}, delay=1.5)

    with pytest.raises(TransientError, match=r"did not answer within 0.3 s"):
        channel.send(address="+14155550123", message=make_message())


def test_twilio_unreachable_is_transient(twilio, settings, closed_port):
    settings.TWILIO_API_URL = f"http://127.0.0.1:{closed_port}"

    with pytest.raises(TransientError, match="could not reach Twilio"):
        channel.send(address="+14155550123", message=make_message())


def test_available_when_account_token_and_sender_are_set(twilio):
    assert channel.availability() == (True, "")


def test_unavailable_names_every_missing_setting(settings):
    settings.TWILIO_ACCOUNT_SID = ""
    settings.TWILIO_AUTH_TOKEN = ""
    settings.TWILIO_FROM_NUMBER = ""
    settings.TWILIO_MESSAGING_SERVICE_SID = ""

    available, reason = channel.availability()

    assert not available
    assert reason == (
        "SMS needs a Twilio account: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
        "TWILIO_FROM_NUMBER (or TWILIO_MESSAGING_SERVICE_SID)."
    )


def test_sending_without_configuration_is_permanent_and_says_what_to_set(settings):
    settings.TWILIO_AUTH_TOKEN = ""
    settings.TWILIO_ACCOUNT_SID = "AC1"
    settings.TWILIO_FROM_NUMBER = "+15005550006"

    with pytest.raises(PermanentError, match="set TWILIO_AUTH_TOKEN"):
        channel.send(address="+14155550123", message=make_message())


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("+14155550123", "+14155550123"),
        ("+1 (415) 555-0123", "+14155550123"),
        ("0044 20 7946 0958", "+442079460958"),
        (" +49 30/1234.5678 ", "+493012345678"),
    ],
)
def test_validate_address_normalises_to_e164(raw, normalised):
    assert channel.validate_address(raw) == normalised


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Enter a mobile number"),
        ("415 555 0123", "international format"),
        ("+1 415 CALL NOW", "may only contain digits"),
        ("+0 415 555 0123", "not a valid international number"),
        ("+1234", "not a valid international number"),
        ("+1234567890123456", "not a valid international number"),
    ],
)
def test_validate_address_rejects_with_a_clear_message(raw, message):
    with pytest.raises(ValueError, match=message):
        channel.validate_address(raw)
