"""The paging harness: controlled time, a recorder in place of the providers, and a test that fails
on any page it did not expect (the way GoAlert's smoke tests work)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.utils import timezone

from oncall import engine
from oncall.channels.base import Delivered, Message, TransientError

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class Page:
    channel: str
    address: str
    message: Message


class RecordingChannel:
    def __init__(self, kind: str, recorder: PageRecorder) -> None:
        self.kind = kind
        self.recorder = recorder

    def availability(self) -> tuple[bool, str]:
        return True, ""

    def validate_address(self, address: str) -> str:
        return address

    def send(self, *, address: str, message: Message) -> Delivered:
        failure = self.recorder.failures.get(address)
        if failure is not None:
            if failure[1] > 0:
                self.recorder.failures[address] = (failure[0], failure[1] - 1)
                raise failure[0](f"{address} is failing")
            del self.recorder.failures[address]
        self.recorder.pages.append(Page(self.kind, address, message))
        return Delivered(provider_id=f"rec-{len(self.recorder.pages)}")


class PageRecorder:
    def __init__(self, traveller: Any) -> None:
        self.pages: list[Page] = []
        self.failures: dict[str, tuple[type[Exception], int]] = {}
        self.traveller = traveller

    @property
    def now(self) -> datetime:
        return timezone.now()

    def fail(self, address: str, error: type[Exception] = TransientError, times: int = 1) -> None:
        self.failures[address] = (error, times)

    def run(self, minutes: float = 0) -> None:
        """Let `minutes` pass, running the tick every 5 seconds as beat would."""
        end = self.now + timedelta(minutes=minutes)
        while True:
            self._tick()
            if self.now >= end:
                return
            self.traveller.shift(min(timedelta(seconds=5), end - self.now))

    def _tick(self) -> None:
        for _ in range(10):  # a step that reaches nobody can make more work due at once
            report = engine.tick()
            for notification_id in report.to_deliver:
                engine.deliver(notification_id=notification_id)
            if not report.to_deliver and not report.escalations:
                return

    def expect(self, *expected: tuple[str, str]) -> None:
        """Exactly these (address, incident reference) pages arrived since the last check."""
        got = sorted((p.address, p.message.incident_reference) for p in self.pages)
        self.pages.clear()
        assert got == sorted(expected), f"pages: expected {sorted(expected)}, got {got}"

    def expect_nothing(self) -> None:
        self.expect()


@pytest.fixture
def pages(monkeypatch):
    with time_machine.travel(START, tick=False) as traveller:
        recorder = PageRecorder(traveller)
        monkeypatch.setattr(engine, "get_channel", lambda kind: RecordingChannel(kind, recorder))
        yield recorder
        assert not recorder.pages, f"unexpected pages at the end of the test: {recorder.pages}"


# --- SMTP --------------------------------------------------------------------------------------


class SmtpRecorder:
    """aiosmtpd handler: keeps every message, and refuses recipients it was told to refuse."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.refuse: dict[str, str] = {}  # address → SMTP reply, e.g. "550 5.1.1 no such user"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings) -> Iterator[SmtpRecorder]:
    recorder = SmtpRecorder()
    # aiosmtpd's controller connects to its own port to know it is up, so it needs a real number.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = None
    settings.DEFAULT_FROM_EMAIL = "Muster <muster@muster.example.org>"
    try:
        yield recorder
    finally:
        controller.stop()
