"""A real Celery worker with embedded beat, as `make run` starts it, drives the engine tick."""

import time

import pytest

from incidents.models import EngineHeartbeat
from tests.workers import celery_worker


@pytest.mark.django_db(transaction=True)
def test_worker_with_beat_runs_the_engine_tick(tmp_path):
    env = {"MUSTER_VAR_DIR": str(tmp_path), "MUSTER_TICK_SECONDS": "1"}
    with celery_worker(log=tmp_path / "worker.log", env=env, beat=True) as worker:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not EngineHeartbeat.objects.filter(name="tick").exists():
            assert worker.alive(), worker.output()
            time.sleep(0.5)
        first = EngineHeartbeat.objects.filter(name="tick").first()
        assert first is not None, "the worker never ran the engine tick\n" + worker.output()
        time.sleep(2.5)
        assert EngineHeartbeat.objects.get(name="tick").last_tick_at > first.last_tick_at, (
            "the tick ran only once"
        )
