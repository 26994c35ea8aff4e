from django.apps import AppConfig


class PolicyConfig(AppConfig):
    name = "watchword.policy"
    label = "policy"
