from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "watchword.audit"
    label = "audit"
