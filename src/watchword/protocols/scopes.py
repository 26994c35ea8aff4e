"""The OAuth scopes Watchword knows: the OpenID Connect ones a relying party asks for when it
signs a person in, and the REST API's (``/api/v1``), one pair per capability, granted to service
applications (client credentials) and to administrators' personal tokens."""

from __future__ import annotations

OIDC_SCOPES = {
    "openid": "Sign you in",
    "profile": "Your name and sign-in name",
    "email": "Your e-mail address",
}

API_SCOPES = {
    "users.read": "Read people and their per-user MFA state",
    "users.write": "Add and change people and their per-user MFA state",
    "methods.read": "Read people's authentication methods",
    "methods.write": "Add and delete people's authentication methods; require re-registration",
    "logs.read": "Read the sign-in log and the audit log",
    "verify": "Check people's codes and send them sign-in requests (push, text, call)",
    "policy.read": "Read Conditional Access policies and Security Defaults; ask what if",
    "policy.write": "Add, change and delete Conditional Access policies; turn Security Defaults on and off",
}

ALL_SCOPES = {**OIDC_SCOPES, **API_SCOPES}
