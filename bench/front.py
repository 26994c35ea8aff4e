#!/usr/bin/env python
"""Front benchmark: the CPU the front (``watchword.delivery.hub``) spends per request, alone.

The front runs as ``watchword serve`` runs it, but with a stand-in for gunicorn behind it: processes
that answer every request on the Unix socket with the same canned response, the way a sync worker
does (a new connection per request, the head and the body in two sends, then gunicorn 27's graceful
close: shut down writing, read until the front closes). So the front's share of a request can be
measured without Django's, and changes to the front compared in one run.

    .venv/bin/python bench/front.py [--seconds S] [--rounds R] [--clients C] [--rate N] [--compare OLD_HUB.py]
    .venv/bin/python bench/front.py --served [--seconds S] [--rounds R] [--compare OLD_HUB.py]

``--served`` measures the real thing instead: ``watchword serve`` on a fresh data folder, the
discovery GET and OAuth client-credentials grants (the requests of bench/tokens.py), with the CPU
of the front and of gunicorn (master and workers) per request, each.

``--compare FILE`` also runs the front from another copy of hub.py (for instance ``git show
HEAD:src/watchword/delivery/hub.py > /tmp/hub_before.py``); the two run side by side and their
windows alternate, so the machine's drift touches both alike. Prints figures; asserts nothing
about time. Traffic goes to 127.0.0.1 and private Unix sockets only.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import math
import multiprocessing as mp
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PATH = "/.well-known/openid-configuration"

# Shaped like gunicorn's answer to the discovery GET: as many headers, about the same size.
BODY = json.dumps({"issuer": "http://127.0.0.1:8000", "padding": "x" * 940}).encode()
RESPONSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nServer: gunicorn\r\nDate: Sat, 28 Nov 2026 05:12:22 GMT\r\nConnection: close\r\n"
    b"Content-Type: application/json\r\nContent-Length: %d\r\nX-Content-Type-Options: nosniff\r\n"
    b"Referrer-Policy: same-origin\r\nCross-Origin-Opener-Policy: same-origin\r\n"
    b"Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\nX-Frame-Options: DENY\r\n"
    b"Access-Control-Allow-Origin: *\r\nVary: origin\r\n\r\n" % len(BODY))

LOAD_HUB = r"""
import importlib.util, sys

def load_hub(path):
    # hub.py from path instead of the tree's ("": the tree's); gunicorn, a process of its own, is the tree's
    if not path:
        from watchword.delivery import hub
        return hub
    spec = importlib.util.spec_from_file_location("watchword.delivery.hub", path)
    hub = importlib.util.module_from_spec(spec)
    sys.modules["watchword.delivery.hub"] = hub
    spec.loader.exec_module(hub)
    import watchword.delivery
    watchword.delivery.hub = hub
    return hub
"""

SERVE_CODE = LOAD_HUB + r"""
load_hub(sys.argv.pop(1))
from watchword.cli import main
sys.exit(main(sys.argv[1:]))
"""

FRONT_CODE = LOAD_HUB + r"""
import asyncio, socket
hub = load_hub(sys.argv[1])
listener = socket.create_server(("127.0.0.1", int(sys.argv[3])), backlog=2048)
listener.setblocking(False)
print("ready", flush=True)
asyncio.run(hub.run(hub.FrontConfig(upstream=sys.argv[2]), listener))
"""


def stand_in_main(sock: socket.socket) -> None:
    """One stand-in worker: gunicorn's sync worker, less the application."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        client, _ = sock.accept()
        with client:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = client.recv(65536)
                if not chunk:
                    break
                request += chunk
            else:
                client.sendall(RESPONSE_HEAD)
                client.sendall(BODY)
                client.shutdown(socket.SHUT_WR)
                while client.recv(4096):
                    pass


def client_main(port: int, interval: float, start_at: float, measure_from: float, stop_at: float, queue) -> None:
    """One keep-alive connection; a request every ``interval`` seconds (0: as fast as answers come)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    done = errors = 0
    time.sleep(max(0.0, start_at - time.monotonic()))
    due = time.monotonic()
    while (now := time.monotonic()) < stop_at:
        if interval:
            if due > now:
                time.sleep(due - now)
                now = due
            due += interval
        try:
            conn.request("GET", PATH)
            response = conn.getresponse()
            ok = response.status == 200 and len(response.read()) == len(BODY)
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
        if now >= measure_from and time.monotonic() <= stop_at:
            done += ok
            errors += not ok
    queue.put((done, errors))


def cpu_seconds(pid: int) -> tuple[float, float]:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK  # user, system


class Front:
    def __init__(self, name: str, hub_path: str, upstream: str) -> None:
        self.name = name
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.proc = subprocess.Popen([PYTHON, "-c", FRONT_CODE, hub_path, upstream, str(self.port)],
                                     stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the front {name} did not start")
        self.windows: list[dict] = []

    def window(self, args) -> dict:
        queue = mp.Queue()
        start_at = time.monotonic() + 0.2
        measure_from = start_at + args.warmup
        stop_at = measure_from + args.seconds
        interval = args.clients / args.rate if args.rate else 0.0
        clients = [mp.Process(target=client_main, args=(self.port, interval, start_at + i * interval / args.clients,
                                                        measure_from, stop_at, queue), daemon=True)
                   for i in range(args.clients)]
        for c in clients:
            c.start()
        time.sleep(max(0.0, measure_from - time.monotonic()))
        user0, system0 = cpu_seconds(self.proc.pid)
        time.sleep(max(0.0, stop_at - time.monotonic()))
        user1, system1 = cpu_seconds(self.proc.pid)
        results = [queue.get(timeout=60) for _ in clients]
        for c in clients:
            c.join(timeout=10)
        done = sum(r[0] for r in results)
        window = {"requests": done, "errors": sum(r[1] for r in results), "per_s": done / args.seconds,
                  "front_ms": (user1 - user0 + system1 - system0) * 1000 / max(done, 1),
                  "system_ms": (system1 - system0) * 1000 / max(done, 1)}
        self.windows.append(window)
        return window

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Served:
    """``watchword serve`` on a data folder of its own, with a service registered for grants."""

    def __init__(self, name: str, hub_path: str, workers: int | None) -> None:
        sys.path.insert(0, str(ROOT / "bench"))
        from signin import free_port
        from tokens import register_service

        self.name = name
        self.folder = Path(tempfile.mkdtemp(prefix="watchword-bench-front-"))
        self.port = free_port()
        env = {**os.environ, "WATCHWORD_DATA_DIR": str(self.folder), "WATCHWORD_ORGANISATION": "Bench",
               "WATCHWORD_PUBLIC_URL": f"http://127.0.0.1:{self.port}"}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        init = subprocess.run([PYTHON, "-m", "watchword.cli", "init"], env=env, capture_output=True, text=True,
                              timeout=300)
        if init.returncode:
            raise RuntimeError(f"watchword init failed:\n{init.stderr}")
        client_id, secret = register_service(env, False)
        self.auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        command = [PYTHON, "-c", SERVE_CODE, hub_path, "serve", "--bind", f"127.0.0.1:{self.port}"]
        if workers:
            command += ["--workers", str(workers)]
        self.log = open(self.folder / "serve.log", "w")
        self.proc = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    probe.sendall(b"HEAD /signin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    if probe.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"watchword serve ({name}) did not start; see {self.folder / 'serve.log'}")
            time.sleep(0.2)
        self.windows: list[dict] = []

    def window(self, kind: str, args) -> dict:
        from signin import children_of
        from tokens import client_main as token_client

        queue = mp.Queue()
        start_at = time.monotonic() + 0.2
        measure_from = start_at + args.warmup
        stop_at = measure_from + args.seconds
        clients = [mp.Process(target=token_client, args=(kind, self.port, self.auth, start_at, measure_from, stop_at,
                                                         queue), daemon=True) for _ in range(args.clients)]
        for c in clients:
            c.start()
        time.sleep(max(0.0, measure_from - time.monotonic()))
        gunicorn = children_of(self.proc.pid)  # the master and its workers
        cpu0 = {pid: sum(cpu_seconds(pid)) for pid in [self.proc.pid] + gunicorn}
        time.sleep(max(0.0, stop_at - time.monotonic()))
        cpu1 = {pid: sum(cpu_seconds(pid)) for pid in cpu0}
        results = [queue.get(timeout=120) for _ in clients]
        for c in clients:
            c.join(timeout=10)
        done = sum(len(r["done"]) for r in results)
        each = 1000 / max(done, 1)
        window = {"kind": kind, "requests": done, "errors": sum(len(r["errors"]) for r in results),
                  "per_s": done / args.seconds, "front_ms": (cpu1[self.proc.pid] - cpu0[self.proc.pid]) * each,
                  "gunicorn_ms": sum(cpu1[p] - cpu0[p] for p in gunicorn) * each}
        window["server_ms"] = window["front_ms"] + window["gunicorn_ms"]
        self.windows.append(window)
        return window

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def run_served(args) -> int:
    servers: list[Served] = []
    try:
        servers.append(Served("this", "", args.workers))
        if args.compare:
            servers.insert(0, Served("compared", os.path.abspath(args.compare), args.workers))
        for r in range(args.rounds):
            for kind in ("discovery", "grant"):
                for server in servers if r % 2 == 0 else servers[::-1]:
                    w = server.window(kind, args)
                    print(f"round {r + 1} {kind:9s} {server.name:9s} {w['per_s']:6.0f}/s  server CPU "
                          f"{w['server_ms']:.2f} ms per request: front {w['front_ms']:.2f}, gunicorn "
                          f"{w['gunicorn_ms']:.2f}  errors {w['errors']}", flush=True)
    finally:
        for server in servers:
            server.stop()
    print(f"\nserver CPU per request, median of {args.rounds} windows of {args.seconds:g} s, {args.clients} keep-alive "
          f"clients as fast as answers come:")
    for kind in ("discovery", "grant"):
        for server in servers:
            ws = [w for w in server.windows if w["kind"] == kind]
            median = {k: statistics.median(w[k] for w in ws) for k in ("per_s", "server_ms", "front_ms", "gunicorn_ms")}
            print(f"  {kind:9s} {server.name:9s} {median['server_ms']:.2f} ms (front {median['front_ms']:.2f}, "
                  f"gunicorn {median['gunicorn_ms']:.2f}), {median['per_s']:.0f}/s, "
                  f"{1000 / median['server_ms']:.0f}/s per core")
        if len(servers) == 2:
            pairs = list(zip([w for w in servers[1].windows if w["kind"] == kind],
                             [w for w in servers[0].windows if w["kind"] == kind]))
            ratio = {k: math.exp(statistics.fmean(math.log(a[k] / b[k]) for a, b in pairs))
                     for k in ("server_ms", "front_ms", "gunicorn_ms", "per_s")}
            print(f"  {kind:9s} this ÷ compared, paired by round: server CPU {ratio['server_ms']:.3f} (front "
                  f"{ratio['front_ms']:.3f}, gunicorn {ratio['gunicorn_ms']:.3f}), requests/s {ratio['per_s']:.3f}")
    return 1 if any(w["errors"] for server in servers for w in server.windows) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3, help="each measured window (default 3)")
    parser.add_argument("--warmup", type=float, default=0.5, help="load before each window (default 0.5)")
    parser.add_argument("--rounds", type=int, default=4, help="windows per front (default 4)")
    parser.add_argument("--clients", type=int, default=4, help="keep-alive client processes (default 4)")
    parser.add_argument("--rate", type=float, default=1000,
                        help="requests per second, spread over the clients (default 1000; 0: as fast as answers come). "
                             "CPU per request falls as the rate rises (more events per wake-up), so compare at one "
                             "rate. Not with --served, whose clients go as fast as answers come, as in tokens.py")
    parser.add_argument("--stand-ins", type=int, default=2, help="stand-in gunicorn workers (default 2)")
    parser.add_argument("--compare", metavar="HUB_PY", help="also run the front from this copy of hub.py")
    parser.add_argument("--served", action="store_true",
                        help="watchword serve with Django behind the front: discovery GETs and grants")
    parser.add_argument("--workers", type=int, help="with --served: gunicorn workers (default: serve's own)")
    args = parser.parse_args(argv)
    if args.served:
        if args.warmup < 1:
            args.warmup = 1.0
        return run_served(args)

    folder = tempfile.mkdtemp(prefix="watchword-bench-front-")
    upstream = os.path.join(folder, "web.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(upstream)
    listener.listen(2048)
    stand_ins = [mp.Process(target=stand_in_main, args=(listener,), daemon=True) for _ in range(args.stand_ins)]
    fronts: list[Front] = []
    try:
        for s in stand_ins:
            s.start()
        fronts.append(Front("this", "", upstream))
        if args.compare:
            fronts.insert(0, Front("compared", os.path.abspath(args.compare), upstream))
        for r in range(args.rounds):
            for front in fronts if r % 2 == 0 else fronts[::-1]:
                w = front.window(args)
                print(f"round {r + 1} {front.name:9s} {w['per_s']:7.0f} requests/s  front {w['front_ms']:.3f} ms CPU "
                      f"per request (system {w['system_ms']:.3f})  errors {w['errors']}", flush=True)
    finally:
        for front in fronts:
            front.stop()
        for s in stand_ins:
            s.terminate()
        listener.close()
        shutil.rmtree(folder, ignore_errors=True)

    rate = f"{args.rate:g} requests/s" if args.rate else "as fast as answers come"
    print(f"\nfront CPU per request, median of {args.rounds} windows of {args.seconds:g} s, {args.clients} keep-alive "
          f"clients ({rate}), {args.stand_ins} stand-in workers:")
    for front in fronts:
        ws = front.windows
        print(f"  {front.name:9s} {statistics.median(w['front_ms'] for w in ws):.3f} ms  "
              f"({statistics.median(w['per_s'] for w in ws):.0f} requests/s)")
    if len(fronts) == 2:
        pairs = list(zip(fronts[1].windows, fronts[0].windows))
        ratio = math.exp(statistics.fmean(math.log(a["front_ms"] / b["front_ms"]) for a, b in pairs))
        print(f"  this ÷ compared, paired by round: {ratio:.3f}")
    return 1 if any(w["errors"] for front in fronts for w in front.windows) else 0


if __name__ == "__main__":
    sys.exit(main())
