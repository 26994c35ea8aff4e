"""Django settings for Watchword, all taken from ``WATCHWORD_*`` environment variables.

See docs/configuration.md for every variable. Defaults are the embedded, single-machine setup:
SQLite in the local data folder, mail written to files, serving on 127.0.0.1 only.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
import phonenumbers

from watchword.config import (
    ConfigError,
    data_dir,
    env_bool,
    env_int,
    env_list,
    env_str,
    load_or_create_secret,
)

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = data_dir()

DEBUG = env_bool("WATCHWORD_DEBUG", False)
# ``watchword serve`` runs the directory-sync scheduler in a child process unless this is off
# (then ``watchword worker`` runs it, once for every node).
SYNC_SCHEDULER = env_bool("WATCHWORD_SYNC_SCHEDULER", True)
SECRET_KEY = env_str("WATCHWORD_SECRET_KEY") or load_or_create_secret(DATA_DIR / "secret.key")
ALLOWED_HOSTS = env_list("WATCHWORD_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
ORGANISATION_NAME = env_str("WATCHWORD_ORGANISATION", "Watchword")
# Phone numbers typed without a country code are read in this country (ISO 3166 code).
DEFAULT_COUNTRY = env_str("WATCHWORD_DEFAULT_COUNTRY", "GB").upper()
if DEFAULT_COUNTRY not in phonenumbers.SUPPORTED_REGIONS:
    raise ConfigError(f"WATCHWORD_DEFAULT_COUNTRY must be a country code like GB, US or DE, got {DEFAULT_COUNTRY!r}")
PUBLIC_URL = env_str("WATCHWORD_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "watchword.core",
    "watchword.directory",
    "watchword.methods",
    "watchword.policy",
    "watchword.signin",
    "watchword.portal",
    "watchword.audit",
    "watchword.delivery",
    "watchword.protocols",
    "watchword.sync",
    "oauth2_provider",
]

MIDDLEWARE = [
    "watchword.core.middleware.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "watchword.core.middleware.SecurityHeadersMiddleware",
    "watchword.signin.middleware.DeviceCookieMiddleware",
]
# /api/v1/ (watchword.wsgi): bearer tokens only, so no sessions, CSRF, login, messages or static
# files; the client's address, host checks and security headers as everywhere else.
API_MIDDLEWARE = [
    "watchword.core.middleware.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "watchword.core.middleware.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "watchword.urls"
WSGI_APPLICATION = "watchword.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "watchword.core.context.organisation",
            ],
        },
    },
]

# --- storage -------------------------------------------------------------------------------
_database_url = env_str("WATCHWORD_DATABASE_URL")
if _database_url:
    try:
        DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=600)}
    except Exception as exc:  # dj_database_url raises several types for bad URLs
        raise ConfigError(f"WATCHWORD_DATABASE_URL is not a database URL Watchword understands: {exc}") from None
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "watchword.sqlite3",
            "CONN_MAX_AGE": None,  # one connection per worker process (serve closes it before forking)
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- people and passwords ------------------------------------------------------------------
AUTH_USER_MODEL = "directory.User"
AUTHENTICATION_BACKENDS = ["watchword.directory.backends.DirectoryBackend"]
# The first hasher is for people's passwords; the second only for the client secrets Watchword
# makes for registered applications (OAUTH2_PROVIDER's CLIENT_SECRET_HASHER; see its module).
PASSWORD_HASHERS = ["watchword.directory.passwords.WatchwordArgon2Hasher",
                    "watchword.protocols.hashers.ClientSecretHasher"]
ARGON2_MEMORY_KIB = env_int("WATCHWORD_ARGON2_MEMORY_KIB", 7 * 1024, minimum=1024, maximum=4 * 1024 * 1024)
ARGON2_ITERATIONS = env_int("WATCHWORD_ARGON2_ITERATIONS", 5, minimum=1, maximum=100)
ARGON2_PARALLELISM = env_int("WATCHWORD_ARGON2_PARALLELISM", 1, minimum=1, maximum=16)
PASSWORD_MIN_LENGTH = env_int("WATCHWORD_PASSWORD_MIN_LENGTH", 12, minimum=8, maximum=128)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
     "OPTIONS": {"user_attributes": ("upn", "display_name", "email")}},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/signin"

# --- sign-in and MFA -----------------------------------------------------------------------
MFA_FRESHNESS_SECONDS = env_int("WATCHWORD_MFA_FRESHNESS_SECONDS", 600, minimum=60, maximum=86400)
MFA_CODE_ATTEMPTS = env_int("WATCHWORD_MFA_CODE_ATTEMPTS", 5, minimum=1, maximum=20)
SIGNIN_FLOW_SECONDS = env_int("WATCHWORD_SIGNIN_FLOW_SECONDS", 900, minimum=60, maximum=3600)
# "No, it's not me" on a sign-in request blocks the person's MFA until an administrator unblocks
# them (the reference's "automatically block users who report fraud"); false only records it.
FRAUD_REPORT_BLOCKS = env_bool("WATCHWORD_FRAUD_REPORT_BLOCKS", True)
# Sign-in requests (push notifications) one person may be sent before each further one waits,
# against "MFA fatigue": requests sent again and again until someone approves one.
PUSH_REQUESTS_FREE = env_int("WATCHWORD_PUSH_REQUESTS_FREE", 10, minimum=1, maximum=1000)
# Growing delays after failures (see docs/security.md): per account name from one IP address
# (stops guessing there), per account name from anywhere (gentler: slows distributed guessing
# without letting a stranger hold the person up for long) and per IP address across names
# (password spraying; high enough that an office behind one NAT address is not slowed by typos).
THROTTLE_PAIR_FREE = env_int("WATCHWORD_THROTTLE_PAIR_FREE", 5, minimum=1, maximum=1000)
THROTTLE_PAIR_MAX_DELAY = env_int("WATCHWORD_THROTTLE_PAIR_MAX_DELAY", 900, minimum=1, maximum=86400)
THROTTLE_ACCOUNT_MAX_DELAY = env_int("WATCHWORD_THROTTLE_ACCOUNT_MAX_DELAY", 60, minimum=1, maximum=86400)
THROTTLE_IP_FREE = env_int("WATCHWORD_THROTTLE_IP_FREE", 50, minimum=1, maximum=100000)
THROTTLE_IP_MAX_DELAY = env_int("WATCHWORD_THROTTLE_IP_MAX_DELAY", 300, minimum=1, maximum=86400)
# RADIUS (docs/radius.md): where 'watchword radius serve' listens, and how long the NAS's second
# request waits for a push approval (keep it below the NAS's own RADIUS timeout).
RADIUS_BIND = env_str("WATCHWORD_RADIUS_BIND", "127.0.0.1:1812")
RADIUS_PUSH_TIMEOUT = env_int("WATCHWORD_RADIUS_PUSH_TIMEOUT", 25, minimum=1, maximum=120)
SEAL_KEYRING = Path(env_str("WATCHWORD_SEAL_KEYRING", str(DATA_DIR / "keys" / "seal.json")))

# --- OpenID Connect provider (docs/oidc.md; django-oauth-toolkit) ---------------------------
from watchword.protocols import oidc_settings as _oidc  # noqa: E402
from watchword.protocols import scopes as _scopes  # noqa: E402

OIDC_ID_TOKEN_SECONDS = env_int("WATCHWORD_OIDC_ID_TOKEN_SECONDS", 3600, minimum=60, maximum=86400)
# After 'watchword oidc keys rotate' the retired key stays in the JWKS this long, so ID tokens it
# signed still verify (default: the ID-token lifetime and a day).
OIDC_RETIRED_KEY_SECONDS = env_int("WATCHWORD_OIDC_RETIRED_KEY_SECONDS", OIDC_ID_TOKEN_SECONDS + 86400,
                                   minimum=OIDC_ID_TOKEN_SECONDS, maximum=365 * 86400)
# The signing keys live in OIDC_KEYS_DIR and are rotated there; WATCHWORD_OIDC_SIGNING_KEY names
# one fixed key kept elsewhere instead (never rotated by Watchword).
_oidc_fixed_key = env_str("WATCHWORD_OIDC_SIGNING_KEY")
OIDC_KEYS_DIR = None if _oidc_fixed_key else DATA_DIR / "keys" / "oidc"
OIDC_LEGACY_KEY = DATA_DIR / "keys" / "oidc.pem"  # the single key of earlier versions, moved into OIDC_KEYS_DIR
_oidc_keys = _oidc.signing_keys(directory=OIDC_KEYS_DIR, fixed=Path(_oidc_fixed_key) if _oidc_fixed_key else None,
                                legacy=OIDC_LEGACY_KEY, grace=OIDC_RETIRED_KEY_SECONDS)
OIDC_SIGNING_KEY = _oidc_keys.current.path
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": PUBLIC_URL,
    "OIDC_RSA_PRIVATE_KEY": _oidc_keys.current.pem,
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE": [key.pem for key in _oidc_keys.published],
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,  # asked only without a matching id_token_hint
    "OAUTH2_VALIDATOR_CLASS": "watchword.protocols.oidc.WatchwordValidator",
    "CLIENT_SECRET_HASHER": "secret_pbkdf2_sha256",  # watchword.protocols.hashers: random secrets, not passwords
    "SCOPES": _scopes.ALL_SCOPES,
    "DEFAULT_SCOPES": ["openid"],
    "PKCE_REQUIRED": _oidc.pkce_required,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,  # S256 only, never "plain"
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("WATCHWORD_OIDC_ACCESS_TOKEN_SECONDS", 3600, minimum=60, maximum=86400),
    "ID_TOKEN_EXPIRE_SECONDS": OIDC_ID_TOKEN_SECONDS,
    "REFRESH_TOKEN_EXPIRE_SECONDS": env_int("WATCHWORD_OIDC_REFRESH_TOKEN_SECONDS", 30 * 86400, minimum=300,
                                            maximum=365 * 86400),
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # Access and refresh tokens are kept only as their SHA-256 (RFC 9700 §4.14), so a database
    # dump hands out no usable token.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
}

# --- sessions, cookies, transport ----------------------------------------------------------
_secure = PUBLIC_URL.startswith("https://")
SESSION_COOKIE_NAME = "watchword_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("WATCHWORD_SECURE_COOKIES", _secure)
SESSION_COOKIE_AGE = env_int("WATCHWORD_SESSION_SECONDS", 8 * 3600, minimum=300, maximum=90 * 86400)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_ENGINE = "watchword.signin.sessions"
CSRF_COOKIE_NAME = "watchword_csrf"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_TRUSTED_ORIGINS = [PUBLIC_URL]
CSRF_FAILURE_VIEW = "watchword.core.views.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if _secure:
    SECURE_HSTS_SECONDS = env_int("WATCHWORD_HSTS_SECONDS", 31536000, minimum=0)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("WATCHWORD_BEHIND_PROXY", False) else None
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000

# --- serving: the front before gunicorn, its held streams and their messages --------------
# Set by 'watchword serve' in gunicorn's environment only: then X-Watchword-Client (added by the
# front) is the client's address. Anywhere else that header is ignored, so it cannot be forged.
SERVED_BY_FRONT = env_bool("WATCHWORD_SERVED_BY_FRONT", False)
HUB_KEEPALIVE_SECONDS = env_int("WATCHWORD_HUB_KEEPALIVE_SECONDS", 15, minimum=1, maximum=300)
HUB_MAX_CONNECTIONS = env_int("WATCHWORD_HUB_MAX_CONNECTIONS", 10000, minimum=10, maximum=1000000)
REDIS_URL = env_str("WATCHWORD_REDIS_URL")  # fan-out between several nodes; unset: one node, no Redis
if REDIS_URL:
    from urllib.parse import urlsplit as _urlsplit

    try:
        from redis.connection import parse_url as _parse_redis_url

        _parse_redis_url(REDIS_URL)
        _redis_parts = _urlsplit(REDIS_URL)
        _redis_db = _redis_parts.path.strip("/")
        if _redis_parts.scheme != "unix" and not (_redis_parts.hostname and (_redis_db == "" or _redis_db.isdigit())):
            raise ValueError("it needs a host and at most a database number, like redis://127.0.0.1:6379/0")
        _redis_parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise ConfigError(f"WATCHWORD_REDIS_URL is not a Redis URL Watchword understands: {exc}") from None

# --- mail ----------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("WATCHWORD_MAIL_FROM", "watchword@localhost")
EMAIL_HOST = env_str("WATCHWORD_SMTP_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("WATCHWORD_SMTP_PORT", 587, minimum=1, maximum=65535)
    EMAIL_HOST_USER = env_str("WATCHWORD_SMTP_USER", "")
    EMAIL_HOST_PASSWORD = env_str("WATCHWORD_SMTP_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("WATCHWORD_SMTP_STARTTLS", True)
    EMAIL_TIMEOUT = 10
else:
    EMAIL_BACKEND = "watchword.delivery.mail.MailFolderBackend"
MAIL_FOLDER = DATA_DIR / "mail"

# --- texts and calls (docs/phone-delivery.md) ----------------------------------------------
from watchword.delivery import phone_config as _phone  # noqa: E402

PHONE_PROVIDER = _phone.provider()  # outbox (development: kept and shown on Admin -> Outbox), twilio, webhook
PHONE_ALLOWED_COUNTRIES = _phone.allowed_countries()  # empty: every country
# Sends counted before anything is sent, texts and calls each on their own: per person, per
# number and per country (toll-fraud pumping to one country's premium ranges).
PHONE_LIMIT_PER_PERSON = env_int("WATCHWORD_PHONE_LIMIT_PER_PERSON", 5, minimum=1, maximum=1000)
PHONE_LIMIT_PER_PERSON_SECONDS = env_int("WATCHWORD_PHONE_LIMIT_PER_PERSON_SECONDS", 900, minimum=60, maximum=86400)
PHONE_LIMIT_PER_NUMBER = env_int("WATCHWORD_PHONE_LIMIT_PER_NUMBER", 5, minimum=1, maximum=1000)
PHONE_LIMIT_PER_NUMBER_SECONDS = env_int("WATCHWORD_PHONE_LIMIT_PER_NUMBER_SECONDS", 900, minimum=60, maximum=86400)
PHONE_LIMIT_PER_COUNTRY = env_int("WATCHWORD_PHONE_LIMIT_PER_COUNTRY", 100, minimum=1, maximum=1000000)
PHONE_LIMIT_PER_COUNTRY_SECONDS = env_int("WATCHWORD_PHONE_LIMIT_PER_COUNTRY_SECONDS", 3600, minimum=60,
                                          maximum=86400)
# Texts and calls are kept (without their words, except in the development outbox) this many days,
# for Admin → Outbox and the limits; never less than the longest limit window.
PHONE_HISTORY_DAYS = env_int("WATCHWORD_PHONE_HISTORY_DAYS", 30, minimum=1, maximum=3650)
PHONE_WEBHOOK_URL, PHONE_WEBHOOK_SECRET = _phone.webhook(required=PHONE_PROVIDER == "webhook")
TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM, TWILIO_API_BASE = _phone.twilio(required=PHONE_PROVIDER == "twilio")

# --- static files, i18n --------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = None  # served from the package by WhiteNoise (finders); no collectstatic step
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("WATCHWORD_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("WATCHWORD_LOG_LEVEL", "INFO")},
    "loggers": {"django.security.DisallowedHost": {"level": "ERROR"},
                # the Twilio SDK logs every request's headers at INFO
                "twilio.http_client": {"level": "WARNING"}},
}
