"""The demo installation `make run` starts with: a team, two services, an integration of every kind.

Idempotent: running it again changes nothing and prints the same logins and keys, because demo keys
are derived from SECRET_KEY instead of being random (only their hashes are stored, as for any key).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from incidents.choices import IntegrationKind, Role
from incidents.ingest.links import ingest_url
from incidents.models import Integration, Membership, Service, Team

DEMO_SCHEDULE = "Payments primary"
DEMO_PASSWORD = "muster-demo"  # noqa: S105 - printed on purpose: these are demo logins


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: Role
    superuser: bool = False


DEMO_USERS = [
    DemoUser("admin", "Ada", "Admin", Role.ADMIN, superuser=True),
    DemoUser("morgan", "Morgan", "Reyes", Role.MANAGER),
    DemoUser("riley", "Riley", "Chen", Role.RESPONDER),
    DemoUser("sam", "Sam", "Okafor", Role.RESPONDER),
    DemoUser("vic", "Vic", "Lindqvist", Role.VIEWER),
]


def demo_key(service_slug: str, kind: str) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), f"demo:{service_slug}:{kind}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


@transaction.atomic
def seed_demo() -> dict[str, Any]:
    team, _ = Team.objects.get_or_create(slug="payments", defaults={"name": "Payments"})
    users = []
    user_model = get_user_model()
    for spec in DEMO_USERS:
        user, _ = user_model.objects.get_or_create(
            username=spec.username,
            defaults={
                "first_name": spec.first_name,
                "last_name": spec.last_name,
                "email": f"{spec.username}@example.org",
                "is_staff": spec.superuser,
                "is_superuser": spec.superuser,
            },
        )
        if not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        Membership.objects.update_or_create(team=team, user=user, defaults={"role": spec.role})
        users.append({"username": spec.username, "password": DEMO_PASSWORD, "role": spec.role.label.lower()})

    checkout, _ = Service.objects.get_or_create(
        slug="checkout",
        defaults={"name": "Checkout", "team": team, "description": "Cart, payment and order confirmation."},
    )
    Service.objects.get_or_create(
        slug="search",
        defaults={"name": "Search", "team": team, "description": "Product search and suggestions."},
    )
    schedule = _demo_schedule(team=team)
    _demo_escalation_policy(team=team, service=checkout, schedule=schedule)
    runbook = _demo_runbook(team=team, service=checkout)

    integrations = []
    for kind in IntegrationKind.values:
        key = demo_key(checkout.slug, kind)
        integration = Integration.objects.filter(service=checkout, kind=kind, name=f"Demo {kind}").first()
        if integration is None:
            integration = Integration(service=checkout, kind=kind, name=f"Demo {kind}")
        if kind == IntegrationKind.HEARTBEAT and integration.heartbeat_interval_minutes is None:
            # Armed by its first ping; ten minutes without one opens an incident.
            integration.heartbeat_interval_minutes = 10
        integration.set_key(key)
        integration.save()
        integrations.append(
            {"kind": kind, "name": integration.name, "key": key, "url": ingest_url(kind=kind, key=key)}
        )

    return {
        "url": settings.MUSTER_BASE_URL + "/",
        "users": users,
        "team": {"slug": team.slug, "name": team.name},
        "services": list(Service.objects.filter(team=team).order_by("slug").values_list("slug", flat=True)),
        "schedules": [schedule.name],
        "runbooks": [runbook.slug],
        "integrations": {"checkout": integrations},
    }


def _demo_schedule(*, team: Team) -> Any:
    """A weekly rotation of the responders and the manager, Monday 09:00 handoffs, with the manager
    covering office hours on a layer above it: the timeline shows both layers and the result."""
    from oncall.models import Schedule
    from oncall.services.schedules import layer_create, schedule_create

    schedule = Schedule.objects.filter(team=team, name=DEMO_SCHEDULE).first()
    if schedule is not None:
        return schedule
    schedule = schedule_create(team=team, name=DEMO_SCHEDULE, time_zone="Europe/Berlin", actor=None)
    people = {
        user.username: user
        for user in get_user_model().objects.filter(username__in=["riley", "sam", "morgan"])
    }
    layer_create(
        schedule=schedule,
        name="Weekly",
        participants=[people["riley"], people["sam"], people["morgan"]],
        shift_count=1,
        shift_unit="weeks",
        start_date=date(2026, 1, 5),  # a Monday
        handoff_time=time(9, 0),
        actor=None,
    )
    layer_create(
        schedule=schedule,
        name="Business hours",
        participants=[people["morgan"]],
        shift_count=1,
        shift_unit="days",
        start_date=date(2026, 1, 5),
        handoff_time=time(9, 0),
        restrictions=[{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
        actor=None,
    )
    return schedule


def _demo_escalation_policy(*, team: Team, service: Service, schedule: Any) -> None:
    """Checkout pages whoever the demo schedule has on call, and every responder of the team five
    minutes later if nobody has acknowledged, so the demo shows an escalation."""
    from oncall.models import EscalationPolicy, EscalationStep

    policy, created = EscalationPolicy.objects.get_or_create(
        team=team, name="Checkout primary", defaults={"repeat_count": 1}
    )
    if created:
        EscalationStep.objects.create(policy=policy, position=0, delay_minutes=5).schedules.set([schedule])
        EscalationStep.objects.create(policy=policy, position=1, delay_minutes=5).teams.set([team])
    if service.escalation_policy_id is None:
        service.escalation_policy = policy
        service.save(update_fields=["escalation_policy"])


DEMO_RUNBOOK_SLUG = "checkout-5xx"
DEMO_RUNBOOK_BODY = """When the checkout 5xx rate alert fires, customers cannot pay. Stop the bleeding first,
then find the cause.

## Checklist

- [ ] Open the Checkout dashboard and note when the error rate started to climb
- [ ] Check the deploy log: roll back any Checkout deploy from the last hour
- [ ] Check the payment provider's status page
- [ ] If the database is the cause, fail over to the replica
- [ ] Post an update in #incidents

## Useful commands

```
kubectl -n checkout rollout undo deployment/checkout-web
kubectl -n checkout logs deploy/checkout-web --since=15m | grep " 50[0-9] "
```
"""


def _demo_runbook(*, team: Team, service: Service) -> Any:
    """A runbook for Checkout, so that the demo incident suggests it with a checklist to tick."""
    from runbooks.models import Runbook
    from runbooks.services import runbook_create

    runbook = Runbook.objects.filter(slug=DEMO_RUNBOOK_SLUG).first()
    if runbook is not None:
        return runbook
    author = get_user_model().objects.filter(username="morgan").first()
    return runbook_create(
        team=team,
        title="Checkout 5xx",
        slug=DEMO_RUNBOOK_SLUG,
        body=DEMO_RUNBOOK_BODY,
        actor=author,
        services=[service],
        note="First version",
    )


def demo_curl(result: dict[str, Any]) -> str:
    pagerduty = next(i for i in result["integrations"]["checkout"] if i["kind"] == IntegrationKind.PAGERDUTY)
    body = json.dumps(
        {
            "routing_key": pagerduty["key"],
            "event_action": "trigger",
            "dedup_key": "demo-checkout-5xx",
            "payload": {"summary": "Checkout 5xx rate above 5%", "source": "demo", "severity": "critical"},
        },
        separators=(",", ":"),
    )
    return f"curl -sS -X POST {pagerduty['url']} -H 'Content-Type: application/json' -d '{body}'"
