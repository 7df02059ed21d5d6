"""Configuration changes (services, integrations, maintenance, API tokens), each audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from incidents.choices import (
    IntegrationKind,
)
from incidents.ingest import webhook
from incidents.models import (
    KEY_PREFIX_LENGTH,
    ApiToken,
    AuditEntry,
    Integration,
    MaintenanceWindow,
    Service,
    hash_secret,
)
from incidents.services.errors import DomainError
from incidents.services.heartbeat import check_heartbeat_interval, heartbeat_deadline

# --- configuration --------------------------------------------------------------------------


def audit_record(*, actor: Any, action: str, obj: Any, data: dict[str, Any] | None = None) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor if actor is not None and not isinstance(actor, Integration) else None,
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        data=data or {},
    )


def _apply_changes(*, obj: Any, changes: dict[str, Any], allowed: set[str]) -> dict[str, list[Any]]:
    """Set the given fields; returns {field: [old, new]} for those that really changed."""
    unknown = set(changes) - allowed
    if unknown:
        raise DomainError(f"Cannot change {', '.join(sorted(unknown))}.")
    changed = {}
    for field, value in changes.items():
        old = getattr(obj, field)
        if old != value:
            setattr(obj, field, value)
            changed[field] = [old, value]
    if changed:
        obj.save(update_fields=list(changed))
    return changed


@transaction.atomic
def service_create(*, team: Any, name: str, slug: str, description: str = "", actor: Any) -> Service:
    if Service.objects.filter(slug=slug).exists():
        raise DomainError(f"A service with slug {slug!r} already exists.")
    service = Service.objects.create(team=team, name=name, slug=slug, description=description)
    audit_record(actor=actor, action="service.create", obj=service, data={"team": team.slug})
    return service


@transaction.atomic
def service_update(*, service: Service, actor: Any, **changes: Any) -> Service:
    """The slug is the service's address in URLs and alert routing, so it never changes."""
    changed = _apply_changes(obj=service, changes=changes, allowed={"name", "description"})
    if changed:
        audit_record(actor=actor, action="service.update", obj=service, data=changed)
    return service


def _check_config(*, kind: str, config: dict[str, Any]) -> None:
    if not config:
        return
    if kind != IntegrationKind.WEBHOOK:
        raise DomainError("Only generic webhook integrations take settings.")
    problems = webhook.config_problems(config)
    if problems:
        raise DomainError(" ".join(problems))


@transaction.atomic
def integration_update(*, integration: Integration, actor: Any, **changes: Any) -> Integration:
    if "config" in changes:
        _check_config(kind=integration.kind, config=changes["config"])
    if "heartbeat_interval_minutes" in changes:
        check_heartbeat_interval(kind=integration.kind, minutes=changes["heartbeat_interval_minutes"])
    changed = _apply_changes(
        obj=integration,
        changes=changes,
        allowed={
            "name",
            "enabled",
            "auto_resolve",
            "rate_limit_per_minute",
            "config",
            "heartbeat_interval_minutes",
        },
    )
    if "heartbeat_interval_minutes" in changed:
        # An armed monitor now expects its next ping by the new interval. Read under a lock: a ping
        # may have moved the timer since `integration` was loaded.
        timer = Integration.objects.select_for_update().filter(pk=integration.pk)
        integration.last_ping_at, armed = timer.values_list("last_ping_at", "heartbeat_due_at").get()
        if armed is not None and integration.last_ping_at is not None:
            integration.heartbeat_due_at = heartbeat_deadline(
                integration=integration, pinged_at=integration.last_ping_at
            )
            timer.update(heartbeat_due_at=integration.heartbeat_due_at)
    if changed:
        audit_record(actor=actor, action="integration.update", obj=integration, data=changed)
    return integration


@transaction.atomic
def integration_create(
    *,
    service: Service,
    kind: str,
    name: str = "",
    config: dict[str, Any] | None = None,
    heartbeat_interval_minutes: int | None = None,
    actor: Any,
) -> tuple[Integration, str]:
    """Returns the integration and its key. The key is shown once and only its hash is kept.

    A heartbeat monitor needs `heartbeat_interval_minutes`; it is armed by its first ping."""
    if kind not in IntegrationKind.values:
        raise DomainError(f"Integration kind must be one of {', '.join(IntegrationKind.values)}.")
    _check_config(kind=kind, config=config or {})
    check_heartbeat_interval(kind=kind, minutes=heartbeat_interval_minutes)
    key = Integration.new_key()
    integration = Integration(
        service=service,
        kind=kind,
        name=name.strip() or IntegrationKind(kind).label,
        config=config or {},
        heartbeat_interval_minutes=heartbeat_interval_minutes,
    )
    integration.set_key(key)
    integration.save()
    data: dict[str, Any] = {"kind": kind}
    if heartbeat_interval_minutes is not None:
        data["heartbeat_interval_minutes"] = heartbeat_interval_minutes
    audit_record(actor=actor, action="integration.create", obj=integration, data=data)
    return integration, key


@transaction.atomic
def api_token_create(*, user: Any, name: str = "") -> tuple[ApiToken, str]:
    """Returns the token row and the token itself, which is shown once and only its hash kept."""
    token = ApiToken.new_token()
    row = ApiToken(user=user, name=name.strip() or "API token", prefix=token[:KEY_PREFIX_LENGTH])
    row.token_hash = hash_secret(token)
    row.save()
    return row, token


@transaction.atomic
def maintenance_window_create(
    *, service: Service, starts_at: datetime, ends_at: datetime, reason: str = "", actor: Any
) -> MaintenanceWindow:
    if ends_at <= starts_at:
        raise DomainError("A maintenance window must end after it starts.")
    window = MaintenanceWindow.objects.create(
        service=service, starts_at=starts_at, ends_at=ends_at, reason=reason, created_by=actor
    )
    audit_record(
        actor=actor,
        action="maintenance.create",
        obj=window,
        data={"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(), "reason": reason},
    )
    return window
