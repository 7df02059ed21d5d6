"""Which integration a request speaks for. Keys are stored hashed; only an 8-character prefix is indexed."""

from __future__ import annotations

import hmac
from collections.abc import Collection

from incidents.choices import IntegrationKind
from incidents.ingest.events import IngestError
from incidents.ingest.links import ingest_url
from incidents.models import KEY_PREFIX_LENGTH, Integration, hash_secret


def integration_for_key(key: str) -> Integration | None:
    if not key:
        return None
    digest = hash_secret(key)
    candidates = Integration.objects.select_related("service").filter(key_prefix=key[:KEY_PREFIX_LENGTH])
    for candidate in candidates:
        if hmac.compare_digest(candidate.key_hash, digest):
            return candidate
    return None


def authenticate(
    key: str | None,
    *,
    kinds: Collection[str],
    unknown_status: int = 401,
) -> Integration:
    """The enabled integration of one of `kinds` that `key` belongs to, or an IngestError saying why not.

    A key of another kind is refused with the URL it should be sent to, because the usual cause is
    a sender pointed at the wrong endpoint, and the fix is to copy that URL.
    """
    if not key:
        raise IngestError("No integration key was sent.", status=unknown_status)
    integration = integration_for_key(key)
    if integration is None:
        raise IngestError(
            "The integration key is not valid (deleted, or never issued).", status=unknown_status
        )
    if integration.kind not in kinds:
        label = IntegrationKind(integration.kind).label
        raise IngestError(
            f"This key belongs to a {label} integration; send its events to "
            f"{ingest_url(kind=integration.kind, key=key)}",
            status=403,
        )
    if not integration.enabled:
        raise IngestError(
            f"The integration '{integration.name}' on {integration.service.name} is disabled; "
            "enable it in Muster to accept its events.",
            status=403,
        )
    return integration
