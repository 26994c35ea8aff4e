from watchword.core.errors import WatchwordError


class SnoozesUsedUp(WatchwordError):
    """The registration campaign's "Not now" after the allowed snoozes, when it is enforced."""

    code = "campaign_snoozes_used_up"
    status = 403
    message = "You've skipped this as often as your organisation allows. Set up the authenticator app now."
