from watchword.core.errors import NotFound, WatchwordError


class DirectoryError(WatchwordError):
    """Something about talking to the directory, said so an administrator can act on it. The
    ``code`` says which (unreachable, tls_failed, invalid_credentials, base_not_found, …)."""

    code = "directory_error"
    status = 502
    message = "The directory could not be reached."

    def __init__(self, message: str | None = None, *, code: str | None = None, field: str | None = None,
                 **detail: object) -> None:
        super().__init__(message, field=field, **detail)
        if code:
            self.code = code


class InvalidConnectionField(WatchwordError):
    code = "invalid_connection_field"
    message = "A connection setting is not valid."


class ConnectionExists(WatchwordError):
    code = "connection_exists"
    status = 409
    message = "A directory connection with this name already exists."


class ConnectionNotFound(NotFound):
    code = "connection_not_found"
    message = "There is no such directory connection."


class SyncBusy(WatchwordError):
    code = "sync_busy"
    status = 409
    message = "A sync of this connection is already running."

