from django.urls import URLPattern, URLResolver

app_name = "runbooks"

urlpatterns: list[URLPattern | URLResolver] = [
    # --- runbook pages (runbooks/views/pages.py) ---
    # --- end runbook pages ---
    # --- on incidents (runbooks/views/incident.py) ---
    # --- end on incidents ---
]
