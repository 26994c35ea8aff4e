#!/usr/bin/env python
"""RADIUS benchmark: Access-Requests per second against a real ``watchword radius serve``, in the
``password,123456`` form (PAP with a fresh authenticator code: a real Argon2id password check and
a real, replay-safe TOTP check per request), compared with baselines measured in the same run:
PAP-only requests for people without MFA (the password check alone) and bare Argon2id hashes.

    .venv/bin/python bench/radius.py [--seconds S] [--clients C] [--users N]

Clients are processes using pyrad's client (Message-Authenticator on every request, required on
every reply), one request at a time each. Prints figures; asserts nothing about time. Traffic goes
to 127.0.0.1 only; the server and the temporary data folder are removed at the end, also on error
or Ctrl+C. See bench/README.md for what is measured and why.
"""

from __future__ import annotations

import argparse
import heapq
import json
import multiprocessing as mp
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from signin import PYTHON, ROOT, STEP, hash_baseline, machine_busy, percentile, proc_cpu

DICTIONARY = ROOT / "src" / "watchword" / "protocols" / "dictionary"

# People: half of the setup processes' work is Argon2id, as in production (create_user hashes).
SETUP_CODE = r"""
import json, secrets, sys
import django
django.setup()
from datetime import datetime, timezone as tz
from django.conf import settings
from watchword.directory.services import create_user
from watchword.methods.services import set_mfa_state, complete_registration
from watchword.methods.totp import TotpMethod, code_at, time_step

start, stride, count, plain, out = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
                                    sys.argv[5])
totp = TotpMethod()
rows = []
for i in range(start, count + plain, stride):
    mfa = i < count
    upn = f"{'mfa' if mfa else 'pap'}{i:05d}@bench.example"
    password = "Bq-" + secrets.token_urlsafe(12)
    user = create_user({"upn": upn, "display_name": f"Bench Person {i}", "role": "user"},
                       actor="bench", password=password).user
    row = {"upn": upn, "password": password, "mfa": mfa}
    if mfa:
        user = set_mfa_state(user, "enforced", actor="bench", notify=False)
        now = datetime.now(tz.utc)
        pending = totp.begin_enrolment(user=user, issuer=settings.ORGANISATION_NAME, now=now)
        secret = totp.pending_secret(user=user, pending=pending)
        method = totp.confirm_enrolment(user=user, pending=pending, response=code_at(secret, time_step(now)),
                                        now=now, name="Bench phone")
        complete_registration(user, method)
        row.update(secret=secret, last_step=method.last_used_step)
    rows.append(row)
with open(out, "w") as fh:
    json.dump(rows, fh)
if start == 0:
    print(json.dumps({"memory_cost": settings.ARGON2_MEMORY_KIB, "time_cost": settings.ARGON2_ITERATIONS,
                      "parallelism": settings.ARGON2_PARALLELISM}))
"""


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def setup_people(env: dict, data_dir: Path, mfa: int, plain: int, procs: int) -> tuple[list[dict], list[dict], dict]:
    jobs = []
    for k in range(procs):
        out = data_dir / f"people-{k}.json"
        jobs.append((out, subprocess.Popen([PYTHON, "-c", SETUP_CODE, str(k), str(procs), str(mfa), str(plain),
                                            str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           text=True)))
    people, params = [], {}
    for out, proc in jobs:
        stdout, stderr = proc.communicate(timeout=3600)
        if proc.returncode != 0:
            raise RuntimeError(f"setup failed:\n{stderr[-3000:]}")
        if stdout.strip():
            params = json.loads(stdout.strip().splitlines()[-1])
        people.extend(json.loads(out.read_text()))
        out.unlink()
    people.sort(key=lambda p: p["upn"])
    return [p for p in people if p["mfa"]], [p for p in people if not p["mfa"]], params


# --- the clients -----------------------------------------------------------------------------------


def client_main(index: int, port: int, secret: str, mode: str, people: list[dict], start_at: float,
                measure_from: float, stop_at: float, queue) -> None:
    """One NAS-like client: one request at a time, the next one as soon as the reply came.
    ``mode`` "code": ``password,code`` for people with MFA; "pap": the password alone."""
    import pyotp
    from pyrad import packet as rp
    from pyrad.client import Client, Timeout
    from pyrad.dictionary import Dictionary

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    client = Client(server="127.0.0.1", authport=port, secret=secret.encode(), dict=Dictionary(str(DICTIONARY)),
                    retries=1, timeout=30, enforce_ma=True)
    totps = {p["upn"]: pyotp.TOTP(p["secret"]) for p in people if p["mfa"]}
    ready = [(p.get("last_step", 0), i, p) for i, p in enumerate(people)]
    heapq.heapify(ready)
    done: list[float] = []  # latency of each request in the window
    errors: list[str] = []
    error_count, waited = 0, 0.0

    def password_of(person: dict) -> str:
        if mode == "pap":
            return person["password"]
        # The code the person's app shows now; if that step was already used, the next step's,
        # accepted within the ±1 step drift (a code verifies once per person and step).
        step = int(time.time()) // STEP
        use = step if step > person["last_step"] else step + 1
        person["last_step"] = use
        return f"{person['password']},{totps[person['upn']].generate_otp(use)}"

    while time.monotonic() < start_at:
        time.sleep(0.005)
    while True:
        now = time.monotonic()
        if now >= stop_at:
            break
        last, i, person = heapq.heappop(ready)
        if mode == "code" and last >= int(time.time()) // STEP + 1:  # everyone used this step and the next
            heapq.heappush(ready, (last, i, person))
            pause = min(STEP - time.time() % STEP + 0.05, stop_at - now)
            waited += max(0.0, min(now + pause, stop_at) - max(now, measure_from))  # the part in the window
            time.sleep(max(pause, 0))
            continue
        pkt = client.CreateAuthPacket(User_Name=person["upn"])
        pkt["User-Password"] = pkt.PwCrypt(password_of(person))
        t0 = time.monotonic()
        try:
            reply = client.SendPacket(pkt)
            message = "" if reply.code == rp.AccessAccept else f"code {reply.code} {reply.get('Reply-Message')}"
        except Timeout:
            message = "no reply"
        t1 = time.monotonic()
        heapq.heappush(ready, (person["last_step"] if mode == "code" else last + 1, i, person))  # pap: in turn
        if t1 > stop_at:
            continue
        if not message and t0 >= measure_from:
            done.append(t1 - t0)
        elif message:
            error_count += 1
            if len(errors) < 5:
                errors.append(f"{person['upn']}: {message}")
    queue.put({"index": index, "done": done, "errors": errors, "error_count": error_count, "waited": waited,
               "last_steps": {p["upn"]: p["last_step"] for p in people if p["mfa"]}})


# --- the server --------------------------------------------------------------------------------------


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env: dict, port: int, log_path: Path) -> subprocess.Popen:
    log_file = open(log_path, "w")
    proc = subprocess.Popen([PYTHON, "-m", "watchword.cli", "radius", "serve", "--bind", f"127.0.0.1:{port}"],
                            env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 60
    while "listening" not in log_path.read_text(errors="replace"):
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"watchword radius serve did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)
    return proc


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the session we started
            proc.wait(timeout=5)


def load(args, port: int, secret: str, mode: str, people: list[dict], seconds: float, server_pid: int) -> dict:
    """C clients for warm-up + ``seconds``; the figures of the window."""
    queue = mp.Queue()
    shares = [people[i::args.clients] for i in range(args.clients)]
    start_at = time.monotonic() + 0.5
    measure_from = start_at + args.warmup
    stop_at = measure_from + seconds
    clients = [mp.Process(target=client_main, args=(i, port, secret, mode, shares[i], start_at, measure_from,
                                                     stop_at, queue), daemon=True) for i in range(args.clients)]
    try:
        for c in clients:
            c.start()
        time.sleep(max(0.0, measure_from - time.monotonic()))
        cpu0, ccpu0, busy0 = proc_cpu(server_pid), {c.pid: proc_cpu(c.pid) for c in clients}, machine_busy()
        time.sleep(max(0.0, stop_at - time.monotonic()))
        cpu1, ccpu1, busy1 = proc_cpu(server_pid), {c.pid: proc_cpu(c.pid) for c in clients}, machine_busy()
        results = [queue.get(timeout=120) for _ in clients]
        for c in clients:
            c.join(timeout=30)
    finally:
        for c in clients:
            if c.is_alive():
                c.terminate()
    steps = {upn: step for r in results for upn, step in r["last_steps"].items()}
    for person in people:  # the next window goes on from the steps this one used
        if person["upn"] in steps:
            person["last_step"] = steps[person["upn"]]
    server_cpu = cpu1 - cpu0
    client_cpu = sum(ccpu1[p] - ccpu0[p] for p in ccpu1)
    busy = busy1[0] - busy0[0]
    return {
        "mode": mode, "seconds": seconds, "latencies": [d for r in results for d in r["done"]],
        "server_cpu_s": server_cpu, "client_cpu_s": client_cpu, "other_cpu_s": busy - server_cpu - client_cpu,
        "machine_busy_pct": 100 * busy / (busy1[3] - busy0[3]),
        "waited_s": sum(r["waited"] for r in results),
        "errors": sum(r["error_count"] for r in results),
        "error_samples": [e for r in results for e in r["errors"]],
    }


def pooled(windows: list[dict]) -> dict:
    """The figures of several windows of one kind, together."""
    latencies = [d for w in windows for d in w["latencies"]]
    n, seconds = len(latencies), sum(w["seconds"] for w in windows)
    return {
        "windows": len(windows), "seconds": seconds, "requests": n, "per_s": n / seconds,
        "per_s_each": [len(w["latencies"]) / w["seconds"] for w in windows],
        "server_cpu_ms_each": [w["server_cpu_s"] / len(w["latencies"]) * 1000 if w["latencies"] else float("nan")
                               for w in windows],
        "other_cpu_s_each": [w["other_cpu_s"] for w in windows],
        "latency_ms": {"mean": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
                       "p50": percentile(latencies, 50) * 1000, "p99": percentile(latencies, 99) * 1000},
        "server_cpu_ms": sum(w["server_cpu_s"] for w in windows) / n * 1000 if n else float("nan"),
        "client_cpu_ms": sum(w["client_cpu_s"] for w in windows) / n * 1000 if n else float("nan"),
        "other_cpu_s": sum(w["other_cpu_s"] for w in windows),
        "machine_busy_pct": statistics.fmean(w["machine_busy_pct"] for w in windows),
        "waited_s": sum(w["waited_s"] for w in windows),
        "errors": sum(w["errors"] for w in windows),
        "error_samples": [e for w in windows for e in w["error_samples"]][:10],
    }


# --- the run -------------------------------------------------------------------------------------------


def run(args) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="watchword-bench-radius-"))
    env = {**os.environ, "WATCHWORD_DATA_DIR": str(data_dir), "WATCHWORD_ORGANISATION": "Bench",
           "DJANGO_SETTINGS_MODULE": "watchword.settings"}
    port, secret = free_udp_port(), secrets.token_urlsafe(24)
    server = None
    try:
        t = time.time()
        init = subprocess.run([PYTHON, "-m", "watchword.cli", "init"], env=env, capture_output=True, text=True,
                              timeout=300)
        if init.returncode:
            raise RuntimeError(f"watchword init failed:\n{init.stderr}")
        mfa_people, pap_people, params = setup_people(env, data_dir, args.users, args.pap_users,
                                                      procs=os.cpu_count() or 2)
        added = subprocess.run([PYTHON, "-m", "watchword.cli", "radius", "client", "add", "bench", "--address",
                                "127.0.0.1", "--secret-stdin"], input=secret + "\n", env=env, capture_output=True,
                               text=True, timeout=60)
        if added.returncode:
            raise RuntimeError(f"radius client add failed:\n{added.stderr}")
        log(f"setup: {len(mfa_people)} people with enforced MFA and an authenticator, {len(pap_people)} without "
            f"MFA, in {time.time() - t:.1f} s; Argon2id {params}")

        hashes_before = hash_baseline(params, args.hash_procs, args.baseline_seconds)
        log(f"Argon2id before: {hashes_before['hash_per_s']:.1f} hash/s with {args.hash_procs} processes")
        server = start_server(env, port, data_dir / "radius.log")
        log(f"server: pid {server.pid}, udp 127.0.0.1:{port}, {args.clients} clients")
        windows = {"pap": [], "code": []}
        for k in range(args.rounds):  # interleaved, so that a busy minute on a shared machine hits both
            for mode, people in (("pap", pap_people), ("code", mfa_people)):
                window = load(args, port, secret, mode, people, args.seconds, server.pid)
                windows[mode].append(window)
                log(f"round {k + 1}, {'PAP only' if mode == 'pap' else 'PAP + code'}: "
                    f"{len(window['latencies']) / args.seconds:.1f}/s, others' CPU {window['other_cpu_s']:.1f} CPU-s")
        stop_server(server)
        server = None
        hashes_after = hash_baseline(params, args.hash_procs, args.baseline_seconds)
        log(f"Argon2id after: {hashes_after['hash_per_s']:.1f} hash/s")
    finally:
        if server is not None:
            stop_server(server)
        if args.keep:
            log(f"data folder kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    code, pap = pooled(windows["code"]), pooled(windows["pap"])
    hash_rate = (hashes_before["hash_per_s"] + hashes_after["hash_per_s"]) / 2
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cores": os.cpu_count(), "clients": args.clients,
        "users": len(mfa_people), "pap_users": len(pap_people), "rounds": args.rounds,
        "code": code, "pap": pap, "hash_before": hashes_before, "hash_after": hashes_after, "hash_per_s": hash_rate,
        "ratio_to_pap": code["per_s"] / pap["per_s"], "ratio_to_hash": code["per_s"] / hash_rate,
        "ratio_each_round": [c / p for c, p in zip(code["per_s_each"], pap["per_s_each"])],
        "errors": code["errors"] + pap["errors"],
    }


def report(r: dict) -> None:
    code, pap, hb = r["code"], r["pap"], r["hash_before"]

    def row(figures: dict) -> str:
        lat = figures["latency_ms"]
        each = " / ".join(f"{x:.1f}" for x in figures["per_s_each"])
        return (f"{figures['per_s']:.1f}/s  ({figures['requests']} in {figures['seconds']:g} s; each window {each}); "
                f"p50 / p99 {lat['p50']:.1f} / {lat['p99']:.1f} ms")

    def cpu(figures: dict) -> str:
        return f"{figures['server_cpu_ms']:.1f} ms  (= {figures['server_cpu_ms'] / hb['cpu_ms_per_hash']:.2f} hashes)"

    rows = [
        ("PAP + code (password,123456)", row(code)),
        ("PAP only (no MFA)", row(pap)),
        ("ratio PAP + code ÷ PAP only", f"{r['ratio_to_pap']:.2f}  (each round "
                                        f"{' / '.join(f'{x:.2f}' for x in r['ratio_each_round'])})"),
        ("server CPU per request, PAP + code", cpu(code)),
        ("server CPU per request, PAP only", cpu(pap)),
        ("what MFA adds", f"{code['server_cpu_ms'] - pap['server_cpu_ms']:.1f} ms of server CPU per request"),
        ("Argon2id hash/s (in-process)", f"{r['hash_per_s']:.1f}  (before {hb['hash_per_s']:.1f}, after "
                                         f"{r['hash_after']['hash_per_s']:.1f}; {hb['cpu_ms_per_hash']:.1f} ms CPU "
                                         f"per hash)"),
        ("ratio PAP + code ÷ hash/s", f"{r['ratio_to_hash']:.2f}"),
        ("client CPU per request", f"{code['client_cpu_ms']:.1f} ms (PAP + code), same cores"),
        ("machine busy / others' CPU", f"{code['machine_busy_pct']:.0f} % / {code['other_cpu_s']:.1f} CPU-s "
                                       f"(PAP + code windows), {pap['other_cpu_s']:.1f} CPU-s (PAP only)"),
        ("clients waiting for a fresh code", f"{code['waited_s']:.1f} s"),
        ("errors", str(r["errors"])),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"\nWatchword RADIUS benchmark — {r['date']}, {r['cores']} cores, {r['clients']} clients, "
          f"{r['rounds']} rounds, {r['users']} people with MFA, {r['pap_users']} without")
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")
    print("\n  round   PAP only: /s  server CPU  others' CPU   PAP + code: /s  server CPU  others' CPU   ratio")
    for k in range(r["rounds"]):
        print(f"  {k + 1:5d}   {pap['per_s_each'][k]:12.1f} {pap['server_cpu_ms_each'][k]:8.1f} ms "
              f"{pap['other_cpu_s_each'][k]:8.1f} s   {code['per_s_each'][k]:14.1f} "
              f"{code['server_cpu_ms_each'][k]:8.1f} ms {code['other_cpu_s_each'][k]:8.1f} s   "
              f"{r['ratio_each_round'][k]:5.2f}")
    for part in ("code", "pap"):
        for sample in r[part]["error_samples"]:
            print(f"    error ({part}): {sample}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="each measured window (default 10)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of one PAP-only window then one PAP + code window (default 3)")
    parser.add_argument("--baseline-seconds", type=float, default=5,
                        help="each Argon2id measurement, before and after (default 5)")
    parser.add_argument("--warmup", type=float, default=2, help="load before each window (default 2)")
    parser.add_argument("--clients", type=int, default=4, help="client processes, one request at a time (default 4)")
    parser.add_argument("--users", type=int, default=2400,
                        help="people with MFA (default 2400: a code verifies once per person and time step, so "
                             "N ÷ 30 s bounds the sustainable rate)")
    parser.add_argument("--pap-users", type=int, default=100, help="people without MFA, for the baseline (default 100)")
    parser.add_argument("--hash-procs", type=int, default=os.cpu_count() or 2,
                        help="processes for the Argon2id baseline (default: the machine's cores)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder (radius.log, database)")
    args = parser.parse_args(argv)
    if (args.clients < 1 or args.users < args.clients or args.pap_users < args.clients or args.seconds <= 0
            or args.rounds < 1):
        parser.error("need --clients ≥ 1, --users and --pap-users ≥ --clients, --seconds > 0 and --rounds ≥ 1")

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
