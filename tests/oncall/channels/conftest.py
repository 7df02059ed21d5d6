"""Local stand-ins for the providers: a real SMTP server, and an HTTP server that checks every
request against INTEROP.md before answering the way the real provider would."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from oncall import acklinks
from oncall.channels.base import Message

TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_TOKEN = "twilio-auth-token"
TWILIO_FROM = "+15005550006"
NTFY_TOKEN = "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2"
SLACK_TOKEN = "xoxb-17-42-secret"
WEBHOOK_SECRET = "shared-webhook-secret"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def make_message(**overrides: Any) -> Message:
    # Real signed tokens, so the tests see the characters a real ack link carries.
    token = acklinks.make_token(incident_id=42, user_id=7)
    fields: dict[str, Any] = {
        "incident_reference": "INC-42",
        "title": "Checkout down",
        "severity_label": "SEV1",
        "urgency": "high",
        "service_name": "Checkout",
        "incident_url": "http://127.0.0.1:8000/incidents/42/",
        "ack_url": acklinks.ack_url(token),
        "ack_api_url": acklinks.ack_api_url(token),
        "summary": "5xx rate above 5% for 10 minutes on checkout-api",
        "dedup_id": "17",
    }
    fields.update(overrides)
    return Message(**fields)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --- HTTP providers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode(), keep_blank_values=True, strict_parsing=bool(self.body))
        return {name: values[-1] for name, values in parsed.items()}


@dataclass
class Reply:
    status: int
    body: Any = None  # dict/list → JSON, str/bytes → as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Check = Callable[[Recorded], list[str]]


class FakeProvider:
    """An HTTP server on 127.0.0.1 that records requests, checks each one, and answers as told.

    A request that breaks the provider's rules is answered 400 and its problems are kept; the
    fixture fails the test at teardown if there were any, whatever the test itself asserted.
    """

    def __init__(self, check: Check, reply: Reply) -> None:
        self.check = check
        self.requests: list[Recorded] = []
        self.problems: list[str] = []
        self.next_reply = reply
        # Answers for particular paths (a Web API with several methods); others get next_reply.
        self.path_replies: dict[str, Reply] = {}
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        # A short poll keeps shutdown() (which waits for the next poll) from adding half a second a test.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def reply(
        self, status: int, body: Any = None, *, headers: dict[str, str] | None = None, delay: float = 0
    ) -> None:
        self.next_reply = Reply(status, body, headers or {}, delay)

    def reply_to(
        self, path: str, status: int, body: Any = None, *, headers: dict[str, str] | None = None
    ) -> None:
        self.path_replies[path] = Reply(status, body, headers or {})

    def to(self, path: str) -> list[Recorded]:
        return [request for request in self.requests if request.path == path]

    @property
    def only(self) -> Recorded:
        assert len(self.requests) == 1, f"expected one request, got {len(self.requests)}"
        return self.requests[0]

    def handle(self, recorded: Recorded) -> Reply:
        problems = self.check(recorded)
        with self._lock:
            self.requests.append(recorded)
            self.problems.extend(problems)
        if problems:
            return Reply(400, {"test_server_problems": problems})
        return self.path_replies.get(recorded.path, self.next_reply)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # The client hung up on a deliberately slow reply; that is the point of the timeout test.
        pass


def _handler_for(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorded = Recorded(
                method=self.command,
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=body,
            )
            reply = provider.handle(recorded)
            if reply.delay:
                time.sleep(reply.delay)
            payload = reply.body
            if isinstance(payload, dict | list):
                payload = json.dumps(payload).encode()
                content_type = "application/json; charset=utf-8"
            else:
                payload = payload.encode() if isinstance(payload, str) else (payload or b"")
                content_type = "text/plain; charset=utf-8"
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_POST = do_PUT = do_GET = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake_provider() -> Iterator[Callable[[Check, Reply], FakeProvider]]:
    started: list[FakeProvider] = []

    def start(check: Check, reply: Reply) -> FakeProvider:
        provider = FakeProvider(check, reply)
        started.append(provider)
        return provider

    yield start
    for provider in started:
        provider.close()
    problems = [problem for provider in started for problem in provider.problems]
    assert not problems, f"requests broke the provider's rules: {problems}"


# --- Twilio (INTEROP.md §8.1) ------------------------------------------------------------------

TWILIO_FORM_FIELDS = {
    "To",
    "From",
    "MessagingServiceSid",
    "Body",
    "MediaUrl",
    "StatusCallback",
    "ValidityPeriod",
}


def twilio_created() -> dict[str, Any]:
    return {
        "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "status": "queued",
        "to": "+14155550123",
        "from": TWILIO_FROM,
        "body": "…",
        "num_segments": "1",
        "direction": "outbound-api",
        "date_created": "Mon, 02 Mar 2026 09:00:00 +0000",
        "error_code": None,
        "error_message": None,
        "price": None,
        "uri": f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/SM1f0e8ae6ade43cb3c0ce4525424e404f.json",
        "account_sid": TWILIO_SID,
        "messaging_service_sid": None,
        "api_version": "2010-04-01",
    }


def twilio_error(code: int, status: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def check_twilio(request: Recorded) -> list[str]:
    problems = []
    if request.method != "POST":
        problems.append(f"Twilio: method {request.method}, expected POST")
    if request.path != f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json":
        problems.append(f"Twilio: path {request.path}")
    expected_auth = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    if request.headers.get("authorization") != expected_auth:
        problems.append("Twilio: HTTP Basic AccountSid:AuthToken missing or wrong")
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        problems.append(f"Twilio: content type {request.headers.get('content-type')}")
        return problems
    form = request.form()
    if unknown := set(form) - TWILIO_FORM_FIELDS:
        problems.append(f"Twilio: unknown parameters {sorted(unknown)}")
    if not E164.fullmatch(form.get("To", "")):
        problems.append(f"Twilio: To {form.get('To')!r} is not E.164")
    if not form.get("From") and not form.get("MessagingServiceSid"):
        problems.append("Twilio: neither From nor MessagingServiceSid")
    body = form.get("Body", "")
    if not body or utf16_length(body) > 1600:
        problems.append(f"Twilio: Body empty or longer than 1600 ({utf16_length(body)})")
    return problems


@pytest.fixture
def twilio(fake_provider, settings) -> FakeProvider:
    provider = fake_provider(check_twilio, Reply(201, twilio_created()))
    settings.TWILIO_API_URL = provider.url
    settings.TWILIO_ACCOUNT_SID = TWILIO_SID
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_FROM_NUMBER = TWILIO_FROM
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    return provider


# --- ntfy (INTEROP.md §8.2) --------------------------------------------------------------------

NTFY_PRIORITIES = {"1", "2", "3", "4", "5", "min", "low", "default", "high", "max", "urgent"}
NTFY_ACTION_KEYS = {"action", "label", "url", "method", "body", "clear", "intent"}


def parse_ntfy_actions(header: str) -> list[dict[str, str]]:
    """ntfy's simple action syntax: `;` between actions, `,` between parameters, the first three
    positional (action, label, url), `key=value` otherwise, values with `,`/`;` in quotes."""
    actions: list[dict[str, str]] = []
    sections: list[tuple[str, str]] = []
    text, i = header.strip(), 0
    while i <= len(text):
        while i < len(text) and text[i] == " ":
            i += 1
        key_match = re.match(r"([-.\w]+)\s*=\s*", text[i:])
        key = key_match.group(1) if key_match else ""
        i += key_match.end() if key_match else 0
        if i < len(text) and text[i] in "\"'":
            end_quote = text.find(text[i], i + 1)
            if end_quote < 0:
                raise ValueError(f"unterminated quote at {i}")
            value, i = text[i + 1 : end_quote], end_quote + 1
            while i < len(text) and text[i] == " ":
                i += 1
            if i < len(text) and text[i] not in ",;":
                raise ValueError(f"unexpected {text[i]!r} after a quoted value")
        else:
            start = i
            while i < len(text) and text[i] not in ",;":
                i += 1
            value = text[start:i]
        sections.append((key, value))
        separator = text[i] if i < len(text) else ";"
        i += 1
        if separator == ";":
            actions.append(_ntfy_action(sections))
            sections = []
    return actions


def _ntfy_action(sections: list[tuple[str, str]]) -> dict[str, str]:
    action: dict[str, str] = {}
    for index, (key, value) in enumerate(sections):
        if not key:
            positional = ["action", "label", "url"]
            if index >= len(positional):
                raise ValueError(f"term {value!r} has no key")
            key = positional[index]
        if key not in NTFY_ACTION_KEYS and not key.startswith(("headers.", "extras.")):
            raise ValueError(f"key {key!r} unknown")
        action[key] = value
    return action


def check_ntfy(token: str) -> Check:
    def check(request: Recorded) -> list[str]:
        problems = []
        if request.method not in {"POST", "PUT"}:
            problems.append(f"ntfy: method {request.method}")
        if not re.fullmatch(r"/[-_A-Za-z0-9]{1,64}", request.path):
            problems.append(f"ntfy: {request.path!r} is not a topic path")
        if len(request.body) > 4096:
            problems.append(f"ntfy: body is {len(request.body)} bytes; over 4096 it becomes an attachment")
        for name, value in request.headers.items():
            if not value.isascii():
                problems.append(f"ntfy: header {name} is not ASCII; use RFC 2047")
        if not request.headers.get("x-title"):
            problems.append("ntfy: no X-Title")
        if request.headers.get("x-priority", "3") not in NTFY_PRIORITIES:
            problems.append(f"ntfy: X-Priority {request.headers.get('x-priority')!r}")
        expected_auth = f"Bearer {token}" if token else None
        if request.headers.get("authorization") != expected_auth:
            problems.append(
                f"ntfy: Authorization {request.headers.get('authorization')!r}, expected {expected_auth!r}"
            )
        if "x-actions" in request.headers:
            try:
                actions = parse_ntfy_actions(request.headers["x-actions"])
            except ValueError as exc:
                return [*problems, f"ntfy: X-Actions does not parse: {exc}"]
            if len(actions) > 3:
                problems.append("ntfy: more than 3 actions")
            for action in actions:
                if action.get("action") not in {"view", "http", "broadcast"}:
                    problems.append(f"ntfy: action type {action.get('action')!r}")
                if not action.get("label"):
                    problems.append("ntfy: action without label")
                if action.get("action") in {"view", "http"} and not re.match(
                    r"https?://\S+$", action.get("url", "")
                ):
                    problems.append(f"ntfy: action url {action.get('url')!r}")
                if action.get("clear", "false").lower() not in {"true", "yes", "1", "false", "no", "0"}:
                    problems.append(f"ntfy: clear={action['clear']!r}")
        return problems

    return check


def ntfy_stored(topic: str = "alice-pager-7f3k") -> dict[str, Any]:
    return {
        "id": "hwQ2YpKdmg6p",
        "time": 1772442000,
        "expires": 1772485200,
        "event": "message",
        "topic": topic,
        "title": "[SEV1] INC-42 Checkout down",
        "message": "…",
        "priority": 5,
        "tags": ["rotating_light", "sev1"],
    }


def ntfy_error(code: int, status: int, error: str) -> dict[str, Any]:
    return {"code": code, "http": status, "error": error, "link": "https://ntfy.sh/docs/publish/"}


def decoded_header(value: str) -> str:
    return str(make_header(decode_header(value)))


@pytest.fixture
def ntfy(fake_provider, settings) -> FakeProvider:
    provider = fake_provider(check_ntfy(NTFY_TOKEN), Reply(200, ntfy_stored()))
    settings.NTFY_URL = provider.url
    settings.NTFY_TOKEN = NTFY_TOKEN
    return provider


# --- Slack -------------------------------------------------------------------------------------


def check_slack(request: Recorded) -> list[str]:
    problems = []
    if request.method != "POST" or request.path != "/chat.postMessage":
        problems.append(f"Slack: {request.method} {request.path}")
    if request.headers.get("authorization") != f"Bearer {SLACK_TOKEN}":
        problems.append("Slack: bot token missing or wrong")
    if not request.headers.get("content-type", "").startswith("application/json"):
        return [*problems, f"Slack: content type {request.headers.get('content-type')}"]
    payload = request.json()
    if not re.fullmatch(r"[UW][A-Z0-9]+", str(payload.get("channel", ""))):
        problems.append(f"Slack: channel {payload.get('channel')!r} is not a user id")
    if not isinstance(payload.get("text"), str) or not payload["text"]:
        problems.append("Slack: no fallback text")
    blocks = payload.get("blocks", [])
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return [*problems, "Slack: blocks must be a list of 1 to 50"]
    for block in blocks:
        if block.get("type") == "section" and len(block["text"]["text"]) > 3000:
            problems.append("Slack: section text over 3000")
        for element in block.get("elements", []):
            if element.get("type") != "button" or not element.get("action_id"):
                problems.append(f"Slack: element {element}")
            if element.get("text", {}).get("type") != "plain_text" or len(element["text"]["text"]) > 75:
                problems.append(f"Slack: button text {element.get('text')}")
            if element.get("action_id") == "incident_ack" and not re.fullmatch(
                r"INC-\d+", element.get("value", "")
            ):
                problems.append(f"Slack: incident_ack value {element.get('value')!r} is not an incident id")
    return problems


def slack_posted(ts: str = "1772442000.123456") -> dict[str, Any]:
    return {
        "ok": True,
        "channel": "D0ABC1234",
        "ts": ts,
        "message": {"type": "message", "ts": ts, "bot_id": "B0MUSTER"},
    }


@pytest.fixture
def slack(fake_provider, settings) -> FakeProvider:
    provider = fake_provider(check_slack, Reply(200, slack_posted()))
    settings.SLACK_API_URL = provider.url
    settings.SLACK_BOT_TOKEN = SLACK_TOKEN
    return provider


# --- Outgoing webhook --------------------------------------------------------------------------


def check_webhook(request: Recorded) -> list[str]:
    problems = []
    if request.method != "POST":
        problems.append(f"webhook: method {request.method}")
    if request.headers.get("content-type") != "application/json":
        problems.append(f"webhook: content type {request.headers.get('content-type')}")
    timestamp = request.headers.get("x-muster-timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
        problems.append(f"webhook: X-Muster-Timestamp {timestamp!r}")
    expected = hmac.new(WEBHOOK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(request.headers.get("x-muster-signature", ""), expected):
        problems.append("webhook: X-Muster-Signature does not match the body")
    try:
        payload = request.json()
    except ValueError:
        return [*problems, "webhook: body is not JSON"]
    for key in ("event", "incident", "ack_url", "kind"):
        if key not in payload:
            problems.append(f"webhook: no {key}")
    for key in ("reference", "title", "severity", "urgency", "service", "url"):
        if key not in payload.get("incident", {}):
            problems.append(f"webhook: no incident.{key}")
    if str(payload.get("sent_at")) != timestamp:
        problems.append("webhook: sent_at in the signed body differs from X-Muster-Timestamp")
    return problems


@pytest.fixture
def webhook_receiver(fake_provider, settings) -> FakeProvider:
    settings.MUSTER_WEBHOOK_SIGNING_SECRET = WEBHOOK_SECRET
    return fake_provider(check_webhook, Reply(204))


# --- Timeouts and dead ports -------------------------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel completes them) but never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]
