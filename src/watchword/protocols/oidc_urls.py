"""OpenID Connect endpoints: discovery at the root (the issuer is WATCHWORD_PUBLIC_URL), the rest
under /o/. Named in DOT's ``oauth2_provider`` namespace, which its views reverse."""

from django.urls import path
from oauth2_provider import views

from watchword.protocols.oidc import AuthorizationView

app_name = "oauth2_provider"

urlpatterns = [
    path(".well-known/openid-configuration", views.ConnectDiscoveryInfoView.as_view(),
         name="oidc-connect-discovery-info"),
    path("o/authorize/", AuthorizationView.as_view(), name="authorize"),
    path("o/token/", views.TokenView.as_view(), name="token"),
    path("o/revoke_token/", views.RevokeTokenView.as_view(), name="revoke-token"),
    path("o/userinfo/", views.UserInfoView.as_view(), name="user-info"),
    path("o/jwks.json", views.JwksInfoView.as_view(), name="jwks-info"),
]
