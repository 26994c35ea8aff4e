from watchword.core.errors import WatchwordError


class DeliveryFailed(WatchwordError):
    """The provider refused the message or could not be reached. Its own words go to the log
    and the audit log, never to the person."""

    code = "delivery_failed"
    status = 502
    message = "We couldn't reach your phone. Try again, or sign in another way."


class SendLimited(WatchwordError):
    """Too many texts (or calls) lately for the person, the number or its country. ``wait``:
    seconds until one more would be allowed."""

    code = "send_limited"
    status = 429
    message = "You've hit our limit on text verification codes. Please try again later."
    call_message = "You've hit our limit on verification calls. Please try again later."

    def __init__(self, *, kind: str, wait: int, scope: str = "") -> None:
        super().__init__(self.call_message if kind == "call" else self.message, kind=kind, wait=wait, scope=scope)
        self.kind = kind
        self.wait = wait
        self.scope = scope  # "person", "number" or "country": for the audit log

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), "wait": self.wait}


class DestinationNotAllowed(WatchwordError):
    """The number's country is not in ``WATCHWORD_PHONE_ALLOWED_COUNTRIES``."""

    code = "destination_not_allowed"
    status = 403
    message = "Texts and calls to numbers in that country aren't allowed here."

    def __init__(self, *, country: str, place: str) -> None:
        # place: "Nigeria (+234) numbers"
        super().__init__(f"Texts and calls to {place} aren't allowed here. Use another phone number, or sign in "
                         "another way.", country=country)
        self.country = country


class DestinationInvalid(WatchwordError):
    """Not a valid phone number in E.164 form (numbers are checked when people enter them, so
    this is a caller's mistake more than a person's)."""

    code = "destination_invalid"
    message = "This phone number can't be used. Check it on your Security info page."


# --- provider callbacks (JSON answers to the provider, never shown to a person) --------------


class CallbackSignatureInvalid(WatchwordError):
    code = "signature_invalid"
    status = 401
    message = "The callback's signature is missing or wrong."


class CallbackStale(WatchwordError):
    code = "stale_callback"
    status = 401
    message = "The callback's timestamp is more than 5 minutes away from our clock."


class CallbackInvalid(WatchwordError):
    code = "callback_invalid"
    message = "The callback's body is not JSON of the form {\"result\": \"confirmed\"}."


class CallNotFound(WatchwordError):
    code = "call_not_found"
    status = 404
    message = "There is no such call."


class CallAlreadyFinished(WatchwordError):
    """A result for a call that already has one: nothing changes and nothing is told again."""

    code = "call_finished"
    status = 409
    message = "This call already has its result."

    def __init__(self, *, result: str) -> None:
        super().__init__(f"This call already has its result ({result}).", result=result)
        self.result = result
