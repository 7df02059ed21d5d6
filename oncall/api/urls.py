from __future__ import annotations

from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

app_name = "oncall-api"

router = SimpleRouter()
# --- schedules (oncall/api/schedules.py) ---
# --- end schedules ---
# --- people (oncall/api/people.py) ---
# --- end people ---

urlpatterns: list[URLPattern | URLResolver] = [
    *router.urls,
    # --- extra schedule paths ---
    # --- end extra schedule paths ---
]
