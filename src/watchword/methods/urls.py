from django.urls import path

from watchword.methods import api, views

app_name = "methods"

urlpatterns = [
    path("api/push/v1/activate", api.activate, name="push_activate"),
    path("api/push/v1/stream", api.stream, name="push_stream"),
    path("api/push/v1/challenges/<str:challenge_id>/answer", api.answer, name="push_answer"),
    path("admin/fraud", views.fraud_reports, name="fraud_reports"),
    path("admin/fraud/<int:report_id>/review", views.review, name="fraud_review"),
]
