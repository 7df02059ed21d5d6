"""What every ingest endpoint does around its format: method check, bounded body read, error bodies.

Each sender family expects its own error body, so an endpoint names an ErrorStyle and raises
IngestError; the wrapper turns that into the sender's shape.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec

from django.conf import settings
from django.db import DataError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from incidents.ingest.events import IngestError
from incidents.ingest.ratelimit import RateLimited

logger = logging.getLogger(__name__)

P = ParamSpec("P")
Handler = Callable[Concatenate[HttpRequest, bytes, P], HttpResponse]

# PagerDuty's documented request cap (INTEROP.md §1); senders built for PagerDuty never exceed it.
PAGERDUTY_MAX_BODY_BYTES = 512 * 1024
_READ_CHUNK = 64 * 1024
DATABASE_RETRY_AFTER_SECONDS = 5


def read_body(request: HttpRequest, *, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes without buffering them.

    Reading the stream ourselves (instead of request.body) sidesteps DATA_UPLOAD_MAX_MEMORY_SIZE, whose
    plain-text 400 would tell Alertmanager to drop a large group for good.
    """
    too_large = IngestError(f"The request body is larger than {limit} bytes.", status=413)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise IngestError("The Content-Length header is not a number.") from None
    if declared > limit:
        raise too_large
    chunks: list[bytes] = []
    received = 0
    # One byte past the limit is enough to know a sender lied about (or omitted) its length.
    while received <= limit:
        chunk = request.read(min(_READ_CHUNK, limit + 1 - received))
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
    if received > limit:
        raise too_large
    return b"".join(chunks)


@dataclass(frozen=True)
class ErrorStyle:
    """How one sender family expects to be told no: the body shape, and which status means retry."""

    render: Callable[[int, IngestError, float], tuple[int, dict[str, Any]]]


def _generic_body(status: int, error: IngestError, elapsed: float) -> tuple[int, dict[str, Any]]:
    return status, {"status": "error", "message": error.message, "errors": error.errors}


def _opsgenie_body(status: int, error: IngestError, elapsed: float) -> tuple[int, dict[str, Any]]:
    body = {
        "message": error.message,
        "errors": error.errors,
        "took": round(elapsed, 3),
        "requestId": str(uuid.uuid4()),
    }
    return status, body


GENERIC = ErrorStyle(render=_generic_body)
OPSGENIE = ErrorStyle(render=_opsgenie_body)


def ingest_endpoint(
    *, style: ErrorStyle, methods: tuple[str, ...] = ("POST",), max_body: int | None = None
) -> Callable[[Handler[P]], Callable[Concatenate[HttpRequest, P], HttpResponse]]:
    """Wraps a handler(request, body, **url_kwargs). Whatever goes wrong, the sender gets JSON."""

    def decorate(handler: Handler[P]) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
        @csrf_exempt
        @functools.wraps(handler)
        def view(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
            started = time.monotonic()

            def refuse(status: int, error: IngestError) -> JsonResponse:
                status, body = style.render(status, error, time.monotonic() - started)
                return JsonResponse(body, status=status)

            if request.method not in methods:
                allowed = ", ".join(methods)
                response = refuse(405, IngestError(f"Method {request.method} is not allowed; use {allowed}."))
                response["Allow"] = allowed
                return response
            limit = max_body if max_body is not None else settings.MUSTER_INGEST_MAX_BODY_BYTES
            try:
                body = read_body(request, limit=limit)
                return handler(request, body, *args, **kwargs)
            except RateLimited as exc:
                response = refuse(exc.status, exc)
                response["Retry-After"] = str(exc.retry_after)
                return response
            except IngestError as exc:
                return refuse(exc.status, exc)
            except DataError:
                # A value the parsers let through but the database cannot store (PostgreSQL refuses
                # NUL characters in text and JSON): resending the same body would fail the same way.
                logger.warning("Alert payload refused by the database", exc_info=True)
                return refuse(
                    400,
                    IngestError(
                        "The payload holds a value the database cannot store (e.g. a NUL character)."
                    ),
                )
            except (OperationalError, InterfaceError):
                # Nothing was written (the service's transaction rolled back); every sender retries 503.
                logger.exception("Database unavailable during alert ingestion")
                response = refuse(503, IngestError("The database is unavailable; retry shortly.", status=503))
                response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
                return response

        return view

    return decorate
