"""A real Celery worker posts the announcements of a new incident and of its resolution to a local
stand-in for Slack, handed over on commit, each exactly once."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from incidents.chatops.models import Announcement, AnnouncementChannel
from incidents.ingest.events import AlertEvent
from incidents.services import alert_ingest, incident_resolve
from tests.factories import IntegrationFactory
from tests.incidents.chatops.test_announcements import CHANNEL, TOKEN, check, posted
from tests.oncall.channels.conftest import Reply as ProviderReply
from tests.oncall.channels.conftest import fake_provider  # noqa: F401 - fixture
from tests.workers import celery_worker


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_posts_each_announcement_once(fake_provider, team, service, responder, tmp_path):  # noqa: F811
    slack = fake_provider(check, ProviderReply(200, posted()))
    AnnouncementChannel.objects.create(team=team, kind="slack_channel", name="#incidents", channel_id=CHANNEL)
    integration = IntegrationFactory(service=service, name="Alertmanager")
    env = {
        "MUSTER_VAR_DIR": str(settings.VAR_DIR),  # the same filesystem broker as this process
        "SLACK_API_URL": slack.url,
        "SLACK_BOT_TOKEN": TOKEN,
        "MUSTER_BASE_URL": "https://muster.example.org",
        "MUSTER_TICK_SECONDS": "60",
    }
    with celery_worker(log=tmp_path / "worker.log", env=env, loglevel="WARNING", purge=True) as worker:
        time.sleep(4)  # let the worker connect before the task is published
        incident = alert_ingest(
            integration=integration,
            event=AlertEvent(action="trigger", dedup_key="k", group_key="k", summary="Checkout 5xx above 5%"),
        ).incident
        assert _wait_for(lambda: len(slack.requests) >= 1, 30), worker.output()
        incident_resolve(incident=incident, actor=responder)
        assert _wait_for(lambda: len(slack.requests) >= 2, 30), worker.output()
        time.sleep(2)  # anything more would be a duplicate

    texts = [request.json()["text"] for request in slack.requests]
    assert len(texts) == 2, texts
    assert texts[0].startswith("New incident, opened by Alertmanager\n")
    assert texts[1].startswith("Resolved by")
    assert list(Announcement.objects.values_list("status", flat=True)) == ["sent", "sent"]
