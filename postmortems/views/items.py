"""Placeholder until the views are written (development only; replaced before commit)."""

from django.http import Http404, HttpRequest, HttpResponse



def py(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def action_item_list_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def my_action_items_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def team_action_items_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def action_item_detail(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def action_item_edit_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def action_item_status_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")


def action_item_create_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404("not built yet")
