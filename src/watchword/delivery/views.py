"""Admin pages: the mail Watchword kept (no SMTP server set) and the phone outbox."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from watchword.core.errors import WatchwordError
from watchword.delivery.models import PhoneMessage
from watchword.delivery.phone import finish_call
from watchword.delivery.providers.outbox import ANSWERS
from watchword.delivery.services import stored_mail
from watchword.signin.guards import admin_required

OUTBOX_PAGE_SIZE = 25


@admin_required
def mail_folder(request):
    return render(request, "delivery/mail.html", {"messages_sent": stored_mail()})


@admin_required
@require_GET
def outbox(request):
    """Every text and call, latest first; a ringing outbox call can be answered here."""
    rows = PhoneMessage.objects.select_related("person")
    page = Paginator(rows, OUTBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "delivery/outbox.html", {
        "page": page, "query": "", "answers": [(key, label) for key, (label, _) in ANSWERS.items()],
        "ringing": PhoneMessage.Status.RINGING, "provider": settings.PHONE_PROVIDER})


@admin_required
@require_POST
def answer_call(request, message_id: str):
    """Answer a ringing outbox call as the person would (a development stand-in for a phone)."""
    choice = ANSWERS.get(request.POST.get("answer", ""))
    if choice is None:
        messages.error(request, "Choose how to answer the call.")
        return redirect("delivery:outbox")
    label, result = choice
    try:
        finish_call(message_id, result, provider="outbox", actor=request.user, request=request)
    except WatchwordError as exc:
        messages.error(request, exc.public_message)
    else:
        messages.success(request, f"{label}: the call's result is {result}.")
    return redirect("delivery:outbox")
