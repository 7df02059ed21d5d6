from __future__ import annotations

import pytest

from incidents.choices import Role
from postmortems.choices import SectionKey
from postmortems.models import PostmortemSection
from postmortems.services import postmortem_create, postmortem_publish, review_request, section_update
from tests.clients import api_client_for
from tests.factories import IncidentFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def postmortem(service, responder):
    return postmortem_create(incident=IncidentFactory(service=service), actor=responder)


def url(postmortem, key: str = "") -> str:
    return f"/api/v1/postmortems/{postmortem.incident.number}/sections/{key + '/' if key else ''}"


def body_of(postmortem, key: str) -> str:
    return PostmortemSection.objects.get(postmortem=postmortem, key=key).body


def test_put_saves_markdown_and_answers_with_html_and_blameless_warnings(responder, postmortem):
    text = "The deploy was **human error**: Rosa's fault, she should have known."

    response = api_client_for(responder).put(url(postmortem, "root_cause"), {"body": text}, format="json")

    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["key"] == "root_cause"
    assert data["title"] == "Root cause"
    assert data["body"] == text
    assert "<strong>human error</strong>" in data["html"]
    assert [w["phrase"] for w in data["warnings"]] == ["human error", "Rosa's fault", "should have known"]
    assert all(w["explanation"] for w in data["warnings"])
    assert data["updated_by"] == "rosa"
    assert body_of(postmortem, "root_cause") == text


def test_patch_saves_too_and_blameless_text_has_no_warnings(responder, postmortem):
    text = "A config template dropped the pool size override.\n\n- pool: 50 → 5"

    response = api_client_for(responder).patch(url(postmortem, "summary"), {"body": text}, format="json")

    assert response.status_code == 200
    assert response.json()["warnings"] == []
    assert "<li>pool: 50 → 5</li>" in response.json()["html"]
    assert body_of(postmortem, "summary") == text


def test_get_one_section_and_all_of_them_in_template_order(viewer, responder, postmortem):
    section_update(
        postmortem=postmortem, key="lucky", body="It was a **Tuesday**; we forgot to check.", actor=responder
    )
    client = api_client_for(viewer)

    one = client.get(url(postmortem, "lucky"))
    every = client.get(url(postmortem))

    assert one.status_code == 200
    assert one.json()["html"] == "<p>It was a <strong>Tuesday</strong>; we forgot to check.</p>"
    assert [w["phrase"] for w in one.json()["warnings"]] == ["forgot to"]
    assert [section["key"] for section in every.json()] == SectionKey.values


def test_script_in_a_section_is_sanitised_in_the_html(responder, postmortem):
    text = "Fine <script>alert(1)</script> [link](javascript:alert(1))"

    data = api_client_for(responder).put(url(postmortem, "impact"), {"body": text}, format="json").json()

    assert "<script" not in data["html"]
    assert "javascript:" not in data["html"]
    assert data["body"] == text


def test_unknown_section_key_is_a_json_404(responder, postmortem):
    client = api_client_for(responder)

    for response in (
        client.get(url(postmortem, "conclusions")),
        client.put(url(postmortem, "conclusions"), {"body": "x"}, format="json"),
    ):
        assert response.status_code == 404
        assert "conclusions" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"body": None},
        {"body": {"text": "x"}},
        {"body": ["x"]},
        {"body": "x" * 100_001},
    ],
)
def test_bad_bodies_are_a_400_naming_body_and_save_nothing(responder, postmortem, body):
    response = api_client_for(responder).put(url(postmortem, "summary"), body, format="json")

    assert response.status_code == 400
    assert "body" in response.json()
    assert body_of(postmortem, "summary") == ""


def test_an_empty_body_clears_the_section(responder, postmortem):
    section_update(postmortem=postmortem, key="impact", body="Some", actor=responder)

    response = api_client_for(responder).put(url(postmortem, "impact"), {"body": ""}, format="json")

    assert response.status_code == 200
    assert body_of(postmortem, "impact") == ""


def test_who_may_write_sections(viewer, sam, manager, outsider, responder, postmortem):
    reviewer = UserFactory(username="dana")
    MembershipFactory(team=TeamFactory(slug="databases"), user=reviewer, role=Role.MANAGER)
    review_request(postmortem=postmortem, actor=responder, reviewers=[reviewer])

    def put(user):
        return api_client_for(user).put(url(postmortem, "impact"), {"body": f"by {user}"}, format="json")

    assert put(sam).status_code == 200
    assert put(manager).status_code == 200
    refused = put(viewer)
    assert refused.status_code == 403
    assert "responder role in team Payments" in refused.json()["detail"]
    # A reviewer from another team reads and comments, but does not write the text.
    assert api_client_for(reviewer).get(url(postmortem, "impact")).status_code == 200
    assert put(reviewer).status_code == 403
    assert put(outsider).status_code == 404
    assert body_of(postmortem, "impact") == "by max"


def test_a_published_postmortems_sections_are_read_only(responder, manager, postmortem):
    section_update(postmortem=postmortem, key="summary", body="Done.", actor=responder)
    postmortem_publish(postmortem=postmortem, actor=manager)

    response = api_client_for(responder).put(url(postmortem, "summary"), {"body": "Rewritten"}, format="json")

    assert response.status_code == 409
    assert "read-only" in response.json()["detail"]
    assert body_of(postmortem, "summary") == "Done."
    assert api_client_for(responder).get(url(postmortem, "summary")).json()["body"] == "Done."
