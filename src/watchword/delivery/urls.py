from django.urls import path

from watchword.delivery import views

app_name = "delivery"

urlpatterns = [path("admin/mail", views.mail_folder, name="mail")]
