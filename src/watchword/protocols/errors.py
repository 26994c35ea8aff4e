from watchword.core.errors import NotFound, WatchwordError


class RadiusClientInvalid(WatchwordError):
    code = "radius_client_invalid"
    message = "Check the RADIUS client's details."


class RadiusClientExists(WatchwordError):
    code = "radius_client_exists"
    status = 409
    message = "A RADIUS client with that name already exists."


class RadiusClientNotFound(NotFound):
    code = "radius_client_not_found"
    message = "There is no RADIUS client with that name."


class RadiusBindInvalid(WatchwordError):
    code = "radius_bind_invalid"
    message = "The RADIUS address must look like 127.0.0.1:1812 or [::1]:1812."


class OidcClientInvalid(WatchwordError):
    code = "oidc_client_invalid"
    message = "Check the application's details."


class OidcClientExists(WatchwordError):
    code = "oidc_client_exists"
    status = 409
    message = "An application with that name already exists."


class OidcClientNotFound(NotFound):
    code = "oidc_client_not_found"
    message = "There is no application with that name or client ID."


class OidcKeysFixed(WatchwordError):
    code = "oidc_keys_fixed"
    message = ("The signing key is a fixed file named by WATCHWORD_OIDC_SIGNING_KEY; replace it there, or unset "
               "the variable to let Watchword keep and rotate its keys.")
