"""Is this request really from the chat platform? One function per scheme (INTEROP.md §5.2, §6.1, §6.3).

Each takes every secret currently accepted (two during a rotation) and the exact raw bytes of the
body, and compares in constant time. None of them raises on garbage input: a header that cannot be
parsed is simply not a valid signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)

# Slack: requests older (or newer, a skewed clock) than this are refused as replays.
SLACK_MAX_AGE_SECONDS = 300
# A signature stays "seen" a little longer than the window in which it could be accepted at all.
SLACK_SEEN_SIGNATURE_SECONDS = SLACK_MAX_AGE_SECONDS + 10
_SLACK_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")


def slack_request_valid(
    *, secrets: list[str], timestamp: str, signature: str, body: bytes, now: float | None = None
) -> bool:
    """Slack's v0 scheme: HMAC-SHA256 of "v0:<timestamp>:<raw body>", within ±300 s of now."""
    if not _SLACK_TIMESTAMP_RE.fullmatch(timestamp or ""):
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > SLACK_MAX_AGE_SECONDS:
        return False
    basestring = b"v0:" + timestamp.encode("ascii") + b":" + body
    given = (signature or "").encode("utf-8", "replace")
    valid = False
    for secret in secrets:
        if not secret:
            continue
        expected = b"v0=" + hmac.new(secret.encode(), basestring, hashlib.sha256).hexdigest().encode()
        # No early exit: every accepted secret costs the same, whichever one matches.
        valid |= hmac.compare_digest(expected, given)
    return valid


def slack_signature_first_use(*, signature: str) -> bool:
    """False when this exact signature was already accepted within the replay window.

    Slack's scheme has no nonce, so the timestamp window alone would let anyone who captured a
    request send it again for five minutes (a second "/incident resolve", a second button click).
    Slack signs every delivery afresh, retries included, so a legitimate request never repeats one.
    Call this only after the signature was found valid, or anyone could fill the cache.
    """
    try:
        return bool(cache.add(f"slack-sig:{signature}", 1, SLACK_SEEN_SIGNATURE_SECONDS))
    except Exception:  # a cache outage must not take chat-ops down; the time window still holds
        logger.warning("Could not record a Slack signature for replay protection", exc_info=True)
        return True


def mattermost_token_valid(*, tokens: list[str], request_token: str) -> bool:
    """Mattermost sends the slash command's own token; there is no signature (INTEROP.md §6.1)."""
    if not request_token:
        return False
    given = request_token.encode("utf-8", "replace")
    valid = False
    for token in tokens:
        if token:
            valid |= hmac.compare_digest(token.encode(), given)
    return valid


def teams_request_valid(*, secrets: list[str], authorization: str, body: bytes) -> bool:
    """Teams outgoing webhook: "Authorization: HMAC <base64(HMAC-SHA256(key, raw body))>", where the
    key is the base64-decoded security token shown when the webhook was created."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() != "hmac" or not value.strip():
        return False
    given = value.strip().encode("utf-8", "replace")
    valid = False
    for secret in secrets:
        try:
            key = base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            continue
        if not key:
            continue
        expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest())
        valid |= hmac.compare_digest(expected, given)
    return valid
