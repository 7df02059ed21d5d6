"""Per-integration rate limit: a fixed one-minute window counted in the Django cache."""

from __future__ import annotations

import logging
import time

from django.core.cache import cache

from incidents.ingest.events import IngestError
from incidents.models import Integration

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


class RateLimited(IngestError):
    def __init__(self, *, limit: int, retry_after: int, status: int) -> None:
        super().__init__(
            f"This integration sent more than {limit} requests this minute; retry after {retry_after} s.",
            status=status,
        )
        self.retry_after = retry_after


def rate_limit_check(integration: Integration, *, status: int = 429, now: float | None = None) -> None:
    """Counts one request and raises RateLimited once the integration is over its limit.

    `status` is what the sender understands as "retry later": 429 for most, but Alertmanager drops
    anything other than 5xx for good, so its endpoints pass 503.

    Requests are counted rather than alerts: an Alertmanager group of a thousand alerts arrives as one
    message, and refusing it would only make Alertmanager resend the same thousand.
    """
    limit = integration.effective_rate_limit
    if limit <= 0:
        return
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    key = f"muster:ingest-rate:{integration.pk}:{window}"
    try:
        # add() is a no-op when the key exists, so concurrent first requests do not reset the count.
        cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
        count = cache.incr(key)
    except ValueError:
        # The key expired between add() and incr(): this is the first request of its window.
        count = 1
    except Exception:
        # An unreachable cache must not turn alerts away: losing a page is worse than a flood.
        logger.warning("Rate-limit cache unavailable; accepting the request", exc_info=True)
        return
    if count > limit:
        retry_after = max(1, WINDOW_SECONDS - int(now % WINDOW_SECONDS))
        raise RateLimited(limit=limit, retry_after=retry_after, status=status)
