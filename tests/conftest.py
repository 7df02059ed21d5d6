from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from incidents.choices import Role
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Every factory user gets a password; the production hasher would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def team():
    return TeamFactory(name="Payments", slug="payments")


@pytest.fixture
def service(team):
    return ServiceFactory(name="Checkout", slug="checkout", team=team)


def _member(team, role: Role, username: str):
    user = UserFactory(username=username)
    MembershipFactory(team=team, user=user, role=role)
    return user


@pytest.fixture
def viewer(team):
    return _member(team, Role.VIEWER, "vera")


@pytest.fixture
def responder(team):
    return _member(team, Role.RESPONDER, "rosa")


@pytest.fixture
def sam(team):
    """A second responder, for anything that needs two people."""
    user = UserFactory(username="sam", first_name="Sam", last_name="Okafor")
    MembershipFactory(team=team, user=user, role=Role.RESPONDER)
    return user


@pytest.fixture
def manager(team):
    return _member(team, Role.MANAGER, "max")


@pytest.fixture
def outsider():
    """A logged-in user who belongs to no team."""
    return UserFactory(username="otto")


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
