from django.urls import path

from watchword.policy import settings_views as views

app_name = "policy_settings"

urlpatterns = [
    path("admin/security/defaults", views.security_defaults, name="defaults"),
    path("admin/security/locations", views.location_list, name="locations"),
    path("admin/security/locations/new", views.location_add, name="location_add"),
    path("admin/security/locations/<uuid:location_id>", views.location_edit, name="location_edit"),
    path("admin/security/locations/<uuid:location_id>/delete", views.location_delete, name="location_delete"),
    path("admin/security/strengths", views.strength_list, name="strengths"),
    path("admin/security/strengths/new", views.strength_add, name="strength_add"),
    path("admin/security/strengths/<uuid:strength_id>", views.strength_edit, name="strength_edit"),
    path("admin/security/strengths/<uuid:strength_id>/delete", views.strength_delete, name="strength_delete"),
    path("admin/security/methods", views.methods_policy, name="methods"),
    path("admin/security/settings", views.mfa_settings_page, name="settings"),
]
