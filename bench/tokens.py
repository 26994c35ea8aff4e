#!/usr/bin/env python
"""Token benchmark: OAuth client-credentials grants per second (a service asking /o/token/ for an
access token with its client ID and secret) against a real ``watchword serve``, per core of server
CPU used, compared with a baseline measured in the same run with the same clients: GETs of the
discovery document (/.well-known/openid-configuration), a request that authenticates nothing and
writes nothing, so the ratio shows what a grant costs beyond serving any request.

    .venv/bin/python bench/tokens.py [--seconds S] [--clients C] [--workers W] [--argon2-secret]

Keycloak publishes about 120 client-credentials grants per second per vCPU; the target is at
least 3 × that per core. Prints figures; asserts nothing about time. Traffic goes to 127.0.0.1
only; the server and the temporary data folder are removed at the end, also on error or Ctrl+C.
See bench/README.md for what is measured and why.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from signin import PYTHON, children_of, free_port, log, machine_busy, percentile, proc_cpu, start_server, stop_server

KEYCLOAK_PER_VCPU = 120.0  # client-credentials grants per second per vCPU, Keycloak's published sizing figure
TARGET_FACTOR = 3.0

# An earlier version kept client secrets with the people's-password hasher (Argon2id); --argon2-secret
# stores the service's secret that way, to show what the hasher costs per grant.
ARGON2_SECRET_CODE = r"""
import sys
import django
django.setup()
from django.contrib.auth.hashers import make_password
from oauth2_provider.models import get_application_model
get_application_model().objects.filter(client_id=sys.argv[1]).update(client_secret=make_password(sys.argv[2]))
"""


def register_service(env: dict, argon2: bool) -> tuple[str, str]:
    added = subprocess.run([PYTHON, "-m", "watchword.cli", "oidc", "client", "add", "bench-service", "--kind",
                            "service", "--scopes", "users.read logs.read"], env=env, capture_output=True, text=True,
                           timeout=120)
    if added.returncode:
        raise RuntimeError(f"watchword oidc client add failed:\n{added.stderr}")
    client_id = re.search(r"Client ID:\s+(\S+)", added.stdout).group(1)
    secret = re.search(r"Client secret:\s+(\S+)", added.stdout).group(1)
    if argon2:
        subprocess.run([PYTHON, "-c", ARGON2_SECRET_CODE, client_id, secret], check=True, timeout=120,
                       env={"DJANGO_SETTINGS_MODULE": "watchword.settings", **env})
    return client_id, secret


def client_main(kind: str, port: int, auth: str, start_at: float, measure_from: float, stop_at: float, queue) -> None:
    """One client: one keep-alive connection, one request at a time, as fast as answers come."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    if kind == "grant":
        method, path, body = "POST", "/o/token/", urlencode({"grant_type": "client_credentials"})
        headers = {"Authorization": f"Basic {auth}", "Content-Type": "application/x-www-form-urlencoded"}
    else:
        method, path, body, headers = "GET", "/.well-known/openid-configuration", None, {}
    done, errors = [], []
    time.sleep(max(0.0, start_at - time.monotonic()))
    while True:
        t0 = time.monotonic()
        if t0 >= stop_at:
            break
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read()
            ok = response.status == 200 and (kind != "grant" or b'"access_token"' in text)
            if response.will_close:
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            ok, text = False, f"{type(exc).__name__}: {exc}".encode()
            conn.close()
        t1 = time.monotonic()
        if t0 >= measure_from and t1 <= stop_at:
            if ok:
                done.append(t1 - t0)
            elif len(errors) < 5:
                errors.append(text[:200].decode("utf-8", "replace"))
            else:
                errors.append("")
    conn.close()
    queue.put({"done": done, "errors": errors})


def measure(kind: str, port: int, auth: str, server_pid: int, args) -> dict:
    """``args.clients`` clients for a warm-up and a measured window; rates, latencies and the CPU
    of the server (the front, gunicorn's master and its workers)."""
    queue = mp.Queue()
    start_at = time.monotonic() + 0.3
    measure_from = start_at + args.warmup
    stop_at = measure_from + args.seconds
    clients = [mp.Process(target=client_main, args=(kind, port, auth, start_at, measure_from, stop_at, queue),
                          daemon=True) for _ in range(args.clients)]
    try:
        for c in clients:
            c.start()
        time.sleep(max(0.0, measure_from - time.monotonic()))
        pids = [server_pid] + children_of(server_pid)
        cpu0 = {pid: proc_cpu(pid) for pid in pids}
        client_cpu0 = {c.pid: proc_cpu(c.pid) for c in clients}
        busy0, _, _, total0 = machine_busy()
        time.sleep(max(0.0, stop_at - time.monotonic()))
        cpu1 = {pid: proc_cpu(pid) for pid in pids}
        client_cpu1 = {c.pid: proc_cpu(c.pid) for c in clients}
        busy1, _, _, total1 = machine_busy()
        results = [queue.get(timeout=120) for _ in clients]
        for c in clients:
            c.join(timeout=30)
    finally:
        for c in clients:
            if c.is_alive():
                c.terminate()
    durations = [d for r in results for d in r["done"]]
    server_cpu = sum(cpu1[p] - cpu0[p] for p in pids)
    front_cpu = cpu1[server_pid] - cpu0[server_pid]  # the front; the rest is gunicorn (master and workers)
    rate = len(durations) / args.seconds
    cores_used = server_cpu / args.seconds
    return {
        "kind": kind, "count": len(durations), "per_s": rate, "server_cpu_s": server_cpu,
        "server_cores_used": cores_used, "per_core": rate / cores_used if cores_used else float("nan"),
        "server_cpu_ms_each": server_cpu / len(durations) * 1000 if durations else float("nan"),
        "front_cpu_ms_each": front_cpu / len(durations) * 1000 if durations else float("nan"),
        "client_cpu_s": sum(client_cpu1[p] - client_cpu0[p] for p in client_cpu1),
        "machine_busy_pct": 100 * (busy1 - busy0) / (total1 - total0),
        "latency_ms": {"mean": statistics.fmean(durations) * 1000 if durations else float("nan"),
                       "p50": percentile(durations, 50) * 1000, "p99": percentile(durations, 99) * 1000},
        "errors": sum(len(r["errors"]) for r in results),
        "error_samples": [e for r in results for e in r["errors"] if e][:5],
    }


def run(args) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="watchword-bench-tokens-"))
    env = {**os.environ, "WATCHWORD_DATA_DIR": str(data_dir), "WATCHWORD_ORGANISATION": "Bench"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    port = free_port()
    env["WATCHWORD_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    server = None
    try:
        init = subprocess.run([PYTHON, "-m", "watchword.cli", "init"], env=env, capture_output=True, text=True,
                              timeout=300)
        if init.returncode:
            raise RuntimeError(f"watchword init failed:\n{init.stderr}")
        client_id, secret = register_service(env, args.argon2_secret)
        auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        server = start_server(env, port, args.workers, data_dir / "serve.log")
        workers = len(children_of(server.pid)) - 1  # gunicorn's master is a descendant too
        log(f"server: pid {server.pid}, http://127.0.0.1:{port}, secret hashed with "
            f"{'Argon2id' if args.argon2_secret else 'secret_pbkdf2_sha256 (1 iteration)'}")
        before = measure("discovery", port, auth, server.pid, args)
        log(f"baseline before: {before['per_s']:.0f} discovery GETs/s")
        grants = measure("grant", port, auth, server.pid, args)
        log(f"grants: {grants['per_s']:.0f}/s")
        after = measure("discovery", port, auth, server.pid, args)
        log(f"baseline after: {after['per_s']:.0f} discovery GETs/s")
    finally:
        if server is not None:
            stop_server(server)
        if args.keep:
            log(f"data folder kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    baseline = (before["per_s"] + after["per_s"]) / 2
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cores": os.cpu_count(), "clients": args.clients,
            "workers": workers, "seconds": args.seconds, "argon2_secret": args.argon2_secret,
            "grants": grants, "baseline_before": before, "baseline_after": after, "baseline_per_s": baseline,
            "ratio": grants["per_s"] / baseline, "keycloak_ratio": grants["per_core"] / KEYCLOAK_PER_VCPU}


def report(r: dict) -> None:
    g, b0, b1 = r["grants"], r["baseline_before"], r["baseline_after"]
    rows = [
        ("client-credentials grants/s", f"{g['per_s']:.0f}  ({g['count']} in {r['seconds']:g} s)"),
        ("server CPU used", f"{g['server_cores_used']:.2f} cores  ({g['server_cpu_ms_each']:.2f} ms per grant, of "
                            f"which the front {g['front_cpu_ms_each']:.2f} ms; front + gunicorn master + "
                            f"{r['workers']} workers)"),
        ("grants/s per core used", f"{g['per_core']:.0f}"),
        ("latency p50 / p99", f"{g['latency_ms']['p50']:.1f} / {g['latency_ms']['p99']:.1f} ms"),
        ("vs Keycloak (120/s per vCPU)", f"{r['keycloak_ratio']:.1f} ×  (target ≥ {TARGET_FACTOR:g} ×)"),
        ("baseline discovery GETs/s", f"{r['baseline_per_s']:.0f}  (before {b0['per_s']:.0f}, after "
                                      f"{b1['per_s']:.0f}; {b0['server_cpu_ms_each']:.2f} ms server CPU each, "
                                      f"front {b0['front_cpu_ms_each']:.2f} ms, "
                                      f"{b0['per_core']:.0f}/s per core used)"),
        ("ratio grants/s ÷ discovery/s", f"{r['ratio']:.2f}"),
        ("machine busy (grants window)", f"{g['machine_busy_pct']:.0f} %  (client CPU {g['client_cpu_s']:.1f} s)"),
        ("errors", f"{g['errors'] + b0['errors'] + b1['errors']}"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"\nWatchword token benchmark — {r['date']}, {r['cores']} cores, {r['workers']} server workers, "
          f"{r['clients']} clients; client secret hashed with "
          f"{'Argon2id' if r['argon2_secret'] else 'secret_pbkdf2_sha256'}")
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")
    for sample in g["error_samples"] + b0["error_samples"] + b1["error_samples"]:
        print(f"    error: {sample}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="each measured window (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="load before each window (default 2)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client processes (default 4)")
    parser.add_argument("--workers", type=int, default=None,
                        help="server workers (default: the server's own default, one per core)")
    parser.add_argument("--argon2-secret", action="store_true",
                        help="store the service's secret with Argon2id (as earlier versions did) to see its cost")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder (server log, database)")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0:
        parser.error("need --clients ≥ 1 and --seconds > 0")

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
    errors = result["grants"]["errors"] + result["baseline_before"]["errors"] + result["baseline_after"]["errors"]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
