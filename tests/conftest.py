from __future__ import annotations

import pytest

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
def manager(team):
    return _member(team, Role.MANAGER, "max")


@pytest.fixture
def outsider():
    """A logged-in user who belongs to no team."""
    return UserFactory(username="otto")
