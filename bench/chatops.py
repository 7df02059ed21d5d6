"""Chat-ops benchmark: Slack slash commands and button clicks against Slack's 3-second budget, with
gunicorn, a Celery worker with beat, PostgreSQL and Redis.

Slack shows the person a timeout error when the answer to a slash command or a button click takes
longer than 3 seconds (INTEROP.md §5.1, §5.3). This bench sends signed requests the way Slack does
and checks that the slowest answer of every kind stays well inside that budget.

Run from the project root (PostgreSQL on 127.0.0.1:5432 accepting the `postgres` role without a
password, Redis on 127.0.0.1:6379, as a developer machine or CI usually has them):

    .venv/bin/python bench/chatops.py                   # the full run: about 2 minutes
    .venv/bin/python bench/chatops.py --requests 100    # a quick look: about 30 s

Options: --database-url (default postgres://postgres@127.0.0.1:5432/muster_bench_chat; created,
and dropped at the end), --redis-url (default redis://127.0.0.1:6379/11; the broker and cache, a
database number nobody else uses: it must be empty, and it is flushed at the end), --requests per
measured phase (500), --concurrency (8: people typing at once in a busy workspace during an
incident), --incidents open incidents for `list` to look through (300), --users linked Slack users
(20), --budget Slack's deadline in seconds (3.0), --margin seconds of it kept for what loopback does
not have (0.5, see below), --users-info-delay how long the fake Slack takes to answer users.info
(0.5), --worker-concurrency (2, as `make run`), --timeout for the whole run in seconds (1200),
--drop-existing to replace a database (and flush a Redis database) a killed run left behind,
--seed (1).

What one run does:

1. Creates and migrates the database; creates a team, a service, --users responders each linked to
   a Slack member id by a ChatIdentity, and open incidents: --incidents for `list`, and one for each
   acknowledge, note and click to come, so that every one of them changes a different incident.
2. Starts a fake Slack on a loopback port: its Web API answers users.info only after
   --users-info-delay seconds (a slow Slack), and it takes the response_url posts the Celery worker
   makes after each click and after each command it ran for an unknown user.
3. Starts gunicorn (the Dockerfile's CMD options, production settings, SLACK_SIGNING_SECRET,
   SLACK_BOT_TOKEN and SLACK_API_URL pointing at the fake Slack) and one Celery worker with embedded
   beat, both with Redis as broker and cache, the production setup: declare and click queue tasks
   when their transaction commits, and the replay protection keeps signatures in the cache.
4. Measures seven phases of --requests each at --concurrency, over persistent HTTP/1.1
   connections, every request signed (v0 HMAC, INTEROP.md §5.2) just before it goes out:
   (a) `/incident help`; (b) `/incident list`; (c) `/incident declare <title> sev3 bench`, each a
   new incident; (d) `/incident ack INC-n` and `/incident note INC-n <text>`, alternating, each on
   a different incident; (e) a click on an incident message's Acknowledge button
   (/chatops/slack/interactions, action_id incident_ack, a different incident each); (f)
   `/incident list` from a Slack user Muster does not know yet: only Slack can say who that is
   (users.info, slow here), so Muster answers "one moment" at once and a worker asks Slack, runs
   the command and answers through response_url; (g) GET /healthz, the yardstick. Every
   answer is checked: 200, a JSON reply saying the command was carried out (an empty 200 for a
   click, which is how Slack wants a click acknowledged), never the "internal error" apology.
5. Prints throughput, p50, p99 and max latency for each phase, its p50 and p99 relative to (g)'s
   (p99 is the column the budget is about; p50 is the steadier comparison), checks
   that each click acknowledged its incident and that its response_url answer reached the fake
   Slack, that each (f) command was answered through response_url (here: "not linked yet", as
   nobody has the address the fake Slack gives), and sends one signed request twice: the second must be refused with 401 (replay check).
6. PASS when every request of every phase got the answer it should, the slowest answer of each
   phase took less than --budget minus --margin, the clicks did their work and the replay was
   refused. Exit status 0 on PASS, 1 on FAIL, 2 when the bench itself could not run.
7. Stops the worker, gunicorn and the fake Slack, flushes the Redis database and drops the
   PostgreSQL database, also on error or Ctrl-C.

Why a margin: Slack's 3 seconds run from Slack sending the request to Slack having the answer. A
real request also crosses the internet twice (Slack's servers are in AWS us-east-1; 100-150 ms
there and back from Europe), a TLS handshake when Slack opens a new connection (one or two more
round trips) and the reverse proxy in front of gunicorn. None of that exists on loopback; 0.5 s
covers it with room to spare, so an answer measured here under 2.5 s is one Slack gets in time.

It only talks to loopback addresses. Client, server, worker and databases share this machine's
CPUs, so the figures compare the commands with each other and with /healthz; they are not a
capacity plan.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import math
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ingest import (  # noqa: E402 - needs ROOT on the path when run as a script
    HOST,
    REQUEST_TIMEOUT_SECONDS,
    BenchError,
    PhaseResult,
    Request,
    _Worker,
    bench_environment,
    bench_main,
    check_database_url,
    create_database,
    free_port,
    prepare_django,
    run_phase,
    running_gunicorn,
)
from bench.paging import bulk_incidents, check_redis_url, release, running_worker  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/muster_bench_chat"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
TEAM_ID = "T0BENCH"
SERVICE_SLUG = "bench"  # the service bench/ingest.py's prepare_django creates
COMMANDS = "/chatops/slack/commands"
INTERACTIONS = "/chatops/slack/interactions"
# Enough requests to open every gunicorn thread's database connection before anything is timed.
WARMUP_REQUESTS = 100
# The response_url answers after the clicks are made by the worker; this long is allowed for them.
RESPONSE_URL_WAIT_SECONDS = 60.0
# What Muster says when a command failed inside (incidents/chatops/views.py): a 200, but a failure.
INTERNAL_ERROR = "Muster ran into an internal error"


# --- configuration ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--requests", type=int, default=500, help="requests per measured phase")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--incidents", type=int, default=300, help="open incidents for `list`")
    parser.add_argument("--users", type=int, default=20, help="Slack users linked to Muster users")
    parser.add_argument("--budget", type=float, default=3.0, help="Slack's deadline in seconds")
    parser.add_argument(
        "--margin", type=float, default=0.5, help="seconds of the budget kept for network, TLS, proxy"
    )
    parser.add_argument(
        "--users-info-delay", type=float, default=0.5, help="seconds the fake Slack takes for users.info"
    )
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds for the whole run")
    parser.add_argument("--drop-existing", action="store_true", help="replace what a killed run left")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.users < 1 or args.worker_concurrency < 1:
        parser.error("--requests, --concurrency, --users and --worker-concurrency must be at least 1")
    if args.incidents < 0 or args.users_info_delay < 0:
        parser.error("--incidents and --users-info-delay must not be negative")
    if not 0 <= args.margin < args.budget:
        parser.error("--margin must be at least 0 and less than --budget")
    return args


# --- the fake Slack ------------------------------------------------------------------------------


@dataclass
class FakeSlack:
    """Slack's Web API (users.info only, slow on purpose) and hooks.slack.com (response_url)."""

    users_info_delay: float
    bot_token: str
    users_info_calls: int = 0
    users_info_bad_token: int = 0
    # response_url path -> the JSON posted to it
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: threading.Event = field(default_factory=threading.Event)

    def response_count(self, prefix: str) -> int:
        with self.lock:
            return sum(1 for path in self.responses if path.startswith(prefix))

    def response(self, path: str) -> dict[str, Any] | None:
        with self.lock:
            return self.responses.get(path)


@contextmanager
def running_fake_slack(slack: FakeSlack) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/api/users.info":
                with slack.lock:
                    slack.users_info_calls += 1
                    if self.headers.get("Authorization") != f"Bearer {slack.bot_token}":
                        slack.users_info_bad_token += 1
                # A slow Slack: the worker waits for it, the slash command's answer does not.
                slack.closing.wait(slack.users_info_delay)
                self._answer(200, b'{"ok": true, "user": {"profile": {"email": "nobody@bench.invalid"}}}')
            elif self.path.startswith(("/actions/", "/commands/")):
                try:
                    message = json.loads(body)
                except ValueError:
                    message = {}
                with slack.lock:
                    slack.responses[self.path] = message if isinstance(message, dict) else {}
                self._answer(200, b"ok")
            else:
                self._answer(404, b'{"ok": false, "error": "unknown_method"}')

        def _answer(self, status: int, body: bytes) -> None:
            # The client may have hung up (a run being stopped); nothing to tell it then.
            with suppress(OSError):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        # socketserver's default backlog of 5 drops connections when eight arrive at once, and a
        # dropped SYN is retried after a second: the fake would be slow to connect, not to answer.
        request_queue_size = 128

    server = Server((HOST, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="fake-slack", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        slack.closing.set()
        server.shutdown()
        server.server_close()


# --- the application ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixtures:
    chat_user_ids: list[str]
    # Open incidents by purpose; each number is used by one request only.
    ack_numbers: list[int]
    click_numbers: list[int]
    click_incident_ids: list[int]


def prepare(env: dict[str, str], args: argparse.Namespace) -> Fixtures:
    """The database of bench/ingest.py (team, service), plus responders linked to Slack member ids
    and open incidents, written in bulk."""
    prepare_django(env)
    from django.contrib.auth import get_user_model
    from django.db import connections, transaction
    from django.utils import timezone

    from incidents.chatops.models import ChatIdentity, ChatPlatform
    from incidents.choices import Role
    from incidents.models import Membership, Service
    from oncall.models import EscalationState
    from oncall.services import policy_snapshot

    service = Service.objects.select_related("team").get(slug=SERVICE_SLUG)
    chat_user_ids = []
    for i in range(args.users):
        person = get_user_model().objects.create_user(
            username=f"bench-{i:03d}", email=f"bench-{i:03d}@bench.invalid", first_name=f"Bench {i}"
        )
        Membership.objects.create(team=service.team, user=person, role=Role.RESPONDER)
        chat_user_id = f"U0BENCH{i:03d}"
        ChatIdentity.objects.create(
            user=person,
            platform=ChatPlatform.SLACK,
            workspace_external_id=TEAM_ID,
            chat_user_id=chat_user_id,
            chat_user_name=f"bench{i}",
            linked_via="link",
        )
        chat_user_ids.append(chat_user_id)

    count = args.incidents + 2 * args.requests
    now = timezone.now()
    with transaction.atomic():
        incidents = bulk_incidents(service=service, titles=[f"Bench incident {i}" for i in range(count)])
        # Paging, as for any incident that was declared: acknowledging one closes its escalation.
        # Never due, so the worker's engine does not page anyone meanwhile.
        snapshot = policy_snapshot(None)
        EscalationState.objects.bulk_create(
            [
                EscalationState(
                    incident=incident, policy_snapshot=snapshot, next_step_at=None, started_at=now
                )
                for incident in incidents
            ],
            batch_size=1000,
        )
    acks = incidents[args.incidents : args.incidents + args.requests]
    clicks = incidents[args.incidents + args.requests :]
    connections.close_all()
    return Fixtures(
        chat_user_ids=chat_user_ids,
        ack_numbers=[incident.number for incident in acks],
        click_numbers=[incident.number for incident in clicks],
        click_incident_ids=[incident.pk for incident in clicks],
    )


def acknowledged_count(incident_ids: Sequence[int]) -> int:
    from django.db import connections

    from incidents.choices import IncidentStatus
    from incidents.models import Incident

    try:
        return Incident.objects.filter(pk__in=incident_ids, status=IncidentStatus.ACKNOWLEDGED).count()
    finally:
        connections.close_all()


# --- requests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatRequest(Request):
    """A request and the answer it must get: a JSON reply whose text contains `expect`, or (a
    click) an empty 200. Slack requests are signed when sent, with the time of sending."""

    signed: bool = False
    expect: str = ""
    empty_answer: bool = False


def slack_signature(secret: str, body: bytes, timestamp: str) -> dict[str, str]:
    """INTEROP.md §5.2: v0=hex(HMAC-SHA256(secret, "v0:<timestamp>:<raw body>"))."""
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest.hexdigest()}"}


def command(text: str, *, user_id: str, seq: str, response_url: str, expect: str) -> ChatRequest:
    """A slash command with the fields Slack sends (INTEROP.md §5.1). The trigger_id differs every
    time, as Slack's does: the same body signed in the same second would be a replay."""
    fields = {
        "token": "deprecated-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "bench",
        "channel_id": "C0BENCH",
        "channel_name": "incidents",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": "/incident",
        "text": text,
        "api_app_id": "A0MUSTER",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{seq}.bench.trigger",
    }
    return ChatRequest("POST", COMMANDS, urlencode(fields).encode(), signed=True, expect=expect)


def click(number: int, *, user_id: str, seq: str, response_url: str) -> ChatRequest:
    """A block_actions payload for the Acknowledge button of INC-<number> (INTEROP.md §5.3)."""
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0MUSTER",
        "token": "deprecated-verification-token",
        "container": {"type": "message", "message_ts": "1741083300.000100", "channel_id": "C0BENCH"},
        "trigger_id": f"{seq}.bench.trigger",
        "team": {"id": TEAM_ID, "domain": "bench"},
        "channel": {"id": "C0BENCH", "name": "incidents"},
        "message": {"ts": "1741083300.000100", "text": f"INC-{number}"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": "incident_ack",
                "block_id": "inc_actions",
                "value": f"INC-{number}",
                "action_ts": f"{seq}.000",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return ChatRequest("POST", INTERACTIONS, body, signed=True, empty_answer=True)


def healthz() -> ChatRequest:
    return ChatRequest("GET", "/healthz", expect="")


class ChatWorker(_Worker):
    """bench/ingest.py's client connection, signing each Slack request the moment it is sent."""

    def __init__(self, port: int, secret: str) -> None:
        super().__init__(port)
        self.secret = secret

    def _headers(self, request: Request) -> dict[str, str]:
        if not isinstance(request, ChatRequest) or not request.signed or request.body is None:
            return super()._headers(request)
        signature = slack_signature(self.secret, request.body, str(int(time.time())))
        return {"Content-Type": "application/x-www-form-urlencoded", **signature}

    @staticmethod
    def _check(request: Request, status: int, body: bytes) -> str | None:
        what = f"{request.method} {request.path}"
        if status != 200:
            return f"{what}: {status} {body[:200]!r}"
        if isinstance(request, ChatRequest) and request.empty_answer:
            return None if not body else f"{what}: 200 with a body, expected none: {body[:200]!r}"
        try:
            answer = json.loads(body)
        except ValueError:
            return f"{what}: 200 with a body that is not JSON: {body[:200]!r}"
        if not isinstance(answer, dict):
            return f"{what}: 200 with JSON that is not an object: {body[:200]!r}"
        text = str(answer.get("text", ""))
        if INTERNAL_ERROR in text:
            return f"{what}: the internal error apology: {body[:200]!r}"
        expect = request.expect if isinstance(request, ChatRequest) else ""
        if expect and expect not in text:
            return f"{what}: reply without {expect!r}: {text[:200]!r}"
        return None


def replay_check(port: int, secret: str, request: ChatRequest) -> tuple[int, int]:
    """The same signed request twice; returns both statuses (200, then 401 expected)."""
    assert request.body is not None
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **slack_signature(secret, request.body, str(int(time.time()))),
    }
    statuses = []
    for _ in range(2):
        conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_SECONDS)
        try:
            conn.request(request.method, request.path, body=request.body, headers=headers)
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
        except (OSError, http.client.HTTPException) as exc:
            raise BenchError(f"the replay check could not reach gunicorn: {exc}") from None
        finally:
            conn.close()
    return statuses[0], statuses[1]


def wait_for_responses(slack: FakeSlack, prefix: str, expected: int, until: float) -> None:
    while time.monotonic() < until and slack.response_count(prefix) < expected:
        time.sleep(0.2)


# --- report ----------------------------------------------------------------------------------


def ratio(x: float, y: float) -> str:
    return f"{x / y:.1f}x" if y and not math.isnan(x) and not math.isnan(y) else "n/a"


def print_table(results: Sequence[PhaseResult], yardstick: PhaseResult) -> None:
    print(
        f"{'phase':<38} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        f" {'p50/(g)':>8} {'p99/(g)':>8} {'errors':>6}"
    )
    for r in results:
        print(
            f"{r.name:<38} {r.completed:>8} {r.throughput:>7.1f} {r.percentile(0.5):>8.1f}"
            f" {r.percentile(0.99):>8.1f} {r.percentile(1.0):>8.1f}"
            f" {ratio(r.percentile(0.5), yardstick.percentile(0.5)):>8}"
            f" {ratio(r.percentile(0.99), yardstick.percentile(0.99)):>8}"
            f" {r.errors:>6}"
        )
        for sample in r.error_samples:
            print(f"    e.g. {sample}")
        if r.unsent:
            print(f"    {r.unsent} requests not sent: the run's --timeout passed")


def budget_check(results: Sequence[PhaseResult], limit_ms: float) -> bool:
    ok = True
    for r in results:
        slowest = r.percentile(1.0)
        within = not math.isnan(slowest) and slowest < limit_ms
        answered = r.completed == r.planned and r.errors == 0
        ok = ok and within and answered
        verdict = "ok" if within and answered else "OVER BUDGET" if not within else "FAILED REQUESTS"
        print(
            f"  {r.name[:3]} max {slowest:7.1f} ms, {r.planned - r.errors - r.unsent} of {r.planned}"
            f" answered as they should: {verdict}"
        )
    return ok


# --- main ------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> bool:
    deadline = time.monotonic() + args.timeout
    database_name = check_database_url(args.database_url)
    port = free_port()
    var_dir = Path(tempfile.mkdtemp(prefix="muster-bench-chatops-"))
    created = redis_used = False
    secret = secrets.token_hex(16)  # the shape of a Slack signing secret
    slack = FakeSlack(users_info_delay=args.users_info_delay, bot_token=f"xoxb-{secrets.token_hex(12)}")
    try:
        check_redis_url(args.redis_url, flush=args.drop_existing)
        redis_used = True
        server_version = create_database(args.database_url, database_name, drop_existing=args.drop_existing)
        created = True
        with running_fake_slack(slack) as slack_url:
            env = bench_environment(database_url=args.database_url, port=port, var_dir=var_dir)
            env.update(
                {
                    "CELERY_BROKER_URL": args.redis_url,
                    "REDIS_URL": args.redis_url,
                    "SLACK_SIGNING_SECRET": secret,
                    "SLACK_BOT_TOKEN": slack.bot_token,
                    "SLACK_API_URL": f"{slack_url}/api",
                }
            )
            fixtures = prepare(env, args)
            with (
                running_gunicorn(env, port, var_dir / "gunicorn.log", deadline) as server_command,
                running_worker(env, var_dir / "worker.log", args.worker_concurrency),
            ):
                print(f"server: {' '.join(['gunicorn', *server_command[3:]])}")
                print(
                    f"worker: celery worker --beat --concurrency {args.worker_concurrency};"
                    f" broker and cache {args.redis_url}"
                )
                print(f"database: {server_version}, database {database_name!r} (dropped at the end)")
                print(
                    f"fixtures: {args.users} linked Slack users (responders), {args.incidents} open incidents"
                    f" for list, {2 * args.requests} more for ack/note/click"
                )
                print(
                    f"fake Slack: {slack_url}, users.info answers after {args.users_info_delay:g} s"
                    " (asked by the worker, after the command was answered)"
                )
                print(
                    f"client: {args.concurrency} persistent connections, {args.requests} requests per phase"
                )
                print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
                print()
                ok = measure(args, port, secret, fixtures, slack, slack_url, deadline)
        print("PASS" if ok else "FAIL")
        return ok
    finally:
        release(
            redis_url=args.redis_url if redis_used else "",
            database_url=args.database_url if created else "",
            database_name=database_name,
            var_dir=var_dir,
        )


def measure(
    args: argparse.Namespace,
    port: int,
    secret: str,
    fixtures: Fixtures,
    slack: FakeSlack,
    slack_url: str,
    deadline: float,
) -> bool:
    users = fixtures.chat_user_ids
    n = args.requests

    def user(i: int) -> str:
        return users[i % len(users)]

    def slash(phase: str, i: int, text: str, expect: str, user_id: str | None = None) -> ChatRequest:
        return command(
            text,
            user_id=user_id or user(i),
            seq=f"{phase}{i}",
            response_url=f"{slack_url}/commands/{TEAM_ID}/{phase}{i}/bench",
            expect=expect,
        )

    def phase(name: str, requests: Sequence[ChatRequest]) -> PhaseResult:
        return run_phase(
            name,
            requests,
            port=port,
            concurrency=args.concurrency,
            deadline=deadline,
            worker_class=lambda p: ChatWorker(p, secret),
        )

    # Warm-up: every gunicorn thread opens its database and Redis connections, imports are done.
    warmup: list[ChatRequest] = [healthz() for _ in range(WARMUP_REQUESTS)]
    warmup += [slash("w", i, "list", "Open incidents:") for i in range(WARMUP_REQUESTS)]
    warm = phase("warm-up", warmup)
    if warm.errors:
        print(f"warm-up: {warm.errors} of {len(warmup)} requests failed, e.g. {warm.error_samples[0]}")

    acks_and_notes = []
    for i, number in enumerate(fixtures.ack_numbers):
        if i % 2 == 0:
            acks_and_notes.append(slash("d", i, f"ack INC-{number}", f"acknowledged INC-{number}"))
        else:
            text = f"note INC-{number} Bench note {i}: rolled back to v1.42"
            acks_and_notes.append(slash("d", i, text, f"added a note to INC-{number}"))
    clicks = [
        click(number, user_id=user(i), seq=f"e{i}", response_url=f"{slack_url}/actions/{TEAM_ID}/{i}/bench")
        for i, number in enumerate(fixtures.click_numbers)
    ]

    results = [
        phase("(a) /incident help", [slash("a", i, "help", "Muster commands") for i in range(n)]),
        phase("(b) /incident list", [slash("b", i, "list", "Open incidents:") for i in range(n)]),
        phase(
            "(c) /incident declare ... sev3 bench",
            [
                slash("c", i, f"declare Bench declared {i} sev3 {SERVICE_SLUG}", "Declared by")
                for i in range(n)
            ],
        ),
        phase("(d) /incident ack | note INC-n", acks_and_notes),
        phase("(e) Acknowledge button click", clicks),
        phase(
            "(f) /incident list, unknown Slack user",
            [slash("f", i, "list", "One moment", user_id=f"U0NEW{i:06d}") for i in range(n)],
        ),
    ]
    yardstick = phase("(g) GET /healthz", [healthz() for _ in range(n)])
    results.append(yardstick)
    print_table(results, yardstick)
    print()

    limit_ms = (args.budget - args.margin) * 1000
    print(
        f"budget: Slack waits {args.budget:g} s; a phase passes when all its answers were right and the"
        f" slowest took under {limit_ms:.0f} ms ({args.margin:g} s kept for network, TLS and proxy)"
    )
    ok = budget_check(results, limit_ms)
    print()

    # The clicks: each incident acknowledged, and the updated message posted to its response_url.
    wait_for_responses(
        slack, f"/actions/{TEAM_ID}/", n, min(deadline, time.monotonic() + RESPONSE_URL_WAIT_SECONDS)
    )
    acknowledged = acknowledged_count(fixtures.click_incident_ids)
    delivered = slack.response_count(f"/actions/{TEAM_ID}/")
    replaced = sum(
        1
        for i in range(n)
        if (message := slack.response(f"/actions/{TEAM_ID}/{i}/bench")) is not None
        and message.get("replace_original") is True
    )
    print(f"(e) clicks: incidents acknowledged {acknowledged} of {n}")
    print(
        f"    response_url answers from the worker: {delivered} of {n}"
        f" (replace_original: {replaced}), within {RESPONSE_URL_WAIT_SECONDS:g} s after the phase"
    )
    ok = ok and acknowledged == n and delivered == n and replaced == n

    # The unknown users' commands: run by the worker after asking Slack, answered via response_url.
    later_wait = n * args.users_info_delay / args.worker_concurrency + RESPONSE_URL_WAIT_SECONDS
    wait_for_responses(slack, f"/commands/{TEAM_ID}/f", n, min(deadline, time.monotonic() + later_wait))
    answered = sum(
        1
        for i in range(n)
        if (message := slack.response(f"/commands/{TEAM_ID}/f{i}/bench")) is not None
        and "isn't linked to a Muster account" in str(message.get("text", ""))
    )
    calls = slack.users_info_calls
    print(
        f"(f) users.info calls the fake Slack received: {calls} (expected {n}, one per unknown user);"
        f" bot token wrong in {slack.users_info_bad_token}"
    )
    print(f"    answers through response_url after the lookup: {answered} of {n}")
    ok = ok and calls == n and slack.users_info_bad_token == 0 and answered == n

    first, second = replay_check(port, secret, slash("r", 0, "help", "Muster commands"))
    replay_ok = (first, second) == (200, 401)
    print(
        f"replay: the same signed /incident help sent twice: {first}, then {second}"
        f" (expected 200, then 401): {'ok' if replay_ok else 'FAILED'}"
    )
    return ok and replay_ok


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main(
        run,
        parse_args(argv),
        interrupted="the worker, gunicorn and the fake Slack stopped, the databases cleaned",
    )


if __name__ == "__main__":
    sys.exit(main())
