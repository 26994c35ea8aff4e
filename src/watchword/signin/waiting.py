"""Pages that wait for something to happen elsewhere (an approval on a phone, a device
activating) listen to an event stream; these build those streams."""

from __future__ import annotations

import json

from django.utils import timezone

from watchword.delivery.streams import event_stream, sse
from watchword.methods.models import CallState, ChallengeState, PhoneCall, PushChallenge

GRACE_SECONDS = 2


def hold_until_answered(challenge: PushChallenge):
    """``answered`` now if the request is already answered or out of time; otherwise hold the
    connection on the request's channel until it is (``push.answer`` publishes there)."""
    left = (challenge.expires_at - timezone.now()).total_seconds()
    if challenge.state != ChallengeState.PENDING or left <= 0:
        return event_stream(sse("answered", json.dumps({"state": challenge.state})))
    return event_stream(hold=f"challenge:{challenge.id}", hold_seconds=int(left) + GRACE_SECONDS)


def hold_until_activated(activation_id: int, *, activated: bool, seconds_left: int):
    if activated or seconds_left <= 0:
        return event_stream(sse("activated", json.dumps({"activated": activated})))
    return event_stream(hold=f"activation:{activation_id}", hold_seconds=seconds_left + GRACE_SECONDS)


def hold_until_call_ends(call: PhoneCall):
    """``answered`` once the call has a result (``phone.finish_call`` publishes it)."""
    left = (call.expires_at - timezone.now()).total_seconds()
    if call.state != CallState.RINGING or left <= 0:
        return event_stream(sse("answered", json.dumps({"state": call.state})))
    return event_stream(hold=f"call:{call.id}", hold_seconds=int(left) + GRACE_SECONDS)
