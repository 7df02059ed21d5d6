"""Ingest URLs, included at the site root ahead of everything else. links.py spells them for people."""

from __future__ import annotations

from django.urls import URLPattern, path

from incidents.ingest import heartbeat, views

app_name = "ingest"

urlpatterns: list[URLPattern] = [
    # PagerDuty Events API v2: the routing key is in the body.
    path("v2/enqueue", views.pagerduty_enqueue, name="pagerduty_enqueue"),
    path("v2/change/enqueue", views.pagerduty_change_enqueue, name="pagerduty_change_enqueue"),
    # Opsgenie Alert API (`Authorization: GenieKey <key>`); also Alertmanager's opsgenie_configs.
    path("v2/alerts", views.opsgenie_create, name="opsgenie_create"),
    path("v2/alerts/<path:identifier>/close", views.opsgenie_close, name="opsgenie_close"),
    path("v2/alerts/<path:identifier>/acknowledge", views.opsgenie_acknowledge, name="opsgenie_acknowledge"),
    path(
        "v2/alerts/<path:identifier>/message",
        views.opsgenie_update,
        {"field": "message"},
        name="opsgenie_update_message",
    ),
    path(
        "v2/alerts/<path:identifier>/description",
        views.opsgenie_update,
        {"field": "description"},
        name="opsgenie_update_description",
    ),
    # Muster's own API (`Authorization: Bearer <key>`); without the slash too, since a POST cannot
    # follow APPEND_SLASH's redirect.
    path("api/v1/alerts/", views.native_alerts_path, name="native_alert"),
    path("api/v1/alerts", views.native_alert),
    # Alertmanager, Grafana and generic webhooks carry the key in the path.
    path("hooks/<str:key>", views.hook, name="hook"),
    path("hooks/<str:key>/", views.hook),
    # Heartbeat monitors: cron jobs and uptime checkers ping with GET, HEAD or POST.
    path("heartbeat/<str:key>", heartbeat.heartbeat, name="heartbeat"),
    path("heartbeat/<str:key>/", heartbeat.heartbeat),
]
