from django.urls import path

from incidents import views

app_name = "incidents"

urlpatterns = [
    path("", views.incident_list, name="list"),
    path("incidents/<int:number>/", views.incident_detail, name="detail"),
    path("services/<slug:slug>/", views.service_detail, name="service_detail"),
]
