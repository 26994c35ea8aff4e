from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "watchword.sync"
    label = "sync"
    verbose_name = "Directory sync"
