"""How client secrets of registered applications are stored (DOT's ``CLIENT_SECRET_HASHER``).

Passwords people choose are stretched with Argon2id, because they are guessable; stretching is
what makes each guess cost. A client secret is not chosen by a person: Watchword makes it with
``secrets.token_urlsafe(48)`` (384 random bits), so there is nothing to guess and stretching buys
no security, while Argon2id at Watchword's settings costs ~30 ms of CPU on every token request of
a service (client credentials), which caps a core at ~30 grants/s. A single keyed SHA-256 (Django's
own PBKDF2-HMAC-SHA256 with one iteration, random salt, constant-time comparison) keeps a
database dump from yielding usable secrets: recovering a 384-bit random value from its hash is a
2^384 search. See docs/oidc.md, "Client secrets"."""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class ClientSecretHasher(PBKDF2PasswordHasher):
    """For machine-made high-entropy secrets only; never for people's passwords (it is not the
    first entry of ``PASSWORD_HASHERS``, so ``make_password`` never picks it for them)."""

    algorithm = "secret_pbkdf2_sha256"
    iterations = 1
