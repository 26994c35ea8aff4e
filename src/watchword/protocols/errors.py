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
