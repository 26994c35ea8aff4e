"""Where texts and calls leave Watchword: one module per provider, behind one small contract.

A provider is chosen by ``WATCHWORD_PHONE_PROVIDER`` and has

- ``name``: as in the setting;
- ``keeps_words``: whether the message's words (the code) are kept in the database, for the
  development outbox's page; real providers keep none;
- ``send_text(message, body) -> str`` and ``place_call(message, greeting) -> str``: hand the
  message over and return the provider's id for it ("" when it has none), or raise
  ``ProviderError`` with the provider's own words (for the log and the audit log only).

A call's result comes back later through the provider's callback (``delivery.api``), which
calls ``delivery.phone.finish_call``.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from django.conf import settings

_MODULES = {
    "outbox": "watchword.delivery.providers.outbox",
    "twilio": "watchword.delivery.providers.twilio",
    "webhook": "watchword.delivery.providers.webhook",
}


class ProviderError(Exception):
    """The provider refused the message or could not be reached."""


class Provider(Protocol):
    name: str
    keeps_words: bool

    def send_text(self, message, body: str) -> str: ...

    def place_call(self, message, greeting: str) -> str: ...


def get(name: str) -> Provider:
    """The provider called ``name`` (its module is imported on first use, so the Twilio SDK is
    loaded only where Twilio is the provider)."""
    try:
        module = importlib.import_module(_MODULES[name])
    except KeyError:
        raise LookupError(f"no phone provider called {name!r}; there are {', '.join(_MODULES)}") from None
    provider = module.provider()
    if provider.name != name:
        raise LookupError(f"the module for {name!r} provides {provider.name!r}")
    return provider


def current() -> Provider:
    return get(settings.PHONE_PROVIDER)
