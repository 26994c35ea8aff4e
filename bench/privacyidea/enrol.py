"""Enrol TOTP tokens in a privacyIDEA database with privacyIDEA's own ``init_token``.

Runs under bench/privacyidea/.venv's Python with ``PRIVACYIDEA_CONFIGFILE`` set:

    python enrol.py TOKENS.json

TOKENS.json is a list of ``[serial, base32 seed]``. Each token is what ``POST /token/init
type=totp otpkey=<hex> genkey=0`` makes: SHA-1, 6 digits, 30-second steps, no PIN, no owner.
``init_token`` commits about nine times per token; during this setup its commits become flushes and
the work is committed every 25 tokens, which halves the time and leaves the same rows. One
process: nearly all of the work is ORM inside the write transaction, so a second process would only
wait for SQLite's lock.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time


def main() -> int:
    from privacyidea.app import create_app

    tokens_file = sys.argv[1]
    app = create_app(config_name="production", config_file=os.environ["PRIVACYIDEA_CONFIGFILE"], silent=True)

    from privacyidea.lib.token import init_token
    from privacyidea.models import db

    with open(tokens_file) as fh:
        tokens = json.load(fh)
    shown = time.monotonic()
    with app.app_context():
        commit = db.session.commit
        db.session.commit = db.session.flush
        try:
            for n, (serial, seed) in enumerate(tokens, 1):
                init_token({"type": "totp", "serial": serial, "genkey": 0, "otplen": 6, "timeStep": 30,
                            "hashlib": "sha1", "otpkey": base64.b32decode(seed).hex(),
                            "description": "watchword bench"})
                if n % 25 == 0:
                    commit()
                if time.monotonic() - shown > 15:
                    print(f"[bench] privacyIDEA: {n} of {len(tokens)} tokens enrolled", file=sys.stderr, flush=True)
                    shown = time.monotonic()
            commit()
        finally:
            db.session.commit = commit
    return 0


if __name__ == "__main__":
    sys.exit(main())
