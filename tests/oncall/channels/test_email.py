from __future__ import annotations

import time
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from oncall.channels.base import PermanentError, TransientError
from oncall.channels.email import EmailChannel
from tests.oncall.channels.conftest import make_message

channel = EmailChannel()


def _parse(envelope) -> EmailMessage:
    parsed = message_from_bytes(envelope.original_content, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _parts(parsed: EmailMessage) -> tuple[str, str]:
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert text is not None, "a text/plain part"
    assert html is not None, "a text/html part"
    return text.get_content(), html.get_content()


def test_page_arrives_over_smtp_with_text_and_html_parts_both_carrying_the_ack_and_incident_links(
    smtp_server,
):
    message = make_message()

    delivered = channel.send(address="alice@example.org", message=message)

    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == ["alice@example.org"]
    parsed = _parse(envelope)
    assert parsed["Subject"] == "[SEV1] INC-42 Checkout down"
    assert parsed["From"] == "Muster <muster@muster.example.org>"
    assert parsed.get_content_type() == "multipart/alternative"
    text, html = _parts(parsed)
    for part in (text, html):
        assert message.ack_url in part
        assert message.incident_url in part
        assert message.summary in part
    assert f'href="{message.ack_url}"' in html
    assert delivered.provider_id == parsed["Message-ID"]
    assert delivered.provider_id.endswith("@muster.example.org>")
    assert parsed["X-Muster-Notification"] == "17"
    assert parsed["Auto-Submitted"] == "auto-generated"


def test_html_part_escapes_the_incident_title(smtp_server):
    channel.send(address="alice@example.org", message=make_message(title='Login <script>alert("x")</script>'))

    text, html = _parts(_parse(smtp_server.envelopes[0]))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert '<script>alert("x")</script>' in text


def test_a_title_with_a_newline_cannot_inject_headers(smtp_server):
    channel.send(address="alice@example.org", message=make_message(title="Down\nBcc: mallory@example.org"))

    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == ["alice@example.org"]
    assert _parse(envelope)["Subject"] == "[SEV1] INC-42 Down Bcc: mallory@example.org"


def test_test_message_says_it_is_a_test_and_has_no_ack_link_when_none_is_given(smtp_server):
    message = make_message(kind="test", title="Test page for alice", ack_url="", ack_api_url="")

    channel.send(address="alice@example.org", message=message)

    parsed = _parse(smtp_server.envelopes[0])
    assert parsed["Subject"] == "[Test] Test page for alice"
    text, html = _parts(parsed)
    for part in (text, html):
        assert "This is a test" in part
        assert "Acknowledge" not in part


def test_subject_override_wins(smtp_server):
    channel.send(address="alice@example.org", message=make_message(subject="Your shift starts at 09:00"))

    assert _parse(smtp_server.envelopes[0])["Subject"] == "Your shift starts at 09:00"


def test_recipient_refused_for_good_is_permanent(smtp_server):
    smtp_server.refuse["gone@example.org"] = "550 5.1.1 <gone@example.org>: user unknown"

    with pytest.raises(PermanentError, match=r"550 5\.1\.1"):
        channel.send(address="gone@example.org", message=make_message())
    assert smtp_server.envelopes == []


def test_recipient_deferred_by_greylisting_is_transient(smtp_server):
    smtp_server.refuse["new@example.org"] = "450 4.2.0 greylisted, try again later"

    with pytest.raises(TransientError, match=r"450 4\.2\.0"):
        channel.send(address="new@example.org", message=make_message())


def test_mail_server_down_is_transient(settings, closed_port):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = closed_port

    with pytest.raises(TransientError, match="could not reach the mail server"):
        channel.send(address="alice@example.org", message=make_message())


def test_mail_server_that_never_greets_times_out_as_transient(settings, silent_port):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = silent_port
    settings.EMAIL_TIMEOUT = None
    settings.MUSTER_CHANNEL_TIMEOUT_SECONDS = 0.3
    started = time.monotonic()

    with pytest.raises(TransientError):
        channel.send(address="alice@example.org", message=make_message())
    assert time.monotonic() - started < 2, "Django's SMTP backend default is to wait forever"


def test_email_is_always_available():
    assert channel.availability() == (True, "")


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("alice@example.org", "alice@example.org"),
        ("  Alice.Smith@Example.ORG ", "Alice.Smith@example.org"),
        ("ops+pager@sub.example.co.uk", "ops+pager@sub.example.co.uk"),
    ],
)
def test_validate_address_accepts_and_normalises(raw, normalised):
    assert channel.validate_address(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "alice",
        "alice@",
        "@example.org",
        "alice@@example.org",
        "Alice <alice@example.org>",
        "a b@example.org",
    ],
)
def test_validate_address_rejects_with_a_clear_message(raw):
    with pytest.raises(ValueError, match="Enter a valid email address"):
        channel.validate_address(raw)
