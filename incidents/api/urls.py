from __future__ import annotations

from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from incidents.api import views

app_name = "api"

router = SimpleRouter()
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("services", views.ServiceViewSet, basename="service")
router.register("integrations", views.IntegrationViewSet, basename="integration")
router.register("alerts", views.AlertViewSet, basename="alert")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
