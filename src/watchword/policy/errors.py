from watchword.core.errors import NotFound, WatchwordError


class FactsInvalid(WatchwordError):
    code = "policy_facts_invalid"
    status = 500
    message = "The sign-in could not be evaluated."


class PolicyInvalid(WatchwordError):
    """A policy, named location, strength or setting that cannot be used as given; ``field``
    points at the value (``conditions.users.includeGroups[2]``)."""

    code = "policy_invalid"
    message = "The policy is not valid."


class PolicyConflict(WatchwordError):
    """Security Defaults and enabled Conditional Access policies exclude each other."""

    code = "policy_conflict"
    status = 409
    message = "Security Defaults and Conditional Access policies cannot both be on."


class LockoutRisk(WatchwordError):
    """Saving would block every Global Administrator (or the administrator saving it): confirm."""

    code = "policy_lockout_risk"
    status = 409
    message = "This policy could lock administrators out. Confirm to save it anyway."


class PolicyNotFound(NotFound):
    code = "policy_not_found"
    status = 404
    message = "That policy does not exist."
