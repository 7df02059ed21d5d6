from __future__ import annotations

from datetime import date

import pytest

from incidents.choices import TimelineKind
from incidents.models import AuditEntry, TimelineEvent
from incidents.services.errors import DomainError, InvalidTransition
from postmortems.choices import ActionItemKind, ActionItemPriority, ActionItemStatus, SectionKey
from postmortems.models import ActionItem
from postmortems.services import (
    action_item_create,
    action_item_set_status,
    action_item_update,
    postmortem_create,
    postmortem_publish,
    section_update,
)
from tests.factories import ActionItemFactory, IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(service):
    return IncidentFactory(service=service)


def _item(incident, owner, **kwargs):
    return ActionItemFactory(incident=incident, owner=owner, **kwargs)


# --- create -----------------------------------------------------------------------------------


def test_create_writes_the_item_and_says_so_on_the_incident_timeline(incident, responder, sam):
    item = action_item_create(
        incident=incident,
        actor=responder,
        title=" Alert on checkout p99 latency ",
        description="Page when p99 > 2 s for 5 min.",
        owner=sam,
        due_date=date(2026, 4, 1),
        priority=ActionItemPriority.HIGH,
        kind=ActionItemKind.DETECT,
        tracker_url="https://linear.app/acme/issue/OPS-12",
    )

    item.refresh_from_db()
    assert item.title == "Alert on checkout p99 latency"
    assert (item.owner, item.due_date, item.priority, item.kind) == (
        sam,
        date(2026, 4, 1),
        ActionItemPriority.HIGH,
        ActionItemKind.DETECT,
    )
    assert item.status == ActionItemStatus.OPEN
    assert item.created_by == responder
    event = TimelineEvent.objects.get(incident=incident, kind=TimelineKind.ACTION_ITEM_ADDED)
    assert event.text.endswith("added action item: Alert on checkout p99 latency")
    assert event.data == {"action_item_id": item.pk}
    assert AuditEntry.objects.filter(action="action_item.create", object_id=str(item.pk)).exists()


def test_create_works_without_a_postmortem_and_after_it_is_published(incident, responder):
    action_item_create(incident=incident, actor=responder, title="Before the postmortem")
    postmortem = postmortem_create(incident=incident, actor=responder)
    section_update(postmortem=postmortem, key=SectionKey.SUMMARY, body="Down.", actor=responder)
    postmortem_publish(postmortem=postmortem, actor=responder)

    action_item_create(incident=incident, actor=responder, title="After publishing")

    assert set(incident.action_items.values_list("title", flat=True)) == {
        "Before the postmortem",
        "After publishing",
    }


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "ftp://tracker.example.org/1", "not a link", "file:///etc"]
)
def test_create_refuses_a_tracker_link_that_is_not_http(incident, responder, url):
    with pytest.raises(DomainError, match="http:// or https://"):
        action_item_create(incident=incident, actor=responder, title="Fix it", tracker_url=url)

    assert not ActionItem.objects.exists()


def test_create_refuses_bad_title_priority_kind_and_inactive_owner(incident, responder):
    with pytest.raises(DomainError, match="needs a title"):
        action_item_create(incident=incident, actor=responder, title="  ")
    with pytest.raises(DomainError, match="Priority must be one of"):
        action_item_create(incident=incident, actor=responder, title="x", priority="urgent")
    with pytest.raises(DomainError, match="Kind must be one of"):
        action_item_create(incident=incident, actor=responder, title="x", kind="blame")
    with pytest.raises(DomainError, match="only active users"):
        action_item_create(
            incident=incident, actor=responder, title="x", owner=UserFactory(username="left", is_active=False)
        )

    assert not ActionItem.objects.exists()


# --- update -----------------------------------------------------------------------------------


def test_update_changes_only_the_given_fields_and_audits_them(incident, responder, sam):
    item = _item(incident, responder, due_date=date(2026, 4, 1), tracker_url="https://example.org/1")

    action_item_update(item=item, actor=responder, owner=sam, due_date=None)

    item.refresh_from_db()
    assert item.owner == sam
    assert item.due_date is None
    assert item.tracker_url == "https://example.org/1"
    entry = AuditEntry.objects.get(action="action_item.update")
    assert entry.data == {"owner": ["rosa", "sam"], "due_date": ["2026-04-01", None]}


def test_update_that_changes_nothing_writes_nothing(incident, responder):
    item = _item(incident, responder, title="Same")
    updated_at = item.updated_at

    action_item_update(item=item, actor=responder, title="Same", owner=responder)

    item.refresh_from_db()
    assert item.updated_at == updated_at
    assert not AuditEntry.objects.filter(action="action_item.update").exists()


def test_update_clears_the_tracker_link_with_an_empty_string(incident, responder):
    item = _item(incident, responder, tracker_url="https://example.org/1")

    action_item_update(item=item, actor=responder, tracker_url="")

    item.refresh_from_db()
    assert item.tracker_url == ""


def test_update_validates_like_create(incident, responder):
    item = _item(incident, responder)

    with pytest.raises(DomainError, match="http:// or https://"):
        action_item_update(item=item, actor=responder, tracker_url="javascript:alert(1)")
    with pytest.raises(DomainError, match="Priority must be one of"):
        action_item_update(item=item, actor=responder, priority="urgent")


# --- status -----------------------------------------------------------------------------------


def test_start_then_finish_records_who_closed_it_and_when(incident, responder, sam):
    item = _item(incident, responder)

    action_item_set_status(item=item, actor=responder, status=ActionItemStatus.IN_PROGRESS)
    action_item_set_status(item=item, actor=sam, status=ActionItemStatus.DONE)

    item.refresh_from_db()
    assert item.status == ActionItemStatus.DONE
    assert item.closed_by == sam
    assert item.closed_at is not None
    assert list(
        AuditEntry.objects.filter(action="action_item.status").order_by("pk").values_list("data", flat=True)
    ) == [{"status": ["open", "in_progress"]}, {"status": ["in_progress", "done"]}]


def test_wont_do_needs_a_reason(incident, responder):
    item = _item(incident, responder)

    with pytest.raises(DomainError, match="Say why"):
        action_item_set_status(item=item, actor=responder, status=ActionItemStatus.WONT_DO, reason="  ")

    action_item_set_status(
        item=item, actor=responder, status=ActionItemStatus.WONT_DO, reason="The service is being retired."
    )
    item.refresh_from_db()
    assert item.status == ActionItemStatus.WONT_DO
    assert item.wont_do_reason == "The service is being retired."
    assert item.closed_by == responder


def test_done_on_a_high_priority_item_needs_a_verification(incident, responder):
    item = _item(incident, responder, priority=ActionItemPriority.HIGH)

    with pytest.raises(DomainError, match="needs a verification"):
        action_item_set_status(item=item, actor=responder, status=ActionItemStatus.DONE)

    item.refresh_from_db()
    assert item.status == ActionItemStatus.OPEN
    action_item_set_status(
        item=item, actor=responder, status=ActionItemStatus.DONE, verification="Load test at 2x peak passed."
    )
    item.refresh_from_db()
    assert item.status == ActionItemStatus.DONE
    assert item.verification == "Load test at 2x peak passed."


def test_done_on_a_medium_priority_item_needs_no_verification(incident, responder):
    item = _item(incident, responder, priority=ActionItemPriority.MEDIUM)

    action_item_set_status(item=item, actor=responder, status=ActionItemStatus.DONE)

    item.refresh_from_db()
    assert item.status == ActionItemStatus.DONE


def test_reopen_clears_who_closed_it_but_keeps_the_texts(incident, responder):
    item = _item(incident, responder, priority=ActionItemPriority.HIGH)
    action_item_set_status(item=item, actor=responder, status=ActionItemStatus.DONE, verification="Tested")

    action_item_set_status(item=item, actor=responder, status=ActionItemStatus.OPEN)

    item.refresh_from_db()
    assert item.status == ActionItemStatus.OPEN
    assert item.closed_at is None
    assert item.closed_by is None
    assert item.verification == "Tested"


def test_a_reopened_high_priority_item_needs_a_new_verification(incident, responder):
    item = _item(incident, responder, priority=ActionItemPriority.HIGH)
    action_item_set_status(item=item, actor=responder, status=ActionItemStatus.DONE, verification="Tested")
    action_item_set_status(item=item, actor=responder, status=ActionItemStatus.OPEN)

    with pytest.raises(DomainError, match="needs a verification"):
        action_item_set_status(item=item, actor=responder, status=ActionItemStatus.DONE)


@pytest.mark.parametrize(
    ("closed", "target"),
    [
        (ActionItemStatus.DONE, ActionItemStatus.IN_PROGRESS),
        (ActionItemStatus.DONE, ActionItemStatus.WONT_DO),
        (ActionItemStatus.WONT_DO, ActionItemStatus.DONE),
        (ActionItemStatus.WONT_DO, ActionItemStatus.IN_PROGRESS),
    ],
)
def test_a_closed_item_must_be_reopened_before_anything_else(incident, responder, closed, target):
    item = _item(incident, responder, status=closed)

    with pytest.raises(InvalidTransition, match="reopen it first"):
        action_item_set_status(item=item, actor=responder, status=target, reason="r", verification="v")

    item.refresh_from_db()
    assert item.status == closed


def test_setting_the_same_status_changes_nothing(incident, responder):
    item = _item(incident, responder, status=ActionItemStatus.IN_PROGRESS)

    action_item_set_status(item=item, actor=responder, status=ActionItemStatus.IN_PROGRESS)

    assert not AuditEntry.objects.filter(action="action_item.status").exists()


def test_an_unknown_status_is_refused(incident, responder):
    with pytest.raises(DomainError, match="Status must be one of"):
        action_item_set_status(item=_item(incident, responder), actor=responder, status="finished")


def test_status_is_judged_on_the_current_row_not_a_stale_copy(incident, responder):
    item = _item(incident, responder)
    stale = ActionItem.objects.get(pk=item.pk)
    action_item_set_status(item=item, actor=responder, status=ActionItemStatus.WONT_DO, reason="Not needed")

    with pytest.raises(InvalidTransition):
        action_item_set_status(item=stale, actor=responder, status=ActionItemStatus.DONE)


def test_action_items_of_a_published_postmortem_still_change(incident, responder, sam):
    item = _item(incident, responder)
    postmortem = postmortem_create(incident=incident, actor=responder)
    section_update(postmortem=postmortem, key=SectionKey.SUMMARY, body="Down.", actor=responder)
    postmortem_publish(postmortem=postmortem, actor=responder)

    action_item_update(item=item, actor=responder, owner=sam)
    action_item_set_status(item=item, actor=sam, status=ActionItemStatus.DONE)

    item.refresh_from_db()
    assert (item.owner, item.status) == (sam, ActionItemStatus.DONE)
