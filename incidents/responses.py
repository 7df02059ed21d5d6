"""What every server-rendered view answers with: a whole page or, for htmx, just the part that
changed; and the 403 page. Shared by the apps' views so they all behave alike."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_htmx.middleware import HtmxDetails


def htmx_details(request: HttpRequest) -> HtmxDetails | None:
    details: HtmxDetails | None = getattr(request, "htmx", None)
    return details if details else None


def wants_partial(request: HttpRequest) -> bool:
    # A history restore asks for the whole page: htmx swaps it in as the document body.
    htmx = htmx_details(request)
    return htmx is not None and not htmx.history_restore_request


def render_page(
    request: HttpRequest, full: str, partial: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    response = render(request, partial if wants_partial(request) else full, context, status=status)
    # The same URL answers with two bodies; caches must not serve one for the other.
    patch_vary_headers(response, ["HX-Request"])
    return response


def forbidden(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "incidents/forbidden.html", {"reason": reason}, status=403)
