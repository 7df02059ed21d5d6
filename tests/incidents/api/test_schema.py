from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_the_schema_generates_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"

    # --fail-on-warn turns every spectacular warning (an unresolvable field, an enum name collision,
    # an unknown authenticator) into an error.
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(target))

    schema = yaml.safe_load(target.read_text())
    paths = schema["paths"]
    for path in [
        "/api/v1/incidents/",
        "/api/v1/incidents/{number}/",
        "/api/v1/incidents/{number}/acknowledge/",
        "/api/v1/incidents/{number}/resolve/",
        "/api/v1/incidents/{number}/mitigate/",
        "/api/v1/incidents/{number}/severity/",
        "/api/v1/incidents/{number}/notes/",
        "/api/v1/incidents/{number}/roles/",
        "/api/v1/services/{slug}/",
        "/api/v1/integrations/{id}/",
        "/api/v1/alerts/{id}/",
    ]:
        assert path in paths
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal API token (mst_…).",
    }
    assert "key_hash" not in target.read_text()
    list_filters = {p["name"] for p in paths["/api/v1/incidents/"]["get"]["parameters"]}
    assert {"status", "severity", "service", "team", "page"} <= list_filters


def test_the_schema_endpoint_answers(client_for, viewer):
    response = client_for(viewer, via="session").get("/api/v1/schema/")

    assert response.status_code == 200
    assert b"/api/v1/incidents/{number}/acknowledge/" in response.content


def test_the_docs_page_loads_for_a_signed_in_user(client, viewer):
    client.force_login(viewer)

    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    assert b"swagger-ui" in response.content
