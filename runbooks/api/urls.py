from __future__ import annotations

from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from runbooks.api import incident, views

app_name = "runbooks-api"

router = SimpleRouter()
# --- runbooks (runbooks/api/views.py) ---
router.register("runbooks", views.RunbookViewSet, basename="runbook")
router.register(
    r"incidents/(?P<number>[0-9]+)/runbooks", incident.IncidentRunbookViewSet, basename="incident-runbook"
)
# --- end runbooks ---

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
