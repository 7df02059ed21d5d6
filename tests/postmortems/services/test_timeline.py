from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from incidents.choices import IncidentStatus, TimelineKind
from incidents.models import person_name
from incidents.services import incident_add_note
from incidents.services.errors import DomainError
from postmortems.choices import SectionKey
from postmortems.models import Postmortem, TimelineEntry
from postmortems.services import (
    READ_ONLY_MESSAGE,
    postmortem_create,
    postmortem_publish,
    section_update,
    timeline_entry_add,
    timeline_entry_delete,
    timeline_entry_update,
    timeline_import,
)
from tests.factories import IncidentFactory, IntegrationFactory, TimelineEventFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def incident(service):
    return IncidentFactory(
        service=service, status=IncidentStatus.RESOLVED, resolved_at=T0 + timedelta(hours=1)
    )


def _event(incident, minutes, text, kind=TimelineKind.NOTE, **kwargs):
    return TimelineEventFactory(
        incident=incident, kind=kind, text=text, created_at=T0 + timedelta(minutes=minutes), **kwargs
    )


def _texts(postmortem):
    return list(postmortem.timeline_entries.order_by("occurred_at", "pk").values_list("text", flat=True))


def test_import_copies_each_event_with_its_time_kind_and_actor(incident, responder, sam):
    integration = IntegrationFactory(service=incident.service, name="Alertmanager prod")
    _event(incident, 0, "Error rate above 5%", kind=TimelineKind.TRIGGERED, actor_integration=integration)
    _event(incident, 4, "Acknowledged by Sam Okafor", kind=TimelineKind.ACKNOWLEDGED, actor_user=sam)
    _event(incident, 9, "Suppressed", kind=TimelineKind.SUPPRESSED)

    postmortem = postmortem_create(incident=incident, actor=responder)

    entries = list(postmortem.timeline_entries.order_by("occurred_at"))
    assert [(e.occurred_at, e.kind, e.actor, e.text, e.source_text) for e in entries] == [
        (T0, "triggered", "Alertmanager prod", "Error rate above 5%", "Error rate above 5%"),
        (
            T0 + timedelta(minutes=4),
            "acknowledged",
            "Sam Okafor",
            "Acknowledged by Sam Okafor",
            "Acknowledged by Sam Okafor",
        ),
        (T0 + timedelta(minutes=9), "suppressed", "Muster", "Suppressed", "Suppressed"),
    ]
    assert all(entry.included and not entry.edited for entry in entries)


def test_noisy_events_come_in_excluded(incident, responder):
    for minutes, kind in enumerate(
        [
            TimelineKind.PAGED,
            TimelineKind.PAGE_FAILED,
            TimelineKind.ESCALATED,
            TimelineKind.CHECKLIST_TICKED,
            TimelineKind.ALERT_ADDED,
        ]
    ):
        _event(incident, minutes, f"noisy {kind}", kind=kind)
    _event(incident, 10, "Rolled back", kind=TimelineKind.NOTE)

    postmortem = postmortem_create(incident=incident, actor=responder)

    included = dict(postmortem.timeline_entries.values_list("kind", "included"))
    assert included == {
        "paged": False,
        "page_failed": False,
        "escalated": False,
        "checklist_ticked": False,
        "alert_added": False,
        "note": True,
    }


def test_the_postmortems_own_events_and_action_items_are_not_imported(incident, responder):
    _event(incident, 1, "Rolled back")
    _event(incident, 2, "Rosa added action item: alert on p99", kind=TimelineKind.ACTION_ITEM_ADDED)
    postmortem = postmortem_create(incident=incident, actor=responder)  # writes POSTMORTEM_STARTED

    assert timeline_import(postmortem=postmortem, actor=responder) == 0
    assert _texts(postmortem) == ["Rolled back"]


def test_reimport_keeps_edits_and_exclusions_and_adds_only_new_events(incident, responder):
    _event(incident, 0, "Error rate above 5%")
    _event(incident, 5, "Restarted the pods")
    postmortem = postmortem_create(incident=incident, actor=responder)
    first, second = postmortem.timeline_entries.order_by("occurred_at")
    timeline_entry_update(entry=first, actor=responder, text="Error rate above 5% on checkout only")
    timeline_entry_update(entry=second, actor=responder, included=False)
    incident_add_note(incident=incident, text="Confirmed the fix with the payments team", actor=responder)

    added = timeline_import(postmortem=postmortem, actor=responder)

    assert added == 1
    assert _texts(postmortem) == [
        "Error rate above 5% on checkout only",
        "Restarted the pods",
        "Confirmed the fix with the payments team",
    ]
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.edited
    assert first.source_text == "Error rate above 5%"
    assert not second.included
    assert timeline_import(postmortem=postmortem, actor=responder) == 0
    assert postmortem.timeline_entries.count() == 3


def test_reimport_does_not_bring_back_an_excluded_entry(incident, responder):
    _event(incident, 0, "Paged Rosa", kind=TimelineKind.NOTE)
    postmortem = postmortem_create(incident=incident, actor=responder)
    entry = postmortem.timeline_entries.get()
    timeline_entry_update(entry=entry, actor=responder, included=False)

    timeline_import(postmortem=postmortem, actor=responder)

    assert list(postmortem.timeline_entries.values_list("included", flat=True)) == [False]


def test_import_records_when_it_ran(incident, responder):
    postmortem = postmortem_create(incident=incident, actor=responder)
    before = timezone.now()

    timeline_import(postmortem=postmortem, actor=responder)

    postmortem.refresh_from_db()
    assert postmortem.timeline_imported_at is not None
    assert postmortem.timeline_imported_at >= before


def test_import_runs_a_constant_number_of_queries_however_many_events(
    service, responder, django_assert_num_queries
):
    few = IncidentFactory(service=service)
    many = IncidentFactory(service=service)
    pm_few = postmortem_create(incident=few, actor=responder)
    pm_many = postmortem_create(incident=many, actor=responder)
    for minute in range(2):
        _event(few, minute, f"event {minute}", actor_user=responder)
    for minute in range(40):
        _event(many, minute, f"event {minute}", actor_user=responder)

    # savepoint, lock + read status, events (with their actors), one insert, save the import time,
    # release savepoint
    with django_assert_num_queries(6):
        assert timeline_import(postmortem=pm_few, actor=responder) == 2
    with django_assert_num_queries(6):
        assert timeline_import(postmortem=pm_many, actor=responder) == 40


def test_import_is_refused_once_published(incident, responder):
    postmortem = postmortem_create(incident=incident, actor=responder)
    section_update(postmortem=postmortem, key=SectionKey.SUMMARY, body="Down for 1 h.", actor=responder)
    postmortem_publish(postmortem=postmortem, actor=responder)
    _event(incident, 30, "Late note")

    with pytest.raises(DomainError, match=READ_ONLY_MESSAGE):
        timeline_import(postmortem=postmortem, actor=responder)

    assert "Late note" not in _texts(postmortem)


# --- hand-written entries ---------------------------------------------------------------------


def test_hand_written_entry_is_added_in_time_order(incident, responder):
    _event(incident, 0, "Error rate above 5%")
    _event(incident, 10, "Rolled back")
    postmortem = postmortem_create(incident=incident, actor=responder)

    entry = timeline_entry_add(
        postmortem=postmortem,
        actor=responder,
        occurred_at=T0 + timedelta(minutes=3),
        text=" Deploy 2026.03.4 went out ",
    )

    assert entry.source_event is None
    assert entry.actor == person_name(responder)
    assert _texts(postmortem) == ["Error rate above 5%", "Deploy 2026.03.4 went out", "Rolled back"]


def test_hand_written_entry_needs_text_and_an_aware_time(incident, responder):
    postmortem = postmortem_create(incident=incident, actor=responder)

    with pytest.raises(DomainError, match="needs some text"):
        timeline_entry_add(postmortem=postmortem, actor=responder, occurred_at=T0, text="  ")
    with pytest.raises(DomainError, match="time zone"):
        timeline_entry_add(
            postmortem=postmortem, actor=responder, occurred_at=datetime(2026, 3, 4, 10, 0), text="x"
        )


def test_entry_update_moves_an_entry_in_time(incident, responder):
    _event(incident, 0, "first")
    _event(incident, 10, "second")
    postmortem = postmortem_create(incident=incident, actor=responder)
    second = postmortem.timeline_entries.get(text="second")

    timeline_entry_update(entry=second, actor=responder, occurred_at=T0 - timedelta(minutes=1))

    assert _texts(postmortem) == ["second", "first"]


def test_hand_written_entry_can_be_deleted_but_an_imported_one_only_excluded(incident, responder):
    _event(incident, 0, "Error rate above 5%")
    postmortem = postmortem_create(incident=incident, actor=responder)
    imported = postmortem.timeline_entries.get()
    written = timeline_entry_add(
        postmortem=postmortem, actor=responder, occurred_at=T0, text="Deploy went out"
    )

    timeline_entry_delete(entry=written, actor=responder)
    with pytest.raises(DomainError, match="exclude it instead"):
        timeline_entry_delete(entry=imported, actor=responder)

    assert _texts(postmortem) == ["Error rate above 5%"]


def test_entries_of_a_published_postmortem_are_read_only(incident, responder):
    _event(incident, 0, "Error rate above 5%")
    postmortem = postmortem_create(incident=incident, actor=responder)
    written = timeline_entry_add(
        postmortem=postmortem, actor=responder, occurred_at=T0, text="Deploy went out"
    )
    section_update(postmortem=postmortem, key=SectionKey.SUMMARY, body="Down for 1 h.", actor=responder)
    postmortem_publish(postmortem=postmortem, actor=responder)
    entry = TimelineEntry.objects.get(pk=written.pk)

    with pytest.raises(DomainError, match=READ_ONLY_MESSAGE):
        timeline_entry_add(postmortem=postmortem, actor=responder, occurred_at=T0, text="Late")
    with pytest.raises(DomainError, match=READ_ONLY_MESSAGE):
        timeline_entry_update(entry=entry, actor=responder, text="Rewritten")
    with pytest.raises(DomainError, match=READ_ONLY_MESSAGE):
        timeline_entry_delete(entry=entry, actor=responder)

    assert _texts(postmortem) == ["Error rate above 5%", "Deploy went out"]


# --- two imports at once (only PostgreSQL runs them truly in parallel) --------------------------

THREADS = 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_imports_copy_each_event_once(incident, responder):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises every writer")
    postmortem = postmortem_create(incident=incident, actor=responder)
    for minute in range(20):
        _event(incident, minute, f"event {minute}")
    barrier = threading.Barrier(THREADS)
    added = [0] * THREADS
    errors = []

    def run(index: int) -> None:
        try:
            mine = Postmortem.objects.get(pk=postmortem.pk)
            barrier.wait(timeout=30)
            added[index] = timeline_import(postmortem=mine, actor=responder)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(added) == [0] * (THREADS - 1) + [20]
    assert postmortem.timeline_entries.count() == 20
