from django.urls import path

from watchword.audit import views

app_name = "audit"

urlpatterns = [
    path("admin/signins", views.signin_log, name="signin_log"),
    path("admin/audit", views.audit_log, name="audit_log"),
]
