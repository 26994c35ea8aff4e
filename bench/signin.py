#!/usr/bin/env python
"""Sign-in benchmark: full interactive sign-ins (name → password → TOTP code → My account)
against a real ``watchword serve`` (gunicorn sync workers, SQLite), compared with the one cost a
sign-in cannot avoid: an Argon2id hash with the server's parameters, measured in the same run.

    .venv/bin/python bench/signin.py [--seconds S] [--clients C] [--workers W] [--users N]

Prints figures; asserts nothing about time. Traffic goes to 127.0.0.1 only; the server and the
temporary data folder are removed at the end, also on error or Ctrl+C.
See bench/README.md for what is measured and why.
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import json
import multiprocessing as mp
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
STEP = 30  # TOTP time step (s)
CLK_TCK = os.sysconf("SC_CLK_TCK")
FORM_ACTION_RE = re.compile(r'<form method="post" action="([^"?]+)"')
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


# --- setup: people with passwords, enforced MFA and an enrolled authenticator ------------------

SETUP_CODE = r"""
import json, os, secrets, sys, time
import django
django.setup()
from datetime import datetime, timezone as tz
from django.conf import settings
from watchword.directory.services import create_user
from watchword.methods.services import set_mfa_state, complete_registration
from watchword.methods.totp import TotpMethod, code_at, time_step

start, stride, count, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
totp = TotpMethod()
rows = []
for i in range(start, count, stride):
    upn = f"bench{i:05d}@bench.example"
    password = "Bq-" + secrets.token_urlsafe(12)
    user = create_user({"upn": upn, "display_name": f"Bench Person {i}", "role": "user"},
                       actor="bench", password=password).user
    user = set_mfa_state(user, "enforced", actor="bench", notify=False)
    now = datetime.now(tz.utc)
    pending = totp.begin_enrolment(user=user, issuer=settings.ORGANISATION_NAME, now=now)
    secret = totp.pending_secret(user=user, pending=pending)
    method = totp.confirm_enrolment(user=user, pending=pending, response=code_at(secret, time_step(now)),
                                    now=now, name="Bench phone")
    complete_registration(user, method)
    rows.append({"upn": upn, "password": password, "secret": secret, "last_step": method.last_used_step})
with open(out, "w") as fh:
    json.dump(rows, fh)
if start == 0:
    print(json.dumps({"memory_cost": settings.ARGON2_MEMORY_KIB, "time_cost": settings.ARGON2_ITERATIONS,
                      "parallelism": settings.ARGON2_PARALLELISM}))
"""


def setup_people(env: dict, data_dir: Path, count: int, procs: int) -> tuple[list[dict], dict]:
    jobs = []
    for k in range(procs):
        out = data_dir / f"people-{k}.json"
        jobs.append((out, subprocess.Popen([PYTHON, "-c", SETUP_CODE, str(k), str(procs), str(count), str(out)],
                                           env={"DJANGO_SETTINGS_MODULE": "watchword.settings", **env},
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    people, params = [], {}
    for out, proc in jobs:
        stdout, stderr = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f"setup failed:\n{stderr[-3000:]}")
        if stdout.strip():
            params = json.loads(stdout.strip().splitlines()[-1])
        people.extend(json.loads(out.read_text()))
        out.unlink()
    people.sort(key=lambda p: p["upn"])
    return people, params


# --- baseline: bare Argon2id hashes with the server's parameters --------------------------------

def _hash_worker(params: dict, seconds: float, queue) -> None:
    from argon2 import PasswordHasher, Type

    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    hasher = PasswordHasher(time_cost=params["time_cost"], memory_cost=params["memory_cost"],
                            parallelism=params["parallelism"], type=Type.ID)
    hasher.hash("warm-up password")
    count, t0 = 0, time.perf_counter()
    cpu0 = time.process_time()
    while time.perf_counter() - t0 < seconds:
        hasher.hash("Bq-correct horse battery")
        count += 1
    queue.put((count, time.perf_counter() - t0, time.process_time() - cpu0))


def hash_baseline(params: dict, procs: int, seconds: float) -> dict:
    queue = mp.Queue()
    workers = [mp.Process(target=_hash_worker, args=(params, seconds, queue)) for _ in range(procs)]
    for w in workers:
        w.start()
    results = [queue.get(timeout=seconds + 60) for _ in workers]
    for w in workers:
        w.join()
    rate = sum(count / elapsed for count, elapsed, _cpu in results)
    cpu_per_hash = sum(cpu for *_x, cpu in results) / sum(c for c, *_y in results)
    return {"hash_per_s": rate, "per_core": rate / procs, "cpu_ms_per_hash": cpu_per_hash * 1000}


# --- the client: a browser's requests, nothing more --------------------------------------------

class Failure(Exception):
    pass


class Browser:
    """Keep-alive HTTP/1.1 to one host (reconnecting when the server closes), a cookie jar."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.origin = f"http://127.0.0.1:{port}"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}
        self.requests = 0
        self.timings: list[tuple[str, float]] = []
        self.queries: list[tuple[str, str]] = []  # X-Bench-Queries, only with experiments.querycount

    def reset(self) -> None:
        self.cookies.clear()

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, str]:
        headers = {"User-Agent": "Mozilla/5.0 (watchword-bench)", "Accept": "text/html",
                   "Accept-Encoding": "identity"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = self.origin
            headers["Referer"] = self.origin + path
        t0 = time.perf_counter()
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                text = resp.read().decode("utf-8", "replace")
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # the server closed an idle keep-alive connection: a browser retries once
                self.conn.close()
                if attempt:
                    raise
        key = f"{method} {path.split('?')[0]}"
        self.timings.append((key, time.perf_counter() - t0))
        if resp.headers.get("X-Bench-Queries"):
            self.queries.append((key, resp.headers["X-Bench-Queries"]))
        self.requests += 1
        for header in resp.headers.get_all("Set-Cookie") or []:
            pair, _, attrs = header.partition(";")
            name, _, value = pair.strip().partition("=")
            low = attrs.lower()
            if "max-age=0" in low or "1970" in low:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        if resp.will_close:
            self.conn.close()
        return resp.status, resp.headers.get("Location", ""), text

    def get(self, path: str, expect: int = 200) -> str:
        status, location, text = self.request("GET", path)
        if status != expect:
            raise Failure(f"GET {path}: {status} {location} {_snippet(text)}")
        return text

    def post(self, path: str, form: dict, page: str) -> tuple[str, str | None]:
        """POST a form taken from ``page`` (its CSRF token). Returns where the browser is next:
        a redirect's target (page ``None``: the browser GETs it), or — when the server answers
        with the next step's page directly — the address that page's form posts to, and the page."""
        match = CSRF_RE.search(page)
        if not match:
            raise Failure(f"no CSRF token on the page before POST {path}")
        status, location, text = self.request("POST", path, {"csrfmiddlewaretoken": match.group(1), **form})
        if status == 302:
            return urlsplit(location).path or location, None
        actions = [a for a in FORM_ACTION_RE.findall(text) if a != "/signin/cancel"]
        if status == 200 and actions and actions[-1] != path:
            return actions[-1], text
        raise Failure(f"POST {path}: {status} {_snippet(text)}")


FLOW_RE = re.compile(r'name="flow" value="([^"]*)"')


def _flow_token(page: str) -> str:
    """The signed sign-in the password page carries in its form (nothing is stored server-side
    before the password is right)."""
    match = FLOW_RE.search(page)
    return match.group(1) if match else ""


def _snippet(text: str) -> str:
    for pattern in (r'role="alert"[^>]*>([^<]+)', r'class="error"[^>]*>([^<]+)', r"<title>([^<]+)"):
        m = re.search(pattern, text)
        if m:
            return m.group(1).strip()[:160]
    return text[:160].replace("\n", " ")


def sign_in(b: Browser, person: dict, code_for) -> None:
    """One complete sign-in as a browser walks it; raises Failure on anything unexpected."""
    b.reset()  # a new browser: no cookies
    page = b.get("/signin")
    where, page = b.post("/signin", {"name": person["upn"], "next": ""}, page)
    if where != "/signin/password":
        raise Failure(f"after name: sent to {where}")
    page = page or b.get(where)
    where, page = b.post(where, {"password": person["password"], "flow": _flow_token(page)}, page)
    if where != "/signin/verify":
        raise Failure(f"after password: sent to {where}")
    page = page or b.get(where)
    where, page = b.post(where, {"code": code_for(person)}, page)
    if where != "/myaccount":
        raise Failure(f"after code: sent to {where}")
    page = page or b.get(where)
    if "<h1>My account</h1>" not in page or person["upn"] not in page:
        raise Failure("My account page without the heading or the person's name")


def client_main(index: int, port: int, people: list[dict], start_at: float, measure_from: float,
                stop_at: float, queue) -> None:
    import pyotp

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    totps = {p["upn"]: pyotp.TOTP(p["secret"]) for p in people}
    # people ordered by the last time step their code was used: take the one whose code is freshest
    ready = [(p["last_step"], i, p) for i, p in enumerate(people)]
    heapq.heapify(ready)
    b = Browser(port)
    done: list[tuple[float, float, int]] = []  # (end, duration, requests), sign-ins in the window
    errors: list[str] = []
    error_count = 0
    waited = 0.0
    timings: list[tuple[str, float]] = []  # (request, seconds) of the sign-ins in the window
    queries: list[tuple[str, str]] = []  # (request, "total/writes") when the server reports them

    def code_for(person: dict) -> str:
        # The code the person's app shows now; if that step was already used (this person signed
        # in earlier in this step), the next step's code, accepted within the ±1 step drift.
        now = time.time()
        step = int(now) // STEP
        use = step if step > person["last_step"] else step + 1
        person["last_step"] = use
        return totps[person["upn"]].generate_otp(use)

    while time.monotonic() < start_at:
        time.sleep(0.005)
    while True:
        now = time.monotonic()
        if now >= stop_at:
            break
        last, i, person = heapq.heappop(ready)
        step = int(time.time()) // STEP
        if last >= step + 1:  # every person of this client already used this step and the next
            heapq.heappush(ready, (last, i, person))
            pause = min(STEP - time.time() % STEP + 0.05, stop_at - now)
            if os.environ.get("BENCH_DEBUG"):
                print(f"client {index}: waiting {pause:.1f} s at step {step}, freshest person used step {last}, "
                      f"{len(done)} sign-ins so far", file=sys.stderr)
            if now >= measure_from:
                waited += pause
            time.sleep(max(pause, 0))
            continue
        before = b.requests
        b.timings.clear()
        b.queries.clear()
        t0 = time.monotonic()
        try:
            sign_in(b, person, code_for)
            ok = True
        except Failure as exc:
            ok = False
            message = str(exc)
        except (OSError, http.client.HTTPException) as exc:
            ok = False
            message = f"{type(exc).__name__}: {exc}"
            b.conn.close()
        t1 = time.monotonic()
        heapq.heappush(ready, (person["last_step"], i, person))
        if t0 >= measure_from and t1 <= stop_at:
            if ok:
                done.append((t1, t1 - t0, b.requests - before))
                timings.extend(b.timings)
                queries.extend(b.queries)
            else:
                error_count += 1
                if len(errors) < 5:
                    errors.append(f"{person['upn']}: {message}")
        elif not ok and t1 <= stop_at:  # errors in the warm-up are errors too
            error_count += 1
            if len(errors) < 5:
                errors.append(f"(warm-up) {person['upn']}: {message}")
    b.conn.close()
    per_request: dict[str, list[float]] = {}
    for key, seconds in timings:
        per_request.setdefault(key, []).append(seconds)
    per_request_queries: dict[str, list[tuple[int, int]]] = {}
    for key, value in queries:
        total, _, writes = value.partition("/")
        per_request_queries.setdefault(key, []).append((int(total), int(writes)))
    queue.put({"index": index, "done": done, "errors": errors, "error_count": error_count,
               "waited": waited, "per_request": per_request, "queries": per_request_queries})


# --- the server --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def children_of(pid: int) -> list[int]:
    """Every descendant of ``pid``: under ``watchword serve`` the gunicorn workers are the
    front's grandchildren."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [child for child, ppid in parents.items() if ppid == parent]
        found += kids
        frontier += kids
    return found


def machine_busy() -> tuple[float, float, float, float]:
    """(busy, iowait, steal, total) CPU seconds of the whole machine since boot."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / CLK_TCK, values[4] / CLK_TCK, values[7] / CLK_TCK, total / CLK_TCK


def io_stall() -> float:
    """Seconds in which some task waited for I/O (pressure stall information), 0 if unavailable."""
    try:
        with open("/proc/pressure/io") as fh:
            return int(fh.readline().rpartition("total=")[2]) / 1e6
    except (OSError, ValueError):
        return 0.0


# What ``watchword serve`` passes to gunicorn (src/watchword/core/serving.py), for --gunicorn runs.
SERVE_OPTIONS = ["--worker-class", "sync", "--timeout", "30", "--graceful-timeout", "10", "--access-logfile", "-",
                 "--error-logfile", "-", "--log-level", "info", "--preload", "--forwarded-allow-ips", "127.0.0.1",
                 "--limit-request-line", "8190"]


def start_server(env: dict, port: int, workers: int | None, log_path: Path,
                 gunicorn: str | None = None, uvicorn: bool = False) -> subprocess.Popen:
    log = open(log_path, "w")
    if uvicorn:  # experiment: the same application under ASGI (uvicorn workers)
        cmd = [PYTHON, "-m", "uvicorn", "watchword.asgi:application", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers or max(2, os.cpu_count() or 1)), "--no-access-log", "--log-level", "warning"]
        subprocess.run([PYTHON, "-m", "watchword.cli", "manage", "migrate", "--verbosity", "0"], env=env, check=True)
    elif gunicorn is None:
        cmd = [PYTHON, "-m", "watchword.cli", "serve", "--bind", f"127.0.0.1:{port}"]
        if workers:
            cmd += ["--workers", str(workers)]
    else:  # experiment: gunicorn itself, with serve's options and then the given ones (later ones win)
        extra = shlex.split(gunicorn)
        options = list(SERVE_OPTIONS)
        if "--no-access-log" in extra:  # gunicorn has no switch for "off"; leave the option out
            extra.remove("--no-access-log")
            del options[options.index("--access-logfile"):options.index("--access-logfile") + 2]
        cmd = [PYTHON, "-m", "gunicorn", "watchword.wsgi:application", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers or 2 * (os.cpu_count() or 1)), *options, *extra]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"watchword serve exited:\n{log_path.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/signin")
            if conn.getresponse().status == 200:
                conn.close()
                return proc
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("watchword serve did not answer within 60 s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()  # gunicorn: graceful stop of master and workers
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the process group we started
            proc.wait(timeout=5)


# --- the run -----------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def run(args) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="watchword-bench-"))
    env = {**os.environ, "WATCHWORD_DATA_DIR": str(data_dir), "WATCHWORD_ORGANISATION": "Bench"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    if args.settings:  # an experiment: a settings module from bench/experiments
        env["DJANGO_SETTINGS_MODULE"] = args.settings
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "bench"), env.get("PYTHONPATH")]))
    port = free_port()
    env["WATCHWORD_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    server = spy = None
    clients: list[mp.Process] = []
    try:
        t = time.time()
        init = subprocess.run([PYTHON, "-m", "watchword.cli", "init"], env=env, capture_output=True, text=True,
                              timeout=300)
        if init.returncode:
            raise RuntimeError(f"watchword init failed:\n{init.stderr}")
        people, params = setup_people(env, data_dir, args.users, procs=os.cpu_count() or 2)
        log(f"setup: init + {len(people)} people with enforced MFA and an authenticator in {time.time() - t:.1f} s")
        log(f"server Argon2id parameters: {params}")

        base_before = hash_baseline(params, args.hash_procs, args.baseline_seconds)
        log(f"baseline before: {base_before['hash_per_s']:.1f} hash/s with {args.hash_procs} processes")

        server = start_server(env, port, args.workers, data_dir / "serve.log", args.gunicorn, args.uvicorn)
        log(f"server: pid {server.pid}, http://127.0.0.1:{port}")

        if args.py_spy:
            spy_bin = shutil.which("py-spy", path=str(Path(PYTHON).parent)) or shutil.which("py-spy")
            if not spy_bin:
                raise RuntimeError("--py-spy needs py-spy (.venv/bin/pip install py-spy)")
            spy = subprocess.Popen([spy_bin, "record", "--pid", str(server.pid), "--subprocesses", "--nonblocking",
                                    "--rate", "250", "--format", "raw", "--output", args.py_spy,
                                    "--duration", str(int(args.warmup + args.seconds + 2))],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        queue = mp.Queue()
        shares = [people[i::args.clients] for i in range(args.clients)]
        start_at = time.monotonic() + 0.5
        measure_from = start_at + args.warmup
        stop_at = measure_from + args.seconds
        clients = [mp.Process(target=client_main, args=(i, port, shares[i], start_at, measure_from, stop_at, queue),
                              daemon=True) for i in range(args.clients)]
        for c in clients:
            c.start()
        time.sleep(max(0.0, measure_from - time.monotonic()))
        server_pids = [server.pid] + children_of(server.pid)  # every worker is up after the warm-up
        cpu0 = {pid: proc_cpu(pid) for pid in server_pids}
        ccpu0 = {c.pid: proc_cpu(c.pid) for c in clients}
        busy0, iowait0, steal0, total0 = machine_busy()
        stall0 = io_stall()
        time.sleep(max(0.0, stop_at - time.monotonic()))
        cpu1 = {pid: proc_cpu(pid) for pid in server_pids}
        if sorted(server_pids[1:]) != sorted(children_of(server.pid)):
            log("warning: gunicorn replaced a worker during the window; server CPU is incomplete")
        ccpu1 = {c.pid: proc_cpu(c.pid) for c in clients}
        busy1, iowait1, steal1, total1 = machine_busy()
        stall1 = io_stall()
        results = [queue.get(timeout=120) for _ in clients]
        for c in clients:
            c.join(timeout=30)
        log("load: done")
        if spy is not None:
            spy.wait(timeout=60)
            log(f"py-spy samples (collapsed stacks): {args.py_spy}")

        base_after = hash_baseline(params, args.hash_procs, args.baseline_seconds)
        log(f"baseline after: {base_after['hash_per_s']:.1f} hash/s")
    finally:
        for process in clients:  # only if the run was cut short
            if process.is_alive():
                process.terminate()
        if spy is not None and spy.poll() is None:
            spy.terminate()
        if server is not None:
            stop_server(server)
        if args.keep:
            log(f"data folder kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)

    done = [d for r in results for d in r["done"]]
    durations = [d[1] for d in done]
    requests = [d[2] for d in done]
    errors = sum(r["error_count"] for r in results)
    server_cpu = sum(cpu1[p] - cpu0[p] for p in server_pids)
    client_cpu = sum(ccpu1[p] - ccpu0[p] for p in ccpu1)
    wall = args.seconds
    busy = busy1 - busy0
    capacity = total1 - total0
    hash_rate = (base_before["hash_per_s"] + base_after["hash_per_s"]) / 2
    rate = len(done) / wall
    per_request: dict[str, list[float]] = {}
    per_query: dict[str, list[tuple[int, int]]] = {}
    for r in results:
        for key, values in r["per_request"].items():
            per_request.setdefault(key, []).extend(values)
        for key, values in r["queries"].items():
            per_query.setdefault(key, []).extend(values)

    def request_stats(key: str, values: list[float]) -> dict:
        stats = {"n": len(values), "mean": statistics.fmean(values) * 1000, "p50": percentile(values, 50) * 1000,
                 "p95": percentile(values, 95) * 1000}
        if per_query.get(key):
            stats["sql"] = statistics.fmean(q[0] for q in per_query[key])
            stats["sql_writes"] = statistics.fmean(q[1] for q in per_query[key])
        return stats
    order = ["GET /signin", "POST /signin", "GET /signin/password", "POST /signin/password",
             "GET /signin/verify", "POST /signin/verify", "GET /myaccount"]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cores": os.cpu_count(),
        "clients": args.clients, "workers": len(server_pids) - 1, "users": len(people), "seconds": wall,
        "signins": len(done), "signins_per_s": rate,
        "latency_ms": {"mean": statistics.fmean(durations) * 1000 if durations else float("nan"),
                       "p50": percentile(durations, 50) * 1000, "p95": percentile(durations, 95) * 1000,
                       "p99": percentile(durations, 99) * 1000},
        "requests_per_signin": statistics.fmean(requests) if requests else float("nan"),
        "hash_before": base_before, "hash_after": base_after, "hash_per_s": hash_rate,
        "hash_per_s_per_core": hash_rate / args.hash_procs,
        "ratio": rate / hash_rate,
        "server_cpu_ms_per_signin": server_cpu / len(done) * 1000 if done else float("nan"),
        "client_cpu_ms_per_signin": client_cpu / len(done) * 1000 if done else float("nan"),
        "machine_busy_pct": 100 * busy / capacity,
        "iowait_pct": 100 * (iowait1 - iowait0) / capacity,
        "steal_pct": 100 * (steal1 - steal0) / capacity,
        "io_stall_s": stall1 - stall0,
        "other_cpu_s": busy - server_cpu - client_cpu,
        "waited_s": sum(r["waited"] for r in results),
        "errors": errors, "error_samples": [e for r in results for e in r["errors"]],
        "settings": args.settings or "watchword.settings",
        "server": ("uvicorn watchword.asgi:application" if args.uvicorn else
                   f"gunicorn {args.gunicorn}" if args.gunicorn is not None else "watchword serve"),
        "per_request_ms": {k: request_stats(k, v) for k, v in sorted(per_request.items(), key=lambda kv: order.index(kv[0])
                                              if kv[0] in order else 99)},
    }


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def report(r: dict) -> None:
    lat = r["latency_ms"]
    hb, ha = r["hash_before"], r["hash_after"]
    rows = [
        ("sign-ins/s", f"{r['signins_per_s']:.1f}  ({r['signins']} in {r['seconds']:g} s)"),
        ("latency per sign-in, mean", f"{lat['mean']:.0f} ms"),
        ("latency p50 / p95 / p99", f"{lat['p50']:.0f} / {lat['p95']:.0f} / {lat['p99']:.0f} ms"),
        ("requests per sign-in", f"{r['requests_per_signin']:.1f}"),
        ("baseline Argon2id hash/s", f"{r['hash_per_s']:.1f}  (before {hb['hash_per_s']:.1f}, after "
                                     f"{ha['hash_per_s']:.1f}; {r['hash_per_s_per_core']:.1f} per core, "
                                     f"{hb['cpu_ms_per_hash']:.1f} ms CPU per hash)"),
        ("ratio sign-ins/s ÷ hash/s", f"{r['ratio']:.2f}  (target ≥ 0.60)"),
        ("server CPU per sign-in", f"{r['server_cpu_ms_per_signin']:.1f} ms  (master + {r['workers']} workers; "
                                   f"= {r['server_cpu_ms_per_signin'] / hb['cpu_ms_per_hash']:.2f} hashes)"),
        ("client CPU per sign-in", f"{r['client_cpu_ms_per_signin']:.1f} ms  (same 2 cores)"),
        ("machine busy / others' CPU", f"{r['machine_busy_pct']:.0f} %  / {r['other_cpu_s']:.1f} CPU-s in the window"),
        ("I/O wait / steal / I/O stall", f"{r['iowait_pct']:.1f} % / {r['steal_pct']:.1f} % of CPU time / "
                                         f"{r['io_stall_s']:.1f} s in the window"),
        ("clients waiting for a fresh code", f"{r['waited_s']:.1f} s"),
        ("errors", f"{r['errors']}"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"\nWatchword sign-in benchmark — {r['date']}, {r['cores']} cores, {r['workers']} server workers, "
          f"{r['clients']} clients, {r['users']} people\n  server: {r['server']}, settings {r['settings']}")
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")
    for sample in r["error_samples"]:
        print(f"    error: {sample}")
    sql = any("sql" in v for v in r["per_request_ms"].values())
    print("\n  per request (sign-ins in the window)      n    mean    p50    p95  (ms)" + ("   SQL  writes" if sql else ""))
    for key, v in r["per_request_ms"].items():
        extra = f" {v['sql']:5.1f} {v['sql_writes']:6.1f}" if "sql" in v else ""
        print(f"    {key:<36} {v['n']:6d} {v['mean']:7.1f} {v['p50']:6.1f} {v['p95']:6.1f}{extra}")
    if sql:
        total = sum(v["sql"] for v in r["per_request_ms"].values())
        writes = sum(v["sql_writes"] for v in r["per_request_ms"].values())
        print(f"    SQL statements per sign-in: {total:.1f} ({writes:.1f} writes)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="measured window (default 20)")
    parser.add_argument("--warmup", type=float, default=3, help="load before the window (default 3)")
    parser.add_argument("--clients", type=int, default=3, help="concurrent client processes (default 3)")
    parser.add_argument("--workers", type=int, default=None,
                        help="server workers (default: the server's own default, one per core)")
    parser.add_argument("--users", type=int, default=3000,
                        help="people to sign in (default 3000: a code verifies once per person and time step, so "
                             "N ÷ 30 s bounds the sustainable rate)")
    parser.add_argument("--hash-procs", type=int, default=os.cpu_count() or 2,
                        help="processes for the Argon2id baseline (default: the machine's cores)")
    parser.add_argument("--baseline-seconds", type=float, default=5, help="each baseline measurement (default 5)")
    parser.add_argument("--settings", metavar="MODULE",
                        help="experiment: a Django settings module from bench/experiments, e.g. "
                             "experiments.settings_persistent_db (default: watchword.settings)")
    parser.add_argument("--gunicorn", metavar="ARGS",
                        help="experiment: run gunicorn directly with serve's options plus ARGS, write it as "
                             "--gunicorn='--no-access-log' or '--worker-class gthread --threads 1 --keep-alive 5'")
    parser.add_argument("--uvicorn", action="store_true",
                        help="experiment: serve the same application under ASGI with uvicorn workers (needs "
                             "'.venv/bin/pip install uvicorn') instead of watchword serve's WSGI workers")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--py-spy", metavar="FILE",
                        help="sample the server with py-spy during the run; collapsed stacks to FILE (adds load)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder (server log, database)")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.users < args.clients or args.seconds <= 0:
        parser.error("need --clients ≥ 1, --users ≥ --clients and --seconds > 0")
    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        result = run(args)
    except KeyboardInterrupt:
        log("interrupted; server stopped")
        return 130
    report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
