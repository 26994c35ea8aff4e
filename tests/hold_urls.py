"""The real pages plus views that exist only for tests of the front (``delivery.hub``), served by
``tests.front_settings``:

- ``/test/hold?channel=C[&seconds=N][&initial=TEXT][&sleep=S]``: a response the front holds on
  channel C, the way the push views ask for one; ``sleep`` waits before answering, so a test can
  publish while the request is at Django, before the hold begins;
- ``/test/publish?channel=C&event=E&data=D[&close=1]``: ``fanout.publish`` from a gunicorn
  worker, as the push views do;
- ``/test/echo``: what Django saw of the request (address, method, body length and digest, some
  headers), as JSON; no CSRF check;
- ``/test/trickle``: a streamed answer whose second part comes a second after the first;
- ``/test/big?mb=N``: N MiB streamed (a large download).
"""

import hashlib
import time

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from watchword.delivery import fanout


def hold(request):
    time.sleep(min(float(request.GET.get("sleep", "0")), 5))
    response = HttpResponse(request.GET.get("initial", ""), content_type="text/event-stream",
                            headers={"X-Watchword-Hold": request.GET["channel"]})
    if "seconds" in request.GET:
        response["X-Watchword-Hold-Seconds"] = request.GET["seconds"]
    return response


def publish(request):
    fanout.publish(request.GET["channel"], request.GET.get("event", "message"), request.GET.get("data", ""),
                   close=request.GET.get("close") == "1")
    return HttpResponse("sent\n", content_type="text/plain")


@csrf_exempt
def echo(request):
    body = request.body
    return JsonResponse({
        "remote_addr": request.META.get("REMOTE_ADDR", ""),
        "method": request.method,
        "body_length": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "secure": request.is_secure(),
        "headers": {k: v for k, v in request.headers.items() if k.lower().startswith(("x-", "content-"))},
    })


def trickle(request):
    def parts():
        yield b"first part\n"
        time.sleep(1)
        yield b"second part\n"

    return StreamingHttpResponse(parts(), content_type="text/plain")


def big(request):
    block = bytes(range(256)) * 4096  # 1 MiB

    return StreamingHttpResponse((block for _ in range(min(int(request.GET.get("mb", "1")), 256))),
                                 content_type="application/octet-stream")


urlpatterns = [
    path("test/hold", hold),
    path("test/publish", publish),
    path("test/echo", echo),
    path("test/trickle", trickle),
    path("test/big", big),
    path("", include("watchword.urls")),
]
