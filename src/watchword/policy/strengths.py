"""Authentication strengths: which combinations of factors satisfy a grant.

Combinations carry Microsoft Graph's ``allowedCombinations`` names, so policies and strengths
brought from the reference keep their meaning. A sign-in proves one combination: the password
and the one second factor used (``FACTOR_*``). Watchword has no passwordless or
phishing-resistant method yet (passkeys come later), so the built-in "Passwordless MFA" and
"Phishing-resistant MFA" strengths list combinations nobody can prove here: a policy requiring
them cannot be satisfied and the sign-in is refused with that reason, never let through.
"""

from __future__ import annotations

from dataclasses import dataclass

FACTOR_PUSH = "password,microsoftAuthenticatorPush"
FACTOR_CODE = "password,softwareOath"
FACTOR_HARDWARE_CODE = "password,hardwareOath"
FACTOR_TEXT = "password,sms"
FACTOR_CALL = "password,voice"

# What Watchword's methods can prove today.
WATCHWORD_FACTORS = frozenset({FACTOR_PUSH, FACTOR_CODE, FACTOR_TEXT, FACTOR_CALL})

# Every combination name Graph defines that a strength may list (those Watchword cannot prove
# yet are accepted, and simply never satisfied).
KNOWN_COMBINATIONS = frozenset(WATCHWORD_FACTORS | {
    FACTOR_HARDWARE_CODE, "fido2", "windowsHelloForBusiness", "x509CertificateMultiFactor",
    "x509CertificateSingleFactor", "deviceBasedPush", "temporaryAccessPassOneTime",
    "temporaryAccessPassMultiUse", "federatedMultiFactor", "federatedSingleFactor",
    "password,federatedSingleFactor", "sms", "password", "qrCodePin",
})

# A method type → the combinations it can prove (with the password before it).
FACTORS_OF_METHOD = {
    "push": frozenset({FACTOR_PUSH, FACTOR_CODE}),  # the activation also gave the device a code seed
    "totp": frozenset({FACTOR_CODE}),
    "phone": frozenset({FACTOR_TEXT, FACTOR_CALL}),
    "alternate_phone": frozenset({FACTOR_CALL}),
    "office_phone": frozenset({FACTOR_CALL}),
}

# The factor a completed second step proved, by how it was done.
FACTOR_OF_STEP = {"push": FACTOR_PUSH, "code": FACTOR_CODE, "otp": FACTOR_CODE, "text": FACTOR_TEXT,
                  "sms": FACTOR_TEXT, "call": FACTOR_CALL, "tel": FACTOR_CALL, "swk": FACTOR_PUSH}


@dataclass(frozen=True)
class Strength:
    id: str
    name: str
    combinations: frozenset[str]
    built_in: bool = False
    description: str = ""


MFA = Strength("00000000-0000-0000-0000-000000000002", "Multifactor authentication", frozenset({
    FACTOR_PUSH, FACTOR_CODE, FACTOR_HARDWARE_CODE, FACTOR_TEXT, FACTOR_CALL, "fido2", "windowsHelloForBusiness",
    "x509CertificateMultiFactor", "deviceBasedPush", "temporaryAccessPassOneTime", "temporaryAccessPassMultiUse",
    "federatedMultiFactor", "password,federatedSingleFactor"}), True,
    "The password and any second factor: authenticator push, an authenticator code, a text or a call.")
PASSWORDLESS_MFA = Strength("00000000-0000-0000-0000-000000000003", "Passwordless MFA", frozenset({
    "fido2", "windowsHelloForBusiness", "x509CertificateMultiFactor", "deviceBasedPush"}), True,
    "Passkeys and phone sign-in, without a password. Watchword has no such method yet.")
PHISHING_RESISTANT_MFA = Strength("00000000-0000-0000-0000-000000000004", "Phishing-resistant MFA", frozenset({
    "fido2", "windowsHelloForBusiness", "x509CertificateMultiFactor"}), True,
    "Passkeys and certificates bound to the site. Watchword has no such method yet.")
BUILT_IN = {s.id: s for s in (MFA, PASSWORDLESS_MFA, PHISHING_RESISTANT_MFA)}

MAX_CUSTOM_NAME = 128


def factors_of(method_types) -> frozenset[str]:
    """The combinations a person's registered methods can prove."""
    found: set[str] = set()
    for method_type in method_types:
        found |= FACTORS_OF_METHOD.get(method_type, frozenset())
    return frozenset(found)


def method_types_for(combinations: frozenset[str]) -> frozenset[str]:
    """The method types that can prove at least one of ``combinations`` (what to offer, or to
    ask the person to register)."""
    return frozenset(t for t, factors in FACTORS_OF_METHOD.items() if factors & combinations)
