"""The demo installation `make run` starts with: a team, two services, an integration of every kind.

Idempotent: running it again changes nothing and prints the same logins and keys, because demo keys
are derived from SECRET_KEY instead of being random (only their hashes are stored, as for any key).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

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
    postmortem = _demo_postmortems(service=checkout)

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
        "postmortem": settings.MUSTER_BASE_URL + postmortem.get_absolute_url() if postmortem else None,
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


# --- postmortems demo ---
# A resolved incident with its published postmortem and open action items, so that a new user sees
# the whole flow: what happened, what we learned, and who is doing what about it by when.

DEMO_TIME_ZONES = {"morgan": "Europe/Berlin", "riley": "Europe/Berlin", "sam": "America/Los_Angeles"}
DEMO_INCIDENT_TITLE = "Checkout payments failing with 5xx errors"
DEMO_POSTMORTEM_TITLE = "Checkout payments failed: database connection pool exhausted after a config release"

# (minutes after declaration, who, what): the responders' notes before and after the rollback
# took effect, which is when the incident is marked mitigated.
DEMO_MITIGATED_AFTER = 24
DEMO_NOTES_BEFORE_MITIGATION = [
    (
        9,
        "sam",
        "Checkout pods log 'QueuePool limit of size 5 overflow 0 reached, connection timed out'. "
        "Database CPU is at 18%: the database is healthy, checkout cannot get connections.",
    ),
    (
        14,
        "riley",
        "The config release that went out just before the errors started (checkout-config 2026.11.3) "
        "changed DB_POOL_SIZE from 50 to 5: the new service template has no override for it.",
    ),
    (17, "sam", "Rolling back checkout-config to 2026.11.2."),
]
DEMO_NOTES_AFTER_MITIGATION = [
    (
        38,
        "riley",
        "Error rate below 0.1% for 10 minutes. The payment provider is replaying the failed webhooks; "
        "support is contacting the customers whose orders did not confirm.",
    ),
]
DEMO_RESOLVED_AFTER = 61

DEMO_SECTIONS = {
    "summary": (
        "For about half an hour, up to 38% of checkout attempts failed with a server error. A configuration "
        "release changed the checkout service's database connection pool from 50 connections to 5; under "
        "normal afternoon traffic, requests queued for a connection and timed out. Rolling the configuration "
        "back restored service, and the payment provider's webhook replay confirmed most of the affected orders."
    ),
    "impact": (
        "- About 1,900 checkout attempts failed with HTTP 503 in the 31 minutes between the release and the "
        "rollback; at the peak, 38% of attempts failed.\n"
        "- 312 orders were paid but not confirmed. The payment provider's webhook replay confirmed 271 of them "
        "automatically; support contacted the other 41 customers the same day.\n"
        "- No payment was taken twice and no card data was exposed.\n"
        "- Search and the rest of the shop were not affected."
    ),
    "timeline": (
        "The table comes from the incident's timeline. The config release itself was added by hand: the "
        "release pipeline does not report changes to Muster yet."
    ),
    "root_cause": (
        "Checkout reads its database pool size from `DB_POOL_SIZE`. Release 2026.11.3 of the shared service "
        "template added a default of `DB_POOL_SIZE=5`, meant for small internal tools. Checkout's own value of "
        "50 was an environment override that the new template no longer merged, so the default won.\n\n"
        "With 5 connections per pod, checkout could serve about a tenth of its usual concurrent requests; the "
        "rest waited for a connection and timed out after 30 seconds."
    ),
    "contributing_factors": (
        "- The release diff showed the template change, but not the value each service would end up with.\n"
        "- Staging has little traffic, so 5 connections were enough there and the release passed its checks.\n"
        "- Pool timeouts are logged as warnings, so the error dashboard showed 503s without saying why."
    ),
    "detection": (
        "The checkout 5xx alert fired 7 minutes after the release reached production, once the error rate had "
        "been above 5% for 5 minutes, and the responder who saw it declared the incident. An alert on pool "
        "saturation would have fired within a minute. The first support tickets about failed payments arrived "
        "at about the same time as the alert."
    ),
    "response": (
        "The on-call responder acknowledged within 3 minutes and found the pool timeouts in the logs 6 minutes "
        "later. The incident commander matched their start to the config release. The rollback took 7 minutes, "
        "4 of them waiting for the release pipeline's lock; the error rate fell as soon as the pods restarted. "
        "We watched 30 minutes of normal traffic before resolving."
    ),
    "went_well": (
        "- The 5xx alert fired within 7 minutes, and the runbook's second step (check recent deploys) "
        "pointed at the release.\n"
        "- The payment provider's webhook replay recovered most orders without manual work.\n"
        "- Support had a message for customers ready within 20 minutes."
    ),
    "went_poorly": (
        "- No release check compares a service's effective configuration before and after.\n"
        "- The rollback waited behind the release pipeline's lock.\n"
        "- 'Connection timed out' first suggested a database problem, which cost a few minutes."
    ),
    "lucky": (
        "- The release went out on a weekday afternoon, not during the evening peak, when nearly every "
        "checkout would have failed.\n"
        "- The payment provider keeps webhooks for 72 hours, so no confirmation was lost for good."
    ),
    "lessons": (
        "- Reviews of shared templates need to show each service's effective values.\n"
        "- Connection pools are capacity: we alert on their saturation as we do on CPU and memory.\n"
        "- A config rollback should not wait behind other releases."
    ),
}


@dataclass(frozen=True)
class DemoActionItem:
    title: str
    owner: str
    kind: str
    priority: str
    due_in_days: int  # from the day seed_demo first runs; negative is overdue
    status: str = "open"
    tracker_url: str = ""
    description: str = ""
    verification: str = ""


DEMO_ACTION_ITEMS = [
    DemoActionItem(
        "Alert when the checkout database pool is more than 80% busy",
        owner="riley",
        kind="detect",
        priority="high",
        due_in_days=5,
        status="in_progress",
        tracker_url="https://jira.example.com/browse/PAY-481",
        description="Page the checkout on-call when pool usage stays above 80% for 2 minutes.",
    ),
    DemoActionItem(
        "Show each service's effective configuration in release reviews",
        owner="riley",
        kind="prevent",
        priority="medium",
        due_in_days=12,
        tracker_url="https://jira.example.com/browse/PLAT-112",
    ),
    DemoActionItem(
        "Let config rollbacks skip the release pipeline's lock",
        owner="sam",
        kind="mitigate",
        priority="medium",
        due_in_days=19,
    ),
    DemoActionItem(
        "Pin checkout's DB_POOL_SIZE to 50 in the service template",
        owner="sam",
        kind="prevent",
        priority="high",
        due_in_days=-3,
        status="done",
        verification="Release 2026.11.4 renders DB_POOL_SIZE=50 for checkout. A load test at twice the usual "
        "afternoon peak used at most 31 of the 50 connections, and no checkout request failed.",
    ),
]
# Written down during the incident, before there was a postmortem; now past its due date.
DEMO_OVERDUE_ITEM = DemoActionItem(
    "Log connection-pool timeouts as errors, with the pool size in the message",
    owner="sam",
    kind="detect",
    priority="medium",
    due_in_days=-2,
)


def _demo_postmortems(*, service: Service) -> Any:
    """The people's time zones (unless chosen), then, once, the incident, its postmortem and items."""
    from incidents.models import Incident

    _demo_time_zones()
    incident = Incident.objects.filter(service=service, title=DEMO_INCIDENT_TITLE).first()
    if incident is not None:
        return getattr(incident, "postmortem", None)
    people = {user.username: user for user in get_user_model().objects.filter(username__in=DEMO_TIME_ZONES)}
    # Five days ago at 13:52 UTC (afternoon in Berlin, early morning in Los Angeles).
    declared = (timezone.now() - timedelta(days=5)).replace(hour=13, minute=52, second=0, microsecond=0)
    incident = _demo_incident(service=service, people=people, declared=declared)
    return _demo_postmortem(incident=incident, people=people, declared=declared)


def _demo_time_zones() -> None:
    """Owners in two time zones, so digests and due dates show whose "today" counts. A zone someone
    has chosen (anything but the installation's default) is left alone."""
    from incidents.models import Profile
    from oncall.services import profile_update

    for user in get_user_model().objects.filter(username__in=DEMO_TIME_ZONES):
        profile = Profile.objects.filter(user=user).first()
        if profile is None or profile.time_zone == settings.TIME_ZONE:
            profile_update(user=user, actor=None, time_zone=DEMO_TIME_ZONES[user.username])


def _demo_incident(*, service: Service, people: dict[str, Any], declared: datetime) -> Any:
    """Run the incident through the same services as a real one, then move each step, and the
    timeline event it wrote, to when it happened in the story."""
    from incidents.models import Incident, TimelineEvent
    from incidents.services import (
        incident_acknowledge,
        incident_add_note,
        incident_assign_role,
        incident_declare,
        incident_mark_mitigated,
        incident_resolve,
    )
    from oncall.models import EscalationState
    from postmortems.models import ActionItem
    from postmortems.services import action_item_create

    riley, sam = people["riley"], people["sam"]
    timed: set[int] = set()

    def at(minutes: int) -> datetime:
        moment = declared + timedelta(minutes=minutes)
        new = TimelineEvent.objects.filter(incident=incident).exclude(pk__in=timed)
        ids = list(new.values_list("pk", flat=True))
        TimelineEvent.objects.filter(pk__in=ids).update(created_at=moment)
        timed.update(ids)
        return moment

    incident = incident_declare(
        service=service,
        title=DEMO_INCIDENT_TITLE,
        actor=riley,
        severity=2,
        description="Customers see 'Something went wrong' when they pay.",
        impact_started_at=declared - timedelta(minutes=7),
    )
    at(0)
    incident_acknowledge(incident=incident, actor=sam)
    acknowledged = at(3)
    incident_assign_role(incident=incident, role="commander", user=riley, actor=people["morgan"])
    at(4)
    for minutes, author, text in DEMO_NOTES_BEFORE_MITIGATION:
        incident_add_note(incident=incident, text=text, actor=people[author])
        at(minutes)
    incident_mark_mitigated(incident=incident, actor=sam)
    mitigated = at(DEMO_MITIGATED_AFTER)
    for minutes, author, text in DEMO_NOTES_AFTER_MITIGATION:
        incident_add_note(incident=incident, text=text, actor=people[author])
        at(minutes)
    overdue = action_item_create(
        incident=incident,
        actor=sam,
        title=DEMO_OVERDUE_ITEM.title,
        owner=people[DEMO_OVERDUE_ITEM.owner],
        due_date=timezone.localdate() + timedelta(days=DEMO_OVERDUE_ITEM.due_in_days),
        priority=DEMO_OVERDUE_ITEM.priority,
        kind=DEMO_OVERDUE_ITEM.kind,
    )
    added = at(40)
    ActionItem.objects.filter(pk=overdue.pk).update(created_at=added, updated_at=added)
    incident_resolve(
        incident=incident, actor=riley, note="Pool size back at 50; error rate normal for 30 minutes."
    )
    resolved = at(DEMO_RESOLVED_AFTER)
    Incident.objects.filter(pk=incident.pk).update(
        created_at=declared,
        detected_at=declared,
        acknowledged_at=acknowledged,
        mitigated_at=mitigated,
        resolved_at=resolved,
        updated_at=resolved,
    )
    EscalationState.objects.filter(incident=incident).update(started_at=declared, closed_at=acknowledged)
    return Incident.objects.select_related("service__team").get(pk=incident.pk)


def _demo_postmortem(*, incident: Any, people: dict[str, Any], declared: datetime) -> Any:
    """Written by riley the next morning, reviewed by sam and morgan, published by morgan."""
    from incidents.choices import TimelineKind
    from incidents.models import TimelineEvent
    from postmortems.models import (
        ActionItem,
        Postmortem,
        PostmortemReviewer,
        PostmortemSection,
        ReviewComment,
        TimelineEntry,
    )
    from postmortems.services import (
        action_item_create,
        action_item_set_status,
        comment_add,
        comment_resolve,
        postmortem_create,
        postmortem_publish,
        review_approve,
        review_request,
        section_update,
        timeline_entry_add,
    )

    riley, sam, morgan = people["riley"], people["sam"], people["morgan"]
    started = incident.resolved_at + timedelta(hours=19)
    reviewed = started + timedelta(days=1)
    published = reviewed + timedelta(hours=6)

    postmortem = postmortem_create(incident=incident, actor=riley, owner=riley, title=DEMO_POSTMORTEM_TITLE)
    timeline_entry_add(
        postmortem=postmortem,
        actor=riley,
        occurred_at=declared - timedelta(minutes=7),
        text="Config release checkout-config 2026.11.3 reached production; it set DB_POOL_SIZE to 5 (was 50).",
    )
    for key, body in DEMO_SECTIONS.items():
        section_update(postmortem=postmortem, key=key, body=body, actor=riley)
    today = timezone.localdate()
    items = []
    for spec in DEMO_ACTION_ITEMS:
        item = action_item_create(
            incident=incident,
            actor=riley,
            title=spec.title,
            description=spec.description,
            owner=people[spec.owner],
            due_date=today + timedelta(days=spec.due_in_days),
            priority=spec.priority,
            kind=spec.kind,
            tracker_url=spec.tracker_url,
        )
        if spec.status != "open":
            item = action_item_set_status(
                item=item, actor=people[spec.owner], status=spec.status, verification=spec.verification
            )
        items.append(item)
    review_request(postmortem=postmortem, actor=riley, reviewers=[sam, morgan])
    comment = comment_add(
        postmortem=postmortem,
        actor=sam,
        section="detection",
        body="Could the pool saturation alert cover the other services that use the template too?",
    )
    comment_resolve(comment=comment, actor=riley)
    review_approve(postmortem=postmortem, actor=sam)
    review_approve(postmortem=postmortem, actor=morgan)
    postmortem_publish(postmortem=postmortem, actor=morgan)

    # The services stamp everything "now"; move the postmortem's story to the days after the incident.
    Postmortem.objects.filter(pk=postmortem.pk).update(
        created_at=started,
        updated_at=published,
        timeline_imported_at=started,
        review_requested_at=reviewed,
        published_at=published,
    )
    PostmortemSection.objects.filter(postmortem=postmortem).update(updated_at=started + timedelta(hours=2))
    TimelineEntry.objects.filter(postmortem=postmortem).update(created_at=started)
    PostmortemReviewer.objects.filter(postmortem=postmortem).update(
        requested_at=reviewed, approved_at=published - timedelta(hours=1)
    )
    ReviewComment.objects.filter(pk=comment.pk).update(
        created_at=reviewed + timedelta(hours=2), resolved_at=reviewed + timedelta(hours=3)
    )
    ActionItem.objects.filter(pk__in=[item.pk for item in items]).update(
        created_at=started + timedelta(hours=1), updated_at=reviewed
    )
    ActionItem.objects.filter(pk__in=[item.pk for item in items], closed_at__isnull=False).update(
        closed_at=reviewed
    )
    events = TimelineEvent.objects.filter(incident=incident, created_at__gt=incident.resolved_at)
    events.filter(kind=TimelineKind.POSTMORTEM_STARTED).update(created_at=started)
    events.filter(kind=TimelineKind.ACTION_ITEM_ADDED).update(created_at=started + timedelta(hours=1))
    events.filter(kind=TimelineKind.POSTMORTEM_PUBLISHED).update(created_at=published)
    return Postmortem.objects.select_related("incident").get(pk=postmortem.pk)


# --- end postmortems demo ---
