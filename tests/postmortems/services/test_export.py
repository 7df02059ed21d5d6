from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from incidents.choices import IncidentStatus, Severity, TimelineKind
from incidents.services.errors import DomainError
from postmortems.choices import SECTION_PROMPTS, ActionItemPriority, ActionItemStatus, SectionKey
from postmortems.services import (
    action_item_create,
    action_item_set_status,
    format_duration,
    postmortem_create,
    postmortem_export_markdown,
    postmortem_publish,
    section_update,
    timeline_entry_update,
)
from tests.factories import IncidentFactory, TimelineEventFactory

pytestmark = pytest.mark.django_db

DETECTED = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def incident(service):
    return IncidentFactory(
        service=service,
        number=42,
        title="Checkout returns 502s",
        severity=Severity.SEV1,
        status=IncidentStatus.RESOLVED,
        impact_started_at=DETECTED - timedelta(minutes=6),
        detected_at=DETECTED,
        acknowledged_at=DETECTED + timedelta(minutes=4),
        mitigated_at=DETECTED + timedelta(minutes=50),
        resolved_at=DETECTED + timedelta(hours=1, minutes=12),
    )


@pytest.fixture
def postmortem(incident, responder):
    TimelineEventFactory(
        incident=incident, kind=TimelineKind.TRIGGERED, text="Error rate above 5%", created_at=DETECTED
    )
    TimelineEventFactory(
        incident=incident,
        kind=TimelineKind.NOTE,
        text="Routed traffic | to the EU cluster",
        created_at=DETECTED + timedelta(minutes=20),
    )
    TimelineEventFactory(
        incident=incident,
        kind=TimelineKind.PAGED,
        text="Paged rosa by email",
        created_at=DETECTED + timedelta(minutes=1),
    )
    return postmortem_create(incident=incident, actor=responder)


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(seconds=30), "under 1 min"),
        (timedelta(minutes=4, seconds=59), "4 min"),
        (timedelta(hours=1), "1 h"),
        (timedelta(hours=1, minutes=12), "1 h 12 min"),
        (timedelta(days=1, hours=2, minutes=3), "26 h 3 min"),
    ],
)
def test_durations_read_like_people_say_them(duration, text):
    assert format_duration(duration) == text


def test_export_starts_with_the_facts_of_the_incident(postmortem, responder):
    text = postmortem_export_markdown(postmortem=postmortem, time_zone="Europe/Berlin")

    assert text.startswith("# Postmortem: Checkout returns 502s\n")
    assert "- **Incident:** INC-42: Checkout returns 502s" in text
    assert "- **Severity:** SEV1" in text
    assert "- **Service:** Checkout (team Payments)" in text
    assert f"- **Owner:** {responder.get_full_name()}" in text
    assert "- **Status:** Draft" in text
    assert "- **Due:** 2026-03-11" in text
    assert "- **Times are in:** Europe/Berlin" in text
    # 09:00 UTC is 10:00 in Berlin in March.
    assert "- **Detected:** 2026-03-04 10:00 (Europe/Berlin)" in text


def test_export_reports_the_metrics_as_durations(postmortem):
    text = postmortem_export_markdown(postmortem=postmortem, time_zone="UTC")

    assert "- **Time to detect:** 6 min" in text
    assert "- **Time to acknowledge:** 4 min" in text
    assert "- **Time to mitigate:** 50 min" in text
    assert "- **Time to resolve:** 1 h 12 min" in text


def test_export_has_every_section_in_order_with_prompts_for_empty_ones(postmortem, responder):
    section_update(postmortem=postmortem, key=SectionKey.SUMMARY, body="Checkout was down.", actor=responder)

    text = postmortem_export_markdown(postmortem=postmortem, time_zone="UTC")

    positions = [text.index(f"\n## {label}\n") for label in SectionKey.labels]
    assert positions == sorted(positions)
    assert "## Summary\n\nCheckout was down.\n" in text
    assert f"## Impact\n\n_Not written yet. {SECTION_PROMPTS[SectionKey.IMPACT]}_" in text


def test_export_timeline_lists_only_included_entries_in_the_given_time_zone(postmortem, responder):
    section_update(
        postmortem=postmortem, key=SectionKey.TIMELINE, body="The CDN had no part in it.", actor=responder
    )

    text = postmortem_export_markdown(postmortem=postmortem, time_zone="America/New_York")

    table = text.split("## Timeline\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert table == [
        "| Time (America/New_York) | Who | What |",
        "|---|---|---|",
        "| 2026-03-04 04:00 | Muster | Error rate above 5% |",
        "| 2026-03-04 04:20 | Muster | Routed traffic \\| to the EU cluster |",
    ]
    assert "Paged rosa" not in text
    assert (
        "| 2026-03-04 04:20 | Muster | Routed traffic \\| to the EU cluster |\n\nThe CDN had no part in it."
        in text
    )


def test_export_shows_edited_text_and_respects_exclusions(postmortem, responder):
    routed = postmortem.timeline_entries.get(kind=TimelineKind.NOTE)
    triggered = postmortem.timeline_entries.get(kind=TimelineKind.TRIGGERED)
    timeline_entry_update(entry=routed, actor=responder, text="Moved traffic\nto the EU cluster")
    timeline_entry_update(entry=triggered, actor=responder, included=False)

    text = postmortem_export_markdown(postmortem=postmortem, time_zone="UTC")

    assert "| 2026-03-04 09:20 | Muster | Moved traffic to the EU cluster |" in text
    assert "Error rate above 5%" not in text


def test_export_lists_action_items_with_status_owner_due_date_and_link(incident, postmortem, responder, sam):
    action_item_create(
        incident=incident,
        actor=responder,
        title="Alert on p99 latency",
        owner=sam,
        due_date=date(2026, 3, 20),
        priority=ActionItemPriority.HIGH,
        tracker_url="https://linear.app/acme/issue/OPS-12",
    )
    dropped = action_item_create(incident=incident, actor=responder, title="Rewrite checkout in Rust")
    action_item_set_status(
        item=dropped, actor=responder, status=ActionItemStatus.WONT_DO, reason="Not worth it"
    )

    text = postmortem_export_markdown(postmortem=postmortem, time_zone="UTC")

    items = text.split("## Action items\n\n", 1)[1]
    assert (
        "- [ ] **Alert on p99 latency** (Open; high priority; prevent; owner Sam Okafor; due 2026-03-20; "
        "tracker https://linear.app/acme/issue/OPS-12)"
    ) in items
    assert (
        "- [ ] **Rewrite checkout in Rust** (Won't do; medium priority; prevent; no owner; no due date)"
        in items
    )
    assert "  - Won't do: Not worth it" in items


def test_export_of_a_published_postmortem_says_who_published_it(postmortem, manager):
    section_update(postmortem=postmortem, key=SectionKey.SUMMARY, body="Down.", actor=manager)
    postmortem_publish(postmortem=postmortem, actor=manager)

    text = postmortem_export_markdown(postmortem=postmortem, time_zone="UTC")

    assert "- **Status:** Published" in text
    assert f"(UTC) by {manager.get_full_name()}" in text
    assert "_None recorded._" in text


def test_export_refuses_an_unknown_time_zone(postmortem):
    with pytest.raises(DomainError, match="not a time zone"):
        postmortem_export_markdown(postmortem=postmortem, time_zone="Mars/Olympus_Mons")
