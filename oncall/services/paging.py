"""Paging: starting and stopping escalations, advancing them step by step, queueing notifications.

Every timer is a row (EscalationState.next_step_at, Notification.due_at). These functions change
those rows in short transactions; the beat tick (oncall.engine) finds the due ones, and Celery
tasks only carry ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.choices import IncidentStatus, Role, TimelineKind, Urgency
from incidents.models import Incident, Membership, person_name
from incidents.services import timeline_record
from oncall.models import (
    ContactKind,
    EscalationPolicy,
    EscalationState,
    Notification,
    NotificationRule,
    NotificationStatus,
    Schedule,
)
from oncall.selectors import schedule_oncall_user_id


def policy_snapshot(policy: EscalationPolicy | None) -> dict[str, Any]:
    """The policy frozen as plain data: a running escalation keeps the policy it started with."""
    if policy is None:
        return {"id": None, "name": "", "repeat_count": 0, "steps": []}
    steps = []
    for step in policy.steps.prefetch_related("users", "schedules", "teams").order_by("position"):
        names = [person_name(u) for u in step.users.all()]
        names += [s.name for s in step.schedules.all()] + [t.name for t in step.teams.all()]
        steps.append(
            {
                "delay_minutes": step.delay_minutes,
                "users": [u.pk for u in step.users.all()],
                "schedules": [s.pk for s in step.schedules.all()],
                "teams": [t.pk for t in step.teams.all()],
                "label": ", ".join(names) or "nobody",
            }
        )
    return {"id": policy.pk, "name": policy.name, "repeat_count": policy.repeat_count, "steps": steps}


def paging_start(*, incident: Incident) -> EscalationState | None:
    """Called inside the transaction that opened the incident. The first step is processed right
    after commit, so the first page does not wait for a tick; the tick is the safety net."""
    if incident.suppressed or hasattr(incident, "escalation"):
        return None
    now = timezone.now()
    state = EscalationState.objects.create(
        incident=incident,
        policy_snapshot=policy_snapshot(incident.service.escalation_policy),
        next_step_at=now,
        started_at=now,
    )
    from oncall import tasks

    transaction.on_commit(lambda: tasks.escalation_process.delay(state.pk))
    return state


def paging_stop(*, incident: Incident, reason: str) -> int:
    """Called inside the acknowledge/resolve transaction: nothing queued for this incident is sent."""
    now = timezone.now()
    EscalationState.objects.filter(incident=incident, closed_at__isnull=True).update(
        closed_at=now, closed_reason=reason, next_step_at=None
    )
    return Notification.objects.filter(incident=incident, status=NotificationStatus.QUEUED).update(
        status=NotificationStatus.CANCELLED, last_error=f"cancelled: {reason}"
    )


# --- escalation -----------------------------------------------------------------------------


def escalation_advance(*, state_id: int, now: datetime | None = None) -> list[int]:
    """Fire the due step of one escalation. Returns the ids of notifications due right away.

    Claims the row with SKIP LOCKED, so two workers ticking at once never fire the same step twice.
    A step that reaches nobody moves straight on; a policy that reached nobody at all ends by
    telling the team's managers.
    """
    now = now or timezone.now()
    with transaction.atomic():
        state = (
            EscalationState.objects.select_for_update(skip_locked=True)
            .filter(pk=state_id, closed_at__isnull=True, next_step_at__lte=now)
            .first()
        )
        if state is None:
            return []
        incident = Incident.objects.select_related("service__team").get(pk=state.incident_id)
        if incident.status != IncidentStatus.TRIGGERED:
            _close(state, now, f"incident {incident.status}")
            return []
        due: list[int] = []
        steps = state.policy_snapshot["steps"]
        while True:
            if state.step_index >= len(steps):
                if state.repeat < state.policy_snapshot["repeat_count"] and state.notified_anyone:
                    state.repeat += 1
                    state.step_index = 0
                    continue
                if not state.notified_anyone:
                    due += _tell_managers(incident=incident, now=now)
                _close(state, now, "every step has fired")
                return due
            step = steps[state.step_index]
            users = step_users(step=step, at=now)
            label = f"step {state.step_index + 1}" + (f" (repeat {state.repeat})" if state.repeat else "")
            if not users:
                timeline_record(
                    incident=incident,
                    kind=TimelineKind.NOBODY_ON_CALL,
                    text=f"No one on call for {label} ({step['label']}): moving on",
                    data={"step": state.step_index, "repeat": state.repeat},
                    at=now,
                )
                state.step_index += 1
                continue
            for user in users:
                due += notifications_queue(
                    incident=incident,
                    user=user,
                    key=f"page:{incident.pk}:r{state.repeat}:s{state.step_index}:u{user.pk}",
                    now=now,
                    step_index=state.step_index,
                )
            names = ", ".join(person_name(u) for u in users)
            timeline_record(
                incident=incident,
                kind=TimelineKind.ESCALATED,
                text=f"Escalated to {label}: {names}",
                data={
                    "step": state.step_index,
                    "repeat": state.repeat,
                    "user_ids": [u.pk for u in users],
                    # When the step was due; the event's time is when it fired (timer lag on /metrics).
                    "due_at": state.next_step_at.isoformat() if state.next_step_at else None,
                },
                at=now,
            )
            state.notified_anyone = True
            state.next_step_at = now + timedelta(minutes=step["delay_minutes"])
            state.step_index += 1
            state.save(update_fields=["step_index", "repeat", "next_step_at", "notified_anyone"])
            return due


def _close(state: EscalationState, now: datetime, reason: str) -> None:
    state.closed_at = now
    state.closed_reason = reason
    state.next_step_at = None
    state.save(update_fields=["closed_at", "closed_reason", "next_step_at", "step_index", "repeat"])


def _tell_managers(*, incident: Incident, now: datetime) -> list[int]:
    managers = list(
        get_user_model()
        .objects.filter(
            memberships__team_id=incident.service.team_id, memberships__role__gte=Role.MANAGER, is_active=True
        )
        .distinct()
    )
    if not managers:
        timeline_record(
            incident=incident,
            kind=TimelineKind.ESCALATION_EXHAUSTED,
            text=f"Nobody could be paged and {incident.service.team.name} has no managers to tell",
            at=now,
        )
        return []
    due = []
    for manager in managers:
        due += notifications_queue(
            incident=incident, user=manager, key=f"managers:{incident.pk}:u{manager.pk}", now=now
        )
    timeline_record(
        incident=incident,
        kind=TimelineKind.ESCALATION_EXHAUSTED,
        text="The escalation policy reached nobody: told the team's managers "
        + ", ".join(person_name(m) for m in managers),
        data={"user_ids": [m.pk for m in managers]},
        at=now,
    )
    return due


def step_users(*, step: dict[str, Any], at: datetime) -> list[Any]:
    """Everyone a step reaches at `at`: its users, whoever is on call in its schedules at that moment,
    and the responders of its teams; each person once."""
    user_ids: list[int] = list(step["users"])
    for schedule in Schedule.objects.filter(pk__in=step.get("schedules", [])):
        on_call = schedule_oncall_user_id(schedule=schedule, at=at)
        if on_call is not None:
            user_ids.append(on_call)
    if step["teams"]:
        user_ids += Membership.objects.filter(
            team_id__in=step["teams"], role__gte=Role.RESPONDER
        ).values_list("user_id", flat=True)
    unique = list(dict.fromkeys(user_ids))
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=unique, is_active=True)}
    return [users[pk] for pk in unique if pk in users]


# --- notifications --------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """Where and when one rule says to reach a person."""

    channel: str
    address: str
    delay_minutes: int
    rule_key: str
    contact_method_id: int | None = None


def routes_for(*, user: Any, urgency: str) -> list[Route]:
    """The user's rules for this urgency. Without any, email at 0 minutes: nobody who has an email
    address is unreachable just because they never set up their rules."""
    rules = NotificationRule.objects.filter(user=user, urgency=urgency).select_related("contact_method")
    routes = [
        Route(
            channel=rule.contact_method.kind,
            address=rule.contact_method.address,
            delay_minutes=rule.delay_minutes,
            rule_key=f"rule{rule.pk}",
            contact_method_id=rule.contact_method_id,
        )
        for rule in rules
    ]
    if not routes and urgency == Urgency.LOW:
        return routes_for(user=user, urgency=Urgency.HIGH)
    if not routes and user.email:
        routes = [Route(channel=ContactKind.EMAIL, address=user.email, delay_minutes=0, rule_key="default")]
    return routes


def notifications_queue(
    *, incident: Incident, user: Any, key: str, now: datetime, step_index: int | None = None
) -> list[int]:
    """Write one notification row per rule. The unique key makes a second identical one impossible.
    Returns the ids that are due now."""
    due = []
    for route in routes_for(user=user, urgency=incident.urgency):
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    key=f"{key}:{route.rule_key}",
                    incident=incident,
                    user=user,
                    contact_method_id=route.contact_method_id,
                    channel=route.channel,
                    address=route.address,
                    due_at=now + timedelta(minutes=route.delay_minutes),
                    step_index=step_index,
                    # Due now: handed to a worker on commit below, so the tick leaves it alone
                    # unless that hand-over is lost (REENQUEUE_AFTER later).
                    enqueued_at=now if route.delay_minutes == 0 else None,
                )
        except IntegrityError:
            continue  # already written by an earlier run of this step
        if notification.due_at <= now:
            due.append(notification.pk)
    if due:
        from oncall import tasks

        transaction.on_commit(lambda: [tasks.deliver_notification.delay(pk) for pk in due])
    return due
