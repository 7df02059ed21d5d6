from django.urls import path

from oncall import views

app_name = "oncall"

urlpatterns = [
    path("ack/<str:token>/", views.acknowledge_link, name="ack"),
    path("api/v1/ack/<str:token>/", views.acknowledge_api, name="ack_api"),
]
