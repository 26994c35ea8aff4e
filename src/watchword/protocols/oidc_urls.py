"""OpenID Connect endpoints: discovery at the root (the issuer is WATCHWORD_PUBLIC_URL), the rest
under /o/. Named in DOT's ``oauth2_provider`` namespace, which its views reverse."""

from django.urls import path
from oauth2_provider import views

from watchword.protocols.oidc import AuthorizationView
from watchword.protocols.oidc_endpoints import DiscoveryView, JwksView, LogoutView, TokenView

app_name = "oauth2_provider"

urlpatterns = [
    path(".well-known/openid-configuration", DiscoveryView.as_view(), name="oidc-connect-discovery-info"),
    path("o/authorize/", AuthorizationView.as_view(), name="authorize"),
    path("o/token/", TokenView.as_view(), name="token"),
    path("o/revoke_token/", views.RevokeTokenView.as_view(), name="revoke-token"),
    path("o/userinfo/", views.UserInfoView.as_view(), name="user-info"),
    path("o/jwks.json", JwksView.as_view(), name="jwks-info"),
    path("o/logout/", LogoutView.as_view(), name="rp-initiated-logout"),
]
