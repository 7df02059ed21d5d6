from datetime import UTC, date, datetime

import pytest
from django.contrib.auth.models import AnonymousUser

from postmortems.dates import due_phrase, person_today
from tests.factories import UserFactory

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("due", "closed", "expected"),
    [
        (None, False, "no due date"),
        (date(2026, 11, 22), False, "1 day overdue"),
        (date(2026, 11, 9), False, "14 days overdue"),
        (TODAY, False, "due today"),
        (date(2026, 11, 24), False, "due tomorrow"),
        (date(2026, 11, 30), False, "due in 7 days"),
        (date(2026, 11, 9), True, "was due 9 Nov 2026"),
    ],
)
def test_due_phrase_reads_like_a_person_would_say_it(due, closed, expected):
    assert due_phrase(due, TODAY, closed=closed) == expected


@pytest.mark.django_db
def test_today_is_the_date_where_the_person_is(settings):
    settings.TIME_ZONE = "UTC"
    tokyo, los_angeles = UserFactory(), UserFactory()
    for user, zone in ((tokyo, "Asia/Tokyo"), (los_angeles, "America/Los_Angeles")):
        user.profile.time_zone = zone
        user.profile.save()
    sunday_evening_utc = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)

    assert person_today(tokyo, now=sunday_evening_utc) == date(2026, 11, 23)
    assert person_today(los_angeles, now=sunday_evening_utc) == date(2026, 11, 22)
    assert person_today(AnonymousUser(), now=sunday_evening_utc) == date(2026, 11, 22)
