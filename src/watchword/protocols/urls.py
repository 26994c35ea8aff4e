from django.urls import path

from watchword.protocols import oidc_views, views

app_name = "protocols"

urlpatterns = [
    path("admin/radius", views.radius_clients, name="radius_clients"),
    path("admin/radius/<int:client_id>/remove", views.radius_client_remove, name="radius_client_remove"),
    path("admin/applications", oidc_views.applications, name="applications"),
    path("admin/applications/<int:app_id>/secret", oidc_views.application_secret, name="application_secret"),
    path("admin/applications/<int:app_id>/remove", oidc_views.application_remove, name="application_remove"),
]
