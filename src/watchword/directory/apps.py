from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "watchword.directory"
    label = "directory"
