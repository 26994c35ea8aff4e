"""Texts and calls Watchword has sent (``delivery.phone``), and the locks that count them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PhoneMessage(models.Model):
    """One text or call. The row is made (inside the send limits' lock) before the provider is
    asked, so it counts towards the limits even when the provider then fails, and a call's
    result can find it however fast it comes back.

    ``body`` (the text, or the words a call says first) is kept by the development outbox
    only: with a real provider the row says who, where and when, never the code."""

    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        CALL = "call", "Call"

    class Status(models.TextChoices):
        SENDING = "sending", "Sending"  # counted; the provider has not answered yet
        SENT = "sent", "Sent"  # a text the provider accepted
        RINGING = "ringing", "Ringing"  # a call placed, waiting for its result
        FINISHED = "finished", "Finished"  # a call with its result
        FAILED = "failed", "Not sent"  # the provider refused it or could not be reached

    class Result(models.TextChoices):
        CONFIRMED = "confirmed", "Pressed #"
        FRAUD = "fraud", "Pressed 0# (fraud)"
        NO_INPUT = "no_input", "Answered, pressed nothing"
        FAILED = "failed", "Not answered"

    id = models.CharField(max_length=40, primary_key=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    to = models.CharField(max_length=20, help_text="E.164")
    extension = models.CharField(max_length=10, blank=True)
    country = models.CharField(max_length=3, blank=True, help_text="ISO 3166 code of the number; 001 non-geographic")
    body = models.TextField(blank=True)
    purpose = models.CharField(max_length=40)
    call_ref = models.CharField(max_length=64, blank=True, help_text="the caller's id for the call")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    provider = models.CharField(max_length=16)
    provider_ref = models.CharField(max_length=64, blank=True, help_text="the provider's id, e.g. Twilio's SID")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SENDING)
    result = models.CharField(max_length=16, choices=Result.choices, blank=True)
    created = models.DateTimeField()
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["person", "kind", "created"]),
            models.Index(fields=["to", "kind", "created"]),
            models.Index(fields=["country", "kind", "created"]),
            models.Index(fields=["created"]),
        ]

    def __str__(self) -> str:
        return self.id


class SendLimitLock(models.Model):
    """One row per thing counted (a person's texts, a number's calls, a country's texts …),
    locked while a send is counted, so that two sends counted at the same moment are counted
    one after the other and neither slips past the limit."""

    key = models.CharField(max_length=96, unique=True)
