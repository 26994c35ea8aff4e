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
