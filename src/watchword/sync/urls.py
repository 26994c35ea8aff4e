from django.urls import path

from watchword.sync import views

app_name = "sync"

urlpatterns = [
    path("admin/directory-sync", views.connection_list, name="connections"),
    path("admin/directory-sync/new", views.connection_add, name="connection_add"),
    path("admin/directory-sync/<int:connection_id>", views.connection_detail, name="connection"),
    path("admin/directory-sync/<int:connection_id>/edit", views.connection_edit, name="connection_edit"),
    path("admin/directory-sync/<int:connection_id>/run", views.connection_run, name="connection_run"),
    path("admin/directory-sync/<int:connection_id>/remove", views.connection_remove, name="connection_remove"),
    path("admin/directory-sync/runs/<int:run_id>", views.run_detail, name="run"),
    path("admin/directory-sync/runs/<int:run_id>/apply-deletions", views.apply_deletions, name="apply_deletions"),
]
