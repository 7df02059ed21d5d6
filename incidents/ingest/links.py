"""Where each kind of sender posts. The one place these paths are spelled for people to copy."""

from __future__ import annotations

from django.conf import settings

from incidents.choices import IntegrationKind

# Sent as a credential in the body or a header, so the URL itself holds no key.
_SHARED_PATHS = {
    IntegrationKind.PAGERDUTY: "/v2/enqueue",
    IntegrationKind.OPSGENIE: "/v2/alerts",
    IntegrationKind.NATIVE: "/api/v1/alerts/",
}


def ingest_url(*, kind: str, key: str) -> str:
    """The URL a sender of this kind posts to. Alertmanager, Grafana and generic webhooks carry the
    key in the path because Alertmanager cannot sign or add custom headers to its webhook body."""
    base = settings.MUSTER_BASE_URL
    path = _SHARED_PATHS.get(IntegrationKind(kind))
    if path is not None:
        return base + path
    if kind == IntegrationKind.HEARTBEAT:
        return f"{base}/heartbeat/{key}"
    return f"{base}/hooks/{key}"


def pagerduty_change_url() -> str:
    return settings.MUSTER_BASE_URL + "/v2/change/enqueue"


def opsgenie_api_url() -> str:
    """What Alertmanager's `opsgenie_configs[].api_url` should be: it appends `v2/alerts` itself."""
    return settings.MUSTER_BASE_URL + "/"
