from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from oncall.api import (
    people,
    schedules,
)

app_name = "oncall-api"

router = SimpleRouter()
# --- schedules (oncall/api/schedules.py) ---
router.register("schedules", schedules.ScheduleViewSet, basename="schedule")
router.register("layers", schedules.LayerViewSet, basename="layer")
router.register("overrides", schedules.OverrideViewSet, basename="override")
# --- end schedules ---
# --- people (oncall/api/people.py) ---
router.register("escalation-policies", people.EscalationPolicyViewSet, basename="escalation-policy")
router.register("contact-methods", people.ContactMethodViewSet, basename="contact-method")
router.register("notification-rules", people.NotificationRuleViewSet, basename="notification-rule")
# --- end people ---

urlpatterns: list[URLPattern | URLResolver] = [
    *router.urls,
    # --- extra schedule paths ---
    path("oncall/", schedules.OnCallView.as_view(), name="oncall"),
    # --- end extra schedule paths ---
]
