"""People and how they are reached: escalation policies and their steps, which policy a service
pages with, a person's contact methods, notification rules and profile.

The web UI and the REST API call these same functions. Each write runs in one transaction, returns
early when nothing changes, and is written to the audit log. Permission checks stay in the views
(as for incidents); what is checked here is what would make the configuration wrong for anyone:
a step that reaches nobody, a person paged who could not acknowledge, an address a channel rejects.
"""

from __future__ import annotations

import logging
import secrets
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse

from incidents.choices import Role, Urgency
from incidents.models import Profile, Service, Team, person_name
from incidents.permissions import has_role
from incidents.services import DomainError, audit_record
from oncall.channels import get_channel
from oncall.channels.base import Message, PermanentError, TransientError
from oncall.models import (
    ContactKind,
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    NotificationRule,
    Schedule,
)
from oncall.selectors.people import step_targets_label

logger = logging.getLogger(__name__)

MAX_REPEAT_COUNT = 9
MAX_STEP_DELAY_MINUTES = 24 * 60
MAX_RULE_DELAY_MINUTES = 24 * 60
MAX_SHIFT_NUDGE_MINUTES = 7 * 24 * 60
# Positions are unique per policy; renumbering first moves every step out of the way by this much.
_POSITION_OFFSET = 100_000


class InvalidAddress(DomainError):
    """The channel rejected the address; the message says what to type instead."""


# --- escalation policies --------------------------------------------------------------------


@dataclass(frozen=True)
class StepSpec:
    """What one step does: who it notifies, and how long it waits before the next step."""

    delay_minutes: int
    users: Sequence[Any] = field(default_factory=tuple)
    schedules: Sequence[Schedule] = field(default_factory=tuple)
    teams: Sequence[Team] = field(default_factory=tuple)


def _check_name(name: str, *, team: Team, exclude_pk: int | None = None) -> str:
    name = " ".join(name.split())
    if not name:
        raise DomainError("Give the policy a name, e.g. “Checkout primary”.")
    if len(name) > 100:
        raise DomainError("A policy name is at most 100 characters.")
    clash = EscalationPolicy.objects.filter(team=team, name__iexact=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise DomainError(f"{team.name} already has a policy called “{name}”.")
    return name


def _check_repeat_count(repeat_count: int) -> int:
    if not 0 <= repeat_count <= MAX_REPEAT_COUNT:
        raise DomainError(f"Repeat the steps 0 to {MAX_REPEAT_COUNT} times.")
    return repeat_count


def _check_step(spec: StepSpec, *, team: Team) -> None:
    if not 1 <= spec.delay_minutes <= MAX_STEP_DELAY_MINUTES:
        raise DomainError(
            f"A step waits 1 to {MAX_STEP_DELAY_MINUTES} minutes (24 hours) before the next step fires."
        )
    if not (spec.users or spec.schedules or spec.teams):
        raise DomainError("A step has to notify someone: choose at least one person, schedule or team.")
    for user in spec.users:
        # Paging someone who cannot acknowledge would keep the escalation running whatever they do.
        if not user.is_active or not has_role(user, team, Role.RESPONDER):
            raise DomainError(
                f"{person_name(user)} cannot acknowledge incidents of {team.name} (that needs the "
                f"responder role in {team.name}), so a page to them could not stop the escalation."
            )
    for schedule in spec.schedules:
        if schedule.team_id != team.pk:
            raise DomainError(
                f"The schedule “{schedule.name}” belongs to another team; a policy of {team.name} "
                f"uses the schedules of {team.name}."
            )


def _step_audit(step: EscalationStep, spec: StepSpec) -> dict[str, Any]:
    return {
        "step": step.position + 1,
        "delay_minutes": spec.delay_minutes,
        "targets": step_targets_label(users=spec.users, schedules=spec.schedules, teams=spec.teams),
    }


def _spec_shape(spec: StepSpec) -> tuple[int, set[int], set[int], set[int]]:
    return (
        spec.delay_minutes,
        {u.pk for u in spec.users},
        {s.pk for s in spec.schedules},
        {t.pk for t in spec.teams},
    )


def _step_shape(step: EscalationStep) -> tuple[int, set[int], set[int], set[int]]:
    return (
        step.delay_minutes,
        {u.pk for u in step.users.all()},
        {s.pk for s in step.schedules.all()},
        {t.pk for t in step.teams.all()},
    )


def _step_shapes(policy: EscalationPolicy) -> list[tuple[int, set[int], set[int], set[int]]]:
    steps = policy.steps.order_by("position").prefetch_related("users", "schedules", "teams")
    return [_step_shape(step) for step in steps]


def _write_step(step: EscalationStep, spec: StepSpec) -> None:
    step.users.set(spec.users)
    step.schedules.set(spec.schedules)
    step.teams.set(spec.teams)


def _renumber(policy: EscalationPolicy, ordered_ids: Sequence[int]) -> None:
    """Give the steps positions 0..n-1 in this order without tripping the unique (policy, position)."""
    steps = EscalationStep.objects.filter(policy=policy)
    steps.update(position=F("position") + _POSITION_OFFSET)
    for position, step_id in enumerate(ordered_ids):
        EscalationStep.objects.filter(pk=step_id).update(position=position)


@transaction.atomic
def escalation_policy_create(
    *, team: Team, name: str, repeat_count: int = 0, steps: Sequence[StepSpec] = (), actor: Any
) -> EscalationPolicy:
    name = _check_name(name, team=team)
    _check_repeat_count(repeat_count)
    for spec in steps:
        _check_step(spec, team=team)
    policy = EscalationPolicy.objects.create(team=team, name=name, repeat_count=repeat_count)
    for position, spec in enumerate(steps):
        step = EscalationStep.objects.create(
            policy=policy, position=position, delay_minutes=spec.delay_minutes
        )
        _write_step(step, spec)
    audit_record(
        actor=actor,
        action="escalation_policy.create",
        obj=policy,
        data={"team": team.slug, "repeat_count": repeat_count, "steps": len(steps)},
    )
    return policy


@transaction.atomic
def escalation_policy_update(
    *,
    policy: EscalationPolicy,
    actor: Any,
    name: str | None = None,
    repeat_count: int | None = None,
    steps: Sequence[StepSpec] | None = None,
) -> EscalationPolicy:
    """Change the name or repeat count; `steps`, when given, replaces every step (the API's PUT).
    Running escalations keep the policy they started with, so this never changes a page in flight."""
    changed: dict[str, Any] = {}
    if name is not None:
        name = _check_name(name, team=policy.team, exclude_pk=policy.pk)
        if name != policy.name:
            changed["name"] = [policy.name, name]
            policy.name = name
    if repeat_count is not None and _check_repeat_count(repeat_count) != policy.repeat_count:
        changed["repeat_count"] = [policy.repeat_count, repeat_count]
        policy.repeat_count = repeat_count
    if changed:
        policy.save(update_fields=[f for f in ("name", "repeat_count") if f in changed])
    if steps is not None and _step_shapes(policy) != [_spec_shape(spec) for spec in steps]:
        for spec in steps:
            _check_step(spec, team=policy.team)
        policy.steps.all().delete()
        for position, spec in enumerate(steps):
            step = EscalationStep.objects.create(
                policy=policy, position=position, delay_minutes=spec.delay_minutes
            )
            _write_step(step, spec)
        changed["steps"] = [
            {
                "step": position + 1,
                "delay_minutes": spec.delay_minutes,
                "targets": step_targets_label(users=spec.users, schedules=spec.schedules, teams=spec.teams),
            }
            for position, spec in enumerate(steps)
        ]
    if changed:
        audit_record(actor=actor, action="escalation_policy.update", obj=policy, data=changed)
    return policy


@transaction.atomic
def escalation_policy_delete(*, policy: EscalationPolicy, actor: Any) -> None:
    # A service without a policy pages nobody but its team's managers: make that a decision, not an accident.
    in_use = list(policy.services.order_by("name").values_list("name", flat=True))
    if in_use:
        raise DomainError(
            f"{', '.join(in_use)} still page{'s' if len(in_use) == 1 else ''} with “{policy.name}”: "
            "give them another policy first."
        )
    audit_record(actor=actor, action="escalation_policy.delete", obj=policy, data={"team": policy.team.slug})
    policy.delete()


@transaction.atomic
def escalation_step_add(*, policy: EscalationPolicy, spec: StepSpec, actor: Any) -> EscalationStep:
    """Append a step after the last one."""
    _check_step(spec, team=policy.team)
    last = policy.steps.order_by("-position").values_list("position", flat=True).first()
    step = EscalationStep.objects.create(
        policy=policy, position=0 if last is None else last + 1, delay_minutes=spec.delay_minutes
    )
    _write_step(step, spec)
    audit_record(actor=actor, action="escalation_policy.step_add", obj=policy, data=_step_audit(step, spec))
    return step


@transaction.atomic
def escalation_step_update(*, step: EscalationStep, spec: StepSpec, actor: Any) -> EscalationStep:
    policy = step.policy
    _check_step(spec, team=policy.team)
    if _step_shape(step) == _spec_shape(spec):
        return step
    if step.delay_minutes != spec.delay_minutes:
        step.delay_minutes = spec.delay_minutes
        step.save(update_fields=["delay_minutes"])
    _write_step(step, spec)
    audit_record(
        actor=actor, action="escalation_policy.step_update", obj=policy, data=_step_audit(step, spec)
    )
    return step


@transaction.atomic
def escalation_step_move(*, step: EscalationStep, position: int, actor: Any) -> EscalationStep:
    """Move a step to `position` (0-based; clamped to the policy's steps), shifting the others."""
    policy = step.policy
    ordered = list(policy.steps.order_by("position").values_list("pk", flat=True))
    old_index = ordered.index(step.pk)
    new_index = max(0, min(position, len(ordered) - 1))
    if new_index == old_index:
        return step
    ordered.insert(new_index, ordered.pop(old_index))
    _renumber(policy, ordered)
    step.refresh_from_db(fields=["position"])
    audit_record(
        actor=actor,
        action="escalation_policy.step_move",
        obj=policy,
        data={"from": old_index + 1, "to": new_index + 1},
    )
    return step


@transaction.atomic
def escalation_step_delete(*, step: EscalationStep, actor: Any) -> None:
    policy = step.policy
    data = {
        "step": step.position + 1,
        "delay_minutes": step.delay_minutes,
        "targets": step_targets_label(
            users=list(step.users.all()), schedules=list(step.schedules.all()), teams=list(step.teams.all())
        ),
    }
    step.delete()
    _renumber(policy, list(policy.steps.order_by("position").values_list("pk", flat=True)))
    audit_record(actor=actor, action="escalation_policy.step_delete", obj=policy, data=data)


@transaction.atomic
def service_escalation_policy_set(
    *, service: Service, policy: EscalationPolicy | None, actor: Any
) -> Service:
    """Which policy pages for the service; None leaves only the team's managers to be told.

    incidents.services.service_update deliberately changes only the name and description, so the
    policy has its own function with its own rule: a service pages with a policy of its own team."""
    if policy is not None and policy.team_id != service.team_id:
        raise DomainError(
            f"{service.name} belongs to {service.team.name}; choose a policy of {service.team.name}."
        )
    if service.escalation_policy_id == (policy.pk if policy else None):
        return service
    old = service.escalation_policy
    service.escalation_policy = policy
    service.save(update_fields=["escalation_policy"])
    audit_record(
        actor=actor,
        action="service.escalation_policy",
        obj=service,
        data={"from": old.name if old else None, "to": policy.name if policy else None},
    )
    return service


# --- contact methods and notification rules -------------------------------------------------


def _normalised_address(kind: str, address: str) -> str:
    if kind not in ContactKind.values:
        raise DomainError(f"Choose one of: {', '.join(ContactKind.labels)}.")
    try:
        return get_channel(kind).validate_address(address)
    except ValueError as exc:
        raise InvalidAddress(str(exc)) from None


def _check_label(label: str) -> str:
    label = " ".join(label.split())
    if len(label) > 100:
        raise DomainError("A label is at most 100 characters.")
    return label


def _check_duplicate(*, user: Any, kind: str, address: str, exclude_pk: int | None = None) -> None:
    same = ContactMethod.objects.filter(user=user, kind=kind, address=address)
    if exclude_pk is not None:
        same = same.exclude(pk=exclude_pk)
    if same.exists():
        raise DomainError(f"You already have {ContactKind(kind).label} {address}.")


@transaction.atomic
def contact_method_create(
    *, user: Any, kind: str, address: str, label: str = "", actor: Any
) -> ContactMethod:
    address = _normalised_address(kind, address)
    label = _check_label(label)
    _check_duplicate(user=user, kind=kind, address=address)
    contact_method = ContactMethod.objects.create(user=user, kind=kind, address=address, label=label)
    audit_record(actor=actor, action="contact_method.create", obj=contact_method, data={"kind": kind})
    return contact_method


@transaction.atomic
def contact_method_update(
    *, contact_method: ContactMethod, actor: Any, address: str | None = None, label: str | None = None
) -> ContactMethod:
    """The kind stays: a phone number does not become a Slack id. Queued pages keep the old address."""
    changed: dict[str, list[str]] = {}
    if address is not None:
        address = _normalised_address(contact_method.kind, address)
        if address != contact_method.address:
            _check_duplicate(
                user=contact_method.user,
                kind=contact_method.kind,
                address=address,
                exclude_pk=contact_method.pk,
            )
            changed["address"] = [contact_method.address, address]
            contact_method.address = address
    if label is not None:
        label = _check_label(label)
        if label != contact_method.label:
            changed["label"] = [contact_method.label, label]
            contact_method.label = label
    if changed:
        contact_method.save(update_fields=list(changed))
        audit_record(actor=actor, action="contact_method.update", obj=contact_method, data=changed)
    return contact_method


@transaction.atomic
def contact_method_delete(*, contact_method: ContactMethod, actor: Any) -> int:
    """Deletes the contact method and the rules that use it; returns how many rules went with it."""
    rules = contact_method.rules.count()
    audit_record(
        actor=actor,
        action="contact_method.delete",
        obj=contact_method,
        data={"kind": contact_method.kind, "rules_removed": rules},
    )
    contact_method.delete()
    return rules


@transaction.atomic
def notification_rule_create(
    *, user: Any, contact_method: ContactMethod, urgency: str, delay_minutes: int, actor: Any
) -> NotificationRule:
    if contact_method.user_id != user.pk:
        raise DomainError("A rule can only use your own contact methods.")
    if urgency not in Urgency.values:
        raise DomainError(f"Urgency is one of: {', '.join(Urgency.values)}.")
    if not 0 <= delay_minutes <= MAX_RULE_DELAY_MINUTES:
        raise DomainError(f"Notify 0 to {MAX_RULE_DELAY_MINUTES} minutes after the page starts.")
    duplicate = NotificationRule.objects.filter(
        user=user, contact_method=contact_method, urgency=urgency, delay_minutes=delay_minutes
    )
    if duplicate.exists():
        raise DomainError(
            f"You already have {contact_method.get_kind_display()} at {delay_minutes} min "
            f"for {Urgency(urgency).label.lower()} urgency."
        )
    rule = NotificationRule.objects.create(
        user=user, contact_method=contact_method, urgency=urgency, delay_minutes=delay_minutes
    )
    audit_record(
        actor=actor,
        action="notification_rule.create",
        obj=rule,
        data={"urgency": urgency, "delay_minutes": delay_minutes, "contact_method": contact_method.pk},
    )
    return rule


@transaction.atomic
def notification_rule_delete(*, rule: NotificationRule, actor: Any) -> None:
    audit_record(
        actor=actor,
        action="notification_rule.delete",
        obj=rule,
        data={"urgency": rule.urgency, "delay_minutes": rule.delay_minutes},
    )
    rule.delete()


@dataclass(frozen=True)
class ContactTestResult:
    status: Literal["sent", "failed", "unavailable"]
    detail: str

    @property
    def sent(self) -> bool:
        return self.status == "sent"


def contact_method_send_test(*, contact_method: ContactMethod, actor: Any) -> ContactTestResult:
    """Send a real test message through the channel, now, within the channel's own timeout.

    Not in a transaction: nothing is written, and a slow provider must not hold a database lock."""
    channel = get_channel(contact_method.kind)
    ok, reason = channel.availability()
    if not ok:
        return ContactTestResult("unavailable", f"unavailable: {reason}")
    message = Message(
        incident_reference="",
        title="This is a test from Muster",
        severity_label="",
        urgency=Urgency.HIGH,
        service_name="",
        # No incident to open or acknowledge: channels leave those links and buttons out.
        incident_url="",
        ack_url="",
        ack_api_url="",
        summary=f"{person_name(contact_method.user)} asked Muster to check this "
        f"{contact_method.get_kind_display()} contact method. Nothing is broken. Your notification "
        f"settings: {settings.MUSTER_BASE_URL}{reverse('oncall:my_notifications')}",
        kind="test",
        dedup_id=f"test-{contact_method.pk}-{secrets.token_hex(4)}",
    )
    try:
        delivered = channel.send(address=contact_method.address, message=message)
    except (PermanentError, TransientError) as exc:
        return ContactTestResult("failed", f"failed: {exc}")
    except Exception as exc:  # a bug in a channel must show as a failed test, not a server error
        logger.exception("test send through %s failed unexpectedly", contact_method.kind)
        return ContactTestResult("failed", f"failed: {type(exc).__name__}: {exc}")
    where = f" (id {delivered.provider_id})" if delivered.provider_id else ""
    return ContactTestResult(
        "sent", f"sent to {contact_method.address}{where}. Check that it arrived where you expect it."
    )


# --- profile and the defaults of a new person -----------------------------------------------


@lru_cache(maxsize=1)
def time_zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _profile(user: Any) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user, defaults={"time_zone": settings.TIME_ZONE})
    return profile


@transaction.atomic
def profile_update(
    *,
    user: Any,
    actor: Any,
    time_zone: str | None = None,
    shift_nudges: bool | None = None,
    shift_nudge_minutes: int | None = None,
    action_item_digest: bool | None = None,
) -> Profile:
    profile = _profile(user)
    changes: dict[str, Any] = {}
    if time_zone is not None:
        time_zone = time_zone.strip()
        if time_zone not in time_zone_names():
            raise DomainError(f"“{time_zone}” is not a time zone Muster knows; pick one like Europe/Berlin.")
        changes["time_zone"] = time_zone
    if shift_nudges is not None:
        changes["shift_nudges"] = shift_nudges
    if shift_nudge_minutes is not None:
        if not 1 <= shift_nudge_minutes <= MAX_SHIFT_NUDGE_MINUTES:
            raise DomainError(
                f"Shift reminders come 1 to {MAX_SHIFT_NUDGE_MINUTES} minutes (7 days) before a shift."
            )
        changes["shift_nudge_minutes"] = shift_nudge_minutes
    if action_item_digest is not None:
        changes["action_item_digest"] = action_item_digest
    changed = {}
    for name, value in changes.items():
        if getattr(profile, name) != value:
            changed[name] = [getattr(profile, name), value]
            setattr(profile, name, value)
    if changed:
        profile.save(update_fields=list(changed))
        audit_record(actor=actor, action="profile.update", obj=profile, data=changed)
    return profile


@transaction.atomic
def person_defaults_create(*, user: Any) -> None:
    """What every new person starts with: a profile, and email at 0 minutes for both urgencies, so
    they can be paged before they ever open their settings (and see the rule they can change)."""
    _profile(user)
    if not user.email or user.contact_methods.exists():
        return
    try:
        address = get_channel(ContactKind.EMAIL).validate_address(user.email)
    except ValueError:
        return  # routes_for still tries the address as it is; nothing better to offer here
    contact_method = ContactMethod.objects.create(user=user, kind=ContactKind.EMAIL, address=address)
    for urgency in (Urgency.HIGH, Urgency.LOW):
        NotificationRule.objects.create(
            user=user, contact_method=contact_method, urgency=urgency, delay_minutes=0
        )
