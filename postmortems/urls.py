from django.urls import URLPattern, URLResolver, path

from postmortems.views import editor, items

app_name = "postmortems"

urlpatterns: list[URLPattern | URLResolver] = [
    # --- postmortems (postmortems/views/editor.py) ---
    path("postmortems/", editor.postmortem_list_view, name="list"),
    path("postmortems/<int:number>/", editor.postmortem_detail, name="detail"),
    path("postmortems/<int:number>/start/", editor.postmortem_create_view, name="create"),
    path("postmortems/<int:number>/settings/", editor.postmortem_settings_view, name="settings"),
    path("postmortems/<int:number>/sections/<slug:key>/", editor.section_view, name="section"),
    path("postmortems/<int:number>/check/", editor.blameless_check_view, name="check"),
    path("postmortems/<int:number>/timeline/import/", editor.timeline_import_view, name="timeline_import"),
    path("postmortems/<int:number>/timeline/add/", editor.timeline_add_view, name="timeline_add"),
    path(
        "postmortems/<int:number>/timeline/<int:entry_id>/", editor.timeline_entry_view, name="timeline_entry"
    ),
    path("postmortems/<int:number>/reviewers/", editor.review_request_view, name="request_review"),
    path("postmortems/<int:number>/approve/", editor.review_approve_view, name="approve"),
    path("postmortems/<int:number>/comments/", editor.comment_add_view, name="comment"),
    path(
        "postmortems/<int:number>/comments/<int:comment_id>/resolve/",
        editor.comment_resolve_view,
        name="comment_resolve",
    ),
    path("postmortems/<int:number>/publish/", editor.postmortem_publish_view, name="publish"),
    path("postmortems/<int:number>/export.md", editor.postmortem_export_view, name="export"),
    # --- end postmortems ---
    # --- action items (postmortems/views/items.py) ---
    path("action-items/", items.action_item_list_view, name="action_items"),
    path("action-items/mine/", items.my_action_items_view, name="my_action_items"),
    path("action-items/team/<slug:slug>/", items.team_action_items_view, name="team_action_items"),
    path("action-items/<int:pk>/", items.action_item_detail, name="action_item_detail"),
    path("action-items/<int:pk>/edit/", items.action_item_edit_view, name="action_item_edit"),
    path("action-items/<int:pk>/status/", items.action_item_status_view, name="action_item_status"),
    path(
        "incidents/<int:number>/action-items/new/",
        items.action_item_create_view,
        name="action_item_create",
    ),
    # --- end action items ---
]
