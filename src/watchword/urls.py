from django.shortcuts import redirect
from django.urls import include, path

urlpatterns = [
    path("", include("watchword.protocols.api_urls")),  # first: the busiest paths resolve at once
    path("", include("watchword.portal.urls")),
    path("", include("watchword.signin.urls")),
    path("", include("watchword.directory.urls")),
    path("", include("watchword.sync.urls")),
    path("", include("watchword.policy.urls")),
    path("", include("watchword.policy.settings_urls")),
    path("", include("watchword.audit.urls")),
    path("", include("watchword.delivery.urls")),
    path("", include("watchword.methods.urls")),
    path("", include("watchword.protocols.urls")),
    path("", include("watchword.protocols.oidc_urls")),
    path("admin", lambda request: redirect("directory:user_list")),
    path("admin/", lambda request: redirect("directory:user_list")),
]

handler400 = "watchword.core.views.bad_request"
handler403 = "watchword.core.views.permission_denied"
handler404 = "watchword.core.views.not_found"
handler500 = "watchword.core.views.server_error"
