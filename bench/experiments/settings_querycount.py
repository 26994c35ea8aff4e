"""The production settings plus a per-request SQL statement counter (outermost middleware)."""

from watchword.settings import *  # noqa: F401,F403
from watchword.settings import MIDDLEWARE

MIDDLEWARE = ["experiments.querycount.QueryCountMiddleware", *MIDDLEWARE]
