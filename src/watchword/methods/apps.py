from django.apps import AppConfig


class MethodsConfig(AppConfig):
    name = "watchword.methods"
    label = "methods"

    def ready(self) -> None:
        from watchword.delivery.signals import call_finished
        from watchword.methods.phone import on_call_finished

        call_finished.connect(on_call_finished, dispatch_uid="watchword.methods.phone.on_call_finished")
