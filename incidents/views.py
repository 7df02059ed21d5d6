# Replaced by the UI work; these exist so that get_absolute_url resolves meanwhile.
from django.http import HttpRequest, HttpResponse


def incident_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("incidents")


def incident_detail(request: HttpRequest, number: int) -> HttpResponse:
    return HttpResponse(f"INC-{number}")


def service_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return HttpResponse(slug)
