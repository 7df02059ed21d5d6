from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from incidents import health

urlpatterns = [
    # Ingestion first: it owns /api/v1/alerts/ (integration-key auth) ahead of the user API.
    path("", include("incidents.ingest.urls")),
    path("", include("incidents.chatops.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("oncall.urls")),
    path("api/v1/", include("oncall.api.urls")),
    path("api/v1/", include("runbooks.api.urls")),
    path("api/v1/", include("postmortems.api.urls")),
    path("api/v1/", include("incidents.api.urls")),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("runbooks/", include("runbooks.urls")),
    path("", include("postmortems.urls")),
    path("", include("incidents.urls")),
]

handler404 = "incidents.errors.not_found"
handler500 = "incidents.errors.server_error"
