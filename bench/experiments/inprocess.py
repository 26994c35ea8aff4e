"""CPU per request of a full sign-in, in one process, without an HTTP server (Django's test
client, CSRF checks on), so the application's own cost can be told apart from gunicorn's.

    .venv/bin/python bench/experiments/inprocess.py [--signins N] [--settings MODULE] [--profile]

Creates a temporary data folder with people like bench/signin.py does; prints CPU ms per request
(time.process_time) and SQL statements per request; --profile adds cProfile's top functions.
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
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--signins", type=int, default=300)
    parser.add_argument("--settings", default="watchword.settings")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sql", action="store_true", help="print the SQL statements of one sign-in")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="watchword-inproc-"))
    os.environ.update(WATCHWORD_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE=args.settings,
                      WATCHWORD_PUBLIC_URL="http://127.0.0.1:8000", WATCHWORD_LOG_LEVEL="WARNING")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH), os.environ.get("PYTHONPATH")]))
    try:
        from signin import PYTHON, setup_people

        subprocess.run([PYTHON, "-m", "watchword.cli", "init"], env=os.environ, check=True, capture_output=True)
        # everyone signs in once: a code verifies once per person and time step
        people, _ = setup_people(dict(os.environ), data_dir, args.signins + 21, procs=2)
        return measure(people, args)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def measure(people: list[dict], args) -> int:
    import django

    django.setup()
    import pyotp
    from django.db import connection
    from django.test import Client

    cpu: dict[str, list[float]] = defaultdict(list)
    sql: dict[str, list[int]] = defaultdict(list)
    csrf = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

    def call(client, method, path, data=None):
        counter = [0]

        def count(execute, sql_text, params, many, context):
            counter[0] += 1
            if show_sql:
                print(f"    {method} {path}: {sql_text[:150]}")
            return execute(sql_text, params, many, context)

        t = time.process_time()
        with connection.execute_wrapper(count):
            response = client.get(path) if method == "GET" else client.post(path, data)
        cpu[f"{method} {path}"].append(time.process_time() - t)
        sql[f"{method} {path}"].append(counter[0])
        return response

    def sign_in(person):
        c = Client(enforce_csrf_checks=True, HTTP_HOST="127.0.0.1:8000")
        token = lambda r: csrf.search(r.content.decode()).group(1)  # noqa: E731
        r = call(c, "GET", "/signin")
        r = call(c, "POST", "/signin", {"csrfmiddlewaretoken": token(r), "name": person["upn"], "next": ""})
        assert r.status_code == 200 and b'action="/signin/password"' in r.content, r
        flow = re.search(r'name="flow" value="([^"]+)"', r.content.decode()).group(1)
        r = call(c, "POST", "/signin/password", {"csrfmiddlewaretoken": token(r), "password": person["password"],
                                                 "flow": flow})
        assert r.status_code == 200 and b'action="/signin/verify"' in r.content, r
        step = int(time.time()) // 30
        use = step if step > person["last_step"] else step + 1
        person["last_step"] = use
        code = pyotp.TOTP(person["secret"]).generate_otp(use)
        r = call(c, "POST", "/signin/verify", {"csrfmiddlewaretoken": token(r), "code": code})
        assert r.status_code == 302 and r["Location"] == "/myaccount", r.content.decode()[-600:]
        r = call(c, "GET", "/myaccount")
        assert b"My account" in r.content

    show_sql = False
    for person in people[:20]:  # warm-up
        sign_in(person)
    if args.sql:
        show_sql = True
        print("SQL statements of one sign-in:")
        sign_in(people[20])
        show_sql = False
    cpu.clear()
    sql.clear()
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    for i in range(args.signins):
        sign_in(people[21 + i])
    if profiler:
        profiler.disable()
    total = 0.0
    print(f"in-process, {args.signins} sign-ins, settings {args.settings}")
    print("  request                    CPU ms (mean)   SQL")
    for key, values in cpu.items():
        mean = sum(values) / len(values) * 1000
        total += mean
        print(f"  {key:<26} {mean:8.2f}      {sum(sql[key]) / len(sql[key]):5.1f}")
    print(f"  {'per sign-in':<26} {total:8.2f}      {sum(sum(v) / len(v) for v in sql.values()):5.1f}")
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(20)
        print(out.getvalue())
        # cumulative time of the parts a sign-in is made of (they overlap: SQL runs inside views)
        parts = {
            "Argon2 verify": ("argon2_verify",),
            "template rendering": ("django/template/backends/django.py:render",),
            "ORM: building and compiling SQL": ("compiler.py:as_sql",),
            "SQLite execute + commit": ("SQLiteCursorWrapper.execute", "'commit' of 'sqlite3.Connection'"),
            "session load": ("backends/db.py:_get_session_from_db",),
            "session save": ("backends/db.py:save",),
            "auth middleware (user load)": ("auth/middleware.py:get_user",),
            "csrf middleware": ("csrf.py:process_view", "csrf.py:process_response"),
            "login()": ("auth/__init__.py:login",),
            "audit record_signin": ("audit/services.py:record_signin",),
            "throttle": ("throttle.py:standing", "throttle.py:clear", "throttle.py:record_failure"),
            "TOTP verify (unseal + HMAC + UPDATE)": ("totp.py:verify",),
        }
        total = sum(v[3] for v in stats.stats.values() if False) or None
        rows = {}
        for (filename, line, name), (cc, nc, tt, ct, callers) in stats.stats.items():
            label = f"{filename}:{name}" if not filename.startswith("~") else name
            for part, needles in parts.items():
                if any(needle in label or needle in f"{filename}:{line}({name})" for needle in needles):
                    rows[part] = rows.get(part, 0.0) + ct
        print("  cumulative CPU per sign-in under cProfile (inflated ~2x; compare shares, not ms):")
        for part, seconds in rows.items():
            print(f"    {part:<40} {seconds / args.signins * 1000:7.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
