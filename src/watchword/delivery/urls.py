from django.urls import path

from watchword.delivery import api, views

app_name = "delivery"

urlpatterns = [
    path("admin/mail", views.mail_folder, name="mail"),
    path("admin/outbox", views.outbox, name="outbox"),
    path("admin/outbox/<str:message_id>/answer", views.answer_call, name="outbox_answer"),
    path("api/phone/v1/webhook/calls/<str:message_id>", api.webhook_call, name="webhook_call"),
    path("api/phone/v1/twilio/calls/<str:message_id>", api.twilio_call, name="twilio_call"),
    path("api/phone/v1/twilio/calls/<str:message_id>/no-input", api.twilio_no_input, name="twilio_no_input"),
    path("api/phone/v1/twilio/calls/<str:message_id>/status", api.twilio_status, name="twilio_status"),
]
