"""The variables for texts and calls: safe defaults, and a value Watchword cannot use stops
start-up with a message naming the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from watchword.config import ConfigError
from watchword.delivery import phone_config

SID = "AC" + "0123456789abcdef" * 2


@pytest.fixture
def env(monkeypatch):
    for name in ("WATCHWORD_PHONE_PROVIDER", "WATCHWORD_PHONE_ALLOWED_COUNTRIES", "WATCHWORD_PHONE_WEBHOOK_URL",
                 "WATCHWORD_PHONE_WEBHOOK_SECRET", "WATCHWORD_TWILIO_ACCOUNT_SID", "WATCHWORD_TWILIO_AUTH_TOKEN",
                 "WATCHWORD_TWILIO_FROM", "WATCHWORD_TWILIO_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch.setenv


def test_the_default_provider_is_the_development_outbox(env):
    assert phone_config.provider() == "outbox"


@pytest.mark.parametrize("value", ["twilio", "Webhook", " outbox "])
def test_each_provider_can_be_chosen(env, value):
    env("WATCHWORD_PHONE_PROVIDER", value)

    assert phone_config.provider() == value.strip().lower()


def test_an_unknown_provider_stops_start_up_naming_the_variable(env):
    env("WATCHWORD_PHONE_PROVIDER", "sms")

    with pytest.raises(ConfigError, match="^WATCHWORD_PHONE_PROVIDER must be one of outbox, twilio, webhook, got 'sms'$"):
        phone_config.provider()


def test_allowed_countries_are_iso_codes_any_case_without_repeats(env):
    env("WATCHWORD_PHONE_ALLOWED_COUNTRIES", "gb, IE,US,GB,")

    assert phone_config.allowed_countries() == ("GB", "IE", "US")


def test_no_allowed_countries_means_every_country(env):
    assert phone_config.allowed_countries() == ()


def test_a_country_code_that_does_not_exist_stops_start_up(env):
    env("WATCHWORD_PHONE_ALLOWED_COUNTRIES", "GB,UK")

    with pytest.raises(ConfigError, match="WATCHWORD_PHONE_ALLOWED_COUNTRIES holds 'UK'"):
        phone_config.allowed_countries()


def test_the_webhook_needs_https_a_url_and_a_long_secret(env):
    env("WATCHWORD_PHONE_WEBHOOK_URL", "https://sms.contoso.example/watchword")
    env("WATCHWORD_PHONE_WEBHOOK_SECRET", "s" * 32)

    assert phone_config.webhook(required=True) == ("https://sms.contoso.example/watchword", "s" * 32)
    assert phone_config.webhook(required=False) == ("", "")


@pytest.mark.parametrize(("url", "message"), [
    ("http://sms.contoso.example/send", "WATCHWORD_PHONE_WEBHOOK_URL must use https://"),
    ("ftp://sms.contoso.example/send", "WATCHWORD_PHONE_WEBHOOK_URL must be an https:// URL"),
    ("https://user:pw@sms.contoso.example/", "must not hold a user name or password"),
    ("https://sms.contoso.example:99999/", "WATCHWORD_PHONE_WEBHOOK_URL is not a URL"),
])
def test_a_webhook_url_watchword_cannot_use_stops_start_up(env, url, message):
    env("WATCHWORD_PHONE_WEBHOOK_URL", url)
    env("WATCHWORD_PHONE_WEBHOOK_SECRET", "s" * 32)

    with pytest.raises(ConfigError, match=message):
        phone_config.webhook(required=True)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/send", "http://[::1]:9000/send", "http://localhost/send"])
def test_plain_http_is_allowed_to_this_machine_only(env, url):
    env("WATCHWORD_PHONE_WEBHOOK_URL", url)
    env("WATCHWORD_PHONE_WEBHOOK_SECRET", "s" * 32)

    assert phone_config.webhook(required=True)[0] == url


def test_a_short_webhook_secret_stops_start_up(env):
    env("WATCHWORD_PHONE_WEBHOOK_URL", "https://sms.contoso.example/")
    env("WATCHWORD_PHONE_WEBHOOK_SECRET", "too-short")

    with pytest.raises(ConfigError, match="WATCHWORD_PHONE_WEBHOOK_SECRET must be at least 32 characters long"):
        phone_config.webhook(required=True)


def test_a_missing_webhook_url_names_the_variable(env):
    with pytest.raises(ConfigError, match="WATCHWORD_PHONE_WEBHOOK_URL is needed when WATCHWORD_PHONE_PROVIDER is webhook"):
        phone_config.webhook(required=True)


def test_twilio_takes_its_credentials_and_number_from_the_environment(env):
    env("WATCHWORD_TWILIO_ACCOUNT_SID", SID)
    env("WATCHWORD_TWILIO_AUTH_TOKEN", "token-from-the-environment")
    env("WATCHWORD_TWILIO_FROM", "+44 7400 900123")

    assert phone_config.twilio(required=True) == (SID, "token-from-the-environment", "+447400900123", "")
    assert phone_config.twilio(required=False) == ("", "", "", "")


@pytest.mark.parametrize(("name", "value", "message"), [
    ("WATCHWORD_TWILIO_ACCOUNT_SID", "SK123", "WATCHWORD_TWILIO_ACCOUNT_SID must be an account SID"),
    ("WATCHWORD_TWILIO_FROM", "07700900123", "WATCHWORD_TWILIO_FROM must be a phone number in E.164 form"),
    ("WATCHWORD_TWILIO_API_BASE", "http://api.example.net", "WATCHWORD_TWILIO_API_BASE must use https://"),
])
def test_twilio_settings_watchword_cannot_use_stop_start_up(env, name, value, message):
    env("WATCHWORD_TWILIO_ACCOUNT_SID", SID)
    env("WATCHWORD_TWILIO_AUTH_TOKEN", "token")
    env("WATCHWORD_TWILIO_FROM", "+447400900123")
    env(name, value)

    with pytest.raises(ConfigError, match=message):
        phone_config.twilio(required=True)


def test_a_missing_twilio_token_names_the_variable(env):
    env("WATCHWORD_TWILIO_ACCOUNT_SID", SID)

    with pytest.raises(ConfigError, match="WATCHWORD_TWILIO_AUTH_TOKEN is needed when WATCHWORD_PHONE_PROVIDER is twilio"):
        phone_config.twilio(required=True)


def test_the_command_line_stops_with_the_message_for_a_bad_provider(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHWORD_")}
    env.update({"WATCHWORD_DATA_DIR": str(tmp_path), "WATCHWORD_PHONE_PROVIDER": "carrier-pigeon"})

    done = subprocess.run([sys.executable, "-m", "watchword.cli", "user", "list"], env=env, capture_output=True,
                          text=True, timeout=60)

    assert done.returncode == 2
    assert done.stderr == ("watchword: configuration error: WATCHWORD_PHONE_PROVIDER must be one of outbox, twilio, "
                           "webhook, got 'carrier-pigeon'\n")
