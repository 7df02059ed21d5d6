from __future__ import annotations

import json
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from incidents.choices import IncidentStatus, Severity, TimelineKind
from incidents.models import Incident, Profile, TimelineEvent
from oncall.services import profile_update
from postmortems.blameless import blameless_warnings
from postmortems.choices import ActionItemPriority, ActionItemStatus, PostmortemStatus, SectionKey
from postmortems.dates import person_today
from postmortems.models import (
    ActionItem,
    Postmortem,
    PostmortemReviewer,
    ReviewComment,
    TimelineEntry,
)
from tests.clients import api_client_for

pytestmark = pytest.mark.django_db


def seed() -> dict:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return json.loads(out.getvalue())


def demo_postmortem() -> Postmortem:
    return Postmortem.objects.select_related("incident__service", "published_by", "owner").get()


def test_the_demo_has_a_resolved_sev2_checkout_incident_with_a_believable_timeline():
    seed()
    incident = Incident.objects.get(postmortem__isnull=False)

    assert incident.service.slug == "checkout"
    assert incident.severity == Severity.SEV2
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.impact_started_at < incident.detected_at < incident.acknowledged_at
    assert incident.acknowledged_at < incident.mitigated_at < incident.resolved_at
    assert 45 <= (incident.resolved_at - incident.detected_at).total_seconds() / 60 <= 90
    assert 1 <= (timezone.now() - incident.resolved_at).days <= 7
    events = {event.kind: event.created_at for event in incident.timeline.all()}
    # Each lifecycle event happened when the incident says it did.
    assert events[TimelineKind.DECLARED] == incident.detected_at
    assert events[TimelineKind.ACKNOWLEDGED] == incident.acknowledged_at
    assert events[TimelineKind.MITIGATED] == incident.mitigated_at
    assert events[TimelineKind.RESOLVED] == incident.resolved_at
    notes = incident.timeline.filter(kind=TimelineKind.NOTE).order_by("created_at")
    assert notes.count() >= 3
    assert all(incident.detected_at < note.created_at < incident.resolved_at for note in notes)


def test_the_postmortem_is_blameless_reviewed_and_published_by_morgan():
    result = seed()
    postmortem = demo_postmortem()

    assert postmortem.status == PostmortemStatus.PUBLISHED
    assert postmortem.published_by.username == "morgan"
    assert postmortem.owner.username == "riley"
    assert postmortem.incident.resolved_at < postmortem.created_at < postmortem.published_at < timezone.now()
    bodies = dict(postmortem.sections.values_list("key", "body"))
    assert set(bodies) == set(SectionKey.values)
    assert all(body.strip() for body in bodies.values())
    assert {key: blameless_warnings(body) for key, body in bodies.items() if blameless_warnings(body)} == {}
    approved = PostmortemReviewer.objects.filter(postmortem=postmortem, approved_at__isnull=False)
    assert approved.exclude(user=postmortem.owner).exists()
    assert ReviewComment.objects.filter(postmortem=postmortem).exists()
    imported = TimelineEntry.objects.filter(postmortem=postmortem, source_event__isnull=False)
    assert imported.filter(kind=TimelineKind.RESOLVED).exists()
    assert TimelineEntry.objects.filter(postmortem=postmortem, source_event__isnull=True).exists()
    assert result["postmortem"] == f"{settings.MUSTER_BASE_URL}/postmortems/{postmortem.incident.number}/"


def test_the_action_items_show_the_whole_flow():
    seed()
    incident = demo_postmortem().incident
    items = list(ActionItem.objects.filter(incident=incident).select_related("owner__profile"))
    open_items = [item for item in items if item.is_open]

    assert len(open_items) >= 3
    overdue = [item for item in items if item.is_overdue(person_today(item.owner))]
    assert len(overdue) == 1
    assert {item.owner.username for item in open_items} >= {"riley", "sam"}
    zones = {item.owner.profile.time_zone for item in open_items}
    assert len(zones) >= 2
    assert all(ZoneInfo(zone) for zone in zones)
    assert any(item.priority == ActionItemPriority.HIGH and item.tracker_url for item in open_items)
    done = [item for item in items if item.status == ActionItemStatus.DONE]
    assert len(done) == 1
    assert done[0].verification
    assert done[0].closed_at is not None
    # One was written down during the incident, before the postmortem existed.
    assert any(item.created_at < incident.resolved_at for item in items)


def test_a_demo_user_sees_the_flow_through_the_api():
    seed()
    riley = get_user_model().objects.get(username="riley")
    number = demo_postmortem().incident.number
    client = api_client_for(riley)

    data = client.get(f"/api/v1/postmortems/{number}/").json()
    mine = client.get("/api/v1/action-items/", {"owner": "riley", "status": "open"}).json()["results"]

    assert data["status"] == "published"
    assert data["action_item_counts"]["overdue"] == 1
    assert len(mine) >= 2
    assert client.get(f"/api/v1/postmortems/{number}/export/").status_code == 200


def test_running_it_twice_changes_nothing():
    first = seed()
    counts = [
        model.objects.count()
        for model in (
            Incident,
            TimelineEvent,
            Postmortem,
            TimelineEntry,
            ActionItem,
            ReviewComment,
            PostmortemReviewer,
        )
    ]
    zones = dict(Profile.objects.values_list("user__username", "time_zone"))

    second = seed()

    assert second == first
    assert counts == [
        model.objects.count()
        for model in (
            Incident,
            TimelineEvent,
            Postmortem,
            TimelineEntry,
            ActionItem,
            ReviewComment,
            PostmortemReviewer,
        )
    ]
    assert dict(Profile.objects.values_list("user__username", "time_zone")) == zones


def test_a_time_zone_someone_chose_is_kept():
    seed()
    sam = get_user_model().objects.get(username="sam")
    profile_update(user=sam, actor=sam, time_zone="Asia/Kolkata")

    seed()

    sam.profile.refresh_from_db()
    assert sam.profile.time_zone == "Asia/Kolkata"
