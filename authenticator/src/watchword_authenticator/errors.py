"""Errors the person can act on, each with a stable string code.

Every failure the command line reports is one of these: ``cli.main`` prints
``watchword-authenticator: <message>`` and exits 1, never a traceback. Messages never contain a
TOTP seed or a whole ``otpauth://`` URI (which holds one).
"""

from __future__ import annotations


class AuthenticatorError(Exception):
    """Base error: ``code`` is stable (tests and scripts may match on it), ``message`` is for people."""

    code = "authenticator_error"
    default_message = "Something went wrong."

    def __init__(self, message: str | None = None):
        self.message = message or self.default_message
        super().__init__(self.message)


# --- payloads and images ----------------------------------------------------------------------


class PayloadInvalid(AuthenticatorError):
    code = "payload_invalid"
    default_message = "That is not a Watchword activation payload or an otpauth:// URI."


class ImageUnreadable(AuthenticatorError):
    code = "image_unreadable"
    default_message = "The image file could not be read."


class QrCodeNotFound(AuthenticatorError):
    code = "qr_not_found"
    default_message = "No QR code was found in the image."


# --- the state file ---------------------------------------------------------------------------


class StateUnreadable(AuthenticatorError):
    code = "state_unreadable"
    default_message = "The state file could not be read."


class StateUnwritable(AuthenticatorError):
    code = "state_unwritable"
    default_message = "The state file could not be written; it was not changed."


class StateInsecure(AuthenticatorError):
    code = "state_insecure"
    default_message = "The state file can be read by other users."


class StateExists(AuthenticatorError):
    code = "state_exists"
    default_message = "The state file already exists."


class PassphraseRequired(AuthenticatorError):
    code = "passphrase_required"
    default_message = "The state file is encrypted; a passphrase is needed."


class PassphraseWrong(AuthenticatorError):
    code = "passphrase_wrong"
    default_message = "Wrong passphrase (or the state file is damaged); nothing was changed."


# --- accounts ---------------------------------------------------------------------------------


class AccountExists(AuthenticatorError):
    code = "account_exists"


class AccountNotFound(AuthenticatorError):
    code = "account_not_found"


class AccountAmbiguous(AuthenticatorError):
    code = "account_ambiguous"


class NoPushAccounts(AuthenticatorError):
    code = "no_push_accounts"
    default_message = "No account here can receive sign-in requests; add one with a Watchword activation QR code."


class ListeningStopped(AuthenticatorError):
    code = "listening_stopped"
    default_message = "No account is listening any more."


class AnswerMissing(AuthenticatorError):
    code = "answer_missing"
    default_message = ("No answer was given (standard input is closed); "
                       "use --auto approve|deny|fraud to answer without a person.")


# --- the server -------------------------------------------------------------------------------


class ServerUnreachable(AuthenticatorError):
    code = "server_unreachable"


class ServerRefused(AuthenticatorError):
    """The server answered with an error; ``server_code`` is the protocol's code (for example
    ``activation_expired``), or ``None`` when the body was not the protocol's error JSON."""

    code = "server_refused"

    def __init__(self, message: str, *, server_code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.server_code = server_code
        self.status = status


class ServerResponseInvalid(AuthenticatorError):
    code = "server_response_invalid"
    default_message = "The server's answer was not what the push protocol describes."

