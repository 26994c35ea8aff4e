from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "watchword.delivery"
    label = "delivery"
