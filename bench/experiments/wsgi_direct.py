"""CPU per request of a full sign-in, calling the WSGI application directly in one process (no
HTTP server, no test client), so the application's own cost is seen alone.

    .venv/bin/python bench/experiments/wsgi_direct.py [--signins N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
FLOW = re.compile(r'name="flow" value="([^"]+)"')


class Browser:
    def __init__(self, app):
        self.app = app
        self.cookies: dict[str, str] = {}

    def call(self, method: str, path: str, form: dict | None = None):
        body = urlencode(form or {}).encode()
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "HTTP_HOST": "127.0.0.1:8000",
            "REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": "bench", "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "HTTP_COOKIE": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            "HTTP_ORIGIN": "http://127.0.0.1:8000", "HTTP_REFERER": "http://127.0.0.1:8000/signin",
        }
        status_headers = []
        chunks = self.app(environ, lambda status, headers, exc=None: status_headers.append((status, headers)))
        text = b"".join(chunks).decode()
        status, headers = status_headers[0]
        for name, value in headers:
            if name.lower() == "set-cookie":
                cookie = SimpleCookie(value)
                for key, morsel in cookie.items():
                    self.cookies[key] = morsel.value
        return int(status.split()[0]), text


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--signins", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="watchword-wsgi-"))
    os.environ.update(WATCHWORD_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="watchword.settings",
                      WATCHWORD_PUBLIC_URL="http://127.0.0.1:8000", WATCHWORD_LOG_LEVEL="WARNING")
    try:
        from signin import PYTHON, setup_people

        subprocess.run([PYTHON, "-m", "watchword.cli", "init"], env=os.environ, check=True, capture_output=True)
        people, _ = setup_people(dict(os.environ), data_dir, args.signins + 21, procs=2)
        import pyotp

        from watchword.wsgi import application

        cpu: dict[str, list[float]] = defaultdict(list)

        def timed(b, method, path, form=None):
            t = time.process_time()
            result = b.call(method, path, form)
            cpu[f"{method} {path}"].append(time.process_time() - t)
            return result

        def sign_in(person):
            b = Browser(application)
            _, page = timed(b, "GET", "/signin")
            _, page = timed(b, "POST", "/signin", {"csrfmiddlewaretoken": CSRF.search(page).group(1),
                                                   "name": person["upn"], "next": ""})
            _, page = timed(b, "POST", "/signin/password", {"csrfmiddlewaretoken": CSRF.search(page).group(1),
                                                            "password": person["password"],
                                                            "flow": FLOW.search(page).group(1)})
            step = int(time.time()) // 30
            use = step if step > person["last_step"] else step + 1
            person["last_step"] = use
            code = pyotp.TOTP(person["secret"]).generate_otp(use)
            status, page = timed(b, "POST", "/signin/verify", {"csrfmiddlewaretoken": CSRF.search(page).group(1),
                                                               "code": code})
            assert status == 302, re.findall(r"role=\"alert\">([^<]*)", page)
            status, page = timed(b, "GET", "/myaccount")
            assert "<h1>My account</h1>" in page

        for person in people[:20]:
            sign_in(person)
        cpu.clear()
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        for person in people[21:21 + args.signins]:
            sign_in(person)
        if profiler:
            profiler.disable()
        total = 0.0
        for key, values in cpu.items():
            mean = sum(values) / len(values) * 1000
            total += mean
            print(f"  {key:<26} {mean:8.2f} ms CPU")
        print(f"  {'per sign-in':<26} {total:8.2f} ms CPU")
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
            print(out.getvalue())
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
