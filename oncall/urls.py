from django.urls import URLPattern, URLResolver, path

from oncall.views import (
    ack,
    feeds,
    people,
    schedules,
)

app_name = "oncall"

urlpatterns: list[URLPattern | URLResolver] = [
    path("ack/<str:token>/", ack.acknowledge_link, name="ack"),
    path("api/v1/ack/<str:token>/", ack.acknowledge_api, name="ack_api"),
    # --- schedules (oncall/views/schedules.py) ---
    path("schedules/", schedules.schedule_list, name="schedule_list"),
    path("schedules/new/", schedules.schedule_create_view, name="schedule_create"),
    path("schedules/<int:pk>/", schedules.schedule_detail, name="schedule_detail"),
    path("schedules/<int:pk>/edit/", schedules.schedule_edit_view, name="schedule_edit"),
    path("schedules/<int:pk>/delete/", schedules.schedule_delete_view, name="schedule_delete"),
    path("schedules/<int:pk>/layers/new/", schedules.layer_create_view, name="layer_create"),
    path("schedules/<int:pk>/layers/<int:layer_pk>/edit/", schedules.layer_edit_view, name="layer_edit"),
    path(
        "schedules/<int:pk>/layers/<int:layer_pk>/delete/", schedules.layer_delete_view, name="layer_delete"
    ),
    path("schedules/<int:pk>/take/", schedules.shift_take_view, name="shift_take"),
    path("schedules/<int:pk>/overrides/new/", schedules.override_create_view, name="override_create"),
    path(
        "schedules/<int:pk>/overrides/<int:override_pk>/delete/",
        schedules.override_delete_view,
        name="override_delete",
    ),
    path("my/shifts/", schedules.my_shifts, name="my_shifts"),
    # --- end schedules ---
    # --- people: escalation policies, contact methods, notification rules, profile (oncall/views/people.py) ---
    path("escalation-policies/", people.policy_list, name="policy_list"),
    path("escalation-policies/<int:pk>/", people.policy_detail, name="policy_detail"),
    path("escalation-policies/<int:pk>/delete/", people.policy_delete, name="policy_delete"),
    path("escalation-policies/<int:pk>/steps/", people.step_add, name="step_add"),
    path("escalation-policies/<int:pk>/steps/<int:step_pk>/", people.step_update, name="step_update"),
    path("escalation-policies/<int:pk>/steps/<int:step_pk>/move/", people.step_move, name="step_move"),
    path("escalation-policies/<int:pk>/steps/<int:step_pk>/delete/", people.step_delete, name="step_delete"),
    path(
        "escalation-policies/<int:pk>/services/", people.policy_service_assign, name="policy_service_assign"
    ),
    path(
        "escalation-policies/<int:pk>/services/<slug:slug>/remove/",
        people.policy_service_remove,
        name="policy_service_remove",
    ),
    path("my/notifications/", people.my_notifications, name="my_notifications"),
    path(
        "my/notifications/contact-methods/", people.contact_method_create_view, name="contact_method_create"
    ),
    path(
        "my/notifications/contact-methods/<int:pk>/",
        people.contact_method_update_view,
        name="contact_method_update",
    ),
    path(
        "my/notifications/contact-methods/<int:pk>/delete/",
        people.contact_method_delete_view,
        name="contact_method_delete",
    ),
    path(
        "my/notifications/contact-methods/<int:pk>/test/",
        people.contact_method_test_view,
        name="contact_method_test",
    ),
    path("my/notifications/rules/", people.notification_rule_create_view, name="notification_rule_create"),
    path(
        "my/notifications/rules/<int:pk>/delete/",
        people.notification_rule_delete_view,
        name="notification_rule_delete",
    ),
    path("my/profile/", people.profile_update_view, name="profile_update"),
    # --- end people ---
    # --- calendar feeds (oncall/views/feeds.py) ---
    path("calendars/<str:token>.ics", feeds.calendar_feed, name="calendar_feed"),
    path("my/calendars/", feeds.calendars, name="calendars"),
    path("my/calendars/new/", feeds.calendar_create_view, name="calendar_create"),
    path("my/calendars/<int:pk>/revoke/", feeds.calendar_revoke_view, name="calendar_revoke"),
    # --- end calendar feeds ---
]
