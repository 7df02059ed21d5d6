"""Error pages: JSON for machine endpoints (API, ingestion, health), the product's pages otherwise."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

_MACHINE_PREFIXES = ("/api/", "/v2/", "/hooks/", "/healthz", "/readyz", "/metrics")


def _is_machine(request: HttpRequest) -> bool:
    return request.path.startswith(_MACHINE_PREFIXES)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_machine(request):
        return JsonResponse({"detail": f"Nothing at {request.path}."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_machine(request):
        return JsonResponse({"detail": "Server error; it has been logged."}, status=500)
    return defaults.server_error(request)
