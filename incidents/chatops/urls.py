"""Chat-ops endpoints, one per platform request type (INTEROP.md §5 and §6), the account-link page,
and the chat settings page."""

from __future__ import annotations

from django.urls import URLPattern, path

from incidents.chatops import link_views, settings_views, views

app_name = "chatops"

urlpatterns: list[URLPattern] = [
    path("chatops/slack/commands", views.slack_commands, name="slack_commands"),
    path("chatops/slack/interactions", views.slack_interactions, name="slack_interactions"),
    path("chatops/slack/events", views.slack_events, name="slack_events"),
    path("chatops/mattermost/commands", views.mattermost_commands, name="mattermost_commands"),
    path("chatops/teams/messages", views.teams_messages, name="teams_messages"),
    path("chatops/link/<str:token>/", link_views.chat_link, name="link"),
    # --- chat settings (settings_views.py) ---
    path("settings/chat/", settings_views.chat_settings, name="chat_settings"),
    path("settings/chat/workspaces/", settings_views.workspace_create_view, name="workspace_create"),
    path("settings/chat/workspaces/<int:pk>/", settings_views.workspace_update_view, name="workspace_update"),
    path(
        "settings/chat/workspaces/<int:pk>/delete/",
        settings_views.workspace_delete_view,
        name="workspace_delete",
    ),
    path(
        "settings/chat/workspaces/<int:pk>/test/", settings_views.workspace_test_view, name="workspace_test"
    ),
    path(
        "settings/chat/channels/",
        settings_views.announcement_channel_create_view,
        name="announcement_channel_create",
    ),
    path(
        "settings/chat/channels/<int:pk>/",
        settings_views.announcement_channel_update_view,
        name="announcement_channel_update",
    ),
    path(
        "settings/chat/channels/<int:pk>/enabled/",
        settings_views.announcement_channel_enabled_view,
        name="announcement_channel_enabled",
    ),
    path(
        "settings/chat/channels/<int:pk>/delete/",
        settings_views.announcement_channel_delete_view,
        name="announcement_channel_delete",
    ),
    path(
        "settings/chat/channels/<int:pk>/test/",
        settings_views.announcement_channel_test_view,
        name="announcement_channel_test",
    ),
    # --- end chat settings ---
]
