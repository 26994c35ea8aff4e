from django.apps import AppConfig


class MethodsConfig(AppConfig):
    name = "watchword.methods"
    label = "methods"
