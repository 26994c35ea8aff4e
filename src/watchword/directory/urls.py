from django.urls import path

from watchword.directory import views

app_name = "directory"

urlpatterns = [
    path("admin/users", views.user_list, name="user_list"),
    path("admin/users/new", views.user_add, name="user_add"),
    path("admin/users/import", views.user_import, name="user_import"),
    path("admin/users/deleted", views.deleted_users, name="deleted_users"),
    path("admin/users/deleted/<int:user_id>/restore", views.restore_deleted_user, name="restore_user"),
    path("admin/users/<int:user_id>", views.user_detail, name="user_detail"),
    path("admin/users/<int:user_id>/methods/<int:method_id>/remove", views.remove_method, name="remove_method"),
    path("admin/users/<int:user_id>/<slug:action>", views.user_action, name="user_action"),
    path("admin/groups", views.group_list, name="group_list"),
    path("admin/groups/<int:group_id>", views.group_detail, name="group_detail"),
]
