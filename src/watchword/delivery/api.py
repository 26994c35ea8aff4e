"""Providers' callbacks with a call's result (docs/phone-delivery.md).

Authenticated by the provider's signature, so no CSRF token and no cookies. Each records the
result through ``phone.finish_call``, which sends ``call_finished`` once; a callback for a call
that already has its result changes nothing and says so (409), except Twilio's status callback,
which always comes after a call ends and is then simply acknowledged.

- ``POST /api/phone/v1/webhook/calls/<id>``: JSON ``{"result": …}`` signed with the webhook
  secret; refusals are JSON ``{"code", "message"}``.
- ``POST /api/phone/v1/twilio/calls/<id>`` (the Gather's action), ``…/no-input`` (silence) and
  ``…/status`` (the call's status callback), signed by Twilio; answers are TwiML.
"""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from watchword.core.errors import WatchwordError
from watchword.delivery.errors import (
    CallAlreadyFinished,
    CallbackInvalid,
    CallbackSignatureInvalid,
    CallNotFound,
)
from watchword.delivery.phone import RESULTS, finish_call
from watchword.delivery.providers import twilio, webhook

MAX_BODY = 8192


def _refuse(error: WatchwordError, status: int | None = None) -> JsonResponse:
    return JsonResponse(error.as_dict(), status=status or error.status)


def _twiml(twiml: str, status: int = 200) -> HttpResponse:
    return HttpResponse(twiml, content_type="text/xml; charset=utf-8", status=status)


# --- webhook ---------------------------------------------------------------------------------


@csrf_exempt
@require_POST
def webhook_call(request, message_id: str):
    try:
        if len(request.body) > MAX_BODY:
            raise CallbackInvalid()
        webhook.verify(settings.PHONE_WEBHOOK_SECRET, timestamp=request.headers.get("X-Watchword-Timestamp"),
                       signature_header=request.headers.get("X-Watchword-Signature"), body=request.body,
                       now=time.time())
        result = _webhook_result(request.body)
        finish_call(message_id, result, provider="webhook", actor="webhook")
    except WatchwordError as exc:
        return _refuse(exc)
    return JsonResponse({"id": message_id, "result": result})


def _webhook_result(body: bytes) -> str:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise CallbackInvalid() from None
    if not isinstance(data, dict) or data.get("result") not in RESULTS:
        raise CallbackInvalid()
    return data["result"]


# --- Twilio ----------------------------------------------------------------------------------


def _signed_by_twilio(request) -> bool:
    """Twilio signs the URL it called, which is ours as people see it: the public URL."""
    return twilio.signature_valid(settings.PUBLIC_URL + request.get_full_path(), request.POST,
                                  request.headers.get("X-Twilio-Signature"))


@csrf_exempt
@require_POST
def twilio_call(request, message_id: str):
    """The Gather's action: what the person pressed."""
    if not _signed_by_twilio(request):
        return _refuse(CallbackSignatureInvalid(), status=403)
    return _finish_twilio(message_id, twilio.result_of_digits(request.POST.get("Digits")))


@csrf_exempt
@require_POST
def twilio_no_input(request, message_id: str):
    """The Gather timed out with nothing pressed; TwiML went on to this redirect."""
    if not _signed_by_twilio(request):
        return _refuse(CallbackSignatureInvalid(), status=403)
    return _finish_twilio(message_id, "no_input", goodbye="We didn't get your answer. Goodbye.")


@csrf_exempt
@require_POST
def twilio_status(request, message_id: str):
    """The call ended: not answered (busy, no answer, failed, cancelled) → failed; answered but
    hung up before the Gather ended → no_input; after a result, nothing to do."""
    if not _signed_by_twilio(request):
        return _refuse(CallbackSignatureInvalid(), status=403)
    status = request.POST.get("CallStatus", "")
    if status in twilio.STATUSES_NOT_ANSWERED:
        result = "failed"
    elif status == "completed":
        result = "no_input"
    else:  # a progress event we did not ask for (initiated, ringing, in-progress)
        return HttpResponse(status=204)
    try:
        finish_call(message_id, result, provider="twilio", actor="twilio")
    except CallNotFound as exc:
        return _refuse(exc)
    except CallAlreadyFinished:
        pass  # the usual case: the result came from the Gather, then the call ended
    return HttpResponse(status=204)


def _finish_twilio(message_id: str, result: str, goodbye: str = "Thank you. Goodbye.") -> HttpResponse:
    try:
        finish_call(message_id, result, provider="twilio", actor="twilio")
    except CallNotFound as exc:
        return _refuse(exc)
    except CallAlreadyFinished:
        return _twiml(twilio.goodbye("This call is already finished. Goodbye."), status=409)
    return _twiml(twilio.goodbye(goodbye))
