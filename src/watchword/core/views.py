"""Error pages: plain words, never a traceback."""

from django.shortcuts import render


def csrf_failure(request, reason=""):
    return render(
        request,
        "core/error.html",
        {
            "title": "This page expired",
            "text": "For your security, the form you sent had expired or came from another site. "
            "Go back, reload the page and try again.",
        },
        status=403,
    )


def not_found(request, exception=None):
    return render(request, "core/error.html", {"title": "Page not found",
                                                "text": "There is no page at this address."}, status=404)


def bad_request(request, exception=None):
    return render(request, "core/error.html", {"title": "Bad request",
                                                "text": "The request could not be understood."}, status=400)


def permission_denied(request, exception=None):
    return render(request, "core/error.html", {"title": "Access denied",
                                                "text": "You do not have permission to see this page."}, status=403)


def server_error(request):
    return render(request, "core/error.html", {"title": "Something went wrong",
                                                "text": "The problem has been logged. Please try again in a moment."},
                  status=500)
