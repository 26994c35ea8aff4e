"""The REST API's paths (docs/api.md)."""

from django.urls import path, re_path

from watchword.policy import api as policy_api
from watchword.protocols import api, token_views

app_name = "api"

urlpatterns = [
    path("admin/api-tokens", token_views.api_tokens, name="tokens"),
    path("admin/api-tokens/<int:token_id>/revoke", token_views.api_token_revoke, name="token_revoke"),
    path("api/v1/openapi.json", api.openapi_document, name="openapi"),
    path("api/v1/users", api.users, name="users"),
    path("api/v1/users/<str:user_id>", api.user, name="user"),
    path("api/v1/users/<str:user_id>/authentication/requirements", api.requirements, name="requirements"),
    path("api/v1/users/<str:user_id>/authentication/methods", api.methods, name="methods"),
    path("api/v1/users/<str:user_id>/authentication/methods/<str:method_id>", api.method, name="method"),
    path("api/v1/users/<str:user_id>/authentication/phoneMethods", api.phone_methods_route, name="phone_methods"),
    path("api/v1/users/<str:user_id>/authentication/requireReregistration", api.reregistration,
         name="reregistration"),
    path("api/v1/auditLogs/signIns", api.signins, name="signins"),
    path("api/v1/auditLogs/directoryAudits", api.audits, name="audits"),
    path("api/v1/verify", api.verify_route, name="verify"),
    path("api/v1/challenges", api.challenges, name="challenges"),
    path("api/v1/challenges/<str:challenge_id>", api.challenge, name="challenge"),
    path("api/v1/identity/conditionalAccess/policies", policy_api.policies_route, name="ca_policies"),
    path("api/v1/identity/conditionalAccess/policies/<str:policy_id>", policy_api.policy_route, name="ca_policy"),
    path("api/v1/identity/conditionalAccess/evaluate", policy_api.evaluate_route, name="ca_evaluate"),
    path("api/v1/policies/identitySecurityDefaultsEnforcementPolicy", policy_api.security_defaults_route,
         name="security_defaults"),
    re_path(r"^api/v1(?:/.*)?$", api.not_found),
]
