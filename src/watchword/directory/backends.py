"""Session user lookup. Passwords are checked by ``signin.services``, not by this backend."""

from django.contrib.auth.backends import BaseBackend

from watchword.directory.models import User


class DirectoryBackend(BaseBackend):
    def authenticate(self, request, **credentials):  # sign-in goes through signin.services
        return None

    def get_user(self, user_id):
        try:
            user = User.objects.get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if user.is_active else None
