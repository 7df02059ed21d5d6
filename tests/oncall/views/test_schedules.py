"""Schedule pages: what each role sees and may do, the timeline, overrides in two clicks, my shifts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.urls import reverse

from incidents.models import AuditEntry, Profile, person_name
from oncall.models import Layer, Override, Schedule
from tests.clients import client_for
from tests.factories import (
    EscalationPolicyFactory,
    EscalationStepFactory,
    LayerFactory,
    OverrideFactory,
    ScheduleFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
MONDAY_NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # 13:00 in Berlin


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(MONDAY_NOON, tick=False):
        yield


def detail_url(schedule) -> str:
    return reverse("oncall:schedule_detail", kwargs={"pk": schedule.pk})


def shift_of(response, person: str) -> tuple[str, str]:
    """The hidden start and end a "Take this shift" form posts for the first shift of `person`."""
    timeline = response.context["timeline"]
    shift = next(s for s in timeline.upcoming if s.user.username == person)
    return shift.start.isoformat(), shift.end.isoformat()


# --- layout ---------------------------------------------------------------------------------


def test_the_navigation_leads_to_on_call_and_my_shifts(viewer):
    html = client_for(viewer).get("/").content.decode()

    assert f'href="{reverse("oncall:schedule_list")}"' in html
    assert f'href="{reverse("oncall:my_shifts")}"' in html


# --- list -----------------------------------------------------------------------------------


def test_the_list_shows_who_is_on_call_until_when_and_who_is_next(viewer, schedule):
    response = client_for(viewer).get(reverse("oncall:schedule_list"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Payments primary" in html
    row = html[html.index(f'id="schedule-{schedule.pk}"') :]
    rosa, sam = schedule.layers.get().epochs.get().participants
    assert response.context["rows"][0].user.pk == rosa
    assert response.context["rows"][0].next_user.pk == sam
    # In the schedule's zone: Rosa hands over at 09:00 Berlin on Tuesday.
    assert "until <time" in row
    assert "Tue 3 Mar, 09:00" in row
    assert "(in 20h)" in row
    assert "Next: <strong>Sam Okafor</strong>" in row


def test_a_manager_with_no_schedules_is_told_to_create_one(manager):
    html = client_for(manager).get(reverse("oncall:schedule_list")).content.decode()

    assert "No schedules yet" in html
    assert "Create a schedule" in html
    assert reverse("oncall:schedule_create") in html


def test_a_viewer_with_no_schedules_is_told_who_can_create_one(viewer):
    html = client_for(viewer).get(reverse("oncall:schedule_list")).content.decode()

    assert "No schedules yet" in html
    assert "A manager of your team can create one" in html
    assert reverse("oncall:schedule_create") not in html


def test_other_teams_schedules_are_neither_listed_nor_shown(viewer, schedule):
    theirs = ScheduleFactory(team=TeamFactory(slug="search"), name="Search primary")
    client = client_for(viewer)

    assert "Search primary" not in client.get(reverse("oncall:schedule_list")).content.decode()
    assert client.get(detail_url(theirs)).status_code == 404
    assert client.post(reverse("oncall:shift_take", kwargs={"pk": theirs.pk})).status_code == 404


def test_the_list_costs_the_same_queries_for_one_schedule_or_many(
    team, viewer, responder, sam, schedule, django_assert_num_queries
):
    client = client_for(viewer)
    client.get(reverse("oncall:schedule_list"))  # warm the session
    # session, user, schedules, layers, epochs, overrides, people, the viewer's manager teams
    with django_assert_num_queries(8):
        client.get(reverse("oncall:schedule_list"))

    for n in range(5):
        other = ScheduleFactory(team=team, name=f"Rotation {n}")
        LayerFactory(schedule=other, start_date=date(2026, 3, 2), participants=[sam, responder])
        OverrideFactory(schedule=other, user=responder)
    with django_assert_num_queries(8):
        response = client.get(reverse("oncall:schedule_list"))
    assert len(response.context["rows"]) == 6


# --- the schedule page ----------------------------------------------------------------------


def test_the_page_draws_two_weeks_with_a_row_per_layer_and_the_final_row(viewer, responder, schedule):
    response = client_for(viewer).get(detail_url(schedule))

    html = response.content.decode()
    assert response.status_code == 200
    assert "times in <strong>Europe/Berlin</strong>" in html
    assert html.count('class="sched-day') == 14
    assert html.count('class="sched-row"') == 1  # one layer
    assert "sched-row-final" in html
    assert person_name(responder) in html
    assert "Sam Okafor" in html
    assert "Upcoming shifts" in html
    # Viewers read; they get no buttons.
    assert "Take this shift" not in html
    assert reverse("oncall:layer_create", kwargs={"pk": schedule.pk}) not in html


def test_responders_get_take_this_shift_on_other_peoples_shifts_only(responder, schedule):
    html = client_for(responder).get(detail_url(schedule)).content.decode()

    # Fourteen days alternate Rosa and Sam: the seven of Sam's can be taken by Rosa.
    assert html.count("Take this shift") == 7 + 1  # plus the help text
    assert html.count(">Override…</a>") == 14


def test_take_this_shift_puts_me_on_call_and_the_page_shows_it(responder, schedule):
    client = client_for(responder)
    start, end = shift_of(client.get(detail_url(schedule)), "sam")

    response = client.post(
        reverse("oncall:shift_take", kwargs={"pk": schedule.pk}), {"start": start, "end": end}, **HTMX
    )

    assert response.status_code == 200
    assert response.templates[0].name == "oncall/schedules/partials/_schedule_body.html"
    override = Override.objects.get()
    assert (override.user, override.created_by) == (responder, responder)
    assert (override.starts_at.isoformat(), override.ends_at.isoformat()) == (start, end)
    html = response.content.decode()
    assert "You are on call for that shift." in html
    assert f'id="override-{override.pk}"' in html
    # Rosa's Monday, Sam's Tuesday (now hers) and her Wednesday run together until Sam's Thursday.
    first, second = response.context["timeline"].upcoming[:2]
    assert (first.user, first.end) == (responder, datetime(2026, 3, 5, 8, 0, tzinfo=UTC))
    assert second.user.username == "sam"
    assert AuditEntry.objects.filter(action="override.create", actor=responder).exists()


def test_take_this_shift_without_htmx_redirects_back_to_the_page(responder, schedule):
    client = client_for(responder)
    start, end = shift_of(client.get(detail_url(schedule)), "sam")

    response = client.post(
        reverse("oncall:shift_take", kwargs={"pk": schedule.pk}), {"start": start, "end": end}, follow=True
    )

    assert response.redirect_chain == [(detail_url(schedule), 302)]
    assert "You are on call for that shift." in response.content.decode()
    final = [(b.shift.user.username, b.shift.end) for b in response.context["timeline"].final.blocks]
    assert final[:2] == [
        ("rosa", datetime(2026, 3, 5, 8, 0, tzinfo=UTC)),
        ("sam", datetime(2026, 3, 6, 8, 0, tzinfo=UTC)),
    ]


def test_taking_the_shift_in_progress_starts_now(sam, schedule):
    client = client_for(sam)
    start, end = shift_of(client.get(detail_url(schedule)), "rosa")

    client.post(reverse("oncall:shift_take", kwargs={"pk": schedule.pk}), {"start": start, "end": end})

    override = Override.objects.get()
    assert override.starts_at == MONDAY_NOON
    assert override.ends_at.isoformat() == end


def test_a_viewer_cannot_take_a_shift(viewer, schedule):
    response = client_for(viewer).post(
        reverse("oncall:shift_take", kwargs={"pk": schedule.pk}),
        {"start": "2026-03-03T09:00:00+01:00", "end": "2026-03-04T09:00:00+01:00"},
    )

    assert response.status_code == 403
    assert "needs the responder role" in response.content.decode()
    assert not Override.objects.exists()


def test_a_garbled_take_is_reported_not_saved(responder, schedule):
    response = client_for(responder).post(
        reverse("oncall:shift_take", kwargs={"pk": schedule.pk}), {"start": "soon", "end": ""}, **HTMX
    )

    assert response.status_code == 200
    assert "could not be read" in response.content.decode()
    assert not Override.objects.exists()


def test_the_override_form_is_prefilled_in_the_schedules_zone(responder, schedule):
    url = reverse("oncall:override_create", kwargs={"pk": schedule.pk})

    response = client_for(responder).get(
        url, {"start": "2026-03-03T08:00:00+00:00", "end": "2026-03-04T08:00:00+00:00"}, **HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="2026-03-03T09:00"' in html  # 08:00 UTC is 09:00 in Berlin
    assert 'value="2026-03-04T09:00"' in html
    assert "times in Europe/Berlin" in html
    assert f'<option value="{responder.pk}" selected>' in html
    assert 'hx-post="' in html


def test_an_override_posted_from_the_form_is_read_in_the_schedules_zone(responder, sam, schedule):
    response = client_for(responder).post(
        reverse("oncall:override_create", kwargs={"pk": schedule.pk}),
        {"user": sam.pk, "starts_at": "2026-03-02T18:00", "ends_at": "2026-03-02T22:00"},
    )

    assert response.status_code == 302
    override = Override.objects.get()
    assert override.user == sam
    assert override.starts_at == datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
    assert override.ends_at == datetime(2026, 3, 2, 21, 0, tzinfo=UTC)


def test_an_override_form_error_goes_back_into_the_form(responder, sam, schedule):
    response = client_for(responder).post(
        reverse("oncall:override_create", kwargs={"pk": schedule.pk}),
        {"user": sam.pk, "starts_at": "2026-03-02T22:00", "ends_at": "2026-03-02T18:00"},
        **HTMX,
    )

    assert response.status_code == 200
    assert response["HX-Retarget"] == "#override-slot"
    assert "must end after it starts" in response.content.decode()
    assert not Override.objects.exists()


def test_an_override_in_the_past_is_refused_next_to_the_field(responder, sam, schedule):
    response = client_for(responder).post(
        reverse("oncall:override_create", kwargs={"pk": schedule.pk}),
        {"user": sam.pk, "starts_at": "2026-03-01T08:00", "ends_at": "2026-03-01T10:00"},
    )

    assert response.status_code == 400
    assert "already over" in response.content.decode()


def test_people_remove_their_own_overrides_and_managers_anyones(responder, sam, manager, schedule):
    mine = OverrideFactory(schedule=schedule, user=responder, created_by=responder)
    theirs = OverrideFactory(schedule=schedule, user=sam, created_by=sam)

    def delete(user, override):
        url = reverse("oncall:override_delete", kwargs={"pk": schedule.pk, "override_pk": override.pk})
        return client_for(user).post(url, **HTMX)

    assert delete(responder, theirs).status_code == 403
    response = delete(responder, mine)
    assert response.status_code == 200
    assert "Override removed." in response.content.decode()
    assert delete(manager, theirs).status_code == 200
    assert not Override.objects.exists()
    # A second click on a removed override is not an error.
    assert "no longer exists" in delete(manager, theirs).content.decode()


def test_only_the_remove_buttons_a_person_may_use_are_shown(responder, sam, schedule):
    mine = OverrideFactory(schedule=schedule, user=responder, created_by=responder)
    theirs = OverrideFactory(schedule=schedule, user=sam, created_by=sam)

    html = client_for(responder).get(detail_url(schedule)).content.decode()

    assert reverse("oncall:override_delete", kwargs={"pk": schedule.pk, "override_pk": mine.pk}) in html
    assert reverse("oncall:override_delete", kwargs={"pk": schedule.pk, "override_pk": theirs.pk}) not in html


# --- creating and editing -------------------------------------------------------------------


def test_a_manager_creates_a_schedule_and_is_taken_to_add_a_layer(manager, team):
    response = client_for(manager).post(
        reverse("oncall:schedule_create"),
        {"team": team.pk, "name": "Payments primary", "time_zone": "Europe/Berlin"},
    )

    schedule = Schedule.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("oncall:layer_create", kwargs={"pk": schedule.pk})
    assert (schedule.team, schedule.time_zone) == (team, "Europe/Berlin")
    assert AuditEntry.objects.filter(action="schedule.create", actor=manager).exists()


def test_responders_and_viewers_cannot_create_or_change_schedules(responder, viewer, schedule):
    for user in (responder, viewer):
        client = client_for(user)
        assert client.get(reverse("oncall:schedule_create")).status_code == 403
        assert client.get(reverse("oncall:schedule_edit", kwargs={"pk": schedule.pk})).status_code == 403
        assert client.get(reverse("oncall:layer_create", kwargs={"pk": schedule.pk})).status_code == 403
        response = client.post(reverse("oncall:schedule_delete", kwargs={"pk": schedule.pk}))
        assert response.status_code == 403
        assert "needs the manager role in Payments" in response.content.decode()
    assert Schedule.objects.filter(pk=schedule.pk).exists()


def test_a_manager_adds_a_business_hours_layer_that_shows_on_the_page(manager, responder, sam, schedule):
    response = client_for(manager).post(
        reverse("oncall:layer_create", kwargs={"pk": schedule.pk}),
        {
            "name": "Office",
            "participants": "max, SAM",
            "shift_count": "1",
            "shift_unit": "weeks",
            "start_date": "2026-03-02",
            "handoff_time": "09:00",
            "restrict_days": ["0", "1", "2", "3", "4"],
            "restrict_start": "09:00",
            "restrict_end": "17:00",
        },
        follow=True,
    )

    layer = Layer.objects.get(name="Office")
    assert layer.position == 1
    assert layer.restrictions == [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}]
    assert list(layer.epochs.get().participants) == [manager.pk, sam.pk]
    html = response.content.decode()
    assert "Layer added." in html
    assert "Mon\N{EN DASH}Fri 09:00\N{EN DASH}17:00 only" in html
    assert response.context["timeline"].upcoming[0].user == manager  # 13:00 Berlin on a Monday


@pytest.mark.parametrize(
    ("participants", "message"),
    [
        ("ghost", "Nobody is called &#x27;ghost&#x27;"),
        ("vera", "not a responder in team Payments"),
        ("", "required"),
    ],
)
def test_the_layer_form_explains_bad_participants(manager, viewer, schedule, participants, message):
    response = client_for(manager).post(
        reverse("oncall:layer_create", kwargs={"pk": schedule.pk}),
        {
            "participants": participants,
            "shift_count": "1",
            "shift_unit": "weeks",
            "start_date": "2026-03-02",
            "handoff_time": "09:00",
        },
    )

    assert response.status_code == 400
    assert message in response.content.decode()
    assert schedule.layers.count() == 1


def test_the_layer_form_wants_both_days_and_hours_for_a_restriction(manager, schedule):
    response = client_for(manager).post(
        reverse("oncall:layer_create", kwargs={"pk": schedule.pk}),
        {
            "participants": "max",
            "shift_count": "1",
            "shift_unit": "weeks",
            "start_date": "2026-03-02",
            "handoff_time": "09:00",
            "restrict_days": ["0"],
        },
    )

    assert response.status_code == 400
    assert "Give the hours of the restriction" in response.content.decode()


def test_editing_a_layer_shows_its_participants_and_changes_them_from_the_next_handoff(manager, schedule):
    layer = schedule.layers.get()
    url = reverse("oncall:layer_edit", kwargs={"pk": schedule.pk, "layer_pk": layer.pk})
    client = client_for(manager)

    assert 'value="rosa, sam"' in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "participants": "max",
            "shift_count": "1",
            "shift_unit": "days",
            "start_date": "2026-03-02",
            "handoff_time": "09:00",
        },
        follow=True,
    )

    upcoming = response.context["timeline"].upcoming
    assert [s.user.username for s in upcoming[:2]] == ["rosa", "max"]  # Rosa keeps today
    assert layer.epochs.count() == 2


def test_a_manager_edits_and_deletes_a_schedule(manager, schedule):
    client = client_for(manager)

    client.post(
        reverse("oncall:schedule_edit", kwargs={"pk": schedule.pk}),
        {"name": "Payments on call", "time_zone": "America/New_York"},
    )
    schedule.refresh_from_db()
    assert (schedule.name, schedule.time_zone) == ("Payments on call", "America/New_York")

    response = client.post(reverse("oncall:schedule_delete", kwargs={"pk": schedule.pk}), follow=True)
    assert "Payments on call deleted." in response.content.decode()
    assert not Schedule.objects.exists()


def test_a_manager_removes_a_layer(manager, schedule):
    layer = schedule.layers.get()

    client_for(manager).post(reverse("oncall:layer_delete", kwargs={"pk": schedule.pk, "layer_pk": layer.pk}))

    assert not Layer.objects.exists()


# --- my shifts ------------------------------------------------------------------------------


def test_my_shifts_are_listed_in_my_profiles_zone(sam, schedule):
    Profile.objects.update_or_create(user=sam, defaults={"time_zone": "America/New_York"})

    response = client_for(sam).get(reverse("oncall:my_shifts"))

    html = response.content.decode()
    assert "Times in <strong>America/New_York</strong>" in html
    # Sam's Tuesday shift starts 09:00 Berlin = 03:00 New York.
    assert "Tue 3 Mar, 03:00" in html
    assert len(response.context["shifts"]) == 15  # every other day for 30 days
    assert "Payments primary" in html


def test_my_shifts_without_a_profile_are_in_utc(responder, schedule):
    Profile.objects.filter(user=responder).delete()

    response = client_for(responder).get(reverse("oncall:my_shifts"))

    html = response.content.decode()
    assert "Times in <strong>UTC</strong>" in html
    assert "On call now" in html  # Monday is Rosa's
    assert "Mon 2 Mar, 08:00" in html


def test_my_shifts_says_so_when_there_are_none(outsider):
    html = client_for(outsider).get(reverse("oncall:my_shifts")).content.decode()

    assert "No shifts in the next 30 days" in html


# --- the service page -----------------------------------------------------------------------


def test_the_service_page_shows_who_is_on_call_now(viewer, responder, service, schedule, team):
    policy = EscalationPolicyFactory(team=team)
    EscalationStepFactory(policy=policy, position=0, schedules=[schedule])
    service.escalation_policy = policy
    service.save()

    html = client_for(viewer).get(service.get_absolute_url()).content.decode()

    section = html[html.index('id="oncall-now"') :]
    assert "Step 1" in section
    assert person_name(responder) in section.split("</li>")[0]
    assert "until Tue 3 Mar, 09:00 CET" in section


def test_the_service_page_says_when_nobody_is_paged(viewer, service):
    html = client_for(viewer).get(service.get_absolute_url()).content.decode()

    assert "No escalation policy: nobody is paged" in html
