#!/usr/bin/env python
"""Verification API benchmark: ``POST /api/v1/verify`` with fresh valid TOTP codes for many people,
audit on, against privacyIDEA's ``POST /validate/check`` with TOTP tokens of the same seeds,
measured one after the other on this machine with the same client and the same load.

    .venv/bin/python bench/verify.py [--users N] [--seconds S] [--concurrency C] [--skip-privacyidea]

Prints requests/s, p50/p99 latency, server CPU per request and the accept rate for each side, and
the ratio (target: Watchword ≥ 20× privacyIDEA's throughput). The exit status is 1 if a side
failed its accept/reject check, refused a fresh code in the warm-up or accepted fewer than 99 % of
the fresh codes in the window. The first run
installs privacyIDEA from PyPI into bench/privacyidea/.venv and enrols its tokens (both kept).
Traffic goes to 127.0.0.1 only; servers and temporary folders are removed at the end, also on error
or Ctrl+C. See bench/README.md ("Verification API against privacyIDEA").
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import heapq
import hmac
import http.client
import json
import multiprocessing as mp
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from signin import children_of, free_port, log, machine_busy, percentile, proc_cpu, stop_server
from signin import start_server as start_watchword

sys.path.insert(0, str(Path(__file__).resolve().parent / "privacyidea"))
import peer  # noqa: E402  (bench/privacyidea/peer.py)

PYTHON = sys.executable
STEP = 30
SEED_KEY = b"watchword bench/verify.py seeds"
TARGET = 20.0
MIN_ACCEPT = 0.99


# --- people: the same seeds on both sides ------------------------------------------------------

def seed_of(i: int) -> str:
    """Person i's TOTP seed: 160 bits (like Watchword's own), Base32, derived from i, so privacyIDEA's
    tokens can be enrolled once and kept between runs."""
    return base64.b32encode(hmac.new(SEED_KEY, str(i).encode(), hashlib.sha1).digest()).decode()


def upn_of(i: int) -> str:
    return f"verify{i:06d}@bench.example"


def serial_of(i: int) -> str:
    return f"WWBENCH{i:06d}"


def totp(key: bytes, step: int) -> str:
    """RFC 6238 with SHA-1 and 6 digits (RFC 4226 §5.3 truncation)."""
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


SETUP_CODE = r"""
import json, secrets, sys
from datetime import datetime, timezone as tz
import django
django.setup()
from django.conf import settings
from django.db import transaction
from watchword.directory.services import create_user
from watchword.methods import totp as totp_module
from watchword.methods.services import complete_registration, set_mfa_state
from watchword.methods.totp import TotpMethod, code_at, time_step

seeds, part, parts, out = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
method_type = TotpMethod()
last = {}
todo = list(range(part, len(seeds), parts))
for start in range(0, len(todo), 50):
    with transaction.atomic():
        for i in todo[start:start + 50]:
            user = create_user({"upn": f"verify{i:06d}@bench.example", "display_name": f"Verify Person {i}",
                                "role": "user"}, actor="bench", password="Bq-" + secrets.token_urlsafe(12)).user
            user = set_mfa_state(user, "enforced", actor="bench", notify=False)
            now = datetime.now(tz.utc)
            totp_module.new_secret = lambda seed=seeds[i]: seed  # the enrolment, with the bench's seed
            pending = method_type.begin_enrolment(user=user, issuer=settings.ORGANISATION_NAME, now=now)
            method = method_type.confirm_enrolment(user=user, pending=pending, now=now, name="Bench phone",
                                                   response=code_at(seeds[i], time_step(now)))
            complete_registration(user, method)
            last[i] = method.last_used_step
json.dump(last, open(out, "w"))
"""


def setup_watchword(env: dict, data_dir: Path, users: int) -> dict[int, int]:
    """People with enforced MFA and an authenticator app of the bench's seed, through Watchword's
    services (``create_user``, ``set_mfa_state``, ``TotpMethod.begin_enrolment`` /
    ``confirm_enrolment``, ``complete_registration``). Returns each person's last used step.
    One process, 50 people per transaction: nearly all of the work is ORM inside the write
    transaction, so a second process would only wait for SQLite's lock. Passwords are hashed with
    cheap Argon2id parameters in setup only: nothing here signs in with one."""
    seeds_file, out = data_dir / "seeds.json", data_dir / "last.json"
    seeds_file.write_text(json.dumps([seed_of(i) for i in range(users)]))
    setup_env = {**env, "DJANGO_SETTINGS_MODULE": "watchword.settings",
                 "WATCHWORD_ARGON2_MEMORY_KIB": "1024", "WATCHWORD_ARGON2_ITERATIONS": "1"}
    result = subprocess.run([PYTHON, "-c", SETUP_CODE, str(seeds_file), "0", "1", str(out)], env=setup_env,
                            capture_output=True, text=True, timeout=3600)
    if result.returncode:
        raise RuntimeError(f"setup failed:\n{result.stderr[-3000:]}")
    last = {int(k): v for k, v in json.loads(out.read_text()).items()}
    out.unlink()
    seeds_file.unlink()
    return last


def create_api_token(env: dict) -> str:
    result = subprocess.run([PYTHON, "-m", "watchword.cli", "api", "token", "create", "--user", "admin@watchword.local",
                             "--name", "bench-verify", "--scopes", "verify", "--days", "1"],
                            env=env, capture_output=True, text=True, timeout=120)
    tokens = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("wwp_")]
    if result.returncode or len(tokens) != 1:
        raise RuntimeError(f"watchword api token create failed:\n{result.stdout}{result.stderr}")
    return tokens[0]


# --- the client: one request at a time per process, the same for both sides -------------------

class Side:
    """How one verifier is asked: ``send`` returns (accepted, what the answer said)."""

    def __init__(self, kind: str, port: int, token: str = "") -> None:
        self.kind, self.port, self.token = kind, port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.connects = 0
        self.retries = 0

    def request(self, i: int, code: str) -> tuple[int, bytes]:
        if self.kind == "watchword":
            path, body = "/api/v1/verify", json.dumps({"user": upn_of(i), "code": code})
            headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        else:
            path, body = "/validate/check", urlencode({"serial": serial_of(i), "pass": code})
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        headers["Accept"] = "application/json"
        for attempt in (0, 1):
            reused = self.conn.sock is not None
            if not reused:
                self.connects += 1
            try:
                self.conn.request("POST", path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                if attempt or not reused:  # only a kept-alive connection the server closed is retried
                    raise
                self.retries += 1
        if resp.will_close:
            self.conn.close()
        return resp.status, data

    def send(self, i: int, code: str) -> tuple[bool, str]:
        status, data = self.request(i, code)
        try:
            answer = json.loads(data)
        except ValueError:
            return False, f"{status} {data[:120]!r}"
        if self.kind == "watchword":
            ok = status == 200 and answer.get("result") == "accept"
            return ok, f"{status} {answer.get('reason') or answer.get('code') or answer.get('result')}"
        result = answer.get("result") or {}
        ok = status == 200 and result.get("value") is True
        return ok, f"{status} {result.get('authentication') or result.get('error')}"


def next_code_step(last: int, now: float) -> int | None:
    """The oldest step both verifiers still accept (one step either side of now) that is newer than
    the person's last accepted one; None if the person has used all of them. A previous step's code
    is not sent in a step's last second, so it cannot expire on the way."""
    current = int(now) // STEP
    lowest = current - 1 if now % STEP < STEP - 1 else current
    step = max(last + 1, lowest)
    return step if step <= current + 1 else None


def client_main(index: int, kind: str, port: int, token: str, people: list[tuple[int, int]],
                start_at: float, measure_from: float, stop_at: float, queue) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    keys = {i: base64.b32decode(seed_of(i)) for i, _ in people}
    ready = [(last, i) for i, last in people]  # the person whose last code is oldest comes first
    heapq.heapify(ready)
    side = Side(kind, port, token)
    samples: list[tuple[float, bool]] = []  # (latency, accepted) of requests inside the window
    outside = {"requests": 0, "refused": 0}
    errors: list[str] = []
    waited = 0.0
    while time.monotonic() < start_at:
        time.sleep(0.005)
    while True:
        now = time.monotonic()
        if now >= stop_at:
            break
        last, i = heapq.heappop(ready)
        step = next_code_step(last, time.time())
        if step is None:  # every person of this client has used every code still accepted
            heapq.heappush(ready, (last, i))
            pause = min(STEP - time.time() % STEP + 0.02, stop_at - now)
            if now >= measure_from:
                waited += pause
            side.conn.close()
            time.sleep(max(pause, 0))
            continue
        t0 = time.monotonic()
        try:
            ok, said = side.send(i, totp(keys[i], step))
        except (OSError, http.client.HTTPException) as exc:
            ok, said = False, f"{type(exc).__name__}: {exc}"
            side.conn.close()
        t1 = time.monotonic()
        heapq.heappush(ready, (step, i))
        if t0 >= measure_from and t1 <= stop_at:
            samples.append((t1 - t0, ok))
        elif t1 <= stop_at:
            outside["requests"] += 1
            outside["refused"] += not ok
        if not ok and len(errors) < 5:
            errors.append(f"{upn_of(i) if kind == 'watchword' else serial_of(i)} step {step}: {said}")
    side.conn.close()
    queue.put({"index": index, "samples": samples, "outside": outside, "errors": errors, "waited": waited,
               "connects": side.connects, "retries": side.retries})


# --- one side: probe, load, CPU ---------------------------------------------------------------

def probe(kind: str, port: int, token: str, last: int) -> dict:
    """Person 0 (not in the load): a fresh code is accepted, the same code again and a wrong code
    are refused. Both verifiers must pass this for the comparison to be honest. ``last`` is the
    step of person 0's last accepted code (enrolment's, on Watchword's side)."""
    side = Side(kind, port, token)
    key = base64.b32decode(seed_of(0))
    while True:  # the current step's code (the next step's if the current one was used), not at a step's edge
        now = time.time()
        step = max(int(now) // STEP, last + 1)
        if now % STEP < STEP - 2 and step <= int(now) // STEP + 1:
            break
        time.sleep(STEP - now % STEP + 0.1)
    code = totp(key, step)
    near = {totp(key, s) for s in range(step - 8, step + 9)}  # privacyIDEA looks ±6 steps around its clock
    wrong = next(f"{(int(code) + k) % 1_000_000:06d}" for k in range(1, 100)
                 if f"{(int(code) + k) % 1_000_000:06d}" not in near)
    checks = {"fresh": side.send(0, code), "replayed": side.send(0, code), "wrong": side.send(0, wrong)}
    side.conn.close()
    passed = checks["fresh"][0] and not checks["replayed"][0] and not checks["wrong"][0]
    return {"passed": passed, **{k: f"{'accept' if ok else 'reject'} ({said})" for k, (ok, said) in checks.items()}}


def measure(kind: str, server, port: int, token: str, last: dict[int, int], args) -> dict:
    people = sorted((i, s) for i, s in last.items() if i != 0)
    checked = probe(kind, port, token, last[0])
    log(f"{kind}: accept/reject check: fresh code {checked['fresh']}, same code again {checked['replayed']}, "
        f"wrong code {checked['wrong']}")
    queue = mp.Queue()
    start_at = time.monotonic() + 0.3
    measure_from = start_at + args.warmup
    stop_at = measure_from + args.seconds
    clients = [mp.Process(target=client_main, daemon=True,
                          args=(k, kind, port, token, people[k::args.concurrency], start_at, measure_from, stop_at,
                                queue)) for k in range(args.concurrency)]
    try:
        for c in clients:
            c.start()
        time.sleep(max(0.0, measure_from - time.monotonic()))
        pids = [server.pid] + children_of(server.pid)
        cpu0 = {p: proc_cpu(p) for p in pids}
        ccpu0 = {c.pid: proc_cpu(c.pid) for c in clients}
        busy0, _, steal0, total0 = machine_busy()
        time.sleep(max(0.0, stop_at - time.monotonic()))
        cpu1 = {p: proc_cpu(p) for p in pids}
        ccpu1 = {c.pid: proc_cpu(c.pid) for c in clients}
        busy1, _, steal1, total1 = machine_busy()
        if sorted(pids[1:]) != sorted(children_of(server.pid)):
            log(f"{kind}: warning: a server process was replaced during the window; server CPU is incomplete")
        results = [queue.get(timeout=120) for _ in clients]
        for c in clients:
            c.join(timeout=30)
    finally:
        for c in clients:
            if c.is_alive():
                c.terminate()
    samples = [s for r in results for s in r["samples"]]
    latencies = [lat for lat, _ in samples]
    accepted = sum(ok for _, ok in samples)
    n = len(samples)
    server_cpu = sum(cpu1[p] - cpu0[p] for p in pids)
    client_cpu = sum(ccpu1[p] - ccpu0[p] for p in ccpu1)
    return {
        "requests": n, "requests_per_s": n / args.seconds, "accepted": accepted,
        "accept_rate": accepted / n if n else 0.0,
        "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
        "mean_ms": sum(latencies) / n * 1000 if n else float("nan"),
        "server_cpu_ms": server_cpu / n * 1000 if n else float("nan"),
        # the process the bench started: Watchword's front (``watchword serve``), privacyIDEA's gunicorn master
        "top_process_cpu_ms": (cpu1[server.pid] - cpu0[server.pid]) / n * 1000 if n else float("nan"),
        "client_cpu_ms": client_cpu / n * 1000 if n else float("nan"),
        "server_processes": len(pids),
        "others_cpu_s": (busy1 - busy0) - server_cpu - client_cpu,
        "steal_pct": 100 * (steal1 - steal0) / (total1 - total0),
        "connects": sum(r["connects"] for r in results), "retries": sum(r["retries"] for r in results),
        "waited_s": sum(r["waited"] for r in results),
        "warmup_requests": sum(r["outside"]["requests"] for r in results),
        "warmup_refused": sum(r["outside"]["refused"] for r in results),
        "errors": [e for r in results for e in r["errors"]][:8],
        "probe": checked,
    }


# --- the run -----------------------------------------------------------------------------------

def run(args) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="watchword-bench-verify-"))
    env = {**os.environ, "WATCHWORD_DATA_DIR": str(data_dir), "WATCHWORD_ORGANISATION": "Bench"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cores": os.cpu_count(), "users": args.users,
                     "seconds": args.seconds, "warmup": args.warmup, "concurrency": args.concurrency,
                     "workers": args.workers, "privacyidea_journal": args.pi_journal}
    server = None
    try:
        if not args.skip_privacyidea:
            peer.ensure_venv()
            template = peer.ensure_template([(serial_of(i), seed_of(i)) for i in range(args.users)])
            peer.prepare_run(template, data_dir / "privacyidea", args.pi_journal)
        t = time.time()
        port = free_port()
        env["WATCHWORD_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
        init = subprocess.run([PYTHON, "-m", "watchword.cli", "init"], env=env, capture_output=True, text=True,
                              timeout=300)
        if init.returncode:
            raise RuntimeError(f"watchword init failed:\n{init.stderr}")
        ww_last = setup_watchword(env, data_dir, args.users)
        token = create_api_token(env)
        log(f"watchword: init + {len(ww_last)} people with an authenticator app + an API token in "
            f"{time.time() - t:.0f} s")

        if not args.skip_privacyidea:
            pi_port = free_port()
            server = peer.start_server(data_dir / "privacyidea", pi_port, args.workers)
            log(f"privacyidea: gunicorn pid {server.pid}, http://127.0.0.1:{pi_port}, {args.workers} workers")
            results["privacyidea"] = measure("privacyidea", server, pi_port, "", {i: -1 for i in range(args.users)},
                                             args)
            stop_server(server)
            server = None
            log("privacyidea: done")

        server = start_watchword(env, port, args.workers, data_dir / "serve.log")
        log(f"watchword: serve pid {server.pid}, http://127.0.0.1:{port}, {args.workers} workers")
        results["watchword"] = measure("watchword", server, port, token, ww_last, args)
        stop_server(server)
        server = None
        log("watchword: done")
    finally:
        if server is not None:
            stop_server(server)
        if args.keep:
            log(f"data folder kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    return results


def verdict(side: dict) -> bool:
    return side["probe"]["passed"] and side["accept_rate"] >= MIN_ACCEPT and not side["warmup_refused"]


def report(r: dict) -> None:
    sides = [("Watchword", r["watchword"])] + ([(f"privacyIDEA {peer.VERSION}", r["privacyidea"])]
                                                if "privacyidea" in r else [])
    rows = [
        ("requests/s", lambda s: f"{s['requests_per_s']:.1f}"),
        ("latency p50 / p99", lambda s: f"{s['p50_ms']:.1f} / {s['p99_ms']:.1f} ms"),
        ("server CPU per request", lambda s: f"{s['server_cpu_ms']:.2f} ms"),
        ("  of which the parent process", lambda s: f"{s['top_process_cpu_ms']:.2f} ms"),
        ("client CPU per request", lambda s: f"{s['client_cpu_ms']:.2f} ms"),
        ("accept rate", lambda s: f"{100 * s['accept_rate']:.2f} % ({s['accepted']}/{s['requests']})"),
        ("accept/reject check", lambda s: "passed" if s["probe"]["passed"] else "FAILED"),
        ("refused in warm-up", lambda s: f"{s['warmup_refused']} of {s['warmup_requests']}"),
        ("TCP connections opened",
         lambda s: f"{s['connects']}" + (f" ({s['retries']} retried)" if s["retries"] else "")),
        ("waited for fresh codes", lambda s: f"{s['waited_s']:.1f} s"),
        ("others' CPU in the window", lambda s: f"{s['others_cpu_s']:.1f} CPU-s"),
        ("steal (CPU taken by the host)", lambda s: f"{s['steal_pct']:.1f} %"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"\nVerification API benchmark — {r['date']}, {r['cores']} cores, {r['workers']} server workers each, "
          f"{r['concurrency']} clients, {r['users']} people, {r['seconds']:g} s window after {r['warmup']:g} s warm-up")
    print("  " + " " * width + "".join(f"  {name:>26}" for name, _ in sides))
    for label, cell in rows:
        print(f"  {label.ljust(width)}" + "".join(f"  {cell(s):>26}" for _, s in sides))
    for name, s in sides:
        for e in s["errors"]:
            print(f"    {name} refused: {e}")
        if s["waited_s"] > 0:
            print(f"    {name}: the clients ran out of fresh codes for {s['waited_s']:.1f} s: requests/s is bounded "
                  f"by --users, not by the server; run with more people")
    if "privacyidea" in r:
        ww, pi = r["watchword"], r["privacyidea"]
        ratio = ww["requests_per_s"] / pi["requests_per_s"] if pi["requests_per_s"] else float("inf")
        cpu_ratio = pi["server_cpu_ms"] / ww["server_cpu_ms"] if ww["server_cpu_ms"] else float("inf")
        r["ratio"], r["cpu_ratio"] = ratio, cpu_ratio
        print(f"\n  Watchword ÷ privacyIDEA: {ratio:.1f}× the requests/s, {cpu_ratio:.1f}× less server CPU per request"
              f"  (target ≥ {TARGET:g}× the requests/s: {'met' if ratio >= TARGET else 'NOT met'})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000,
                        help="people on each side (default 5000; a code verifies once per person, so with N people "
                             "up to 3N codes are usable at the start and N more every 30 s)")
    parser.add_argument("--seconds", type=float, default=15, help="measured window on each side (default 15)")
    parser.add_argument("--warmup", type=float, default=3, help="load before each window, not counted (default 3)")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="client processes, each sending one request at a time (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes on each side (default 2)")
    parser.add_argument("--skip-privacyidea", action="store_true", help="measure Watchword only (a quick run)")
    parser.add_argument("--pi-journal", choices=["wal", "delete"], default="wal",
                        help="SQLite journal mode of privacyIDEA's database: wal, as Watchword's (default), or "
                             "delete, SQLite's and privacyIDEA's own default")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder (logs, databases)")
    args = parser.parse_args(argv)
    if args.users < args.concurrency + 1 or args.seconds <= 0 or args.concurrency < 1:
        parser.error("need --concurrency ≥ 1, --users > --concurrency and --seconds > 0")

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        result = run(args)
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        return 130
    report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    sides = [result["watchword"]] + ([result["privacyidea"]] if "privacyidea" in result else [])
    return 0 if all(verdict(s) for s in sides) else 1


if __name__ == "__main__":
    sys.exit(main())
