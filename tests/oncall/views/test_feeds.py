"""Calendar feeds over HTTP: the .ics URL a calendar app polls without a session, and the page where
people make and revoke feeds."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from incidents.choices import Role
from incidents.models import AuditEntry, Membership
from oncall import ical, rotation
from oncall.models import CalendarFeed
from oncall.selectors.schedules import schedule_spec
from oncall.services import calendar_feed_create, calendar_feed_revoke
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.oncall.schedule_rows import add_layer, make_schedule

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
BASE = "http://127.0.0.1:8000"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def schedule(team, responder, manager):
    schedule = make_schedule(team)
    add_layer(schedule, [responder, manager], unit="days")
    return schedule


@pytest.fixture
def calendar_app() -> Client:
    """Google's fetcher: no session, no cookies."""
    return Client()


def feed_path(token: str) -> str:
    return f"/calendars/{token}.ics"


def test_a_calendar_app_fetches_the_feed_without_logging_in(calendar_app, schedule, responder, manager):
    _, token = calendar_feed_create(owner=responder, schedule=schedule)

    response = calendar_app.get(feed_path(token))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="[a-z0-9-]+\.ics"', response["Content-Disposition"])
    assert "private" in response["Cache-Control"]
    calendar = icalendar.Calendar.from_ical(response.content)
    events = list(calendar.walk("VEVENT"))
    start, end = NOW - ical.FEED_PAST, NOW + ical.FEED_FUTURE
    margin = timedelta(days=3)  # daily turns: asked over a wider window, the edge shifts are whole
    spec = schedule_spec(schedule=schedule, start=start - margin, end=end + margin)
    want = [
        (s.start, s.end, s.user_id)
        for s in rotation.shifts(spec, start - margin, end + margin)
        if s.end > start and s.start < end
    ]
    names = {responder.pk: responder.get_full_name(), manager.pk: manager.get_full_name()}
    assert [(e.decoded("dtstart"), e.decoded("dtend"), str(e["summary"])) for e in events] == [
        (s, e, f"On call: {names[user_id]} (Payments primary)") for s, e, user_id in want
    ]


def test_head_answers_like_get_without_a_body(calendar_app, schedule, responder):
    _, token = calendar_feed_create(owner=responder, schedule=schedule)

    response = calendar_app.head(feed_path(token))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.content == b""


def test_uids_are_the_same_on_the_next_fetch_and_an_unchanged_feed_answers_304(
    calendar_app, schedule, responder, frozen
):
    _, token = calendar_feed_create(owner=responder, schedule=schedule)
    first = calendar_app.get(feed_path(token))
    frozen.shift(timedelta(minutes=20))

    second = calendar_app.get(feed_path(token))
    unchanged = calendar_app.get(feed_path(token), headers={"If-None-Match": second["ETag"]})

    def uids(response) -> list[str]:
        return [str(e["uid"]) for e in icalendar.Calendar.from_ical(response.content).walk("VEVENT")]

    assert uids(first) == uids(second)
    assert first["ETag"] == second["ETag"]
    assert unchanged.status_code == 304
    assert unchanged.content == b""


def test_unknown_token_is_404(calendar_app, schedule):
    assert calendar_app.get(feed_path("not-a-real-token")).status_code == 404


def test_revoked_feed_is_404(calendar_app, schedule, responder):
    feed, token = calendar_feed_create(owner=responder, schedule=schedule)
    calendar_feed_revoke(feed=feed, actor=responder)

    assert calendar_app.get(feed_path(token)).status_code == 404


def test_feed_of_a_schedule_the_owner_can_no_longer_see_is_404(calendar_app, schedule, responder):
    _, token = calendar_feed_create(owner=responder, schedule=schedule)
    assert calendar_app.get(feed_path(token)).status_code == 200

    Membership.objects.filter(user=responder).delete()

    assert calendar_app.get(feed_path(token)).status_code == 404


def test_feed_of_a_deactivated_owner_is_404(calendar_app, responder):
    _, token = calendar_feed_create(owner=responder)
    responder.is_active = False
    responder.save()

    assert calendar_app.get(feed_path(token)).status_code == 404


def test_my_shifts_feed_shows_my_shifts_only(calendar_app, schedule, responder, manager):
    _, token = calendar_feed_create(owner=manager)

    body = calendar_app.get(feed_path(token)).content

    summaries = {str(e["summary"]) for e in icalendar.Calendar.from_ical(body).walk("VEVENT")}
    assert summaries == {f"On call: {manager.get_full_name()} (Payments primary)"}


def test_only_the_tokens_hash_is_stored(schedule, responder):
    feed, token = calendar_feed_create(owner=responder, schedule=schedule)

    stored = CalendarFeed.objects.values().get(pk=feed.pk)
    assert token not in str(stored)
    assert stored["token_prefix"] == token[:8]
    assert AuditEntry.objects.filter(action="calendar_feed.create", object_id=str(feed.pk)).exists()


def test_fetching_records_when_the_feed_was_last_read(calendar_app, schedule, responder):
    feed, token = calendar_feed_create(owner=responder, schedule=schedule)

    calendar_app.get(feed_path(token))

    feed.refresh_from_db()
    assert feed.last_fetched_at == NOW


# --- the page -------------------------------------------------------------------------------


def test_the_calendars_page_needs_a_login(client):
    response = client.get("/my/calendars/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_making_a_feed_shows_its_subscribe_links_once_and_they_work(
    client, calendar_app, schedule, responder
):
    client.force_login(responder)

    response = client.post("/my/calendars/new/", {"source": "mine"})

    assert response.status_code == 200
    html = response.content.decode()
    https_url = re.search(rf"{re.escape(BASE)}/calendars/[\w-]+\.ics", html).group(0)
    assert "webcal://127.0.0.1:8000/calendars/" in html
    assert "no-cache" in response["Cache-Control"]
    assert calendar_app.get(https_url.removeprefix(BASE)).status_code == 200
    listing = client.get("/my/calendars/").content.decode()
    assert "My shifts" in listing
    assert https_url not in listing
    assert "every few hours" in listing


def test_a_feed_of_a_schedule_i_can_see(client, calendar_app, schedule, responder):
    client.force_login(responder)

    response = client.post("/my/calendars/new/", {"source": str(schedule.pk)})

    assert response.status_code == 200
    feed = CalendarFeed.objects.get(owner=responder)
    assert feed.schedule == schedule


def test_no_feed_of_a_schedule_of_another_team(client, responder):
    hidden = make_schedule(TeamFactory(name="Search", slug="search"), name="Search primary")
    client.force_login(responder)

    page = client.get("/my/calendars/").content.decode()
    response = client.post("/my/calendars/new/", {"source": str(hidden.pk)})

    assert "Search primary" not in page
    assert response.status_code == 400
    assert not CalendarFeed.objects.exists()


def test_revoking_from_the_page_stops_the_feed(client, calendar_app, schedule, responder):
    feed, token = calendar_feed_create(owner=responder, schedule=schedule)
    client.force_login(responder)
    assert f'id="feed-{feed.pk}"' in client.get("/my/calendars/").content.decode()

    response = client.post(f"/my/calendars/{feed.pk}/revoke/")

    assert response.status_code == 302
    assert calendar_app.get(feed_path(token)).status_code == 404
    assert f'id="feed-{feed.pk}"' not in client.get("/my/calendars/").content.decode()


def test_nobody_revokes_someone_elses_feed(client, calendar_app, schedule, responder):
    feed, token = calendar_feed_create(owner=responder, schedule=schedule)
    other = UserFactory(username="mallory")
    MembershipFactory(team=schedule.team, user=other, role=Role.ADMIN)
    client.force_login(other)

    assert client.post(f"/my/calendars/{feed.pk}/revoke/").status_code == 404
    assert calendar_app.get(feed_path(token)).status_code == 200


def test_the_user_menu_links_to_calendars(client, responder):
    client.force_login(responder)

    assert 'href="/my/calendars/"' in client.get("/my/calendars/").content.decode()


def test_the_calendars_page_costs_the_same_queries_for_one_feed_or_many(client, schedule, responder):
    client.force_login(responder)
    calendar_feed_create(owner=responder, schedule=schedule)
    with CaptureQueriesContext(connection) as one:
        client.get("/my/calendars/")
    for _ in range(4):
        calendar_feed_create(owner=responder, schedule=schedule)
        calendar_feed_create(owner=responder)
    with CaptureQueriesContext(connection) as many:
        response = client.get("/my/calendars/")

    assert response.content.decode().count("Revoke</button>") == 9
    assert len(many) == len(one)
