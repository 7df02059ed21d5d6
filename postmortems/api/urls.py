from __future__ import annotations

from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from postmortems.api import views

app_name = "postmortems-api"

router = SimpleRouter()
# --- postmortems and action items (postmortems/api/views.py) ---
router.register("postmortems", views.PostmortemViewSet, basename="postmortem")
router.register("action-items", views.ActionItemViewSet, basename="action-item")
# --- end postmortems and action items ---

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
