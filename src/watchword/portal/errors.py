from watchword.core.errors import WatchwordError  # noqa: F401
