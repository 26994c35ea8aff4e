"""privacyIDEA as a WSGI application for gunicorn, configured by ``PRIVACYIDEA_CONFIGFILE``
(what privacyIDEA's own ``privacyideaapp.wsgi`` does with /etc/privacyidea/pi.cfg)."""

import os

from privacyidea.app import create_app

application = create_app(config_name="production", config_file=os.environ["PRIVACYIDEA_CONFIGFILE"], silent=True)
