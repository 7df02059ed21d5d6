from __future__ import annotations

import pytest
from django.utils import timezone

from incidents.choices import IncidentStatus, TimelineKind
from incidents.models import TimelineEvent
from incidents.services import DomainError, incident_mark_mitigated
from runbooks.models import ChecklistTick, ReviewRequest, RunbookUse
from runbooks.services import (
    checklist_tick,
    checklist_untick,
    revision_create,
    runbook_attach,
    runbook_create,
    runbook_use_feedback,
)
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db

BODY = """# Checkout 5xx

1. Look at the error dashboard.

- [ ] Failover the primary
- [ ] Drain the bad pod
"""


@pytest.fixture
def runbook(team, service, sam):
    return runbook_create(team=team, title="Checkout 5xx", body=BODY, actor=sam, services=[service])


@pytest.fixture
def incident(service):
    return IncidentFactory(service=service)


def events(incident, kind):
    return list(TimelineEvent.objects.filter(incident=incident, kind=kind).values_list("text", flat=True))


def test_attaching_records_the_current_revision_on_the_timeline(incident, runbook, sam):
    revision_create(runbook=runbook, body=BODY + "- [ ] Tell support\n", actor=sam, note="support step")

    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)

    assert use.revision.number == 2
    assert use.attached_by == sam
    assert events(incident, TimelineKind.RUNBOOK_ATTACHED) == [
        "Runbook 'Checkout 5xx' (revision 2) attached by Sam Okafor"
    ]


def test_attaching_twice_keeps_the_first_use_and_one_timeline_event(incident, runbook, sam, responder):
    first = runbook_attach(incident=incident, runbook=runbook, actor=sam)
    revision_create(runbook=runbook, body=BODY + "- [ ] Tell support\n", actor=sam)

    second = runbook_attach(incident=incident, runbook=runbook, actor=responder)

    assert second.pk == first.pk
    assert second.revision.number == 1  # the responders keep the text they started with
    assert RunbookUse.objects.count() == 1
    assert len(events(incident, TimelineKind.RUNBOOK_ATTACHED)) == 1


def test_ticking_records_who_and_when_without_changing_the_runbook(incident, runbook, sam):
    text_before = runbook.current_revision.body
    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)

    tick = checklist_tick(use=use, item=0, actor=sam)

    assert (tick.item, tick.text, tick.ticked_by) == (0, "Failover the primary", sam)
    assert tick.ticked_at <= timezone.now()
    assert events(incident, TimelineKind.CHECKLIST_TICKED) == [
        "\u2713 Failover the primary (Checkout 5xx) \u2014 ticked by Sam Okafor"
    ]
    runbook.refresh_from_db()
    assert runbook.revisions.count() == 1
    assert runbook.current_revision.body == text_before
    assert "- [ ] Failover the primary" in text_before


def test_ticking_twice_is_one_tick_and_one_event(incident, runbook, sam, responder):
    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)
    checklist_tick(use=use, item=1, actor=sam)

    again = checklist_tick(use=use, item=1, actor=responder)

    assert again.ticked_by == sam
    assert ChecklistTick.objects.count() == 1
    assert len(events(incident, TimelineKind.CHECKLIST_TICKED)) == 1


def test_unticking_removes_the_tick_and_says_so_on_the_timeline(incident, runbook, sam):
    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)
    checklist_tick(use=use, item=1, actor=sam)

    checklist_untick(use=use, item=1, actor=sam)
    checklist_untick(use=use, item=1, actor=sam)  # nothing left to untick: no second event

    assert not ChecklistTick.objects.exists()
    assert events(incident, TimelineKind.CHECKLIST_TICKED) == [
        "\u2713 Drain the bad pod (Checkout 5xx) \u2014 ticked by Sam Okafor",
        "\u2610 Drain the bad pod (Checkout 5xx) \u2014 unticked by Sam Okafor",
    ]


def test_items_come_from_the_attached_revision_not_the_newest(incident, runbook, sam):
    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)
    revision_create(runbook=runbook, body="- [ ] Something else entirely\n", actor=sam)

    tick = checklist_tick(use=use, item=0, actor=sam)

    assert tick.text == "Failover the primary"


def test_an_item_the_checklist_does_not_have_is_refused(incident, runbook, sam):
    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)

    with pytest.raises(DomainError, match="no checklist item 3"):
        checklist_tick(use=use, item=2, actor=sam)
    assert not ChecklistTick.objects.exists()


def test_feedback_waits_until_the_impact_has_stopped(incident, runbook, sam):
    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)

    with pytest.raises(DomainError, match="mitigated or resolved"):
        runbook_use_feedback(use=use, accurate=True, actor=sam)

    incident_mark_mitigated(incident=incident, actor=sam)
    use = runbook_use_feedback(use=use, accurate=True, actor=sam)

    assert (use.accurate, use.answered_by) == (True, sam)
    assert events(incident, TimelineKind.RUNBOOK_FEEDBACK) == [
        "Runbook 'Checkout 5xx' (revision 1) was accurate \u2014 Sam Okafor"
    ]
    assert not ReviewRequest.objects.exists()


def test_not_accurate_asks_the_owners_to_review_with_the_reason_and_the_incident(service, runbook, sam):
    incident = IncidentFactory(service=service, status=IncidentStatus.RESOLVED, resolved_at=timezone.now())
    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)

    runbook_use_feedback(use=use, accurate=False, reason="The primary is db-eu2 now", actor=sam)
    runbook_use_feedback(use=use, accurate=False, reason="The primary is db-eu2 now", actor=sam)

    [request] = ReviewRequest.objects.all()
    assert (request.runbook, request.incident, request.requested_by) == (runbook, incident, sam)
    assert request.reason == "The primary is db-eu2 now"
    use.refresh_from_db()
    assert use.accurate is False
    assert events(incident, TimelineKind.RUNBOOK_FEEDBACK) == [
        "Runbook 'Checkout 5xx' (revision 1) was not accurate: The primary is db-eu2 now \u2014 Sam Okafor; "
        "review requested"
    ]


def test_not_accurate_needs_a_reason(service, runbook, sam):
    incident = IncidentFactory(service=service, status=IncidentStatus.RESOLVED)
    use = runbook_attach(incident=incident, runbook=runbook, actor=sam)

    with pytest.raises(DomainError, match="what was wrong"):
        runbook_use_feedback(use=use, accurate=False, reason="  ", actor=sam)
    assert not ReviewRequest.objects.exists()
