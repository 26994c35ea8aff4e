from django.apps import AppConfig


class SigninConfig(AppConfig):
    name = "watchword.signin"
    label = "signin"

    def ready(self) -> None:
        # The sign-in log records every sign-in; Django's extra UPDATE of users.last_login on
        # each one would only add a write per sign-in.
        from django.contrib.auth import user_logged_in
        from django.contrib.auth.models import update_last_login

        user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
