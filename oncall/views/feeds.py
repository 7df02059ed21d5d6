"""Calendar feeds: the .ics URL a calendar app subscribes to, and the page where people make and
revoke them.

The feed URL takes no login: Google fetches it from its own servers, with no cookie. The token in
the path is the credential, so an unknown or revoked one answers 404, and so does a feed whose owner
may no longer see the schedule.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.text import slugify
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.models import person_name
from incidents.services import DomainError
from oncall import ical
from oncall.forms.feeds import CalendarFeedForm
from oncall.models import CalendarFeed
from oncall.selectors.calendar import (
    calendar_feed_for_token,
    calendar_feed_get_for_user,
    calendar_feed_list_for_user,
    feed_schedules_for_user,
    feed_shifts,
)
from oncall.services import calendar_feed_create, calendar_feed_mark_fetched, calendar_feed_revoke

CONTENT_TYPE = "text/calendar; charset=utf-8"


def feed_urls(token: str) -> tuple[str, str]:
    """The https (or http) URL and the webcal:// one, which opens the subscribe dialog of Apple
    Calendar and Outlook."""
    url = settings.MUSTER_BASE_URL + reverse("oncall:calendar_feed", kwargs={"token": token})
    return url, "webcal://" + url.split("://", 1)[1]


def _feed_names(feed: CalendarFeed) -> tuple[str, str, str]:
    """Calendar name, description and the zone to display in."""
    if feed.schedule is not None:
        return (
            f"{feed.schedule.name} on call",
            f"Who is on call for {feed.schedule.name}, from Muster.",
            feed.schedule.time_zone,
        )
    owner = person_name(feed.owner)
    profile = getattr(feed.owner, "profile", None)
    return (
        f"On call: {owner}",
        f"{owner}'s on-call shifts in every schedule, from Muster.",
        profile.time_zone if profile is not None else "UTC",
    )


@require_http_methods(["GET", "HEAD"])
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    feed = calendar_feed_for_token(token=token)
    if feed is None:
        raise Http404("No such calendar feed (revoked, or never issued).")
    now = timezone.now()
    events = [
        ical.shift_event(
            schedule_id=item.schedule.pk,
            schedule_name=item.schedule.name,
            person=item.person,
            shift=item.shift,
        )
        for item in feed_shifts(feed=feed, start=now - ical.FEED_PAST, end=now + ical.FEED_FUTURE)
    ]
    name, description, time_zone = _feed_names(feed)
    calendar_feed_mark_fetched(feed=feed, now=now)
    body = ical.calendar_bytes(
        name=name, description=description, time_zone=time_zone, events=events, now=now
    )
    response = HttpResponse(body, content_type=CONTENT_TYPE)
    response["ETag"] = ical.feed_etag(name=name, events=events)
    response["Content-Disposition"] = f'attachment; filename="{slugify(name) or "on-call"}.ics"'
    # The URL is a credential: no shared cache may keep it, and no search engine may list it.
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex, nofollow"
    # A 304 when the calendar app already has these shifts (If-None-Match), headers kept.
    conditional = get_conditional_response(request, etag=response["ETag"], response=response)
    return conditional if conditional is not None else response


@login_required
@require_GET
def calendars(request: HttpRequest) -> HttpResponse:
    form = CalendarFeedForm(schedules=feed_schedules_for_user(user=request.user))
    return _page(request, form)


def _page(request: HttpRequest, form: CalendarFeedForm, status: int = 200) -> HttpResponse:
    context = {"feeds": calendar_feed_list_for_user(user=request.user), "form": form}
    return render(request, "oncall/calendars/calendars.html", context, status=status)


@never_cache
@login_required
@require_POST
def calendar_create_view(request: HttpRequest) -> HttpResponse:
    form = CalendarFeedForm(request.POST, schedules=feed_schedules_for_user(user=request.user))
    if form.is_valid():
        try:
            feed, token = calendar_feed_create(owner=request.user, schedule=form.cleaned_data["source"])
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            # Rendered into this response only: the token's hash is all Muster keeps.
            https_url, webcal_url = feed_urls(token)
            context = {"feed": feed, "https_url": https_url, "webcal_url": webcal_url}
            return render(request, "oncall/calendars/calendar_created.html", context)
    return _page(request, form, status=400)


@login_required
@require_POST
def calendar_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    feed = calendar_feed_get_for_user(user=request.user, pk=pk)
    calendar_feed_revoke(feed=feed, actor=request.user)
    messages.success(request, f"Feed {feed.token_prefix}… revoked: its URL no longer works.")
    return redirect("oncall:calendars")
