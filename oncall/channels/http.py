"""The HTTP edge shared by the provider channels: one timeout policy and one error vocabulary.

Every provider here speaks HTTP, and they all fail the same few ways on the wire (no answer, refused
connection, 429, 5xx); classifying those once keeps the channels to their provider's own quirks.
"""

from __future__ import annotations

import email.utils
import os
from datetime import UTC, datetime
from typing import Any

import httpx
from django.conf import settings

from oncall.channels.base import PermanentError, TransientError

USER_AGENT = "Muster (incident paging)"
# A provider asking for more than this is treated as "later" at our own pace: the engine's backoff
# must stay bounded or a page can sit behind a bogus header for hours.
MAX_RETRY_AFTER_SECONDS = 600.0


_client: tuple[int, httpx.Client] | None = None


def client() -> httpx.Client:
    """One client per process, made on first use: building one loads the CA bundle (tens of
    milliseconds of CPU), which would otherwise be paid on every page. Keyed by pid so a forked
    worker never shares its parent's connection pool. Connections are not kept alive: a page must
    not fail on a socket the provider closed while it sat idle in a pool."""
    global _client
    if _client is None or _client[0] != os.getpid():
        _client = (
            os.getpid(),
            httpx.Client(follow_redirects=False, limits=httpx.Limits(max_keepalive_connections=0)),
        )
    return _client[1]


def post(url: str, *, provider: str, timeout: float | None = None, **kwargs: Any) -> httpx.Response:
    """POST with the configured timeout (or a shorter one from a caller with a deadline of its own,
    like a slash command's 3 seconds); transport failures become TransientError.

    Redirects are not followed: a provider API never redirects a publish, and a webhook that does is
    misconfigured (the body and signature would be dropped on a 303).
    """
    seconds = float(timeout if timeout is not None else settings.MUSTER_CHANNEL_TIMEOUT_SECONDS)
    headers = {"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}
    try:
        return client().post(url, headers=headers, timeout=httpx.Timeout(seconds), **kwargs)
    except httpx.TimeoutException as exc:
        raise TransientError(f"{provider} did not answer within {seconds:g} s") from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise PermanentError(f"{provider} URL {url!r} cannot be used: {exc}") from exc
    except httpx.TransportError as exc:
        raise TransientError(f"could not reach {provider}: {str(exc) or type(exc).__name__}") from exc


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date), clamped; None when absent."""
    raw = response.headers.get("Retry-After", "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def json_or_empty(response: httpx.Response) -> dict[str, Any]:
    """The JSON object in a response, or {} when a proxy in between answered with HTML."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def excerpt(response: httpx.Response, limit: int = 200) -> str:
    text = " ".join(response.text.split())
    return text if len(text) <= limit else text[:limit] + "…"
