from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

import pytest
from django.core.cache import cache
from django.test import Client

from incidents.choices import IntegrationKind
from incidents.models import Integration
from tests.factories import IntegrationFactory


@pytest.fixture(autouse=True)
def _private_cache(settings):
    """Rate-limit counters live in the cache: each test gets an empty one of its own, so counts from
    other tests (or a developer's running server, which shares the file cache) cannot leak in."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ingest-tests"}
    }
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_integration(service) -> Callable[..., Integration]:
    def make(kind: str, **kwargs: Any) -> Integration:
        return cast(Integration, IntegrationFactory(kind=kind, service=service, **kwargs))

    return make


@pytest.fixture
def pagerduty(make_integration) -> Integration:
    return make_integration(IntegrationKind.PAGERDUTY)


@pytest.fixture
def alertmanager(make_integration) -> Integration:
    return make_integration(IntegrationKind.ALERTMANAGER)


@pytest.fixture
def grafana(make_integration) -> Integration:
    return make_integration(IntegrationKind.GRAFANA)


@pytest.fixture
def opsgenie(make_integration) -> Integration:
    return make_integration(IntegrationKind.OPSGENIE)


@pytest.fixture
def native(make_integration) -> Integration:
    return make_integration(IntegrationKind.NATIVE)


@pytest.fixture
def webhook(make_integration) -> Integration:
    return make_integration(IntegrationKind.WEBHOOK)


def send(
    client: Client, url: str, body: Any, *, method: str = "post", raw: bool = False, **headers: str
) -> Any:
    """Posts `body` as JSON (or as given bytes/str when raw) the way an alert sender would."""
    data = body if raw else json.dumps(body)
    return getattr(client, method)(url, data=data, content_type="application/json", headers=headers)


@pytest.fixture
def sender() -> Client:
    """A client like a real sender: no session, no CSRF token, so the views must be csrf_exempt."""
    return Client(enforce_csrf_checks=True)
