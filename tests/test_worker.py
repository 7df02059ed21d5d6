"""A real Celery worker with embedded beat, as `make run` starts it, drives the engine tick."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from incidents.models import EngineHeartbeat

ROOT = Path(__file__).resolve().parents[1]


def _database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    user = settings.get("USER") or "postgres"
    return f"postgres://{user}@{host}:{port}/{settings['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_worker_with_beat_runs_the_engine_tick(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "MUSTER_VAR_DIR": str(tmp_path),
        "MUSTER_TICK_SECONDS": "1",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--beat",
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not EngineHeartbeat.objects.filter(name="tick").exists():
            assert worker.poll() is None, worker.stdout.read() if worker.stdout else "worker exited"
            time.sleep(0.5)
        first = EngineHeartbeat.objects.filter(name="tick").first()
        assert first is not None, "the worker never ran the engine tick"
        time.sleep(2.5)
        assert EngineHeartbeat.objects.get(name="tick").last_tick_at > first.last_tick_at, (
            "the tick ran only once"
        )
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
