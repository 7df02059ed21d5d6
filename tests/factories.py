from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from incidents.choices import IncidentStatus, IntegrationKind, Role, Severity
from incidents.models import Alert, Incident, Integration, Membership, Service, Team, TimelineEvent

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")

    @factory.post_generation
    def password(obj: Any, create: bool, extracted: str | None, **kwargs: object) -> None:
        obj.set_password(extracted or DEFAULT_PASSWORD)
        if create:
            obj.save(update_fields=["password"])


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.RESPONDER


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Service {n}")
    slug = factory.Sequence(lambda n: f"service-{n}")
    team = factory.SubFactory(TeamFactory)


class IntegrationFactory(factory.django.DjangoModelFactory):
    """`integration.plain_key` holds the key a sender would use (only its hash is stored)."""

    class Meta:
        model = Integration

    service = factory.SubFactory(ServiceFactory)
    kind = IntegrationKind.PAGERDUTY
    name = factory.LazyAttribute(lambda i: IntegrationKind(i.kind).label)

    @classmethod
    def _create(cls, model_class: type[Integration], *args: object, **kwargs: object) -> Integration:
        key = kwargs.pop("plain_key", None) or Integration.new_key()
        integration = model_class(*args, **kwargs)
        integration.set_key(str(key))
        integration.save()
        integration.plain_key = key  # type: ignore[attr-defined]
        return integration


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    number = factory.Sequence(lambda n: n + 1000)
    title = factory.Sequence(lambda n: f"Checkout error rate above 5% (#{n})")
    service = factory.SubFactory(ServiceFactory)
    severity = Severity.SEV2
    status = IncidentStatus.TRIGGERED
    detected_at = factory.LazyFunction(timezone.now)


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Alert

    integration = factory.SubFactory(IntegrationFactory)
    incident = factory.SubFactory(IncidentFactory, service=factory.SelfAttribute("..integration.service"))
    dedup_key = factory.Sequence(lambda n: f"alert-{n}")
    summary = "Error rate above threshold"


class TimelineEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimelineEvent

    incident = factory.SubFactory(IncidentFactory)
    kind = "note"
    text = "Looking at the dashboards"


class ContactMethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "oncall.ContactMethod"

    user = factory.SubFactory(UserFactory)
    kind = "email"
    address = factory.LazyAttribute(lambda c: c.user.email)


class NotificationRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "oncall.NotificationRule"

    contact_method = factory.SubFactory(ContactMethodFactory)
    user = factory.SelfAttribute("contact_method.user")
    urgency = "high"
    delay_minutes = 0


class EscalationPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "oncall.EscalationPolicy"

    name = factory.Sequence(lambda n: f"Policy {n}")
    team = factory.SubFactory(TeamFactory)


class EscalationStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "oncall.EscalationStep"
        skip_postgeneration_save = True

    policy = factory.SubFactory(EscalationPolicyFactory)
    position = factory.Sequence(lambda n: n)
    delay_minutes = 10

    @factory.post_generation
    def users(obj: Any, create: bool, extracted: list[Any] | None, **kwargs: object) -> None:
        if create and extracted:
            obj.users.set(extracted)

    @factory.post_generation
    def schedules(obj: Any, create: bool, extracted: list[Any] | None, **kwargs: object) -> None:
        if create and extracted:
            obj.schedules.set(extracted)

    @factory.post_generation
    def teams(obj: Any, create: bool, extracted: list[Any] | None, **kwargs: object) -> None:
        if create and extracted:
            obj.teams.set(extracted)


# --- schedules ---


class ScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "oncall.Schedule"

    name = factory.Sequence(lambda n: f"Schedule {n}")
    team = factory.SubFactory(TeamFactory)
    time_zone = "UTC"


class LayerFactory(factory.django.DjangoModelFactory):
    """`participants=[user, …]` writes the layer's first epoch (effective from its start)."""

    class Meta:
        model = "oncall.Layer"
        skip_postgeneration_save = True

    schedule = factory.SubFactory(ScheduleFactory)
    # On top of the schedule's other layers, as layer_create puts it.
    position = factory.LazyAttribute(lambda layer: layer.schedule.layers.count())
    shift_count = 1
    shift_unit = "weeks"
    start_date = factory.LazyFunction(lambda: timezone.now().date())
    handoff_time = time(9, 0)

    @factory.post_generation
    def participants(obj: Any, create: bool, extracted: list[Any] | None, **kwargs: object) -> None:
        if create and extracted is not None:
            obj.epochs.create(
                effective_from=datetime.combine(obj.start_date, obj.handoff_time, tzinfo=UTC),
                participants=[user.pk for user in extracted],
            )


class OverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "oncall.Override"

    schedule = factory.SubFactory(ScheduleFactory)
    user = factory.SubFactory(UserFactory)
    starts_at = factory.LazyFunction(timezone.now)
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=8))


class RunbookFactory(factory.django.DjangoModelFactory):
    """A runbook with its text as revision 1 (pass `body=`), pointed at by `current_revision`."""

    class Meta:
        model = "runbooks.Runbook"
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Runbook {n}")
    slug = factory.Sequence(lambda n: f"runbook-{n}")
    team = factory.SubFactory(TeamFactory)

    @factory.post_generation
    def body(obj: Any, create: bool, extracted: str | None, **kwargs: object) -> None:
        if create and obj.current_revision_id is None:
            obj.current_revision = RunbookRevisionFactory(
                runbook=obj, number=1, body=extracted or f"# {obj.title}\n\n- [ ] Check the dashboard"
            )
            obj.save(update_fields=["current_revision"])


class RunbookRevisionFactory(factory.django.DjangoModelFactory):
    """A revision row only; it does not move the runbook's `current_revision`."""

    class Meta:
        model = "runbooks.RunbookRevision"

    runbook = factory.SubFactory(RunbookFactory)
    number = factory.Sequence(lambda n: n + 2)
    body = factory.Sequence(lambda n: f"Step {n}")
    note = ""


class PostmortemFactory(factory.django.DjangoModelFactory):
    """A postmortem row only (no sections, no timeline): services build the real thing."""

    class Meta:
        model = "postmortems.Postmortem"

    incident = factory.SubFactory(IncidentFactory)
    title = factory.LazyAttribute(lambda o: o.incident.title)


class ActionItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "postmortems.ActionItem"

    incident = factory.SubFactory(IncidentFactory)
    title = factory.Sequence(lambda n: f"Alert on checkout p99 latency (#{n})")
    owner = factory.SubFactory(UserFactory)
