from django.apps import AppConfig


class ProtocolsConfig(AppConfig):
    name = "watchword.protocols"
    label = "protocols"
