from watchword.core.errors import WatchwordError


class UnknownMethodType(WatchwordError):
    code = "unknown_method_type"
    message = "That kind of sign-in method does not exist."


class MethodLimitReached(WatchwordError):
    code = "method_limit_reached"
    status = 409
    message = "You already have the most methods of this kind allowed."


class EnrolmentExpired(WatchwordError):
    code = "enrolment_expired"
    message = "This set-up took too long. Start again to get a new QR code."


class CodeInvalid(WatchwordError):
    code = "code_invalid"
    message = "That code didn't work. Check the code and try again."


class CodeMalformed(WatchwordError):
    code = "code_malformed"
    message = "Enter the 6-digit code from your authenticator app."


class CodeReused(WatchwordError):
    code = "code_reused"
    message = "That code was already used. Wait for the next code in your app and enter it."


class LastMethodRequired(WatchwordError):
    code = "last_method_required"
    status = 409
    message = ("You can't delete your only sign-in method: your organisation requires multi-factor "
               "authentication for your account. Add another method first, then delete this one.")


class MethodNotFound(WatchwordError):
    code = "method_not_found"
    status = 404
    message = "That sign-in method does not exist."


class DuplicateMethodType(Exception):
    """Two modules registered the same method type: a programming error, raised at import."""


class PushProtocolError(WatchwordError):
    """A device's request does not pass the push protocol's checks. ``code`` is one of the stable
    codes in docs/push-protocol.md; the message never says more than the code does."""

    code = "push_protocol_error"
    MESSAGES = {
        "public_key_invalid": "The device key is not a P-256 public key.",
        "token_invalid": "The device token is malformed.",
        "token_replayed": "This device token was already used; make a new one.",
        "stale_token": "The device's clock is too far from the server's.",
        "device_unknown": "This device is not registered.",
        "signature_invalid": "The signature does not verify.",
        "answer_malformed": "The answer is malformed.",
        "answer_replayed": "This answer was already received.",
        "challenge_unknown": "There is no such sign-in request.",
        "challenge_answered": "This sign-in request was already answered.",
        "challenge_expired": "This sign-in request has expired.",
        "stale_answer": "The answer's time is too far from the server's clock.",
    }

    def __init__(self, *, code: str, field: str | None = None, **detail: object) -> None:
        super().__init__(self.MESSAGES.get(code, "The request does not follow the push protocol."), field=field,
                         **detail)
        self.code = code
