from django.apps import AppConfig


class SigninConfig(AppConfig):
    name = "watchword.signin"
    label = "signin"
