from watchword.core.errors import WatchwordError


class InvalidLogFilter(WatchwordError):
    code = "invalid_log_filter"
    message = "A log filter value is not valid."
