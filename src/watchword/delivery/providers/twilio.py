"""The Twilio provider, through Twilio's own Python SDK.

A text is ``messages.create(to, from_, body)``. A call is ``calls.create(to, from_, twiml,
send_digits, status_callback)``: its TwiML says the greeting inside a ``<Gather>`` that ends on
#, and Twilio posts what was pressed to the Gather's action, ``/api/phone/v1/twilio/calls/<id>``
on ``WATCHWORD_PUBLIC_URL`` (``delivery.api``). How the keys map to a result:

- ``#`` alone: Twilio posts ``Digits`` empty (or ``#``) → ``confirmed``;
- ``0#``: ``Digits=0`` → ``fraud``;
- any other keys (up to two, or ended by #) → ``no_input``;
- nothing before the Gather's timeout: Twilio goes on to the next verb, a ``<Redirect>`` to
  ``…/calls/<id>/no-input`` → ``no_input``;
- not answered, busy, failed: the status callback ``…/calls/<id>/status`` → ``failed``; a call
  that was answered and hung up before the Gather ended → ``no_input``.

Every callback must carry a valid ``X-Twilio-Signature`` (the auth token's HMAC of the URL and
the posted fields), checked with the SDK's ``RequestValidator``.

``WATCHWORD_TWILIO_API_BASE`` points the SDK at another address (a proxy, or a recorder in
tests) through the SDK's supported hook, a custom ``http_client``.
"""

from __future__ import annotations

import functools
import logging
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from watchword.delivery.providers import ProviderError

log = logging.getLogger("watchword.delivery")

REQUEST_TIMEOUT = 10  # seconds for one request to Twilio's API
RING_SECONDS = 30  # then the call counts as not answered
GATHER_SECONDS = 10  # silence after the greeting before the call gives up
SEND_DIGITS_PAUSE = "ww"  # one second (two half-second waits) before dialling the extension
STATUSES_NOT_ANSWERED = frozenset({"busy", "no-answer", "failed", "canceled"})


def call_url(message_id: str, step: str = "") -> str:
    return f"{settings.PUBLIC_URL}/api/phone/v1/twilio/calls/{message_id}{'/' + step if step else ''}"


def call_twiml(greeting: str, message_id: str) -> str:
    """The call's TwiML: the greeting inside a Gather that ends on #; silence falls through to
    the no-input step."""
    response = VoiceResponse()
    gather = response.gather(num_digits=2, finish_on_key="#", timeout=GATHER_SECONDS, action=call_url(message_id),
                             method="POST")
    gather.say(greeting)
    response.redirect(call_url(message_id, "no-input"), method="POST")
    return str(response)


def result_of_digits(digits: str | None) -> str:
    """What the keys pressed mean (pure). ``#`` ends the Gather and is not sent, so "#" alone
    arrives as an empty ``Digits`` (some accounts send the "#" itself); "0#" as "0"."""
    if digits is None:
        return "no_input"
    if digits in ("", "#"):
        return "confirmed"
    if digits in ("0", "0#"):
        return "fraud"
    return "no_input"


def goodbye(text: str = "Thank you. Goodbye.") -> str:
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return str(response)


def signature_valid(url: str, params, signature: str | None) -> bool:
    """Twilio's ``X-Twilio-Signature`` for a request to ``url`` with POST fields ``params``."""
    token = settings.TWILIO_AUTH_TOKEN
    if not token or not signature:
        return False
    return RequestValidator(token).validate(url, params, signature)


class ApiBaseHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, sending each request to ``base`` instead of Twilio's own host
    (same path and query), for ``WATCHWORD_TWILIO_API_BASE``."""

    def __init__(self, base: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.base = urlsplit(base)

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        url = urlunsplit(parts._replace(scheme=self.base.scheme, netloc=self.base.netloc,
                                        path=self.base.path.rstrip("/") + parts.path))
        return super().request(method, url, *args, **kwargs)


class TwilioProvider:
    name = "twilio"
    keeps_words = False

    def __init__(self, *, account_sid: str, auth_token: str, sender: str, api_base: str = "") -> None:
        self.sender = sender
        # The SDK logs each request's URL and headers (never the auth) at INFO to this logger,
        # which the settings quieten to WARNING.
        sdk_log = logging.getLogger("twilio.http_client")
        if api_base:
            http_client = ApiBaseHttpClient(api_base, timeout=REQUEST_TIMEOUT, logger=sdk_log)
        else:
            http_client = TwilioHttpClient(timeout=REQUEST_TIMEOUT, logger=sdk_log)
        self.client = Client(account_sid, auth_token, http_client=http_client)

    def send_text(self, message, body: str) -> str:
        return self._ask(lambda: self.client.messages.create(to=message.to, from_=self.sender, body=body).sid)

    def place_call(self, message, greeting: str) -> str:
        options = {}
        if message.extension:
            options["send_digits"] = SEND_DIGITS_PAUSE + message.extension
        return self._ask(lambda: self.client.calls.create(
            to=message.to, from_=self.sender, twiml=call_twiml(greeting, message.id), timeout=RING_SECONDS,
            status_callback=call_url(message.id, "status"), status_callback_event=["completed"],
            status_callback_method="POST", **options).sid)

    @staticmethod
    def _ask(request) -> str:
        try:
            return request() or ""
        except TwilioRestException as exc:
            raise ProviderError(f"Twilio answered {exc.status} (error {exc.code}): {exc.msg}") from None
        except requests.RequestException as exc:
            raise ProviderError(f"Twilio could not be reached ({type(exc).__name__})") from None
        except TwilioException as exc:
            raise ProviderError(f"Twilio's SDK failed: {exc}") from None


def provider() -> TwilioProvider:
    return _provider(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_FROM,
                     settings.TWILIO_API_BASE)


@functools.lru_cache(maxsize=4)
def _provider(account_sid: str, auth_token: str, sender: str, api_base: str) -> TwilioProvider:
    """One per process and configuration, so its HTTP connections to Twilio are reused."""
    return TwilioProvider(account_sid=account_sid, auth_token=auth_token, sender=sender, api_base=api_base)
