"""Placeholder until the views are written (development only; replaced before commit)."""

from django.http import Http404, HttpRequest, HttpResponse



def py(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def postmortem_list_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def postmortem_detail(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def postmortem_create_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def postmortem_settings_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def section_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def blameless_check_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def timeline_import_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def timeline_add_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def timeline_entry_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def review_request_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def review_approve_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def comment_add_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def comment_resolve_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def postmortem_publish_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def postmortem_export_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")
