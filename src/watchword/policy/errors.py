from watchword.core.errors import WatchwordError


class FactsInvalid(WatchwordError):
    code = "policy_facts_invalid"
    status = 500
    message = "The sign-in could not be evaluated."
