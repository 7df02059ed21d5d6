from django.urls import URLPattern, URLResolver, path

from oncall.views import ack

app_name = "oncall"

urlpatterns: list[URLPattern | URLResolver] = [
    path("ack/<str:token>/", ack.acknowledge_link, name="ack"),
    path("api/v1/ack/<str:token>/", ack.acknowledge_api, name="ack_api"),
    # --- schedules (oncall/views/schedules.py) ---
    # --- end schedules ---
    # --- people: escalation policies, contact methods, notification rules, profile (oncall/views/people.py) ---
    # --- end people ---
    # --- calendar feeds (oncall/views/feeds.py) ---
    # --- end calendar feeds ---
]
