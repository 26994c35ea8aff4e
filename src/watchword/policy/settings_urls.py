from django.urls import path

app_name = "policy_settings"

urlpatterns: list = []
