"""Sign-in risk from Watchword's own signals (the reference's Identity Protection is a cloud
service; these are the signals a self-hosted service has). Pure: ``signin`` gathers the signals.

- **high**: the person reported a sign-in request as fraud within ``FRAUD_WINDOW_DAYS``, or the
  password of the account was guessed wrong ``MANY_FAILURES`` times or more in the last hour.
- **medium**: an unfamiliar network together with ``SOME_FAILURES`` or more wrong passwords in
  the last hour.
- **low**: an unfamiliar network (not used for a successful sign-in by this person in 30 days).
- **none**: otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

LEVELS = ("none", "low", "medium", "high")
FRAUD_WINDOW_DAYS = 30
MANY_FAILURES = 10
SOME_FAILURES = 3


@dataclass(frozen=True)
class RiskSignals:
    recent_failures: int = 0  # wrong passwords for this account in the last hour
    unfamiliar_network: bool = False
    fraud_reported_days_ago: int | None = None


def sign_in_risk(signals: RiskSignals) -> tuple[str, str]:
    """The level and the signal that set it (for the sign-in log and the what-if tool)."""
    if signals.fraud_reported_days_ago is not None and signals.fraud_reported_days_ago <= FRAUD_WINDOW_DAYS:
        return "high", f"a sign-in request was reported as fraud {signals.fraud_reported_days_ago} days ago"
    if signals.recent_failures >= MANY_FAILURES:
        return "high", f"{signals.recent_failures} wrong passwords in the last hour"
    if signals.unfamiliar_network and signals.recent_failures >= SOME_FAILURES:
        return "medium", f"an unfamiliar network after {signals.recent_failures} wrong passwords"
    if signals.unfamiliar_network:
        return "low", "an unfamiliar network"
    return "none", ""
