from django.urls import path

from incidents import views

app_name = "incidents"

urlpatterns = [
    path("", views.incident_list, name="list"),
    path("incidents/declare/", views.incident_declare_view, name="declare"),
    path("incidents/<int:number>/", views.incident_detail, name="detail"),
    path("incidents/<int:number>/acknowledge/", views.incident_acknowledge_view, name="acknowledge"),
    path("incidents/<int:number>/mitigate/", views.incident_mitigate_view, name="mitigate"),
    path("incidents/<int:number>/resolve/", views.incident_resolve_view, name="resolve"),
    path("incidents/<int:number>/severity/", views.incident_severity_view, name="severity"),
    path("incidents/<int:number>/roles/", views.incident_assign_role_view, name="assign_role"),
    path("incidents/<int:number>/notes/", views.incident_note_view, name="note"),
    path("services/", views.service_list, name="service_list"),
    path("services/<slug:slug>/", views.service_detail, name="service_detail"),
    path("services/<slug:slug>/integrations/", views.integration_create_view, name="integration_create"),
    path(
        "services/<slug:slug>/maintenance/", views.maintenance_window_create_view, name="maintenance_create"
    ),
]
