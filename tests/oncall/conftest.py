"""The paging harness: controlled time, a recorder in place of the providers, and a test that fails
on any page it did not expect (the way GoAlert's smoke tests work)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from oncall import engine
from oncall.channels.base import Delivered, Message, TransientError
from tests.factories import LayerFactory, ScheduleFactory
from tests.paging import run_engine_once

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
            report, outcomes = run_engine_once()
            if not outcomes and not report.escalations:
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


@pytest.fixture
def schedule(team, responder, sam):
    """Daily handoffs at 09:00 Berlin: Rosa on Monday, Sam on Tuesday, and so on."""
    schedule = ScheduleFactory(team=team, name="Payments primary", time_zone="Europe/Berlin")
    LayerFactory(
        schedule=schedule,
        shift_unit="days",
        start_date=date(2026, 3, 2),
        handoff_time=time(9, 0),
        participants=[responder, sam],
    )
    return schedule
