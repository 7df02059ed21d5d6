"""Announcements: incident news posted to the channels teams and services name, through a local
stand-in for Slack's Web API and incoming webhooks that checks every request (INTEROP.md §5)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from incidents.chatops import announcements
from incidents.chatops.announcements import (
    announcement_deliver,
    announcements_due,
    announcements_plan,
    incident_channel_name,
)
from incidents.chatops.models import (
    Announcement,
    AnnouncementChannel,
    ChatIdentity,
    ChatWorkspace,
    IncidentChannel,
)
from incidents.choices import IncidentRoleKind, Severity, TimelineKind
from incidents.models import MaintenanceWindow, TimelineEvent
from incidents.services import (
    incident_acknowledge,
    incident_add_note,
    incident_assign_role,
    incident_declare,
    incident_post_status_update,
    incident_resolve,
    incident_set_severity,
)
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory
from tests.oncall.channels.conftest import Recorded, fake_provider  # noqa: F401 - fixture
from tests.oncall.channels.conftest import Reply as ProviderReply

pytestmark = pytest.mark.django_db

TOKEN = "xoxb-announce-token"
CHANNEL = "C0INCIDENTS"
SLACK_HOOK = "/services/T0XYZ/B0HOOK/abcdefgh"
MATTERMOST_HOOK = "/hooks/x7k3nq9w1pbd8"
API_METHODS = {"/chat.postMessage", "/conversations.create", "/conversations.invite", "/auth.test"}


def check(request: Recorded) -> list[str]:
    """What Slack and Mattermost would refuse: the wrong method or path, no token, bad JSON."""
    problems = []
    if request.method != "POST":
        problems.append(f"{request.method} {request.path}")
    if not request.headers.get("content-type", "").startswith("application/json"):
        return [*problems, f"content type {request.headers.get('content-type')} on {request.path}"]
    body = request.json()
    if request.path in API_METHODS:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            problems.append(f"{request.path}: bot token missing or wrong")
    elif request.path in (SLACK_HOOK, MATTERMOST_HOOK):
        if "authorization" in request.headers:
            problems.append("a webhook URL is its own secret; no token goes with it")
    else:
        problems.append(f"unknown path {request.path}")
    if request.path == "/chat.postMessage" and not re.fullmatch(r"[CGD][A-Z0-9]+", body.get("channel", "")):
        problems.append(f"chat.postMessage: channel {body.get('channel')!r}")
    if request.path in ("/chat.postMessage", SLACK_HOOK, MATTERMOST_HOOK):
        if not isinstance(body.get("text"), str) or not body["text"]:
            problems.append(f"{request.path}: no text")
        if "response_type" in body:
            problems.append(f"{request.path}: response_type belongs to slash-command answers")
    if request.path in ("/chat.postMessage", SLACK_HOOK):
        for block in body.get("blocks", []):
            if block["type"] == "section" and len(block["text"]["text"]) > 3000:
                problems.append("section text over 3000")
    if request.path == MATTERMOST_HOOK and "blocks" in body:
        problems.append("Mattermost does not render Block Kit")
    if request.path == "/conversations.create":
        name = body.get("name", "")
        if not re.fullmatch(r"[a-z0-9_-]{1,80}", name):
            problems.append(f"conversations.create: name {name!r} breaks Slack's rules")
    return problems


def posted(ts: str = "1772442000.000100") -> dict[str, Any]:
    return {"ok": True, "channel": CHANNEL, "ts": ts, "message": {"type": "message", "ts": ts}}


@pytest.fixture
def slack(fake_provider, settings):  # noqa: F811 - the imported fixture
    provider = fake_provider(check, ProviderReply(200, posted()))
    provider.reply_to(SLACK_HOOK, 200, "ok")
    provider.reply_to(MATTERMOST_HOOK, 200, "ok")
    settings.SLACK_API_URL = provider.url
    settings.SLACK_BOT_TOKEN = TOKEN
    settings.MUSTER_BASE_URL = "https://muster.example.org"
    return provider


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    """Deliveries are called directly here; what would have been queued is recorded instead."""
    queued: list[tuple[int, float]] = []
    monkeypatch.setattr(
        announcements, "_hand_over", lambda ids, seconds=0: queued.extend((i, seconds) for i in ids)
    )
    return queued


def slack_channel(team=None, service=None, **fields: Any) -> AnnouncementChannel:
    values: dict[str, Any] = {"kind": "slack_channel", "name": "#incidents", "channel_id": CHANNEL}
    values.update(fields)
    return AnnouncementChannel.objects.create(team=team, service=service, **values)


def deliver_all() -> list[str]:
    return [announcement_deliver(announcement_id=pk) for pk in announcements_due()]


def texts(provider, path: str = "/chat.postMessage") -> list[str]:
    return [request.json()["text"] for request in provider.to(path)]


def button_labels(request: Recorded) -> list[str]:
    return [
        element["text"]["text"]
        for block in request.json()["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


# --- what is announced ----------------------------------------------------------------------


def test_a_declared_incident_is_posted_to_its_teams_channel_with_buttons(slack, team, service, responder):
    channel = slack_channel(team=team)

    incident = incident_declare(service=service, title="Checkout is down", actor=responder)

    (row,) = Announcement.objects.all()
    assert (row.status, row.channel, row.incident) == ("queued", channel, incident)
    assert deliver_all() == ["sent"]
    request = slack.only
    body = request.json()
    assert body["channel"] == CHANNEL
    assert body["text"].startswith(
        f"New incident, declared by {responder.get_full_name() or responder.username}\n"
    )
    assert f"*{incident.reference}: Checkout is down*" in body["text"]
    assert "SEV3 · Triggered · Checkout" in body["text"]
    assert button_labels(request) == ["Acknowledge", "Resolve", "Open"]
    row.refresh_from_db()
    assert (row.status, row.provider_id, row.attempts) == ("sent", "1772442000.000100", 1)
    channel.refresh_from_db()
    assert channel.last_sent_at is not None
    assert channel.last_error == ""


def test_severity_changes_status_updates_and_resolution_are_announced_but_not_notes(
    slack, team, service, responder
):
    slack_channel(team=team)
    incident = IncidentFactory(service=service, title="Checkout is down", severity=Severity.SEV3)

    incident_acknowledge(incident=incident, actor=responder)
    incident_add_note(incident=incident, text="looking at the pool", actor=responder)
    incident_assign_role(incident=incident, role=IncidentRoleKind.COMMANDER, user=responder, actor=responder)
    incident_set_severity(incident=incident, severity=Severity.SEV2, actor=responder)
    incident_post_status_update(incident=incident, text="Rolled back; errors falling", actor=responder)
    incident_resolve(incident=incident, actor=responder)

    assert deliver_all() == ["sent", "sent", "sent"]
    name = responder.get_full_name() or responder.username
    sent = texts(slack)
    assert sent[0].startswith(f"{name} changed severity from SEV3 to SEV2")
    assert sent[1].startswith(f"Status update from {name}: Rolled back; errors falling")
    assert sent[2].startswith(f"Resolved by {name}")
    # The incident's state as it is when posted: resolved, so no buttons but Open.
    assert button_labels(slack.to("/chat.postMessage")[2]) == ["Open"]


def test_a_channel_announces_only_its_severities_but_a_downgrade_out_of_them_is_news(
    slack, team, service, responder
):
    slack_channel(team=team, least_severe=Severity.SEV2)
    minor = IncidentFactory(service=service, severity=Severity.SEV4)
    incident_add_note(incident=minor, text="x", actor=responder)
    incident_post_status_update(incident=minor, text="a SEV4 update", actor=responder)
    assert not Announcement.objects.exists()

    incident_set_severity(incident=minor, severity=Severity.SEV2, actor=responder)
    major = IncidentFactory(service=service, severity=Severity.SEV1)
    incident_set_severity(incident=major, severity=Severity.SEV4, actor=responder)

    assert deliver_all() == ["sent", "sent"]
    assert [text.split("\n")[0] for text in texts(slack)] == [
        f"{responder.get_full_name() or responder.username} changed severity from SEV4 to SEV2",
        f"{responder.get_full_name() or responder.username} changed severity from SEV1 to SEV4",
    ]


def test_the_service_and_its_team_each_get_their_announcement_and_other_teams_none(
    slack, team, service, responder
):
    slack_channel(team=team, name="#payments")
    slack_channel(service=service, name="#checkout", channel_id="C0CHECKOUT")
    other_team = TeamFactory(name="Search")
    slack_channel(team=other_team, name="#search", channel_id="C0SEARCH")
    slack_channel(service=ServiceFactory(team=team, name="Ledger"), name="#ledger", channel_id="C0LEDGER")

    incident_declare(service=service, title="Checkout is down", actor=responder)

    assert deliver_all() == ["sent", "sent"]
    assert sorted(request.json()["channel"] for request in slack.requests) == ["C0CHECKOUT", CHANNEL]


def test_a_disabled_channel_gets_nothing_and_turning_it_off_cancels_what_waits(
    slack, team, service, responder
):
    channel = slack_channel(team=team, enabled=False)
    incident_declare(service=service, title="First", actor=responder)
    assert not Announcement.objects.exists()

    channel.enabled = True
    channel.save()
    incident_declare(service=service, title="Second", actor=responder)
    AnnouncementChannel.objects.filter(pk=channel.pk).update(enabled=False)

    assert deliver_all() == ["cancelled"]
    assert slack.requests == []
    assert "turned off" in Announcement.objects.get().last_error


def test_an_incident_opened_during_maintenance_is_not_announced(slack, team, service, responder):
    slack_channel(team=team)
    now = timezone.now()
    MaintenanceWindow.objects.create(
        service=service, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1)
    )

    incident_declare(service=service, title="During the migration", actor=responder)

    assert deliver_all() == ["cancelled"]
    assert slack.requests == []


def test_the_row_is_written_with_the_event_and_queued_only_after_commit(
    team, service, responder, django_capture_on_commit_callbacks, queued
):
    slack_channel(team=team)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        incident_declare(service=service, title="Checkout is down", actor=responder)
        row = Announcement.objects.get()
        assert queued == []

    for callback in callbacks:
        callback()
    assert (row.pk, 0) in queued


def test_planning_the_same_event_twice_writes_one_row(team, service, responder):
    slack_channel(team=team)
    incident = incident_declare(service=service, title="Checkout is down", actor=responder)
    event = TimelineEvent.objects.get(incident=incident, kind=TimelineKind.DECLARED)

    announcements_plan(event=event)

    assert Announcement.objects.count() == 1


def test_an_incident_without_channels_costs_one_query(team, service, responder, django_assert_num_queries):
    incident = IncidentFactory(service=service)
    event = TimelineEvent.objects.create(incident=incident, kind=TimelineKind.RESOLVED, text="Resolved")

    with django_assert_num_queries(1):
        assert announcements_plan(event=event) == []


# --- delivery: claimed before sending, retried, failed --------------------------------------


def test_an_announcement_is_posted_once_however_often_it_is_delivered(slack, team, service, responder):
    slack_channel(team=team)
    incident_declare(service=service, title="Checkout is down", actor=responder)
    row = Announcement.objects.get()

    results = [announcement_deliver(announcement_id=row.pk) for _ in range(3)]

    assert results == ["sent", "not claimable", "not claimable"]
    assert len(slack.requests) == 1


def test_a_send_that_died_past_its_deadline_is_failed_not_repeated(slack, team, service, responder):
    slack_channel(team=team)
    incident_declare(service=service, title="Checkout is down", actor=responder)
    row = Announcement.objects.get()
    Announcement.objects.filter(pk=row.pk).update(
        status="sending", attempts=1, claimed_until=timezone.now() - timedelta(seconds=1)
    )

    assert announcements_due() == []
    row.refresh_from_db()
    assert row.status == "failed"
    assert "may have been posted" in row.last_error
    assert slack.requests == []


def test_slack_failing_for_a_while_is_retried_later(slack, team, service, responder, queued):
    slack_channel(team=team)
    incident_declare(service=service, title="Checkout is down", actor=responder)
    row = Announcement.objects.get()
    slack.reply(503, {"ok": False, "error": "service_unavailable"})

    assert announcement_deliver(announcement_id=row.pk) == "retry"

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("queued", 1)
    assert row.due_at > timezone.now() + timedelta(seconds=10)
    assert "service_unavailable" in row.last_error
    assert (row.pk, 15) in queued
    slack.reply(200, posted())
    assert announcement_deliver(announcement_id=row.pk, now=row.due_at) == "sent"


def test_a_rate_limit_is_waited_out_as_slack_asks(slack, team, service, responder):
    slack_channel(team=team)
    incident_declare(service=service, title="Checkout is down", actor=responder)
    row = Announcement.objects.get()
    slack.reply(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "42"})
    before = timezone.now()

    assert announcement_deliver(announcement_id=row.pk) == "retry"

    row.refresh_from_db()
    assert before + timedelta(seconds=41) <= row.due_at <= timezone.now() + timedelta(seconds=43)


def test_a_channel_slack_does_not_know_fails_and_the_channel_shows_why(slack, team, service, responder):
    channel = slack_channel(team=team)
    incident_declare(service=service, title="Checkout is down", actor=responder)
    slack.reply(200, {"ok": False, "error": "channel_not_found"})

    assert deliver_all() == ["failed"]

    channel.refresh_from_db()
    assert "channel_not_found" in channel.last_error
    assert channel.last_error_at is not None
    assert Announcement.objects.get().status == "failed"


def test_news_that_waited_too_long_is_dropped(slack, team, service, responder):
    slack_channel(team=team)
    incident_declare(service=service, title="Checkout is down", actor=responder)
    row = Announcement.objects.get()

    later = timezone.now() + timedelta(hours=3)
    assert announcement_deliver(announcement_id=row.pk, now=later) == "cancelled"
    assert slack.requests == []


# --- webhooks -------------------------------------------------------------------------------


def test_a_slack_incoming_webhook_gets_the_same_message(slack, team, service, responder):
    AnnouncementChannel.objects.create(
        team=team, kind="slack_webhook", name="#ops", webhook_url=slack.url + SLACK_HOOK
    )

    incident_declare(service=service, title="Checkout is down", actor=responder)

    assert deliver_all() == ["sent"]
    request = slack.only
    assert request.path == SLACK_HOOK
    assert button_labels(request) == ["Acknowledge", "Resolve", "Open"]


def test_a_mattermost_webhook_gets_markdown_with_links(slack, team, service, responder):
    AnnouncementChannel.objects.create(
        team=team, kind="mattermost_webhook", name="~incidents", webhook_url=slack.url + MATTERMOST_HOOK
    )

    incident = incident_declare(service=service, title="Checkout is down", actor=responder)

    assert deliver_all() == ["sent"]
    text = slack.only.json()["text"]
    assert f"**{incident.reference}: Checkout is down**" in text
    assert f"[Open](https://muster.example.org/incidents/{incident.number}/)" in text


def test_a_webhook_that_was_removed_in_slack_fails_with_slacks_reason(slack, team, service, responder):
    channel = AnnouncementChannel.objects.create(
        team=team, kind="slack_webhook", name="#ops", webhook_url=slack.url + SLACK_HOOK
    )
    slack.reply_to(SLACK_HOOK, 404, "no_service")

    incident_declare(service=service, title="Checkout is down", actor=responder)

    assert deliver_all() == ["failed"]
    channel.refresh_from_db()
    assert "404" in channel.last_error
    assert "no_service" in channel.last_error


# --- the incident's own channel -------------------------------------------------------------


def created(channel_id: str, name: str) -> dict[str, Any]:
    return {"ok": True, "channel": {"id": channel_id, "name": name, "is_channel": True}}


@pytest.fixture
def workspace(slack):
    return ChatWorkspace.objects.create(
        platform="slack", external_id="T0XYZ", name="Acme", signing_secret="s", bot_token=TOKEN
    )


def test_a_new_incident_gets_its_own_channel_with_the_people_involved(
    slack, team, service, responder, workspace
):
    slack_channel(team=team, workspace=workspace, create_incident_channels=True)
    ChatIdentity.objects.create(
        user=responder,
        platform="slack",
        workspace_external_id="T0XYZ",
        chat_user_id="U0ROSA",
        linked_via="link",
    )
    slack.reply_to("/conversations.create", 200, created("C0INC7", "inc-7-checkout-is-down"))
    slack.reply_to("/conversations.invite", 200, {"ok": True, "channel": {"id": "C0INC7"}})
    incident = incident_declare(service=service, title="Checkout is down!", actor=responder)

    rows = {row.action: row for row in Announcement.objects.all()}
    assert set(rows) == {"post", "create_channel"}
    # The announcement waits for the channel, without using up an attempt.
    assert announcement_deliver(announcement_id=rows["post"].pk) == "waiting for the incident channel"
    rows["post"].refresh_from_db()
    assert (rows["post"].status, rows["post"].attempts) == ("queued", 0)

    assert announcement_deliver(announcement_id=rows["create_channel"].pk) == "sent"
    name = incident_channel_name(incident)
    (create,) = slack.to("/conversations.create")
    assert create.json() == {"name": name, "is_private": False}
    (invite,) = slack.to("/conversations.invite")
    assert invite.json() == {"channel": "C0INC7", "users": "U0ROSA"}
    (welcome,) = slack.to("/chat.postMessage")
    assert welcome.json()["channel"] == "C0INC7"
    assert welcome.json()["text"].startswith(f"This channel is for {incident.reference}.")
    stored = IncidentChannel.objects.get(incident=incident)
    assert (stored.workspace_external_id, stored.channel_id, stored.channel_name) == (
        "T0XYZ",
        "C0INC7",
        "inc-7-checkout-is-down",
    )
    assert incident.timeline.filter(
        kind=TimelineKind.CHAT_CHANNEL,
        text=f"Slack channel #inc-7-checkout-is-down created for {incident.reference}",
    ).exists()

    later = timezone.now() + timedelta(seconds=3)
    assert announcement_deliver(announcement_id=rows["post"].pk, now=later) == "sent"
    announcement = slack.to("/chat.postMessage")[-1]
    assert announcement.json()["channel"] == CHANNEL
    assert button_labels(announcement) == ["Acknowledge", "Resolve", "Open", "#inc-7-checkout-is-down"]


def test_a_taken_channel_name_gets_a_number(slack, team, service, responder, workspace):
    slack_channel(team=team, workspace=workspace, create_incident_channels=True)
    slack.reply_to("/conversations.create", 200, {"ok": False, "error": "name_taken"})
    incident = incident_declare(service=service, title="Checkout is down", actor=responder)
    row = Announcement.objects.get(action="create_channel")

    assert announcement_deliver(announcement_id=row.pk) == "failed"

    names = [request.json()["name"] for request in slack.to("/conversations.create")]
    base = f"inc-{incident.number}-checkout-is-down"
    assert names == [base, f"{base}-2", f"{base}-3", f"{base}-4", f"{base}-5"]
    assert not IncidentChannel.objects.exists()
    # The announcement no longer waits for a channel that will not come.
    post = Announcement.objects.get(action="post")
    assert announcement_deliver(announcement_id=post.pk) == "sent"


def test_a_token_without_the_scope_fails_the_channel_and_says_which_scope(
    slack, team, service, responder, workspace
):
    channel = slack_channel(team=team, workspace=workspace, create_incident_channels=True)
    slack.reply_to(
        "/conversations.create", 200, {"ok": False, "error": "missing_scope", "needed": "channels:manage"}
    )
    incident_declare(service=service, title="Checkout is down", actor=responder)

    assert (
        announcement_deliver(announcement_id=Announcement.objects.get(action="create_channel").pk) == "failed"
    )

    channel.refresh_from_db()
    assert "missing_scope (needs channels:manage)" in channel.last_error


def test_one_channel_per_incident_even_when_two_announcement_channels_ask(
    slack, team, service, responder, workspace
):
    slack_channel(team=team, workspace=workspace, create_incident_channels=True)
    slack_channel(
        service=service, workspace=workspace, channel_id="C0CHECKOUT", create_incident_channels=True
    )

    incident_declare(service=service, title="Checkout is down", actor=responder)

    assert Announcement.objects.filter(action="create_channel").count() == 1
    assert Announcement.objects.filter(action="post").count() == 2


def test_incidents_opened_by_alerts_get_a_channel_too_and_later_events_do_not(
    slack, team, service, responder
):
    slack_channel(team=team, create_incident_channels=True)
    incident = IncidentFactory(service=service)
    triggered = TimelineEvent.objects.create(
        incident=incident, kind=TimelineKind.TRIGGERED, text="Triggered by Alertmanager: HighErrorRate"
    )
    announcements_plan(event=triggered)
    incident_set_severity(incident=incident, severity=Severity.SEV1, actor=responder)

    assert Announcement.objects.filter(action="create_channel").count() == 1
    assert Announcement.objects.filter(action="post").count() == 2


@pytest.mark.parametrize(
    ("title", "number", "expected"),
    [
        ("Checkout is down!", 7, "inc-7-checkout-is-down"),
        ("Zahlungen schlagen fehl (Ü)", 12, "inc-12-zahlungen-schlagen-fehl-u"),
        ("💥", 3, "inc-3"),
        ("x" * 200, 123456, "inc-123456-" + "x" * 69),
    ],
)
def test_incident_channel_names_follow_slacks_rules(title, number, expected):
    incident = IncidentFactory.build(number=number, title=title)

    name = incident_channel_name(incident)

    assert name == expected
    assert len(name) <= 80
    assert re.fullmatch(r"[a-z0-9_-]+", name)


def test_the_incident_page_links_the_incidents_own_channel(
    client, slack, team, service, responder, workspace
):
    slack_channel(team=team, workspace=workspace, create_incident_channels=True)
    slack.reply_to("/conversations.create", 200, created("C0INC7", "inc-7-checkout-is-down"))
    slack.reply_to("/conversations.invite", 200, {"ok": True})
    incident = incident_declare(service=service, title="Checkout is down", actor=responder)
    announcement_deliver(announcement_id=Announcement.objects.get(action="create_channel").pk)
    client.force_login(responder)

    html = client.get(incident.get_absolute_url()).content.decode()

    assert "Chat channel" in html
    assert 'href="https://slack.com/app_redirect?channel=C0INC7&amp;team=T0XYZ"' in html
    assert "#inc-7-checkout-is-down" in html
