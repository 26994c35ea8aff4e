"""The what-if tool: how the policies would treat a sign-in by this person, to this application,
from this client, address, platform and risk — without signing anyone in or writing anything.
Enabled and report-only policies are evaluated (as in the reference); each that does not apply
carries the first condition that did not match."""

from __future__ import annotations

from watchword.policy.document import CLIENT_TYPES
from watchword.policy.errors import PolicyInvalid
from watchword.policy.locations import parse_address
from watchword.policy.platforms import PLATFORMS
from watchword.policy.risk import LEVELS


def what_if(*, user, app: str, client: str = "browser", ip: str | None = None, platform: str = "",
            risk: str | None = None, user_action: str = "", familiar_network: bool | None = None,
            familiar_browser: bool | None = None):
    """An ``Evaluation`` (``signin.facts``) for the described sign-in; bad values raise
    ``PolicyInvalid`` naming the field."""
    from watchword.methods.services import methods_of
    from watchword.policy.services import applications
    from watchword.signin.facts import evaluate_sign_in

    if app not in {app_id for app_id, _ in applications()}:
        raise PolicyInvalid(f"There is no application {str(app)[:60]!r} here.", field="app")
    if client not in CLIENT_TYPES or client == "all":
        raise PolicyInvalid(f"Client type must be one of {', '.join(c for c in CLIENT_TYPES if c != 'all')}.",
                            field="client")
    if ip not in (None, "") and parse_address(ip) is None:
        raise PolicyInvalid(f"{str(ip)[:60]!r} is not an IP address.", field="ip")
    if platform and platform not in PLATFORMS:
        raise PolicyInvalid(f"Platform must be one of {', '.join(PLATFORMS)} (or empty for unknown).",
                            field="platform")
    if risk is not None and risk not in LEVELS:
        raise PolicyInvalid(f"Sign-in risk must be one of {', '.join(LEVELS)}.", field="risk")
    if user_action not in ("", "urn:user:registersecurityinfo"):
        raise PolicyInvalid("The only user action is urn:user:registersecurityinfo.", field="userAction")
    # There is no browser here to recognise: a browser the person has used before, unless told.
    return evaluate_sign_in(user, methods_of(user), app=app, client=client, ip=ip or None, platform=platform,
                            risk=risk, user_action=user_action, familiar_network=familiar_network,
                            familiar_browser=True if familiar_browser is None else familiar_browser,
                            read_only=True)
