"""Server-sent-event responses that the front (``delivery.hub``) holds open.

A view decides what a stream may carry and sends what is already known in the body; the header
``X-Watchword-Hold: <channel>`` asks the front to keep the response open and pass on every
message later published to that channel (``delivery.fanout``). Served without the front (the
test client, a plain WSGI server), the response simply ends after the body and the client's
EventSource reconnects.
"""

from __future__ import annotations

from django.http import HttpResponse

RECONNECT_MS = 1000


def sse(event: str, data: str) -> str:
    """One server-sent event, formatted as the front writes the messages it passes on."""
    from watchword.delivery.hub import sse_event

    return sse_event(event, data).decode()


def event_stream(body: str = "", *, hold: str | None = None, hold_seconds: int = 3600) -> HttpResponse:
    response = HttpResponse(f"retry: {RECONNECT_MS}\n\n" + body, content_type="text/event-stream")
    response["Cache-Control"] = "no-store"
    if hold:
        response["X-Watchword-Hold"] = hold
        response["X-Watchword-Hold-Seconds"] = str(max(1, hold_seconds))
    return response
