"""Weekly action-item digests, managers' summaries and due-date nudges, sent to a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from datetime import UTC, date, datetime, time, timedelta
from email.message import Message
from urllib.parse import urlsplit

import pytest
import time_machine
from django.urls import resolve

from incidents.choices import Role, Severity
from postmortems.choices import ActionItemPriority, ActionItemStatus, PostmortemStatus, ReminderKind
from postmortems.models import Reminder
from postmortems.reminders import digests_send, nudges_send, reminders_send
from postmortems.tasks import send_reminders
from tests.factories import (
    ActionItemFactory,
    IncidentFactory,
    MembershipFactory,
    PostmortemFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

BASE_URL = "https://muster.example.org"
# Monday 30 November 2026 starts ISO week 2026-W49. Los Angeles is on PST (UTC-8) by then.
MONDAY = date(2026, 11, 30)
TOKYO_NINE = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # Monday 09:00 in Asia/Tokyo
LA_NINE = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # Monday 09:00 in America/Los_Angeles
UTC_NINE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
WEEK = timedelta(days=7)


@pytest.fixture(autouse=True)
def _reminder_settings(settings):
    settings.MUSTER_BASE_URL = BASE_URL
    settings.MUSTER_DIGEST_WEEKDAY = 0
    settings.MUSTER_DIGEST_TIME = time(9, 0)
    settings.TIME_ZONE = "UTC"


# --- helpers shared with the command and worker tests ----------------------------------------


def in_zone(user, zone: str):
    user.profile.time_zone = zone
    user.profile.save()
    return user


def messages(smtp_server) -> dict[str, list[Message]]:
    """Every message the SMTP server received, by recipient."""
    found: dict[str, list[Message]] = {}
    for envelope in smtp_server.envelopes:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        for address in envelope.rcpt_tos:
            found.setdefault(address, []).append(message)
    return found


def only_message(smtp_server, user) -> Message:
    [message] = messages(smtp_server)[user.email]
    return message


def parts(message: Message) -> tuple[str, str]:
    """The text/plain and text/html bodies; both must be there."""
    bodies = {}
    for part in message.walk():
        if part.get_content_type() in {"text/plain", "text/html"}:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            bodies[part.get_content_type()] = payload.decode().replace("\r\n", "\n")
    return bodies["text/plain"], bodies["text/html"]


def links(message: Message) -> set[str]:
    """The URL names every link in both parts resolves to. Each link must start with MUSTER_BASE_URL
    and name a real page."""
    text, html = parts(message)
    found = re.findall(r"https?://[^\s<>\"]+", text) + re.findall(r'href="([^"]+)"', html)
    assert found
    names = set()
    for url in found:
        assert url.startswith(BASE_URL + "/"), url
        names.add(resolve(urlsplit(url).path).view_name)
    return names


def item_url(item) -> str:
    return f"{BASE_URL}/action-items/{item.pk}/"


def keys() -> set[str]:
    return set(Reminder.objects.filter(sent_at__isnull=False).values_list("key", flat=True))


def _item(owner, *, service, due: date | None, title: str = "", **kwargs):
    incident = kwargs.pop("incident", None) or IncidentFactory(service=service)
    return ActionItemFactory(
        incident=incident, owner=owner, due_date=due, **({"title": title} if title else {}), **kwargs
    )


# --- the owner's digest ----------------------------------------------------------------------


def test_the_digest_lists_overdue_items_first_with_how_long_and_a_link_each(
    smtp_server, service, responder, sam
):
    incident = IncidentFactory(service=service, number=42, title="Checkout error rate above 5%")
    later = _item(responder, service=service, due=MONDAY + timedelta(days=4), title="Add a canary stage")
    undated = _item(responder, service=service, due=None, title="Write the failover runbook")
    tomorrow = _item(responder, service=service, due=MONDAY + timedelta(days=1), title="Rotate the keys")
    today = _item(
        responder,
        service=service,
        due=MONDAY,
        title="Fix the retry storm",
        status=ActionItemStatus.IN_PROGRESS,
    )
    slightly_late = _item(responder, service=service, due=MONDAY - timedelta(days=1), title="Tune the alert")
    very_late = _item(
        responder,
        service=service,
        incident=incident,
        due=MONDAY - timedelta(days=12),
        title="Cap the connection pool",
        priority=ActionItemPriority.HIGH,
    )
    _item(responder, service=service, due=MONDAY - timedelta(days=30), status=ActionItemStatus.DONE)
    _item(responder, service=service, due=MONDAY - timedelta(days=30), status=ActionItemStatus.WONT_DO)
    _item(sam, service=service, due=MONDAY, title="Sam's own item")

    sent = digests_send(now=UTC_NINE)

    assert f"digest:{responder.pk}:2026-W49" in sent
    message = only_message(smtp_server, responder)
    assert message["Subject"] == "Your action items: 6 open, 2 overdue"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"]
    text, html = parts(message)
    order = [very_late, slightly_late, today, tomorrow, later, undated]
    positions = [text.index(item.title) for item in order]
    assert positions == sorted(positions), "overdue first (most overdue first), then by due date"
    assert "Sam's own item" not in text
    assert (
        "* Cap the connection pool\n"
        "  12 days overdue (Wed 18 Nov 2026) · High priority · Open\n"
        "  INC-42 Checkout error rate above 5%\n"
        f"  {item_url(very_late)}\n"
    ) in text
    assert "* Tune the alert\n  1 day overdue (Sun 29 Nov 2026)" in text
    assert "* Fix the retry storm\n  Due today (Mon 30 Nov 2026) · Medium priority · In progress" in text
    assert "* Rotate the keys\n  Due tomorrow" in text
    assert "* Add a canary stage\n  Due in 4 days (Fri 4 Dec 2026)" in text
    assert "* Write the failover runbook\n  No due date · Medium priority" in text
    for item in order:
        assert item_url(item) in text
        assert f'href="{item_url(item)}"' in html
        assert item.title in html
    assert "12 days overdue" in html
    assert "High" in html
    assert "INC-42 Checkout error rate above 5%" in html
    assert f"All your action items: {BASE_URL}/action-items/mine/" in text
    assert "Turn the weekly digest off" in text
    assert "Turn the weekly digest off" in html
    assert links(message) == {
        "postmortems:action_item_detail",
        "postmortems:my_action_items",
        "oncall:my_notifications",
    }
    reminder = Reminder.objects.get(key=f"digest:{responder.pk}:2026-W49")
    assert reminder.kind == ReminderKind.DIGEST
    assert reminder.period == "2026-W49"
    assert reminder.sent_at is not None


def test_each_person_gets_their_digest_at_their_own_monday_nine(smtp_server, service, responder, sam):
    tokyo = in_zone(responder, "Asia/Tokyo")
    los_angeles = in_zone(sam, "America/Los_Angeles")
    _item(tokyo, service=service, due=MONDAY, title="Tokyo's item")
    _item(los_angeles, service=service, due=MONDAY, title="Los Angeles's item")
    # Last week's digests went out as usual.
    assert set(digests_send(now=LA_NINE - WEEK)) == {
        f"digest:{tokyo.pk}:2026-W48",
        f"digest:{los_angeles.pk}:2026-W48",
    }
    smtp_server.envelopes.clear()

    assert digests_send(now=TOKYO_NINE - MINUTE) == []  # 08:59 in Tokyo, Sunday afternoon in LA

    assert digests_send(now=TOKYO_NINE) == [f"digest:{tokyo.pk}:2026-W49"]
    assert list(messages(smtp_server)) == [tokyo.email]
    text, _ = parts(only_message(smtp_server, tokyo))
    assert "Tokyo's item\n  Due today" in text
    assert "Los Angeles's item" not in text

    assert digests_send(now=LA_NINE - MINUTE) == []  # 08:59 in Los Angeles

    assert digests_send(now=LA_NINE) == [f"digest:{los_angeles.pk}:2026-W49"]
    assert sorted(messages(smtp_server)) == sorted([tokyo.email, los_angeles.email])
    text, _ = parts(only_message(smtp_server, los_angeles))
    assert "Los Angeles's item\n  Due today" in text


def test_the_digest_time_and_day_are_settings(smtp_server, settings, service, responder):
    settings.MUSTER_DIGEST_WEEKDAY = 2  # Wednesday
    settings.MUSTER_DIGEST_TIME = time(7, 30)
    _item(responder, service=service, due=None)
    wednesday = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)

    assert digests_send(now=UTC_NINE) == []
    assert digests_send(now=wednesday - MINUTE) == []
    assert digests_send(now=wednesday) == [f"digest:{responder.pk}:2026-W49"]


def test_running_twice_in_the_same_week_sends_nothing_new(smtp_server, service, responder, manager):
    _item(responder, service=service, due=MONDAY - timedelta(days=3))

    first = digests_send(now=UTC_NINE)
    again = digests_send(now=UTC_NINE)
    later = digests_send(now=UTC_NINE + timedelta(days=3, hours=5))

    assert sorted(first) == sorted([f"digest:{responder.pk}:2026-W49", f"summary:{manager.pk}:2026-W49"])
    assert again == []
    assert later == []
    assert len(smtp_server.envelopes) == 2


def test_the_beat_task_running_twice_sends_each_email_once(smtp_server, service, responder, manager):
    item = _item(responder, service=service, due=MONDAY - timedelta(days=3))

    with time_machine.travel(UTC_NINE + timedelta(minutes=5), tick=False):
        send_reminders()
        send_reminders()

    # The digest, the manager's summary, and the nudge for the item that came due on Friday.
    assert len(messages(smtp_server)[responder.email]) == 2
    assert len(messages(smtp_server)[manager.email]) == 1
    assert len(smtp_server.envelopes) == 3
    assert keys() == {
        f"digest:{responder.pk}:2026-W49",
        f"summary:{manager.pk}:2026-W49",
        f"item_due:{item.pk}:2026-11-27",
    }
    assert Reminder.objects.filter(sent_at=UTC_NINE + timedelta(minutes=5)).count() == 3


def test_a_beat_down_until_wednesday_still_sends_that_weeks_digest(smtp_server, service, responder, sam):
    los_angeles = in_zone(sam, "America/Los_Angeles")
    _item(responder, service=service, due=None)
    _item(los_angeles, service=service, due=None)
    wednesday = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)

    assert sorted(digests_send(now=wednesday)) == sorted(
        [f"digest:{responder.pk}:2026-W49", f"digest:{los_angeles.pk}:2026-W49"]
    )
    assert len(smtp_server.envelopes) == 2


def test_a_week_missed_entirely_is_not_sent_late(smtp_server, service, responder, sam):
    tokyo = in_zone(responder, "Asia/Tokyo")
    los_angeles = in_zone(sam, "America/Los_Angeles")
    _item(tokyo, service=service, due=None)
    _item(los_angeles, service=service, due=None)
    # Sunday 6 December 20:00 in Los Angeles, already Monday 13:00 in Tokyo: the beat comes back.
    back = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)

    sent = digests_send(now=back)

    # Los Angeles is still in the week its digest was missed; Tokyo is in the next one.
    assert sorted(sent) == sorted([f"digest:{los_angeles.pk}:2026-W49", f"digest:{tokyo.pk}:2026-W50"])


def test_the_next_week_sends_again(smtp_server, service, responder):
    _item(responder, service=service, due=None)

    digests_send(now=UTC_NINE)
    digests_send(now=UTC_NINE + WEEK)

    assert len(messages(smtp_server)[responder.email]) == 2
    assert keys() == {f"digest:{responder.pk}:2026-W49", f"digest:{responder.pk}:2026-W50"}


def test_people_with_nothing_open_get_no_email(smtp_server, service, responder, manager, viewer):
    _item(responder, service=service, due=MONDAY - WEEK, status=ActionItemStatus.DONE)
    _item(responder, service=service, due=None, status=ActionItemStatus.WONT_DO)
    _item(None, service=service, due=None, status=ActionItemStatus.DONE)

    assert reminders_send(now=UTC_NINE) == []
    assert smtp_server.envelopes == []
    assert not Reminder.objects.exists()


def test_opting_out_skips_the_digest_but_not_the_manager_summary(smtp_server, service, manager, responder):
    manager.profile.action_item_digest = False
    manager.profile.save()
    responder.profile.action_item_digest = False
    responder.profile.save()
    _item(manager, service=service, due=MONDAY - timedelta(days=2), title="The manager's own item")
    _item(responder, service=service, due=None)

    sent = digests_send(now=UTC_NINE)

    assert sent == [f"summary:{manager.pk}:2026-W49"]
    message = only_message(smtp_server, manager)
    assert message["Subject"] == "Payments: 2 open action items, 1 overdue"
    text, html = parts(message)
    assert "cannot be turned off while you manage the team" in text
    assert "cannot be turned off while you manage the team" in html


def test_inactive_people_and_people_without_an_address_get_nothing(smtp_server, service, responder, sam):
    responder.is_active = False
    responder.save()
    sam.email = ""
    sam.save()
    _item(responder, service=service, due=MONDAY - timedelta(days=1))
    _item(sam, service=service, due=MONDAY - timedelta(days=1))

    assert reminders_send(now=UTC_NINE) == []
    assert smtp_server.envelopes == []


def test_a_person_without_a_usable_time_zone_gets_theirs_in_the_installation_zone(
    smtp_server, settings, service, responder, sam
):
    settings.TIME_ZONE = "Asia/Tokyo"
    responder.profile.delete()
    in_zone(sam, "Not/A_Zone")
    _item(responder, service=service, due=None)
    _item(sam, service=service, due=None)

    assert digests_send(now=TOKYO_NINE - MINUTE) == []
    assert sorted(digests_send(now=TOKYO_NINE)) == sorted(
        [f"digest:{responder.pk}:2026-W49", f"digest:{sam.pk}:2026-W49"]
    )


# --- the manager's summary -------------------------------------------------------------------


@pytest.fixture
def managed(team, service, manager, responder, sam):
    """Payments (managed by max) with open, overdue and closed items and postmortems; Databases
    (max is its admin) with only a postmortem past due; Billing (max manages it) with nothing to
    report; Search, where max is only a responder."""
    rosa_late = _item(
        responder,
        service=service,
        due=MONDAY - timedelta(days=3),
        title="Cap the connection pool",
        priority=ActionItemPriority.HIGH,
    )
    nobodys_late = _item(None, service=service, due=MONDAY - timedelta(days=1), title="Unowned and late")
    _item(sam, service=service, due=MONDAY + timedelta(days=5), title="Not late yet")
    _item(responder, service=service, due=MONDAY - WEEK, title="Closed", status=ActionItemStatus.DONE)
    incident = IncidentFactory(service=service, number=7, title="Checkout down", severity=Severity.SEV1)
    late_postmortem = PostmortemFactory(
        incident=incident, owner=responder, due_date=MONDAY - timedelta(days=2)
    )
    PostmortemFactory(
        incident=IncidentFactory(service=service),
        owner=responder,
        due_date=MONDAY - timedelta(days=20),
        status=PostmortemStatus.PUBLISHED,
        title="Published long ago",
    )
    PostmortemFactory(incident=IncidentFactory(service=service), due_date=MONDAY, title="Due today")

    databases = TeamFactory(name="Databases", slug="databases")
    MembershipFactory(team=databases, user=manager, role=Role.ADMIN)
    postgres = ServiceFactory(name="Postgres", slug="postgres", team=databases)
    db_postmortem = PostmortemFactory(
        incident=IncidentFactory(service=postgres, number=8, title="Replica lag"),
        due_date=MONDAY - timedelta(days=1),
        status=PostmortemStatus.IN_REVIEW,
    )

    billing = TeamFactory(name="Billing", slug="billing")
    MembershipFactory(team=billing, user=manager, role=Role.MANAGER)
    ServiceFactory(name="Invoices", slug="invoices", team=billing)

    search = TeamFactory(name="Search", slug="search")
    MembershipFactory(team=search, user=manager, role=Role.RESPONDER)
    _item(sam, service=ServiceFactory(slug="indexer", team=search), due=MONDAY - WEEK, title="Search's item")
    return {
        "rosa_late": rosa_late,
        "nobodys_late": nobodys_late,
        "late_postmortem": late_postmortem,
        "db_postmortem": db_postmortem,
    }


def test_the_manager_summary_covers_each_managed_team_with_something_to_report(smtp_server, managed, manager):
    digests_send(now=UTC_NINE)

    message = only_message(smtp_server, manager)
    assert message["Subject"] == "Databases, Payments: 3 open action items, 2 overdue, 2 postmortems past due"
    text, html = parts(message)
    assert "Billing" not in text
    assert "Billing" not in html
    assert "Search" not in text
    assert "Search's item" not in html
    assert "== Databases ==\n0 open action items, 0 overdue." in text
    assert "== Payments ==\n3 open action items, 2 overdue." in text
    rosa_late, nobodys_late = managed["rosa_late"], managed["nobodys_late"]
    assert (
        "* Cap the connection pool\n"
        "  3 days overdue (Fri 27 Nov 2026) · High priority · owner: "
        f"{rosa_late.owner.get_full_name()}\n"
    ) in text
    assert "* Unowned and late\n  1 day overdue (Sun 29 Nov 2026) · Medium priority · owner: nobody" in text
    assert "Not late yet" not in text
    assert "Closed" not in text
    assert (
        "* INC-7 (SEV1) Checkout down\n  2 days past due (due Sat 28 Nov 2026) · Draft · owner: "
        f"{managed['late_postmortem'].owner.get_full_name()}\n  {BASE_URL}/postmortems/7/"
    ) in text
    assert (
        "* INC-8 (SEV2) Replica lag\n  1 day past due (due Sun 29 Nov 2026) · In review · owner: nobody"
        in text
    )
    assert "Published long ago" not in text
    assert "Due today" not in text
    for url in (item_url(rosa_late), item_url(nobodys_late), f"{BASE_URL}/postmortems/8/"):
        assert f'href="{url}"' in html
    assert "SEV1" in html
    assert "High" in html
    assert "3 days overdue" in html
    assert links(message) == {
        "postmortems:action_item_detail",
        "postmortems:detail",
        "postmortems:team_action_items",
    }


def test_being_a_superuser_does_not_make_anyone_a_manager(smtp_server, managed):
    UserFactory(username="root", is_superuser=True, is_staff=True)

    digests_send(now=UTC_NINE)

    assert "root@example.org" not in messages(smtp_server)


def test_a_manager_with_nothing_to_report_gets_no_summary(smtp_server, team, manager, responder):
    PostmortemFactory(incident=IncidentFactory(service=ServiceFactory(team=team)), due_date=MONDAY)

    assert digests_send(now=UTC_NINE) == []
    # The next day the postmortem is past due, and that is news for the manager this week.
    assert digests_send(now=UTC_NINE + timedelta(days=1)) == [f"summary:{manager.pk}:2026-W49"]


def test_a_long_overdue_list_is_cut_with_a_link_to_the_team_page(smtp_server, service, manager, responder):
    for number in range(23):
        _item(
            responder, service=service, due=MONDAY - timedelta(days=number + 1), title=f"Late item {number}"
        )

    digests_send(now=UTC_NINE)

    text, html = parts(only_message(smtp_server, manager))
    assert "Late item 22" in text
    assert "Late item 3" in text
    assert "Late item 2\n" not in text
    assert "...and 3 more on the team page." in text
    assert f'href="{BASE_URL}/action-items/team/payments/"' in html


# --- failures --------------------------------------------------------------------------------


def test_a_refused_recipient_releases_the_claim_and_a_later_run_sends_it(
    smtp_server, service, responder, sam
):
    _item(responder, service=service, due=None)
    _item(sam, service=service, due=None)
    smtp_server.refuse[responder.email] = "550 5.1.1 no such user"

    assert digests_send(now=UTC_NINE) == [f"digest:{sam.pk}:2026-W49"]
    assert not Reminder.objects.filter(key=f"digest:{responder.pk}:2026-W49").exists()

    del smtp_server.refuse[responder.email]
    assert digests_send(now=UTC_NINE + timedelta(minutes=5)) == [f"digest:{responder.pk}:2026-W49"]
    assert len(messages(smtp_server)[responder.email]) == 1
    assert len(messages(smtp_server)[sam.email]) == 1


def test_an_unreachable_mail_server_releases_every_claim(smtp_server, settings, service, responder, manager):
    _item(responder, service=service, due=MONDAY)
    good_port = settings.EMAIL_PORT
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        settings.EMAIL_PORT = sock.getsockname()[1]  # closed again below: the connection is refused

    assert reminders_send(now=UTC_NINE) == []
    assert not Reminder.objects.exists()

    settings.EMAIL_PORT = good_port
    assert sorted(reminders_send(now=UTC_NINE + timedelta(minutes=5))) == sorted(
        [
            f"digest:{responder.pk}:2026-W49",
            f"summary:{manager.pk}:2026-W49",
            f"item_due:{responder.action_items.get().pk}:2026-11-30",
        ]
    )


# --- queries ---------------------------------------------------------------------------------


def _people(team, service, count: int, *, items_each: int) -> list:
    people = []
    for number in range(count):
        person = UserFactory()
        MembershipFactory(team=team, user=person, role=Role.RESPONDER)
        for day in range(items_each):
            _item(person, service=service, due=MONDAY - timedelta(days=day))
        PostmortemFactory(
            incident=IncidentFactory(service=service),
            owner=person,
            due_date=MONDAY - timedelta(days=number + 1),
        )
        people.append(person)
    return people


def test_a_run_with_nothing_due_costs_the_same_few_queries_however_many_people(
    smtp_server, team, service, manager, django_assert_max_num_queries
):
    _people(team, service, 2, items_each=2)
    reminders_send(now=UTC_NINE)
    with django_assert_max_num_queries(8):
        assert reminders_send(now=UTC_NINE + timedelta(minutes=5)) == []

    _people(team, service, 8, items_each=4)
    reminders_send(now=UTC_NINE + timedelta(minutes=10))
    with django_assert_max_num_queries(8):
        assert reminders_send(now=UTC_NINE + timedelta(minutes=15)) == []


def test_sending_costs_a_fixed_number_of_queries_per_email_not_per_item(
    smtp_server, team, service, manager, django_assert_max_num_queries
):
    _people(team, service, 3, items_each=6)  # 3 digests and 1 summary; 18 items, 3 postmortems

    # 5 to find who is due; per digest 5 (the items, the claim in a savepoint, marking it sent); the
    # summary 6 (overdue items, postmortems past due, claim, marking it sent).
    with django_assert_max_num_queries(5 + 3 * 5 + 6):
        sent = digests_send(now=UTC_NINE)

    assert len(sent) == 4


# --- nudges ----------------------------------------------------------------------------------


def test_an_item_reaching_its_due_date_nudges_its_owner_once_at_their_digest_time(
    smtp_server, service, responder, sam
):
    tokyo = in_zone(responder, "Asia/Tokyo")
    los_angeles = in_zone(sam, "America/Los_Angeles")
    incident = IncidentFactory(service=service, number=42, title="Checkout down")
    tokyo_item = _item(tokyo, service=service, incident=incident, due=MONDAY, title="Cap the pool")
    la_item = _item(los_angeles, service=service, due=MONDAY, title="Tune the alert")

    assert nudges_send(now=TOKYO_NINE - MINUTE) == []
    assert nudges_send(now=TOKYO_NINE) == [f"item_due:{tokyo_item.pk}:2026-11-30"]
    assert nudges_send(now=TOKYO_NINE + MINUTE) == []
    assert nudges_send(now=LA_NINE - MINUTE) == []
    assert nudges_send(now=LA_NINE) == [f"item_due:{la_item.pk}:2026-11-30"]
    assert nudges_send(now=LA_NINE + timedelta(days=2)) == []

    message = only_message(smtp_server, tokyo)
    assert message["Subject"] == "Action item due today: Cap the pool"
    text, html = parts(message)
    assert "An action item you own is due today (Mon 30 Nov 2026)" in text
    assert "* Cap the pool\n  Medium priority · Open\n  INC-42 Checkout down\n" in text
    assert item_url(tokyo_item) in text
    assert f'href="{item_url(tokyo_item)}"' in html
    assert links(message) == {"postmortems:action_item_detail", "postmortems:my_action_items"}
    assert len(messages(smtp_server)[los_angeles.email]) == 1


def test_an_item_already_past_its_due_date_is_nudged_once_saying_how_late(smtp_server, service, responder):
    item = _item(responder, service=service, due=MONDAY - timedelta(days=3), title="Rotate the keys")

    assert nudges_send(now=UTC_NINE) == [f"item_due:{item.pk}:2026-11-27"]
    assert nudges_send(now=UTC_NINE + timedelta(hours=1)) == []

    message = only_message(smtp_server, responder)
    assert message["Subject"] == "Action item 3 days overdue: Rotate the keys"
    assert "An action item you own is 3 days overdue (Fri 27 Nov 2026)" in parts(message)[0]


def test_a_changed_due_date_nudges_again(smtp_server, service, responder):
    item = _item(responder, service=service, due=MONDAY)
    nudges_send(now=UTC_NINE)

    item.due_date = MONDAY + timedelta(days=2)
    item.save()
    assert nudges_send(now=UTC_NINE + timedelta(days=1)) == []
    assert nudges_send(now=UTC_NINE + timedelta(days=2)) == [f"item_due:{item.pk}:2026-12-02"]

    assert len(messages(smtp_server)[responder.email]) == 2


def test_closed_and_unowned_items_and_items_over_a_week_late_are_not_nudged(smtp_server, service, responder):
    week_late = _item(responder, service=service, due=MONDAY - WEEK)
    _item(responder, service=service, due=MONDAY - WEEK - timedelta(days=1))
    _item(responder, service=service, due=MONDAY, status=ActionItemStatus.DONE)
    _item(None, service=service, due=MONDAY)
    _item(responder, service=service, due=None)
    _item(responder, service=service, due=MONDAY + timedelta(days=1))

    assert nudges_send(now=UTC_NINE) == [f"item_due:{week_late.pk}:2026-11-23"]


def test_a_postmortem_past_its_due_date_nudges_its_owner_the_day_after_once(smtp_server, service, responder):
    incident = IncidentFactory(service=service, number=7, title="Checkout down", severity=Severity.SEV1)
    postmortem = PostmortemFactory(incident=incident, owner=responder, due_date=MONDAY)
    PostmortemFactory(
        incident=IncidentFactory(service=service),
        owner=responder,
        due_date=MONDAY,
        status=PostmortemStatus.PUBLISHED,
    )
    PostmortemFactory(incident=IncidentFactory(service=service), owner=None, due_date=MONDAY)

    assert nudges_send(now=UTC_NINE + timedelta(hours=10)) == []  # still the due date
    tuesday_nine = UTC_NINE + timedelta(days=1)
    assert nudges_send(now=tuesday_nine - MINUTE) == []
    assert nudges_send(now=tuesday_nine) == [f"postmortem_overdue:{postmortem.pk}:2026-11-30"]
    assert nudges_send(now=tuesday_nine + timedelta(days=1)) == []

    message = only_message(smtp_server, responder)
    assert message["Subject"] == "Postmortem past due: INC-7 Checkout down"
    text, html = parts(message)
    assert "The postmortem you own for INC-7 (SEV1) was due on Mon 30 Nov 2026: it is 1 day past due" in text
    assert f'href="{BASE_URL}/postmortems/7/"' in html
    assert "SEV1" in html
    assert links(message) == {"postmortems:detail"}


def test_a_postmortem_over_a_week_late_is_not_nudged(smtp_server, service, responder):
    PostmortemFactory(
        incident=IncidentFactory(service=service), owner=responder, due_date=MONDAY - timedelta(days=8)
    )

    assert nudges_send(now=UTC_NINE) == []
