"""Reads for escalation policies and a person's notification settings. Every read that takes a user
returns only what that user may see: a policy of another team is a 404, not a 403."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.http import Http404

from incidents.choices import Role, Urgency
from incidents.models import Profile, Service, Team, person_name
from incidents.permissions import has_role, visible_team_ids
from oncall.channels import get_channel
from oncall.models import (
    ContactKind,
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    NotificationRule,
    Schedule,
)

# --- escalation policies --------------------------------------------------------------------


def can_manage_policy(user: Any, policy: EscalationPolicy) -> bool:
    """Managers (and admins) of the policy's team change it; its other members only read it."""
    return has_role(user, policy.team_id, Role.MANAGER)


def policy_list_for_user(*, user: Any) -> QuerySet[EscalationPolicy]:
    """Policies of the user's teams with everything the flow needs: a fixed number of queries."""
    steps = EscalationStep.objects.order_by("position").prefetch_related("users", "schedules", "teams")
    qs = (
        EscalationPolicy.objects.select_related("team")
        .prefetch_related(
            Prefetch("steps", queryset=steps),
            Prefetch("services", queryset=Service.objects.order_by("name")),
        )
        .order_by("team__name", "name")
    )
    team_ids = visible_team_ids(user)
    return qs if team_ids is None else qs.filter(team_id__in=team_ids)


def policy_get_for_user(*, user: Any, pk: int) -> EscalationPolicy:
    try:
        return policy_list_for_user(user=user).get(pk=pk)
    except EscalationPolicy.DoesNotExist:
        raise Http404(f"No escalation policy {pk} you can see.") from None


def step_get(*, policy: EscalationPolicy, pk: int) -> EscalationStep:
    """A step of a policy the caller already fetched through policy_get_for_user."""
    try:
        return policy.steps.get(pk=pk)
    except EscalationStep.DoesNotExist:
        raise Http404(f"No step {pk} in {policy.name}.") from None


def teams_managed_by(*, user: Any) -> QuerySet[Team]:
    """Teams in which the user may create policies."""
    if user.is_superuser:
        return Team.objects.order_by("name")
    return Team.objects.filter(memberships__user=user, memberships__role__gte=Role.MANAGER).order_by("name")


def step_target_choices(*, policy: EscalationPolicy, user: Any) -> dict[str, QuerySet[Any]]:
    """Who a step of this policy may notify: people who can acknowledge the team's incidents, the
    team's schedules, and teams the editor can see."""
    people = (
        get_user_model()
        .objects.filter(
            is_active=True, memberships__team_id=policy.team_id, memberships__role__gte=Role.RESPONDER
        )
        .distinct()
        .order_by("first_name", "last_name", "username")
    )
    team_ids = visible_team_ids(user)
    teams = Team.objects.order_by("name")
    return {
        "users": people,
        "schedules": Schedule.objects.filter(team_id=policy.team_id).order_by("name"),
        "teams": teams if team_ids is None else teams.filter(pk__in=team_ids),
    }


def assignable_services(*, policy: EscalationPolicy) -> QuerySet[Service]:
    """The services of the policy's team that page with another policy (or with none)."""
    return (
        Service.objects.filter(team_id=policy.team_id)
        .exclude(escalation_policy=policy)
        .select_related("escalation_policy")
        .order_by("name")
    )


@dataclass(frozen=True)
class FlowStep:
    """One step as a person reads it: "Step 1 — notify Riley Chen — after 5 min"."""

    number: int
    step: EscalationStep
    targets: str
    delay_minutes: int
    is_last: bool

    @property
    def text(self) -> str:
        return f"Step {self.number} — notify {self.targets}"


def step_targets_label(*, users: Sequence[Any], schedules: Sequence[Schedule], teams: Sequence[Team]) -> str:
    """How a step's targets read in the flow and the audit log: "Riley Chen, Payments primary (on call)"."""
    names = [person_name(user) for user in users]
    names += [f"{schedule.name} (on call)" for schedule in schedules]
    names += [f"all responders in {team.name}" for team in teams]
    return ", ".join(names) or "nobody"


def _step_targets(step: EscalationStep) -> str:
    return step_targets_label(
        users=list(step.users.all()), schedules=list(step.schedules.all()), teams=list(step.teams.all())
    )


def policy_flow(policy: EscalationPolicy) -> list[FlowStep]:
    """The steps in order, from the prefetched rows of policy_list_for_user (no query of its own)."""
    steps = sorted(policy.steps.all(), key=lambda step: step.position)
    return [
        FlowStep(
            number=index + 1,
            step=step,
            targets=_step_targets(step),
            delay_minutes=step.delay_minutes,
            is_last=index == len(steps) - 1,
        )
        for index, step in enumerate(steps)
    ]


def repeat_text(repeat_count: int) -> str:
    return f"repeat {repeat_count} time{'' if repeat_count == 1 else 's'}"


def policy_flow_text(policy: EscalationPolicy) -> str:
    """The whole policy on one line: "Step 1 — notify Riley Chen — after 5 min → Step 2 — notify Sam
    Okafor; repeat 1 time". The last step's delay only matters when the steps repeat."""
    flow = policy_flow(policy)
    if not flow:
        return "No steps: nobody is paged, only the team's managers are told."
    parts = []
    for item in flow:
        if item.is_last and not policy.repeat_count:
            parts.append(item.text)
        else:
            parts.append(f"{item.text} — after {item.delay_minutes} min")
    text = " → ".join(parts)
    if policy.repeat_count:
        text += f"; {repeat_text(policy.repeat_count)}"
    return text


# --- contact methods, rules, profile --------------------------------------------------------


@dataclass(frozen=True)
class ChannelStatus:
    kind: str
    label: str
    available: bool
    reason: str

    @property
    def display(self) -> str:
        """ "SMS — not configured on this server" for a channel this installation cannot send on."""
        return self.label if self.available else f"{self.label} — not configured on this server"


def channel_statuses() -> dict[str, ChannelStatus]:
    statuses = {}
    for kind, label in ContactKind.choices:
        available, reason = get_channel(kind).availability()
        statuses[kind] = ChannelStatus(kind=kind, label=str(label), available=available, reason=reason)
    return statuses


def contact_methods_for_user(*, user: Any) -> QuerySet[ContactMethod]:
    return ContactMethod.objects.filter(user=user).order_by("kind", "pk")


def contact_method_get_for_user(*, user: Any, pk: int) -> ContactMethod:
    try:
        return contact_methods_for_user(user=user).get(pk=pk)
    except ContactMethod.DoesNotExist:
        raise Http404(f"You have no contact method {pk}.") from None


def notification_rules_for_user(*, user: Any) -> QuerySet[NotificationRule]:
    return (
        NotificationRule.objects.filter(user=user)
        .select_related("contact_method")
        .order_by("urgency", "delay_minutes", "pk")
    )


def notification_rule_get_for_user(*, user: Any, pk: int) -> NotificationRule:
    try:
        return notification_rules_for_user(user=user).get(pk=pk)
    except NotificationRule.DoesNotExist:
        raise Http404(f"You have no notification rule {pk}.") from None


@dataclass(frozen=True)
class Ladder:
    """A person's rules for one urgency, as they play out once a page starts."""

    urgency: str
    label: str
    rules: list[NotificationRule]
    text: str


def _rule_step(rule: NotificationRule) -> str:
    return f"{rule.contact_method.get_kind_display()} at {rule.delay_minutes} min"


def notification_ladders(*, user: Any, rules: list[NotificationRule]) -> list[Ladder]:
    """ "Email at 0 min → ntfy at 1 min → SMS at 3 min" per urgency, saying what the engine does
    when an urgency has no rules of its own (see oncall.services.paging.routes_for)."""
    by_urgency: dict[str, list[NotificationRule]] = {value: [] for value in Urgency.values}
    for rule in rules:
        by_urgency[rule.urgency].append(rule)
    ladders = []
    for urgency, label in Urgency.choices:
        own = sorted(by_urgency[urgency], key=lambda rule: (rule.delay_minutes, rule.pk))
        if own:
            text = " → ".join(_rule_step(rule) for rule in own)
        elif urgency == Urgency.LOW and by_urgency[Urgency.HIGH]:
            text = "No rules of its own: low-urgency pages follow the high-urgency rules."
        elif user.email:
            text = f"No rules: Muster emails {user.email} at once (add a rule to choose for yourself)."
        else:
            text = "No rules and no email address: Muster cannot reach you. Add a contact method and a rule."
        ladders.append(Ladder(urgency=urgency, label=str(label), rules=own, text=text))
    return ladders


def profile_for_user(*, user: Any) -> Profile:
    """The saved profile, or the defaults a person who never saved one gets (not written here)."""
    profile = Profile.objects.filter(user=user).first()
    if profile is None:
        profile = Profile(user=user, time_zone=settings.TIME_ZONE)
    return profile
