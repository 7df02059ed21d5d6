from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from incidents.services import api_token_create
from tests.factories import IncidentFactory, TeamFactory, UserFactory

ClientFor = Callable[..., APIClient]


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for() -> ClientFor:
    """An API client signed in as `user`: with a real Bearer token by default, or a session."""

    def make(user: Any, via: str = "token") -> APIClient:
        client = APIClient()
        if via == "token":
            _, token = api_token_create(user=user, name="tests")
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        elif via == "session":
            client.force_login(user)
        else:
            raise ValueError(via)
        return client

    return make


@pytest.fixture
def incident(service):
    return IncidentFactory(service=service, title="Checkout error rate above 5%")


@pytest.fixture
def other_team():
    return TeamFactory(name="Search", slug="search")


@pytest.fixture
def stranger():
    """Someone with no membership at all; used as an assignee that must be refused."""
    return UserFactory(username="sam")
