from __future__ import annotations

from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

app_name = "runbooks-api"

router = SimpleRouter()
# --- runbooks (runbooks/api/views.py) ---
# --- end runbooks ---

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
