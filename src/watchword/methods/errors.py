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
        "activation_invalid": "This activation code is not valid. Scan the QR code on the set-up page again.",
        "activation_expired": "This activation code has expired. Start the set-up again to get a new QR code.",
        "activation_used": "This activation code was already used. Start the set-up again to get a new QR code.",
        "device_limit_reached": "This account already has the most authenticator devices allowed (5). "
                                "Remove one on Security info first.",
        "bad_request": "The request is malformed.",
    }
    STATUS = {
        "token_invalid": 401, "token_replayed": 401, "stale_token": 401, "device_unknown": 401,
        "signature_invalid": 401, "activation_invalid": 404, "activation_used": 409, "activation_expired": 410,
        "device_limit_reached": 409, "challenge_unknown": 404, "challenge_answered": 409,
        "challenge_expired": 410, "answer_replayed": 409,
    }

    def __init__(self, *, code: str, field: str | None = None, **detail: object) -> None:
        super().__init__(self.MESSAGES.get(code, "The request does not follow the push protocol."), field=field,
                         **detail)
        self.code = code
        self.status = self.STATUS.get(code, 400)


class MfaBlocked(WatchwordError):
    code = "mfa_blocked"
    status = 403
    message = ("Your account is blocked from multi-factor sign-in after a sign-in request was reported as "
               "not yours. Contact your administrator.")
