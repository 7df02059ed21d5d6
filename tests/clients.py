"""Clients that act as a given user: a browser session for the pages, a bearer token for the API."""

from __future__ import annotations

from typing import Any

from django.test import Client
from rest_framework.test import APIClient

from incidents.services import api_token_create


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_client_for(user: Any) -> APIClient:
    client = APIClient()
    _, token = api_token_create(user=user, name="tests")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client
