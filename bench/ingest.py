"""Ingestion benchmark: PagerDuty Events v2 triggers against gunicorn and PostgreSQL.

Run from the project root (PostgreSQL on 127.0.0.1:5432 accepting the `postgres` role without a
password, as a developer machine or CI usually has it):

    .venv/bin/python bench/ingest.py

    .venv/bin/python bench/ingest.py --requests 300 --storm-events 2000    # a quick look

Options: --database-url (default postgres://postgres@127.0.0.1:5432/muster_bench), --requests per
measured phase (2000), --concurrency (16), --storm-events (20000), --storm-keys (200),
--timeout for the whole run in seconds (900), --drop-existing to replace a bench database a killed
run left behind.

What one run does:

1. Creates the database (it must not exist yet), migrates it, and creates a team, a service and
   two PagerDuty integrations without a rate limit: one for the measured phases, one for the storm.
2. Starts gunicorn on a free 127.0.0.1 port with the options of the Dockerfile's CMD (read from it,
   so the figures describe what the image runs) and the production settings profile.
3. Measures three phases of --requests each at --concurrency, over persistent HTTP/1.1
   connections: (a) POST /v2/enqueue triggers, each with a new dedup_key (an incident is opened);
   (b) triggers repeating the keys of (a) (the alert's repeat count goes up); (c) GET /healthz,
   the cheapest Django view on the same server, as the yardstick. It prints throughput, p50 and
   p99 latency and errors for each, and (a) and (b) relative to (c).
4. Storm: --storm-events triggers over --storm-keys keys (equal shares, shuffled) at the same
   concurrency. PASS when every request got 202 and the storm integration has exactly one incident
   per key; exit status 1 on FAIL, 2 when the bench itself could not run.
5. Stops gunicorn and drops the database, also on error or Ctrl-C.

It only talks to loopback addresses. Client and server share this machine's CPUs, so the figures
compare the endpoints with each other; they are not a capacity plan.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/muster_bench"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
HOST = "127.0.0.1"
REQUEST_TIMEOUT_SECONDS = 30.0
STARTUP_TIMEOUT_SECONDS = 60.0
# Enough requests to open every gunicorn thread's database connection before anything is timed.
WARMUP_REQUESTS = 100


class BenchError(Exception):
    """The bench could not run; nothing was measured."""


# --- configuration ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--requests", type=int, default=2000, help="requests per measured phase")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--storm-events", type=int, default=20000)
    parser.add_argument("--storm-keys", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds for the whole run")
    parser.add_argument("--drop-existing", action="store_true", help="replace an existing bench database")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.storm_keys < 1:
        parser.error("--requests, --concurrency and --storm-keys must be at least 1")
    if args.storm_events < args.storm_keys:
        parser.error("--storm-events must be at least --storm-keys")
    return args


def check_database_url(url: str) -> str:
    """Returns the database name, refusing anything that is not PostgreSQL on this machine."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise BenchError(f"--database-url must be a postgres:// URL, got {parts.scheme}://")
    # No host means the local Unix socket, which is as local as loopback.
    if parts.hostname is not None and parts.hostname not in LOOPBACK:
        raise BenchError(f"the bench only talks to this machine; {parts.hostname} is not a loopback host")
    name = urllib.parse.unquote(parts.path.lstrip("/"))
    if not name:
        raise BenchError("--database-url must name the bench database, e.g. .../muster_bench")
    return name


def maintenance_url(url: str) -> str:
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path="/postgres"))


def gunicorn_command(port: int) -> list[str]:
    """The Dockerfile's CMD, bound to a loopback port and run by this interpreter's gunicorn."""
    logical = (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    cmds = [line.strip()[4:] for line in logical if line.strip().upper().startswith("CMD ")]
    if not cmds:
        raise BenchError("the Dockerfile has no CMD to take gunicorn's options from")
    cmd = json.loads(cmds[-1])
    if not isinstance(cmd, list) or cmd[:1] != ["gunicorn"]:
        raise BenchError(f"the Dockerfile's CMD does not run gunicorn: {cmds[-1]}")
    command = [sys.executable, "-m", "gunicorn"]
    args = iter(str(part) for part in cmd[1:])
    for arg in args:
        if arg in {"-b", "--bind"}:
            next(args, None)
        elif not arg.startswith(("-b", "--bind=")):
            command.append(arg)
    return [*command, "--bind", f"{HOST}:{port}"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def bench_environment(*, database_url: str, port: int, var_dir: Path) -> dict[str, str]:
    """Only what the bench chooses: a stray REDIS_URL or DEBUG in the caller's shell must not leak in."""
    passed_on = {"PATH", "HOME", "LANG", "LC_ALL", "TZ"}
    # libpq's own variables (PGPASSWORD, PGSSLMODE...) still apply to the URL the caller gave.
    env = {name: value for name, value in os.environ.items() if name in passed_on or name.startswith("PG")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings_production",
            "SECRET_KEY": secrets.token_urlsafe(60),
            "DATABASE_URL": database_url,
            "MUSTER_BASE_URL": f"http://{HOST}:{port}",
            "ALLOWED_HOSTS": f"{HOST},localhost",
            # Plain HTTP on loopback; the redirect would answer every POST with a 301.
            "SECURE_SSL_REDIRECT": "false",
            # Broker, cache and mail fall back to files under this throwaway directory.
            "MUSTER_VAR_DIR": str(var_dir),
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


# --- database --------------------------------------------------------------------------------


def create_database(url: str, name: str, *, drop_existing: bool) -> str:
    """Creates the database and returns the server's version line."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(maintenance_url(url), autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not drop_existing:
            raise BenchError(
                f"database {name!r} already exists; pass --drop-existing to replace it (it is dropped at the end)"
            )
        if exists:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


def drop_database(url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(maintenance_url(url), autocommit=True, connect_timeout=10) as conn:
        # FORCE ends sessions a killed gunicorn worker may have left behind.
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass(frozen=True)
class Fixtures:
    routing_key: str
    storm_routing_key: str
    storm_integration_id: int


def prepare_django(env: dict[str, str]) -> Fixtures:
    """Migrates the bench database and creates what the events are sent to."""
    os.environ.clear()
    os.environ.update(env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from incidents.models import Service, Team
    from incidents.services import integration_create

    call_command("migrate", interactive=False, verbosity=0)
    team = Team.objects.create(name="Bench", slug="bench")
    service = Service.objects.create(name="Bench", slug="bench", team=team)
    measured, key = integration_create(service=service, kind="pagerduty", name="Bench", actor=None)
    storm, storm_key = integration_create(service=service, kind="pagerduty", name="Bench storm", actor=None)
    for integration in (measured, storm):
        integration.rate_limit_per_minute = 0
        integration.save(update_fields=["rate_limit_per_minute"])
    connections.close_all()
    return Fixtures(routing_key=key, storm_routing_key=storm_key, storm_integration_id=storm.pk)


@dataclass(frozen=True)
class StormCounts:
    incidents: int
    alerts: int
    triggers_recorded: int


def storm_counts(integration_id: int) -> StormCounts:
    from django.db import connections
    from django.db.models import Sum

    from incidents.models import Alert, Incident

    try:
        alerts = Alert.objects.filter(integration_id=integration_id)
        repeats = alerts.aggregate(total=Sum("repeat_count"))["total"] or 0
        alert_count = alerts.count()
        return StormCounts(
            incidents=Incident.objects.filter(integration_id=integration_id).count(),
            alerts=alert_count,
            triggers_recorded=alert_count + repeats,
        )
    finally:
        connections.close_all()


# --- gunicorn --------------------------------------------------------------------------------


@contextmanager
def running_gunicorn(env: dict[str, str], port: int, log_path: Path, deadline: float) -> Iterator[list[str]]:
    command = gunicorn_command(port)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(proc, port, min(deadline, time.monotonic() + STARTUP_TIMEOUT_SECONDS))
        yield command
    except Exception:
        print_log_tail(log_path)
        raise
    finally:
        stop(proc)


def wait_until_healthy(proc: subprocess.Popen[bytes], port: int, until: float) -> None:
    while time.monotonic() < until:
        if proc.poll() is not None:
            raise BenchError(f"gunicorn exited with status {proc.returncode} before answering /healthz")
        conn = http.client.HTTPConnection(HOST, port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    raise BenchError("gunicorn did not answer /healthz in time")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    # SIGTERM is gunicorn's graceful stop: the arbiter takes its workers down with it.
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def print_log_tail(log_path: Path, lines: int = 40) -> None:
    with suppress(OSError):
        tail = log_path.read_text(errors="replace").splitlines()[-lines:]
        if tail:
            print(f"--- last lines of gunicorn's log ({log_path.name}) ---", file=sys.stderr)
            print("\n".join(tail), file=sys.stderr)


# --- load generation -------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    # For /v2/enqueue: the key the 202 body must echo.
    dedup_key: str | None = None


@dataclass
class PhaseResult:
    name: str
    planned: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    # Requests never sent because the run's deadline passed.
    unsent: int = 0

    @property
    def completed(self) -> int:
        return len(self.latencies_ms)

    @property
    def throughput(self) -> float:
        return self.completed / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return math.nan
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def trigger(routing_key: str, dedup_key: str) -> Request:
    event = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": f"Bench alert {dedup_key}",
            "source": "bench.muster.invalid",
            "severity": "error",
        },
    }
    return Request("POST", "/v2/enqueue", json.dumps(event).encode(), dedup_key)


def healthz() -> Request:
    return Request("GET", "/healthz")


class _Worker:
    """One client connection, kept open across requests the way a busy sender would."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None
        self.latencies_ms: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.errors = 0
        self.error_samples: list[str] = []

    def send(self, request: Request) -> None:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT_SECONDS)
        headers = self._headers(request)
        started = time.perf_counter()
        try:
            self.conn.request(request.method, request.path, body=request.body, headers=headers)
            response = self.conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
            self._error(f"{request.method} {request.path}: {exc.__class__.__name__}: {exc}")
            self.conn.close()
            self.conn = None
            return
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        self.statuses[response.status] += 1
        problem = self._check(request, response.status, body)
        if problem:
            self._error(problem)
        if response.will_close:
            self.conn.close()
            self.conn = None

    def _headers(self, request: Request) -> dict[str, str]:
        """Made just before the request goes out (and before its clock starts); a subclass may
        add headers that must be fresh, like a signature with a timestamp."""
        return {"Content-Type": "application/json"} if request.body is not None else {}

    @staticmethod
    def _check(request: Request, status: int, body: bytes) -> str | None:
        expected = 200 if request.dedup_key is None else 202
        if status != expected:
            return f"{request.method} {request.path}: {status} {body[:200]!r}"
        if request.dedup_key is None:
            return None
        try:
            answer = json.loads(body)
        except ValueError:
            return f"POST {request.path}: 202 with a body that is not JSON: {body[:200]!r}"
        if not isinstance(answer, dict) or answer.get("status") != "success":
            return f"POST {request.path}: 202 without status=success: {body[:200]!r}"
        if answer.get("dedup_key") != request.dedup_key:
            return f"POST {request.path}: dedup_key {answer.get('dedup_key')!r}, sent {request.dedup_key!r}"
        return None

    def _error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 3:
            self.error_samples.append(message)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def run_phase(
    name: str,
    requests: Sequence[Request],
    *,
    port: int,
    concurrency: int,
    deadline: float,
    worker_class: Callable[[int], _Worker] = _Worker,
) -> PhaseResult:
    result = PhaseResult(name=name, planned=len(requests))
    next_index = 0
    lock = threading.Lock()
    workers = [worker_class(port) for _ in range(min(concurrency, len(requests)))]

    def take() -> Request | None:
        nonlocal next_index
        with lock:
            if next_index >= len(requests) or time.monotonic() > deadline:
                return None
            next_index += 1
            return requests[next_index - 1]

    def loop(worker: _Worker) -> None:
        try:
            while (request := take()) is not None:
                worker.send(request)
        finally:
            worker.close()

    # Daemon threads: on Ctrl-C the main thread goes straight to cleanup instead of waiting for them.
    threads = [
        threading.Thread(target=loop, args=(w,), name=f"bench-{i}", daemon=True)
        for i, w in enumerate(workers)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    for worker in workers:
        result.latencies_ms.extend(worker.latencies_ms)
        result.statuses.update(worker.statuses)
        result.errors += worker.errors
        result.error_samples.extend(worker.error_samples)
    result.unsent = len(requests) - next_index
    return result


# --- report ----------------------------------------------------------------------------------


def print_table(results: Sequence[PhaseResult]) -> None:
    print(f"{'phase':<34} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for r in results:
        print(
            f"{r.name:<34} {r.completed:>8} {r.throughput:>8.0f} {r.percentile(0.5):>8.2f}"
            f" {r.percentile(0.99):>8.2f} {r.errors:>7}"
        )
        for sample in r.error_samples:
            print(f"    e.g. {sample}")
        if r.unsent:
            print(f"    {r.unsent} requests not sent: the run's --timeout passed")


def print_ratios(a: PhaseResult, b: PhaseResult, c: PhaseResult) -> None:
    def ratio(x: float, y: float) -> str:
        return f"{x / y:.2f}" if y and not math.isnan(x) and not math.isnan(y) else "n/a"

    print("relative to (c) GET /healthz:")
    for r in (a, b):
        print(
            f"  {r.name[:3]} throughput {ratio(r.throughput, c.throughput)}x,"
            f" p50 latency {ratio(r.percentile(0.5), c.percentile(0.5))}x"
        )


def storm_requests(routing_key: str, events: int, keys: int, rng: random.Random) -> list[Request]:
    names = [f"storm-{i:04d}" for i in range(keys)]
    # Equal shares, the remainder (if events is not a multiple) spread over the first keys.
    order = [names[i % keys] for i in range(events)]
    rng.shuffle(order)
    return [trigger(routing_key, key) for key in order]


# --- main ------------------------------------------------------------------------------------


def _raise_on_sigterm(signum: int, frame: types.FrameType | None) -> None:
    # Turned into an exception so that the cleanup in main()'s finally blocks still runs.
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> bool:
    deadline = time.monotonic() + args.timeout
    database_name = check_database_url(args.database_url)
    rng = random.Random(args.seed)
    port = free_port()
    var_dir = Path(tempfile.mkdtemp(prefix="muster-bench-"))
    created = False
    try:
        env = bench_environment(database_url=args.database_url, port=port, var_dir=var_dir)
        server_version = create_database(args.database_url, database_name, drop_existing=args.drop_existing)
        created = True
        fixtures = prepare_django(env)
        with running_gunicorn(env, port, var_dir / "gunicorn.log", deadline) as command:
            shown = " ".join(["gunicorn", *command[3:]])
            print(f"server: {shown}")
            print(f"database: {server_version}, database {database_name!r} (dropped at the end)")
            print(f"client: {args.concurrency} persistent connections, {args.requests} requests per phase")
            # Client and server share these CPUs; anything else running skews every figure.
            print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
            print()

            warmup = [healthz() for _ in range(WARMUP_REQUESTS)]
            warmup += [trigger(fixtures.routing_key, f"warmup-{i}") for i in range(WARMUP_REQUESTS)]
            warm = run_phase("warm-up", warmup, port=port, concurrency=args.concurrency, deadline=deadline)
            if warm.errors:
                print(
                    f"warm-up: {warm.errors} of {len(warmup)} requests failed, e.g. {warm.error_samples[0]}"
                )

            new_keys = [f"bench-{i:06d}" for i in range(args.requests)]
            repeats = [new_keys[i % len(new_keys)] for i in range(args.requests)]
            rng.shuffle(repeats)

            def measure(name: str, requests: Sequence[Request]) -> PhaseResult:
                return run_phase(name, requests, port=port, concurrency=args.concurrency, deadline=deadline)

            a = measure("(a) trigger, new dedup_key", [trigger(fixtures.routing_key, k) for k in new_keys])
            b = measure(
                "(b) trigger, repeated dedup_key", [trigger(fixtures.routing_key, k) for k in repeats]
            )
            c = measure("(c) GET /healthz", [healthz() for _ in range(args.requests)])
            print_table([a, b, c])
            print_ratios(a, b, c)
            print()

            storm = measure(
                "storm", storm_requests(fixtures.storm_routing_key, args.storm_events, args.storm_keys, rng)
            )
        counts = storm_counts(fixtures.storm_integration_id)
        return report_storm(args, storm, counts)
    finally:
        if created:
            try:
                drop_database(args.database_url, database_name)
            except Exception as exc:
                print(f"could not drop database {database_name!r}: {exc}", file=sys.stderr)
        shutil.rmtree(var_dir, ignore_errors=True)


def report_storm(args: argparse.Namespace, storm: PhaseResult, counts: StormCounts) -> bool:
    accepted = storm.statuses.get(202, 0)
    print(
        f"storm: {args.storm_events} triggers over {args.storm_keys} dedup keys, concurrency {args.concurrency}:"
        f" {storm.seconds:.1f} s, {storm.throughput:.0f} req/s, p50 {storm.percentile(0.5):.2f} ms,"
        f" p99 {storm.percentile(0.99):.2f} ms"
    )
    print(f"  answered 202: {accepted} of {args.storm_events}; errors: {storm.errors}")
    for sample in storm.error_samples:
        print(f"    e.g. {sample}")
    print(f"  incidents for the integration: {counts.incidents} (expected {args.storm_keys})")
    # Shown beside the verdict: the repeat counts tell whether an accepted trigger went unrecorded.
    print(
        f"  alerts: {counts.alerts}; triggers recorded (alerts + repeat counts): {counts.triggers_recorded}"
        f" of {args.storm_events}"
    )
    passed = accepted == args.storm_events and storm.errors == 0 and counts.incidents == args.storm_keys
    print("PASS" if passed else "FAIL")
    return passed


def bench_main(
    run_bench: Callable[[argparse.Namespace], bool], args: argparse.Namespace, *, interrupted: str
) -> int:
    """The benches' common entry point: exit status 0 PASS, 1 FAIL, 2 when the bench could not run,
    130 on Ctrl-C (after the cleanup, which SIGTERM gets too). `interrupted` says what was cleaned."""
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        return 0 if run_bench(args) else 1
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"bench: interrupted; {interrupted}", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main(run, parse_args(argv), interrupted="gunicorn stopped and the database dropped")


if __name__ == "__main__":
    sys.exit(main())
