from __future__ import annotations

from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

app_name = "postmortems-api"

router = SimpleRouter()
# --- postmortems and action items (postmortems/api/views.py) ---
# --- end postmortems and action items ---

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
