"""Paging benchmark: how fast a new incident's first page goes out, and how punctually escalation
timers fire, with gunicorn, a Celery worker with beat, PostgreSQL and Redis.

Run from the project root (PostgreSQL on 127.0.0.1:5432 accepting the `postgres` role without a
password, Redis on 127.0.0.1:6379, as a developer machine or CI usually has them):

    .venv/bin/python bench/paging.py            # the full run: about 6 minutes
    .venv/bin/python bench/paging.py --quick    # a smoke run (5 s of alerts, 500 timers): under a minute

Options: --database-url (default postgres://postgres@127.0.0.1:5432/muster_bench; created, and
dropped at the end), --redis-url (default redis://127.0.0.1:6379/13; the broker and cache, a
database number nobody else uses: it must be empty, and it is flushed at the end), --rate alerts per
second (20), --duration seconds of alerts (60), --escalations timers (10000), --spread seconds over
which they fall due (180), --tick seconds between engine ticks (5, the product default),
--worker-concurrency (2, as `make run`), --timeout for the whole run in seconds (1200),
--drop-existing to replace a database (and flush a Redis database) a killed run left behind,
--quick for the smoke run (--duration 5 --escalations 500 --spread 20), --seed (1).

What one run does:

1. Creates and migrates the database; creates a team, a service whose escalation policy pages one
   person by webhook, and a PagerDuty integration without a rate limit. The webhook goes to a
   receiver in this process that checks each page's signature and notes when it arrived.
2. Starts gunicorn (the Dockerfile's CMD options, production settings) and one Celery worker with
   embedded beat, both against PostgreSQL and Redis, and waits for the engine's first tick.
3. (a) First page: sends --rate PagerDuty triggers per second for --duration seconds, each a new
   incident, on a fixed schedule (a slow answer does not delay the next alert). Latency is the
   page's arrival at the receiver minus the moment the alert was sent. Prints p50/p99/max and the
   202 answers' own latency.
4. (b) Timers: writes --escalations open escalations straight into the database (incidents and
   escalation states, one step paging the same person), due at random moments over --spread
   seconds, and waits until every step has fired. How late a step fired is the creation time of its
   notification row minus the due time the bench chose. Prints p50/p99/max, the share that fired
   within one tick (the design's precision goal), and when the pages were delivered.
5. Stops the worker and gunicorn, flushes the Redis database and drops the PostgreSQL database,
   also on error or Ctrl-C. Exit status 0 when every alert got its page and every timer fired, 1
   otherwise, 2 when the bench itself could not run.

It only talks to loopback addresses. Client, server, worker and databases share this machine's
CPUs, so the figures describe this machine under this load; they are not a capacity plan.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import math
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ingest import (  # noqa: E402 - needs ROOT on the path when run as a script
    HOST,
    LOOPBACK,
    BenchError,
    bench_environment,
    bench_main,
    check_database_url,
    create_database,
    drop_database,
    free_port,
    prepare_django,
    print_log_tail,
    running_gunicorn,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/muster_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
SENDER_THREADS = 8
REQUEST_TIMEOUT_SECONDS = 30.0
WORKER_START_SECONDS = 90.0
# Pages still missing this long after the last alert was sent are reported as missing.
PAGE_WAIT_SECONDS = 60.0
WARMUP_ALERTS = 10


# --- configuration ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--rate", type=float, default=20.0, help="alerts per second in (a)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of alerts in (a)")
    parser.add_argument("--escalations", type=int, default=10_000, help="open escalations in (b)")
    parser.add_argument(
        "--spread", type=float, default=180.0, help="seconds over which (b)'s timers fall due"
    )
    parser.add_argument("--tick", type=float, default=5.0, help="MUSTER_TICK_SECONDS for the worker")
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds for the whole run")
    parser.add_argument("--drop-existing", action="store_true", help="replace what a killed run left")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 5 s of alerts, 500 timers over 20 s"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.escalations, args.spread = 5.0, 500, 20.0
    if args.rate <= 0 or args.duration <= 0 or args.escalations < 1 or args.spread <= 0:
        parser.error("--rate, --duration, --escalations and --spread must be positive")
    if args.tick < 0.5 or args.worker_concurrency < 1:
        parser.error("--tick must be at least 0.5 and --worker-concurrency at least 1")
    return args


def check_redis_url(url: str, *, flush: bool) -> None:
    import redis

    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "redis" or parts.hostname not in LOOPBACK:
        raise BenchError("--redis-url must be a redis:// URL on a loopback address")
    if not parts.path.strip("/").isdigit():
        raise BenchError("--redis-url must name a database number, e.g. redis://127.0.0.1:6379/13")
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        keys = client.dbsize()
    except redis.RedisError as exc:
        raise BenchError(f"cannot reach Redis at {url}: {exc}") from None
    if keys and not flush:
        raise BenchError(f"Redis database {url} holds {keys} keys; pass --drop-existing to flush it")
    client.flushdb()


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=5).flushdb()


# --- the webhook receiver ----------------------------------------------------------------------


@dataclass
class Receiver:
    """Notes when each page arrived, by incident title; counts pages whose signature is wrong."""

    secret: str
    arrivals: dict[str, float] = field(default_factory=dict)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arrived(self, title: str, at: float, *, signed: bool) -> None:
        with self.lock:
            self.arrivals.setdefault(title, at)
            self.bad_signatures += 0 if signed else 1

    def arrival(self, title: str) -> float | None:
        with self.lock:
            return self.arrivals.get(title)

    def count(self, prefix: str) -> int:
        with self.lock:
            return sum(1 for title in self.arrivals if title.startswith(prefix))


@contextmanager
def running_receiver(receiver: Receiver) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            at = time.monotonic()
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            expected = hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
            signed = hmac.compare_digest(expected, self.headers.get("X-Muster-Signature", ""))
            try:
                title = str(json.loads(body)["incident"]["title"])
            except (ValueError, KeyError, TypeError):
                title = ""
            receiver.arrived(title, at, signed=signed)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="receiver", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/page"
    finally:
        server.shutdown()
        server.server_close()


# --- the application ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixtures:
    routing_key: str
    service_id: int
    user_id: int


def prepare(env: dict[str, str], webhook_url: str) -> Fixtures:
    """The database of bench/ingest.py (team, service, integrations), plus whom the service pages."""
    ingest = prepare_django(env)
    from django.contrib.auth import get_user_model
    from django.db import connections

    from incidents.models import Service
    from oncall.models import ContactMethod, EscalationPolicy, EscalationStep, NotificationRule

    service = Service.objects.get(slug="bench")
    person = get_user_model().objects.create_user(username="bench-oncall", email="")
    NotificationRule.objects.filter(user=person).delete()  # only the webhook: nothing else to wait for
    webhook = ContactMethod.objects.create(user=person, kind="webhook", address=webhook_url)
    for urgency in ("high", "low"):
        NotificationRule.objects.create(user=person, contact_method=webhook, urgency=urgency, delay_minutes=0)
    policy = EscalationPolicy.objects.create(name="Bench", team=service.team)
    EscalationStep.objects.create(policy=policy, position=0, delay_minutes=60).users.add(person)
    service.escalation_policy = policy
    service.save(update_fields=["escalation_policy"])
    connections.close_all()
    return Fixtures(routing_key=ingest.routing_key, service_id=service.pk, user_id=person.pk)


@contextmanager
def running_worker(env: dict[str, str], log_path: Path, concurrency: int) -> Iterator[None]:
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--beat"]
    command += ["--concurrency", str(concurrency), "--loglevel", "WARNING"]
    started = datetime.now().astimezone()
    with log_path.open("wb") as log:
        # Its own process group, so that the pool processes and beat go down with it.
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for_tick(proc, started)
        yield
    except BaseException:
        print_log_tail(log_path)
        raise
    finally:
        stop_group(proc)


def wait_for_tick(proc: subprocess.Popen[bytes], since: datetime) -> None:
    from django.db import connections

    from incidents.models import EngineHeartbeat

    deadline = time.monotonic() + WORKER_START_SECONDS
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BenchError(f"the Celery worker exited with status {proc.returncode}")
            if EngineHeartbeat.objects.filter(name="tick", last_tick_at__gt=since).exists():
                return
            time.sleep(0.3)
    finally:
        connections.close_all()
    raise BenchError("the Celery worker's beat never ran the engine tick")


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# --- (a) first page ----------------------------------------------------------------------------


@dataclass
class Sent:
    title: str
    at: float = math.nan  # monotonic, when the request started
    status: int = 0
    answer_ms: float = math.nan
    error: str = ""


def trigger_body(routing_key: str, title: str) -> bytes:
    event = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": title,
        "payload": {"summary": title, "source": "bench.muster.invalid", "severity": "critical"},
    }
    return json.dumps(event).encode()


def send_alerts(
    port: int, routing_key: str, titles: Sequence[str], rate: float, deadline: float
) -> list[Sent]:
    """Open loop: alert i goes out at start + i / rate, whatever happened to the ones before it."""
    sent = [Sent(title) for title in titles]
    start = time.monotonic() + 0.5

    def sender(offset: int) -> None:
        conn: http.client.HTTPConnection | None = None
        try:
            for i in range(offset, len(sent), SENDER_THREADS):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                if time.monotonic() > deadline:
                    return
                client = conn or http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_SECONDS)
                conn = None  # kept only when the exchange ends cleanly on an open connection
                item = sent[i]
                item.at = time.monotonic()
                try:
                    client.request(
                        "POST",
                        "/v2/enqueue",
                        body=trigger_body(routing_key, item.title),
                        headers={"Content-Type": "application/json"},
                    )
                    response = client.getresponse()
                    response.read()
                    item.status = response.status
                    if not response.will_close:
                        conn = client
                except (OSError, http.client.HTTPException) as exc:
                    item.error = f"{exc.__class__.__name__}: {exc}"
                item.answer_ms = (time.monotonic() - item.at) * 1000
                if conn is None:
                    client.close()
        finally:
            if conn is not None:
                conn.close()

    threads = [threading.Thread(target=sender, args=(i,), daemon=True) for i in range(SENDER_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


def wait_for_pages(receiver: Receiver, titles: Sequence[str], until: float) -> None:
    while time.monotonic() < until and any(receiver.arrival(t) is None for t in titles):
        time.sleep(0.2)


def first_page(
    args: argparse.Namespace, port: int, fixtures: Fixtures, receiver: Receiver, deadline: float
) -> bool:
    # Warm-up: gunicorn's threads open their database connections, the worker imports everything.
    warmup = [f"bench-warmup-{i}" for i in range(WARMUP_ALERTS)]
    send_alerts(port, fixtures.routing_key, warmup, rate=WARMUP_ALERTS, deadline=deadline)
    wait_for_pages(receiver, warmup, min(deadline, time.monotonic() + PAGE_WAIT_SECONDS))

    count = max(1, round(args.rate * args.duration))
    titles = [f"bench-alert-{i:06d}" for i in range(count)]
    sent = send_alerts(port, fixtures.routing_key, titles, rate=args.rate, deadline=deadline)
    wait_for_pages(receiver, titles, min(deadline, time.monotonic() + PAGE_WAIT_SECONDS))

    accepted = [s for s in sent if s.status == 202]
    latencies = []
    for item in accepted:
        arrived = receiver.arrival(item.title)
        if arrived is not None:
            latencies.append(arrived - item.at)
    failed = [s for s in sent if s.status != 202]
    print(f"(a) first page: {count} alerts at {args.rate:g}/s over {args.duration:g} s, each a new incident")
    print(
        f"    ingest answered 202: {len(accepted)} of {count};"
        f" answer latency p50 {ms(percentile([s.answer_ms for s in accepted], 0.5))},"
        f" p99 {ms(percentile([s.answer_ms for s in accepted], 0.99))}"
    )
    for item in failed[:3]:
        print(f"    e.g. {item.title}: {item.error or f'HTTP {item.status}'}")
    print(
        f"    alert sent -> first page delivered: p50 {seconds(percentile(latencies, 0.5))},"
        f" p99 {seconds(percentile(latencies, 0.99))}, max {seconds(max(latencies, default=math.nan))}"
    )
    missing = len(accepted) - len(latencies)
    print(
        f"    pages arrived: {len(latencies)} of {len(accepted)}"
        + (f" ({missing} MISSING)" if missing else "")
    )
    return not failed and not missing


# --- (b) timers ------------------------------------------------------------------------------


def bulk_incidents(*, service: Any, titles: list[str]) -> list[Any]:
    """Open incidents written straight into the database, numbered as the product numbers them
    (the counter row is moved on, so incidents declared later do not collide). Call inside a
    transaction."""
    from django.utils import timezone

    from incidents.models import Counter, Incident

    counter, _ = Counter.objects.select_for_update().get_or_create(name="incident")
    first = counter.value + 1
    counter.value += len(titles)
    counter.save(update_fields=["value"])
    now = timezone.now()
    return Incident.objects.bulk_create(
        [
            Incident(number=first + i, title=title, service=service, created_at=now)
            for i, title in enumerate(titles)
        ],
        batch_size=1000,
    )


def create_escalations(
    fixtures: Fixtures, count: int, spread: float, rng: random.Random
) -> dict[int, datetime]:
    """Open escalations written in bulk, as if `count` incidents were paging; returns each
    incident's due time. They are written without a due time first, so none fires before all
    exist; then the due times are set, starting a few seconds from now."""
    from django.db import connections, transaction
    from django.utils import timezone

    from incidents.models import Service
    from oncall.models import EscalationState
    from oncall.services import policy_snapshot

    service = Service.objects.select_related("escalation_policy").get(pk=fixtures.service_id)
    snapshot = policy_snapshot(service.escalation_policy)
    now = timezone.now()
    with transaction.atomic():
        incidents = bulk_incidents(service=service, titles=[f"bench-timer-{i:06d}" for i in range(count)])
        states = EscalationState.objects.bulk_create(
            [
                EscalationState(
                    incident=incident, policy_snapshot=snapshot, next_step_at=None, started_at=now
                )
                for incident in incidents
            ],
            batch_size=1000,
        )
    base = timezone.now() + timedelta(seconds=3)
    due: dict[int, datetime] = {}
    for state in states:
        state.next_step_at = base + timedelta(seconds=rng.uniform(0, spread))
        due[state.incident_id] = state.next_step_at
    EscalationState.objects.bulk_update(states, ["next_step_at"], batch_size=1000)
    connections.close_all()
    return due


def timers(args: argparse.Namespace, fixtures: Fixtures, rng: random.Random, deadline: float) -> bool:
    from django.db import connections

    from oncall.models import Notification

    due = create_escalations(fixtures, args.escalations, args.spread, rng)
    last_due = max(due.values())
    rows = Notification.objects.filter(incident_id__in=list(due))
    try:
        # Every step has fired once each escalation has its notification row.
        until = min(deadline, time.monotonic() + args.spread + 120)
        while time.monotonic() < until and rows.count() < len(due):
            time.sleep(1)
        until = min(deadline, time.monotonic() + 30)
        while time.monotonic() < until and rows.filter(sent_at__isnull=True).exists():
            time.sleep(0.5)
        written = list(rows.values_list("incident_id", "created_at", "sent_at"))
    finally:
        connections.close_all()
    fired = [(created - due[incident_id]).total_seconds() for incident_id, created, _ in written]
    delivered = [(sent - due[incident_id]).total_seconds() for incident_id, _, sent in written if sent]
    within_tick = sum(1 for lag in fired if lag <= args.tick)
    print(
        f"(b) timers: {len(due)} open escalations due over {args.spread:g} s"
        f" (until {last_due:%H:%M:%S}), engine tick every {args.tick:g} s"
    )
    print(
        f"    step fired after its due time: p50 {seconds(percentile(fired, 0.5))},"
        f" p99 {seconds(percentile(fired, 0.99))}, max {seconds(max(fired, default=math.nan))}"
    )
    share = f"{100 * within_tick / len(fired):.1f}%" if fired else "n/a"
    print(f"    fired within one tick of due: {share}; steps fired: {len(fired)} of {len(due)}")
    print(
        f"    page delivered after the step's due time: p50 {seconds(percentile(delivered, 0.5))},"
        f" p99 {seconds(percentile(delivered, 0.99))}; delivered: {len(delivered)} of {len(fired)}"
    )
    return len(fired) == len(due)


# --- report helpers ----------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(v for v in values if not math.isnan(v))
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f} ms"


def seconds(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f} s"


# --- main ------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> bool:
    deadline = time.monotonic() + args.timeout
    database_name = check_database_url(args.database_url)
    rng = random.Random(args.seed)
    port = free_port()
    var_dir = Path(tempfile.mkdtemp(prefix="muster-bench-paging-"))
    created = redis_used = False
    secret = secrets.token_urlsafe(32)
    receiver = Receiver(secret=secret)
    try:
        check_redis_url(args.redis_url, flush=args.drop_existing)
        redis_used = True
        env = bench_environment(database_url=args.database_url, port=port, var_dir=var_dir)
        env.update(
            {
                "CELERY_BROKER_URL": args.redis_url,
                "REDIS_URL": args.redis_url,
                "MUSTER_WEBHOOK_SIGNING_SECRET": secret,
                "MUSTER_TICK_SECONDS": str(args.tick),
            }
        )
        server_version = create_database(args.database_url, database_name, drop_existing=args.drop_existing)
        created = True
        with running_receiver(receiver) as webhook_url:
            fixtures = prepare(env, webhook_url)
            with (
                running_gunicorn(env, port, var_dir / "gunicorn.log", deadline) as command,
                running_worker(env, var_dir / "worker.log", args.worker_concurrency),
            ):
                print(f"server: {' '.join(['gunicorn', *command[3:]])}")
                print(
                    f"worker: celery worker --beat --concurrency {args.worker_concurrency},"
                    f" MUSTER_TICK_SECONDS={args.tick:g}; broker {args.redis_url}"
                )
                print(f"database: {server_version}, database {database_name!r} (dropped at the end)")
                print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
                if args.quick:
                    print("quick smoke run: the figures show the bench works, not how fast paging is")
                print()
                ok = first_page(args, port, fixtures, receiver, deadline)
                print()
                ok = timers(args, fixtures, rng, deadline) and ok
        if receiver.bad_signatures:
            print(f"webhook signatures that did not verify: {receiver.bad_signatures}")
            ok = False
        print("PASS" if ok else "FAIL")
        return ok
    finally:
        release(
            redis_url=args.redis_url if redis_used else "",
            database_url=args.database_url if created else "",
            database_name=database_name,
            var_dir=var_dir,
        )


def release(*, redis_url: str, database_url: str, database_name: str, var_dir: Path) -> None:
    """Undo what a run set up, whatever happened: flush the Redis database and drop the PostgreSQL
    database it used (each only when given, i.e. when this run took it), remove its var dir."""
    if redis_url:
        try:
            flush_redis(redis_url)
        except Exception as exc:
            print(f"could not flush {redis_url}: {exc}", file=sys.stderr)
    if database_url:
        try:
            drop_database(database_url, database_name)
        except Exception as exc:
            print(f"could not drop database {database_name!r}: {exc}", file=sys.stderr)
    shutil.rmtree(var_dir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main(
        run, parse_args(argv), interrupted="the worker and gunicorn stopped, the databases cleaned"
    )


if __name__ == "__main__":
    sys.exit(main())
