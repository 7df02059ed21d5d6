"""Chat-ops endpoints, one per platform request type (INTEROP.md §5 and §6), and the account-link page."""

from __future__ import annotations

from django.urls import URLPattern, path

from incidents.chatops import link_views, views

app_name = "chatops"

urlpatterns: list[URLPattern] = [
    path("chatops/slack/commands", views.slack_commands, name="slack_commands"),
    path("chatops/slack/interactions", views.slack_interactions, name="slack_interactions"),
    path("chatops/slack/events", views.slack_events, name="slack_events"),
    path("chatops/mattermost/commands", views.mattermost_commands, name="mattermost_commands"),
    path("chatops/teams/messages", views.teams_messages, name="teams_messages"),
    path("chatops/link/<str:token>/", link_views.chat_link, name="link"),
]
