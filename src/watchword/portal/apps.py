from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "watchword.portal"
    label = "portal"
