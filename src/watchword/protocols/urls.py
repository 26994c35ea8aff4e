from django.urls import path

from watchword.protocols import views

app_name = "protocols"

urlpatterns = [
    path("admin/radius", views.radius_clients, name="radius_clients"),
    path("admin/radius/<int:client_id>/remove", views.radius_client_remove, name="radius_client_remove"),
]
