from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "watchword.core"
    label = "core"
    verbose_name = "Watchword core"
