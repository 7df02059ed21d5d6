from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from incidents.choices import IncidentStatus
from oncall import acklinks
from tests.factories import IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(service):
    return IncidentFactory(service=service, title="Checkout 5xx above 5%")


def ack_path(incident, user) -> str:
    token = acklinks.make_token(incident_id=incident.pk, user_id=user.pk)
    return acklinks.ack_url(token).removeprefix("http://127.0.0.1:8000")


def test_opening_the_link_only_asks_for_confirmation(incident, responder):
    response = Client().get(ack_path(incident, responder))
    assert response.status_code == 200
    assert b"Acknowledge INC-" in response.content
    assert b"Checkout 5xx above 5%" in response.content
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.TRIGGERED


def test_confirming_acknowledges_as_the_person_the_link_was_sent_to(incident, responder):
    client = Client(enforce_csrf_checks=True)
    path = ack_path(incident, responder)
    client.get(path)
    response = client.post(path, {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert response.status_code == 200
    assert b"Acknowledged." in response.content
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    assert incident.timeline.get(kind="acknowledged").actor_user == responder


def test_a_used_link_says_who_acknowledged(incident, responder):
    path = ack_path(incident, responder)
    Client().post(path)
    response = Client().get(path)
    assert b"was already acknowledged by" in response.content


def test_an_expired_link_says_so(incident, responder):
    path = ack_path(incident, responder)
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        response = Client().get(path)
    assert response.status_code == 410
    assert b"has expired" in response.content


def test_a_tampered_link_is_refused(incident, responder):
    response = Client().get(ack_path(incident, responder)[:-3] + "xyz/")
    assert response.status_code == 410
    assert b"not valid" in response.content


def test_a_link_for_someone_without_a_responder_role_does_nothing(incident, viewer):
    response = Client().post(ack_path(incident, viewer))
    assert response.status_code == 410
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.TRIGGERED


def test_the_ntfy_button_acknowledges_with_a_post_and_no_session(incident, responder):
    token = acklinks.make_token(incident_id=incident.pk, user_id=responder.pk)
    path = acklinks.ack_api_url(token).removeprefix("http://127.0.0.1:8000")
    response = Client(enforce_csrf_checks=True).post(path)
    assert response.status_code == 200
    assert response.json()["status"] == "acknowledged"
    again = Client().post(path).json()
    assert "already acknowledged" in again["detail"]


def test_a_get_on_the_ntfy_endpoint_is_refused(incident):
    token = acklinks.make_token(incident_id=incident.pk, user_id=UserFactory().pk)
    path = acklinks.ack_api_url(token).removeprefix("http://127.0.0.1:8000")
    assert Client().get(path).status_code == 405
