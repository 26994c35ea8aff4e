from watchword.core.errors import WatchwordError


class DeliveryFailed(WatchwordError):
    code = "delivery_failed"
    status = 502
    message = "We couldn't send the message. Try again later."
