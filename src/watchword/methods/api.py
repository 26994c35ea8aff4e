"""The authenticator devices' side of push (docs/push-protocol.md): activate, hold a stream of
sign-in requests, answer one. JSON in and out; every refusal is ``{"code", "message"}`` with a
stable code and changes nothing. Authenticated by the device's signatures, so no CSRF token
and no cookies."""

from __future__ import annotations

import json

from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from watchword.delivery.streams import event_stream, sse
from watchword.methods import push
from watchword.methods.errors import PushProtocolError

MAX_BODY = 8192
STREAM_HOLD_SECONDS = 3600  # then the device reconnects with a fresh token


def _refuse(error: PushProtocolError) -> JsonResponse:
    body = error.as_dict()
    if "server_time" in error.detail:
        body["server_time"] = error.detail["server_time"]
    return JsonResponse(body, status=error.status)


def _json_body(request) -> object:
    if len(request.body) > MAX_BODY:
        raise PushProtocolError(code="bad_request")
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise PushProtocolError(code="bad_request") from None


@csrf_exempt
@require_POST
def activate(request):
    try:
        return JsonResponse(push.activate(_json_body(request), now=timezone.now()), status=201)
    except PushProtocolError as exc:
        return _refuse(exc)


@require_GET
def stream(request):
    """Check the device token, send the pending requests, and ask the front to hold the
    connection open for the ones to come (``X-Watchword-Hold``)."""
    try:
        device, events = push.open_stream(request.headers.get("Authorization"), now=timezone.now())
    except PushProtocolError as exc:
        return _refuse(exc)
    return event_stream("".join(sse("challenge", event) for event in events),
                        hold=f"device:{device.device_id}", hold_seconds=STREAM_HOLD_SECONDS)


@csrf_exempt
@require_POST
def answer(request, challenge_id: str):
    try:
        outcome = push.answer(challenge_id, _json_body(request), now=timezone.now())
    except PushProtocolError as exc:
        return _refuse(exc)
    return JsonResponse({"result": outcome.result})
