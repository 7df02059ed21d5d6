import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from incidents.api.authentication import api_token_user
from incidents.choices import IntegrationKind
from incidents.models import Integration, Membership, Service, hash_secret
from oncall.services import policy_snapshot, step_users

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


class TestSeedDemo:
    def test_prints_users_services_and_one_integration_of_each_kind_for_checkout(self):
        result = json.loads(run("seed_demo"))
        roles = {u["role"] for u in result["users"]}
        assert {"manager", "responder"} <= roles
        assert sum(u["role"] == "responder" for u in result["users"]) >= 2
        assert "checkout" in result["services"]
        assert len(result["services"]) >= 2
        kinds = {i["kind"] for i in result["integrations"]["checkout"]}
        assert kinds == set(IntegrationKind.values)
        for item in result["integrations"]["checkout"]:
            integration = Integration.objects.get(service__slug="checkout", kind=item["kind"])
            assert integration.key_hash == hash_secret(item["key"])
            assert item["url"].startswith("http")

    def test_running_it_twice_changes_nothing_and_prints_the_same(self):
        first = run("seed_demo")
        counts = (Service.objects.count(), Integration.objects.count(), Membership.objects.count())
        second = run("seed_demo")
        assert first == second
        assert counts == (Service.objects.count(), Integration.objects.count(), Membership.objects.count())

    def test_checkout_pages_whoever_is_on_call_then_the_whole_team(self):
        run("seed_demo")
        steps = policy_snapshot(Service.objects.get(slug="checkout").escalation_policy)["steps"]
        # Sunday 1 March 2026, noon in Berlin: the eighth week of the weekly rotation (riley, sam,
        # morgan from Monday 5 January) is sam's, and the office-hours layer is off at weekends.
        sunday_noon = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
        assert [u.username for u in step_users(step=steps[0], at=sunday_noon)] == ["sam"]
        assert sorted(u.username for u in step_users(step=steps[1], at=sunday_noon)) == [
            "admin",
            "morgan",
            "riley",
            "sam",
        ]

    def test_the_demo_heartbeat_is_ready_to_arm(self):
        run("seed_demo")
        heartbeat = Integration.objects.get(service__slug="checkout", kind=IntegrationKind.HEARTBEAT)
        assert heartbeat.heartbeat_interval_minutes == 10

    def test_demo_logins_work(self, client):
        result = json.loads(run("seed_demo"))
        user = result["users"][1]
        assert client.login(username=user["username"], password=user["password"])


class TestCreateIntegration:
    def test_prints_a_key_that_is_stored_only_as_a_hash(self, service):
        result = json.loads(run("create_integration", "--service", "checkout", "--kind", "alertmanager"))
        integration = Integration.objects.get(pk=result["id"])
        assert integration.kind == "alertmanager"
        assert integration.key_hash == hash_secret(result["key"])
        assert result["url"].endswith(f"/hooks/{result['key']}")

    def test_pagerduty_kind_points_at_the_events_api(self, service):
        result = json.loads(
            run("create_integration", "--service", "checkout", "--kind", "pagerduty", "--name", "AM")
        )
        assert result["url"].endswith("/v2/enqueue")
        assert result["name"] == "AM"

    def test_unknown_service_is_a_clear_error(self, service):
        with pytest.raises(CommandError, match=r"No service with slug 'nope'.*checkout"):
            run("create_integration", "--service", "nope", "--kind", "native")

    def test_unknown_kind_is_refused(self, service):
        with pytest.raises(CommandError, match="invalid choice"):
            run("create_integration", "--service", "checkout", "--kind", "smoke-signal")


class TestCreateApiToken:
    def test_prints_a_token_that_authenticates_as_the_user(self, responder):
        token = run("create_api_token", responder.username).strip()
        assert api_token_user(token) == responder

    def test_unknown_user_is_a_clear_error(self):
        with pytest.raises(CommandError, match="No user 'ghost'"):
            run("create_api_token", "ghost")
