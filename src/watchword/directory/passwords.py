"""Argon2id password hashing with parameters from settings.

Django's Argon2 hasher (argon2-cffi underneath) already reports ``must_update`` when a stored
hash used other parameters, and ``check_password`` then re-hashes transparently at the next
successful sign-in; this subclass only takes the parameters from configuration.
"""

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class WatchwordArgon2Hasher(Argon2PasswordHasher):
    algorithm = "argon2"

    @property
    def time_cost(self) -> int:  # type: ignore[override]
        return settings.ARGON2_ITERATIONS

    @property
    def memory_cost(self) -> int:  # type: ignore[override]
        return settings.ARGON2_MEMORY_KIB

    @property
    def parallelism(self) -> int:  # type: ignore[override]
        return settings.ARGON2_PARALLELISM
