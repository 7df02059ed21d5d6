from django.urls import URLPattern, URLResolver, path

from runbooks.views import incident, pages

app_name = "runbooks"

urlpatterns: list[URLPattern | URLResolver] = [
    # --- runbook pages (runbooks/views/pages.py) ---
    path("", pages.runbook_list_view, name="list"),
    path("new/", pages.runbook_create_view, name="create"),
    path("import/", pages.runbook_import_view, name="import"),
    path("<slug:slug>/", pages.runbook_detail, name="detail"),
    path("<slug:slug>/edit/", pages.runbook_edit, name="edit"),
    path("<slug:slug>/delete/", pages.runbook_delete_view, name="delete"),
    path("<slug:slug>/export.md", pages.runbook_export, name="export"),
    path("<slug:slug>/reviewed/", pages.runbook_mark_reviewed_view, name="mark_reviewed"),
    path(
        "<slug:slug>/review-requests/<int:pk>/close/",
        pages.review_request_close_view,
        name="review_request_close",
    ),
    path("<slug:slug>/history/", pages.runbook_history, name="history"),
    path("<slug:slug>/diff/", pages.runbook_diff, name="diff"),
    path("<slug:slug>/revisions/<int:number>/", pages.runbook_revision, name="revision"),
    path("<slug:slug>/revisions/<int:number>/restore/", pages.runbook_restore, name="restore"),
    # --- end runbook pages ---
    # --- on incidents (runbooks/views/incident.py) ---
    path("on/<int:number>/attach/", incident.runbook_attach_view, name="incident_attach"),
    path(
        "on/<int:number>/uses/<int:use_id>/tick/<int:item>/",
        incident.checklist_tick_view,
        name="incident_checklist_tick",
    ),
    path(
        "on/<int:number>/uses/<int:use_id>/feedback/",
        incident.runbook_feedback_view,
        name="incident_feedback",
    ),
    # --- end on incidents ---
]
