from django.urls import path

from watchword.policy import views

app_name = "policy"

urlpatterns = [
    path("admin/security", views.security_home, name="home"),
    path("admin/security/policies", views.policy_list, name="policies"),
    path("admin/security/policies/new", views.policy_new, name="policy_new"),
    path("admin/security/policies/import", views.policy_import, name="policy_import"),
    path("admin/security/policies/export", views.policy_export, name="policy_export"),
    path("admin/security/policies/<uuid:policy_id>", views.policy_edit, name="policy"),
    path("admin/security/policies/<uuid:policy_id>/state", views.policy_state, name="policy_state"),
    path("admin/security/policies/<uuid:policy_id>/delete", views.policy_delete, name="policy_delete"),
    path("admin/security/whatif", views.whatif, name="whatif"),
]
