"""Operations endpoints: liveness, readiness (database, broker, engine tick) and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from incidents.models import EngineHeartbeat, Incident
from oncall import engine

LAG_QUANTILES = ("0.5", "0.99", "1")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not ready"
        return f"database: {exc.__class__.__name__}: {exc}"
    return None


def _check_broker() -> str | None:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # any transport error means "not ready"
        return f"broker: {exc.__class__.__name__}: {exc}"
    return None


def _check_tick() -> str | None:
    beat = EngineHeartbeat.objects.filter(name="tick").first()
    if beat is None:
        return "engine: the tick has never run (is the Celery worker with beat running?)"
    age = (timezone.now() - beat.last_tick_at).total_seconds()
    if age > settings.MUSTER_TICK_STALE_SECONDS:
        return f"engine: last tick {age:.0f}s ago (stale after {settings.MUSTER_TICK_STALE_SECONDS:.0f}s)"
    return None


@never_cache
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    problems = [p for p in (_check_database(), _check_broker()) if p]
    if not problems:
        tick_problem = _check_tick()
        if tick_problem:
            problems.append(tick_problem)
    if problems:
        return JsonResponse({"status": "unavailable", "problems": problems}, status=503)
    return JsonResponse({"status": "ok"})


class _MusterCollector:
    def collect(self) -> Any:
        open_incidents = GaugeMetricFamily(
            "muster_incidents_open", "Incidents not yet resolved, by status", labels=["status"]
        )
        for row in Incident.objects.open().values("status").annotate(n=Count("pk")).order_by():
            open_incidents.add_metric([row["status"]], row["n"])
        yield open_incidents
        beat = EngineHeartbeat.objects.filter(name="tick").first()
        age = GaugeMetricFamily("muster_engine_tick_age_seconds", "Seconds since the engine tick last ran")
        if beat is not None:
            age.add_metric([], (timezone.now() - beat.last_tick_at).total_seconds())
        yield age
        yield from _timer_metrics()


def _timer_metrics() -> Any:
    """How late the engine's timers run: the precision goal is one tick (DESIGN.md, the engine)."""
    now = timezone.now()
    window = int(engine.LAG_WINDOW.total_seconds())
    lags = engine.timer_lags(now=now)
    lag = GaugeMetricFamily(
        "muster_timer_lag_seconds",
        f"Seconds between a timer's due time and its processing, over the last {window}s "
        '(quantile="1" is the maximum; absent when no timer was processed)',
        labels=["kind", "quantile"],
    )
    samples = GaugeMetricFamily(
        "muster_timer_lag_samples",
        f"Timers processed over the last {window}s, i.e. the samples behind muster_timer_lag_seconds",
        labels=["kind"],
    )
    for kind, seconds in lags.items():
        samples.add_metric([kind], len(seconds))
        if seconds:
            for q in LAG_QUANTILES:
                lag.add_metric([kind, q], engine.quantile(seconds, float(q)))
    yield lag
    yield samples
    overdue = GaugeMetricFamily(
        "muster_timers_overdue",
        "Timers due more than one tick ago and not processed yet",
        labels=["kind"],
    )
    for kind, count in engine.timers_overdue(now=now).items():
        overdue.add_metric([kind], count)
    yield overdue


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    registry = CollectorRegistry()
    registry.register(_MusterCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
