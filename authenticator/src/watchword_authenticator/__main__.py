"""``python -m watchword_authenticator``: the same as the ``watchword-authenticator`` command."""

import sys

from watchword_authenticator.cli import main

sys.exit(main())
