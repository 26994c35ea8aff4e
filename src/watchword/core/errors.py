"""The one base error every capability's ``errors.py`` builds on.

Each error has a stable string ``code`` (for APIs, logs and tests), an HTTP status and a public
message safe to show to the person. Internal detail goes to the audit log, never to the client.
"""

from __future__ import annotations


class WatchwordError(Exception):
    code: str = "error"
    status: int = 400
    message: str = "Something went wrong."

    def __init__(self, message: str | None = None, *, field: str | None = None, **detail: object) -> None:
        self.public_message = message or self.message
        self.field = field
        self.detail = detail
        super().__init__(self.public_message)

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.public_message}
        if self.field:
            body["field"] = self.field
        return body


class ValidationFailed(WatchwordError):
    code = "validation_failed"
    message = "Some of the values are not valid."


class NotFound(WatchwordError):
    code = "not_found"
    status = 404
    message = "That item does not exist."


class PermissionDenied(WatchwordError):
    code = "permission_denied"
    status = 403
    message = "You do not have permission to do that."


def all_error_classes() -> list[type[WatchwordError]]:
    """Every error class defined anywhere (imports the capability error modules first)."""
    import importlib

    for app in ("directory", "methods", "policy", "signin", "portal", "audit", "delivery", "sync"):
        importlib.import_module(f"watchword.{app}.errors")
    seen: list[type[WatchwordError]] = []
    stack = [WatchwordError]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen
