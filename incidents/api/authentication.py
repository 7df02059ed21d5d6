"""`Authorization: Bearer <token>` with per-user API tokens stored hashed."""

from __future__ import annotations

import hmac
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from incidents.models import KEY_PREFIX_LENGTH, ApiToken, hash_secret


def api_token_user(token: str) -> Any | None:
    """The active user a token belongs to, or None. Touches last_used_at at most once a minute."""
    digest = hash_secret(token)
    for row in ApiToken.objects.select_related("user").filter(prefix=token[:KEY_PREFIX_LENGTH]):
        if hmac.compare_digest(row.token_hash, digest) and row.user.is_active:
            now = timezone.now()
            if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
                ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
            return row.user
    return None


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        token = token.strip()
        if not token:
            raise exceptions.AuthenticationFailed("The Authorization header has no token after 'Bearer'.")
        user = api_token_user(token)
        if user is None:
            raise exceptions.AuthenticationFailed("That API token is not valid (revoked, or never issued).")
        return (user, None)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Tells the OpenAPI schema (and the docs page's Authorize button) how to send a token."""

    target_class = ApiTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A personal API token (mst_…)."}
