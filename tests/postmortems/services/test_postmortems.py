from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine

from incidents.choices import IncidentStatus, Severity, TimelineKind
from incidents.models import AuditEntry, Profile, TimelineEvent
from incidents.services.errors import DomainError
from postmortems.choices import PostmortemStatus, SectionKey
from postmortems.models import Postmortem, PostmortemSection
from postmortems.services import (
    READ_ONLY_MESSAGE,
    SECTION_MAX_LENGTH,
    UNSET,
    postmortem_create,
    postmortem_due_date,
    postmortem_publish,
    postmortem_update,
    section_update,
)
from tests.factories import IncidentFactory, TimelineEventFactory, UserFactory

pytestmark = pytest.mark.django_db

# 2026-03-06 is a Friday.
FRIDAY_4PM = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
SATURDAY_NOON = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)


def _resolved(service, *, at=FRIDAY_4PM, severity=Severity.SEV1, **kwargs):
    return IncidentFactory(
        service=service, severity=severity, status=IncidentStatus.RESOLVED, resolved_at=at, **kwargs
    )


def _live_in(user, zone):
    profile, _ = Profile.objects.get_or_create(user=user)
    profile.time_zone = zone
    profile.save()
    user.profile = profile


def _published(postmortem, actor):
    section_update(postmortem=postmortem, key=SectionKey.SUMMARY, body="The checkout was down.", actor=actor)
    return postmortem_publish(postmortem=postmortem, actor=actor)


# --- postmortem_create ------------------------------------------------------------------------


def test_create_starts_a_draft_with_every_template_section_owned_by_the_actor(service, responder):
    incident = _resolved(service, title="Checkout returns 502s")

    postmortem = postmortem_create(incident=incident, actor=responder)

    assert postmortem.title == "Checkout returns 502s"
    assert postmortem.owner == responder
    assert postmortem.created_by == responder
    assert postmortem.status == PostmortemStatus.DRAFT
    keys = list(postmortem.sections.values_list("key", flat=True))
    assert sorted(keys) == sorted(SectionKey.values)
    assert len(keys) == 11
    assert all(body == "" for body in postmortem.sections.values_list("body", flat=True))


def test_create_takes_the_given_owner_and_title(service, responder, sam):
    incident = _resolved(service)

    postmortem = postmortem_create(incident=incident, actor=responder, owner=sam, title="  Checkout outage ")

    assert postmortem.owner == sam
    assert postmortem.title == "Checkout outage"


def test_create_imports_the_incident_timeline(service, responder):
    incident = _resolved(service)
    TimelineEventFactory(incident=incident, kind=TimelineKind.NOTE, text="Rolled back the deploy")

    postmortem = postmortem_create(incident=incident, actor=responder)

    assert list(postmortem.timeline_entries.values_list("text", flat=True)) == ["Rolled back the deploy"]
    assert postmortem.timeline_imported_at is not None


def test_create_records_the_start_on_the_incident_timeline_and_in_the_audit_log(service, responder):
    incident = _resolved(service)

    postmortem = postmortem_create(incident=incident, actor=responder)

    event = TimelineEvent.objects.get(incident=incident, kind=TimelineKind.POSTMORTEM_STARTED)
    assert event.actor_user == responder
    assert "started the postmortem" in event.text
    assert AuditEntry.objects.filter(action="postmortem.create", object_id=str(postmortem.pk)).exists()


def test_create_sets_the_due_date_from_the_severity(service, responder):
    incident = _resolved(service, at=FRIDAY_4PM, severity=Severity.SEV1)

    postmortem = postmortem_create(incident=incident, actor=responder)

    assert postmortem.due_date == date(2026, 3, 13)


def test_second_postmortem_for_the_same_incident_is_refused(service, responder):
    incident = _resolved(service)
    postmortem_create(incident=incident, actor=responder)

    with pytest.raises(DomainError, match="already has a postmortem"):
        postmortem_create(incident=incident, actor=responder)

    assert Postmortem.objects.filter(incident=incident).count() == 1


def test_create_refuses_an_inactive_owner(service, responder):
    gone = UserFactory(username="gone", is_active=False)

    with pytest.raises(DomainError, match="only active users"):
        postmortem_create(incident=_resolved(service), actor=responder, owner=gone)


# --- due dates --------------------------------------------------------------------------------


def test_due_five_business_days_after_a_friday_resolution_is_the_next_friday(service):
    assert postmortem_due_date(incident=_resolved(service, at=FRIDAY_4PM)) == date(2026, 3, 13)


def test_due_date_counts_a_saturday_resolution_from_monday(service):
    assert postmortem_due_date(incident=_resolved(service, at=SATURDAY_NOON)) == date(2026, 3, 13)


def test_due_date_of_a_wednesday_resolution_skips_the_weekend(service):
    wednesday = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    assert postmortem_due_date(incident=_resolved(service, at=wednesday)) == date(2026, 3, 11)


def test_severities_without_a_configured_due_time_have_no_due_date(service):
    assert postmortem_due_date(incident=_resolved(service, severity=Severity.SEV3)) is None
    assert postmortem_due_date(incident=_resolved(service, severity=Severity.SEV4)) is None


def test_due_business_days_come_from_settings(service, settings):
    settings.MUSTER_POSTMORTEM_DUE_BUSINESS_DAYS = {1: 2, 3: 10}

    assert postmortem_due_date(incident=_resolved(service, severity=Severity.SEV1)) == date(2026, 3, 10)
    assert postmortem_due_date(incident=_resolved(service, severity=Severity.SEV2)) is None
    assert postmortem_due_date(incident=_resolved(service, severity=Severity.SEV3)) == date(2026, 3, 20)


def test_due_date_counts_from_the_owners_local_date(service, responder):
    # 23:30 UTC on Friday is already Saturday in Tokyo: counting starts Monday there.
    late_friday = datetime(2026, 3, 6, 23, 30, tzinfo=UTC)
    _live_in(responder, "Asia/Tokyo")
    incident = _resolved(service, at=late_friday)

    assert postmortem_due_date(incident=incident) == date(2026, 3, 13)
    assert postmortem_due_date(incident=incident, owner=responder) == date(2026, 3, 13)
    # And in Los Angeles it is still Friday afternoon.
    la = UserFactory(username="lana")
    _live_in(la, "America/Los_Angeles")
    thursday_night = datetime(2026, 3, 6, 5, 0, tzinfo=UTC)  # Thursday 21:00 in Los Angeles
    incident = _resolved(service, at=thursday_night)
    assert postmortem_due_date(incident=incident) == date(2026, 3, 13)
    assert postmortem_due_date(incident=incident, owner=la) == date(2026, 3, 12)


def test_due_date_of_an_open_incident_counts_from_today(service):
    incident = IncidentFactory(service=service, severity=Severity.SEV2)

    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False):
        assert postmortem_due_date(incident=incident) == date(2026, 3, 9)


# --- postmortem_update ------------------------------------------------------------------------


def test_update_changes_owner_and_due_date_and_audits_them(service, responder, sam):
    postmortem = postmortem_create(incident=_resolved(service), actor=responder)

    postmortem_update(postmortem=postmortem, actor=responder, owner=sam, due_date=date(2026, 4, 1))

    postmortem.refresh_from_db()
    assert postmortem.owner == sam
    assert postmortem.due_date == date(2026, 4, 1)
    entry = AuditEntry.objects.get(action="postmortem.update")
    assert entry.data == {"owner": ["rosa", "sam"], "due_date": ["2026-03-13", "2026-04-01"]}


def test_update_with_none_clears_owner_and_due_date_but_unset_keeps_them(service, responder):
    postmortem = postmortem_create(incident=_resolved(service), actor=responder)

    postmortem_update(postmortem=postmortem, actor=responder, title="New title", owner=UNSET)
    postmortem.refresh_from_db()
    assert (postmortem.title, postmortem.owner, postmortem.due_date) == (
        "New title",
        responder,
        date(2026, 3, 13),
    )

    postmortem_update(postmortem=postmortem, actor=responder, owner=None, due_date=None)
    postmortem.refresh_from_db()
    assert postmortem.owner is None
    assert postmortem.due_date is None


def test_update_that_changes_nothing_writes_no_audit_entry(service, responder):
    postmortem = postmortem_create(incident=_resolved(service), actor=responder)

    postmortem_update(postmortem=postmortem, actor=responder, title=postmortem.title, owner=responder)

    assert not AuditEntry.objects.filter(action="postmortem.update").exists()


def test_update_refuses_an_empty_title(service, responder):
    postmortem = postmortem_create(incident=_resolved(service), actor=responder)

    with pytest.raises(DomainError, match="needs a title"):
        postmortem_update(postmortem=postmortem, actor=responder, title="   ")


# --- sections ---------------------------------------------------------------------------------


def test_section_update_saves_the_markdown_and_who_wrote_it(service, responder):
    postmortem = postmortem_create(incident=_resolved(service), actor=responder)

    result = section_update(
        postmortem=postmortem,
        key=SectionKey.IMPACT,
        body="Checkout failed for\r\n**12%** of users.",
        actor=responder,
    )

    section = PostmortemSection.objects.get(postmortem=postmortem, key=SectionKey.IMPACT)
    assert section.body == "Checkout failed for\n**12%** of users."
    assert section.updated_by == responder
    assert result.section == section
    assert result.warnings == []


def test_section_update_returns_blameless_warnings_but_still_saves(service, responder):
    postmortem = postmortem_create(incident=_resolved(service), actor=responder)

    result = section_update(
        postmortem=postmortem,
        key=SectionKey.ROOT_CAUSE,
        body="Human error during the deploy.",
        actor=responder,
    )

    assert [warning.phrase for warning in result.warnings] == ["Human error"]
    assert result.section.body == "Human error during the deploy."


def test_section_update_refuses_an_unknown_section(service, responder):
    postmortem = postmortem_create(incident=_resolved(service), actor=responder)

    with pytest.raises(DomainError, match="no section 'blame'"):
        section_update(postmortem=postmortem, key="blame", body="x", actor=responder)


def test_section_update_refuses_a_body_over_the_limit(service, responder):
    postmortem = postmortem_create(incident=_resolved(service), actor=responder)
    section_update(
        postmortem=postmortem, key=SectionKey.SUMMARY, body="a" * SECTION_MAX_LENGTH, actor=responder
    )

    with pytest.raises(DomainError, match="at most 100,000 characters"):
        section_update(
            postmortem=postmortem,
            key=SectionKey.SUMMARY,
            body="a" * (SECTION_MAX_LENGTH + 1),
            actor=responder,
        )

    assert len(postmortem.sections.get(key=SectionKey.SUMMARY).body) == SECTION_MAX_LENGTH


# --- publish ----------------------------------------------------------------------------------


def test_publish_needs_a_summary(service, responder):
    postmortem = postmortem_create(incident=_resolved(service), actor=responder)
    section_update(postmortem=postmortem, key=SectionKey.SUMMARY, body="   \n", actor=responder)

    with pytest.raises(DomainError, match="Write the summary"):
        postmortem_publish(postmortem=postmortem, actor=responder)

    postmortem.refresh_from_db()
    assert postmortem.status == PostmortemStatus.DRAFT


def test_publish_records_who_and_when_on_the_timeline_and_in_the_audit_log(service, responder, manager):
    incident = _resolved(service)
    postmortem = postmortem_create(incident=incident, actor=responder)

    _published(postmortem, manager)

    postmortem.refresh_from_db()
    assert postmortem.status == PostmortemStatus.PUBLISHED
    assert postmortem.published_by == manager
    assert postmortem.published_at is not None
    event = TimelineEvent.objects.get(incident=incident, kind=TimelineKind.POSTMORTEM_PUBLISHED)
    assert event.actor_user == manager
    assert AuditEntry.objects.filter(action="postmortem.publish", actor=manager).exists()


def test_publishing_twice_is_refused(service, responder):
    postmortem = _published(postmortem_create(incident=_resolved(service), actor=responder), responder)

    with pytest.raises(DomainError, match="already published"):
        postmortem_publish(postmortem=postmortem, actor=responder)


def test_published_postmortem_refuses_edits_to_title_owner_and_sections(service, responder, sam):
    postmortem = _published(postmortem_create(incident=_resolved(service), actor=responder), responder)

    with pytest.raises(DomainError, match=READ_ONLY_MESSAGE):
        postmortem_update(postmortem=postmortem, actor=responder, title="Changed")
    with pytest.raises(DomainError, match=READ_ONLY_MESSAGE):
        postmortem_update(postmortem=postmortem, actor=responder, owner=sam)
    with pytest.raises(DomainError, match=READ_ONLY_MESSAGE):
        section_update(postmortem=postmortem, key=SectionKey.SUMMARY, body="Rewritten", actor=responder)

    postmortem.refresh_from_db()
    assert postmortem.owner == responder
    assert postmortem.sections.get(key=SectionKey.SUMMARY).body == "The checkout was down."


def test_a_stale_copy_of_a_published_postmortem_is_still_read_only(service, responder):
    postmortem = postmortem_create(incident=_resolved(service), actor=responder)
    stale = Postmortem.objects.get(pk=postmortem.pk)
    _published(postmortem, responder)

    assert stale.status == PostmortemStatus.DRAFT
    with pytest.raises(DomainError, match=READ_ONLY_MESSAGE):
        section_update(postmortem=stale, key=SectionKey.IMPACT, body="Late edit", actor=responder)
