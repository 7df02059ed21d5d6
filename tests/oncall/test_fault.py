"""Paging survives crashes: a real Celery worker (with beat) is SIGKILLed at random moments and its
Redis broker is restarted, and still every page is either delivered exactly once or visibly failed
at its deadline. None is lost, none arrives twice.

Runs on PostgreSQL (the production database, where workers really run in parallel) against a
private redis-server started by the test, so restarting it disturbs nobody else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from kombu import Connection
from kombu.exceptions import OperationalError

from incidents.choices import Role
from incidents.ingest.events import AlertEvent
from incidents.models import EngineHeartbeat, Incident
from incidents.services import alert_ingest
from oncall import engine, tasks
from oncall.models import EscalationState, Notification, NotificationRule, NotificationStatus
from tests.factories import (
    ContactMethodFactory,
    EscalationPolicyFactory,
    EscalationStepFactory,
    IntegrationFactory,
    MembershipFactory,
    NotificationRuleFactory,
    UserFactory,
)
from tests.workers import database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "fault-test-signing-secret"
INCIDENTS = 50
MIN_KILLS = 4
CONCURRENCY = 2  # worker processes: at most this many sends are in flight when the worker is killed
WORKER_READY_SECONDS = 90
CHANNEL_TIMEOUT_SECONDS = 5


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises the worker's processes")
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server, to run a private broker that can be restarted")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the outside world -----------------------------------------------------------------------


@dataclass
class Arrival:
    header_id: str
    body_id: str
    signature_valid: bool


@dataclass
class Receiver:
    """Where the webhook pages land: every POST is kept, by notification id."""

    arrivals: list[Arrival] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def serve(self) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                arrival = Arrival(
                    header_id=self.headers.get("X-Muster-Notification", ""),
                    body_id=str(json.loads(body).get("notification_id", "")),
                    signature_valid=hmac.compare_digest(expected, self.headers.get("X-Muster-Signature", "")),
                )
                with receiver.lock:
                    receiver.arrivals.append(arrival)
                # A slow answer widens the window in which a kill cuts a send off mid-way.
                time.sleep(random.uniform(0, 0.3))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def counts(self) -> dict[str, int]:
        with self.lock:
            counted: dict[str, int] = defaultdict(int)
            for arrival in self.arrivals:
                counted[arrival.header_id] += 1
            return counted


class PrivateRedis:
    """A redis-server of the test's own, without persistence: a restart loses every message."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", str(self.workdir)]
        with (self.workdir / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Worker:
    """`celery worker --beat`, as production runs it; killed as a whole process group."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = timezone.now()

    def start(self) -> None:
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--beat"]
        command += ["--concurrency", str(CONCURRENCY), "--loglevel", "WARNING"]
        with self.log_path.open("ab") as log:
            log.write(f"\n--- worker started at {timezone.now():%H:%M:%S.%f}\n".encode())
            self.proc = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started_at = timezone.now()

    def wait_until_ticking(self, since: datetime | None = None) -> None:
        """Beat and a worker process are both up (and connected) once a tick lands after `since`,
        by default the worker's start."""
        since = since or self.started_at
        deadline = time.monotonic() + WORKER_READY_SECONDS
        while time.monotonic() < deadline:
            assert self.proc is not None
            assert self.proc.poll() is None, f"the worker exited\n{self.log_tail()}"
            if EngineHeartbeat.objects.filter(name="tick", last_tick_at__gt=since).exists():
                return
            time.sleep(0.2)
        raise AssertionError(f"the worker never ticked\n{self.log_tail()}")

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class Chaos(threading.Thread):
    """Kills the worker at random moments, restarting it each time, and restarts Redis once."""

    def __init__(self, worker: Worker, redis: PrivateRedis, rng: random.Random) -> None:
        super().__init__(name="chaos", daemon=True)
        self.worker = worker
        self.redis = redis
        self.rng = rng
        self.stopping = threading.Event()
        self.kills = 0
        self.redis_restarts = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopping.wait(self.rng.uniform(0.5, 4.0)):
                if self.kills == 2 and not self.redis_restarts:
                    # The broker goes away under a running worker, losing every queued message.
                    self.redis.stop()
                    time.sleep(self.rng.uniform(0.5, 2.0))
                    self.redis.start()
                    self.redis_restarts += 1
                    # The same worker reconnects by itself: beat publishes a tick and it runs.
                    self.worker.wait_until_ticking(since=timezone.now())
                    continue
                self.worker.kill()
                self.kills += 1
                time.sleep(self.rng.uniform(0, 1.0))
                self.worker.start()
                # Kill only a worker that is doing something: the next kill waits for a tick.
                self.worker.wait_until_ticking()
        except BaseException as exc:  # reported by the test, which cannot see this thread's errors
            self.error = exc
        finally:
            connection.close()


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(tmp_path)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recorder = Receiver()
    server = recorder.serve()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}/page"
    try:
        yield recorder
    finally:
        server.shutdown()


@pytest.fixture
def handover_to(monkeypatch):
    """This process opens the incidents, so its on-commit hand-over must reach the private broker
    too (its own settings point at the shared one). The message is published exactly as before."""

    def route(broker_url: str) -> None:
        for task in (tasks.escalation_process, tasks.deliver_notification):

            def delay(*args: Any, task: Any = task) -> None:
                with Connection(broker_url, connect_timeout=2) as conn:
                    task.apply_async(args, connection=conn)

            monkeypatch.setattr(task, "delay", delay)

    return route


# --- the test --------------------------------------------------------------------------------


def webhook_person(username: str, url: str) -> Any:
    person: Any = UserFactory(username=username)
    NotificationRule.objects.filter(user=person).delete()  # whatever a new person starts with
    NotificationRuleFactory(contact_method=ContactMethodFactory(user=person, kind="webhook", address=url))
    return person


def test_crashes_and_a_broker_restart_neither_lose_nor_duplicate_a_page(
    tmp_path, settings, team, service, private_redis, receiver, handover_to
):
    seed = int(os.environ.get("MUSTER_FAULT_SEED", time.time_ns() % 100_000))
    rng = random.Random(seed)
    alice = webhook_person("alice", receiver.url)
    bob = webhook_person("bob", receiver.url)
    for person in (alice, bob):
        MembershipFactory(team=team, user=person, role=Role.RESPONDER)
    policy = EscalationPolicyFactory(team=team)
    EscalationStepFactory(policy=policy, users=[alice], delay_minutes=1)
    EscalationStepFactory(policy=policy, users=[bob], delay_minutes=60)
    service.escalation_policy = policy
    service.save()
    integration = IntegrationFactory(service=service)
    handover_to(private_redis.url)

    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": private_redis.url,
        "REDIS_URL": "",  # the rate-limit cache falls back to files under the private var dir
        "MUSTER_VAR_DIR": str(tmp_path),
        "MUSTER_TICK_SECONDS": "1",
        "MUSTER_WEBHOOK_SIGNING_SECRET": SECRET,
        "MUSTER_CHANNEL_TIMEOUT_SECONDS": str(CHANNEL_TIMEOUT_SECONDS),
        "LOG_LEVEL": "WARNING",
    }
    settings.MUSTER_CHANNEL_TIMEOUT_SECONDS = CHANNEL_TIMEOUT_SECONDS
    # A send cut off by the last kill stays "sending" until its deadline; then a tick fails it.
    settle_seconds = engine.delivery_deadline().total_seconds() + 60
    worker = Worker(env, tmp_path / "worker.log")
    chaos = Chaos(worker, private_redis, rng)
    context = f"(seed {seed}; MUSTER_FAULT_SEED={seed} repeats the random choices)"
    handovers_lost = 0
    try:
        worker.start()
        worker.wait_until_ticking()
        chaos.start()

        for i in range(INCIDENTS):
            event = AlertEvent(
                action="trigger", dedup_key=f"k{i}", group_key=f"k{i}", summary=f"Shard {i} down"
            )
            try:
                alert_ingest(integration=integration, event=event)
            except OperationalError:
                handovers_lost += 1  # committed, but the broker was down: the tick must find it
            time.sleep(rng.uniform(0.05, 0.4))

        # Step 2 is a minute away; bring each one forward to a random moment in the next seconds,
        # so that it fires while the worker is still being killed. Only steps that are waiting.
        # Generous: the worker is being killed throughout, and CI machines get a varying CPU share
        # (one clean-clone run needed more than 90 s here; the same seed alone takes far less).
        wait_for(lambda: EscalationState.objects.filter(step_index__gte=1).count() == INCIDENTS, 240, context)
        for state in EscalationState.objects.filter(step_index=1, closed_at__isnull=True):
            EscalationState.objects.filter(pk=state.pk, step_index=1).update(
                next_step_at=timezone.now() + timedelta(seconds=rng.uniform(0, 8))
            )
        time.sleep(12)  # the steps fall due over the next 8 s, and the kills go on
        # On a slow machine a restart takes longer; the faults continue until there were enough.
        wait_for(lambda: chaos.kills >= MIN_KILLS or chaos.error is not None, 180, context)
        chaos.stopping.set()
        chaos.join(timeout=WORKER_READY_SECONDS + 30)
        assert chaos.error is None, f"{chaos.error!r} {context}"

        def settled() -> bool:
            rows = Notification.objects.filter(incident__service=service)
            return rows.count() == 2 * INCIDENTS and not rows.filter(
                status__in=[NotificationStatus.QUEUED, NotificationStatus.SENDING]
            )

        wait_for(settled, settle_seconds, context)
    finally:
        chaos.stopping.set()
        chaos.join(timeout=WORKER_READY_SECONDS + 30)
        worker.stop()

    assert chaos.kills >= MIN_KILLS, f"the worker was killed only {chaos.kills} times {context}"
    assert chaos.redis_restarts == 1, context
    arrivals = receiver.counts()
    rows = list(Notification.objects.filter(incident__service=service).values())
    problems = []
    for incident in Incident.objects.filter(service=service):
        reached = sorted(
            (row["user_id"], row["step_index"]) for row in rows if row["incident_id"] == incident.pk
        )
        if reached != [(alice.pk, 0), (bob.pk, 1)]:
            problems.append(f"{incident.reference} paged (user, step) {reached}, not alice then bob")
    failed_at_deadline = 0
    for row in rows:
        seen = arrivals.get(str(row["id"]), 0)
        if row["status"] == NotificationStatus.SENT and seen != 1:
            problems.append(f"notification {row['id']} is sent but the receiver got it {seen} times")
        elif row["status"] == NotificationStatus.FAILED and "deadline" in row["last_error"] and seen <= 1:
            failed_at_deadline += 1  # cut off by a kill: visibly failed, and at most sent once
        elif row["status"] != NotificationStatus.SENT:
            problems.append(
                f"notification {row['id']} ended {row['status']} ({row['last_error']}), seen {seen}"
            )
    assert not problems, "\n".join([*problems, context, worker.log_tail()])
    with receiver.lock:
        assert all(a.signature_valid and a.header_id == a.body_id for a in receiver.arrivals)
    assert set(arrivals) <= {str(row["id"]) for row in rows}
    # Only a send in flight when its worker died can end this way: at most one per process per kill.
    assert failed_at_deadline <= chaos.kills * CONCURRENCY, context
    print(
        f"\n{len(rows)} pages, {len(rows) - failed_at_deadline} delivered once, {failed_at_deadline} failed at"
        f" their deadline; {chaos.kills} kills, {chaos.redis_restarts} Redis restart,"
        f" {handovers_lost} hand-overs lost to the broker {context}"
    )


def wait_for(condition: Any, seconds: float, context: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"still waiting after {seconds:.0f} s {context}")
