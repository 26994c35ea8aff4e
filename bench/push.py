#!/usr/bin/env python
"""Push delivery benchmark: N authenticator devices hold their streams open on one ``watchword
serve`` node (the asyncio front before gunicorn's sync workers, SQLite), and the run measures

- delivery: a sign-in request created → ``event: challenge`` on each of the person's device streams;
- approval → waiting page: a device's signed approval sent → ``event: answered`` on the sign-in
  page's held event stream (``GET /signin/push/events``);
- the front's memory per connected device (RSS before the streams open and after, idle);

and a baseline measured in the same run: a plain request round trip through the same front.

    .venv/bin/python bench/push.py [--devices N] [--challenges C] [--workers W] [--keep]

Prints figures; asserts nothing about time. Traffic goes to 127.0.0.1 only; the server and the
temporary data folder are removed at the end, also on error or Ctrl+C.
See bench/README.md ("Push delivery") for what is measured and why.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
DEVICES_PER_PERSON = 5  # the server's limit (push.DEVICE_LIMIT)
TARGETS = {"delivery_p99_ms": 50.0, "approval_p99_ms": 100.0, "kb_per_device": 20.0}
STATIC_PATH = "/static/watchword/site.css"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest rank, as bench/signin.py."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def summary_ms(values: list[float]) -> dict:
    ms = [v * 1000 for v in values]
    return {"n": len(ms), "mean": statistics.fmean(ms) if ms else float("nan"), "p50": percentile(ms, 50),
            "p90": percentile(ms, 90), "p99": percentile(ms, 99), "max": max(ms) if ms else float("nan")}


# --- processes ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def rss_kb(pid: int) -> int:
    """VmRSS of one process in KiB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot (all but idle and I/O wait)."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLK_TCK


def children_of(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rpartition(")")[2].split()[1]) == pid:
                        kids.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def gunicorn_workers(front_pid: int) -> list[int]:
    """``watchword serve`` (the front) → gunicorn's master → its workers."""
    return [w for master in children_of(front_pid) for w in children_of(master)]


def raise_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


def start_server(env: dict, port: int, workers: int, log_path: Path) -> subprocess.Popen:
    """``watchword serve`` as shipped, in a session of its own, with the open-files limit raised
    to the hard limit (the front holds one descriptor per connection)."""
    out = open(log_path, "w")
    cmd = [PYTHON, "-m", "watchword.cli", "serve", "--bind", f"{HOST}:{port}", "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=raise_file_limit)
    out.close()
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"watchword serve exited:\n{log_path.read_text()[-3000:]}")
        try:
            with socket.create_connection((HOST, port), timeout=1) as sock:
                sock.sendall(f"GET /signin HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode())
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError("watchword serve did not answer within 60 s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()  # the front ends held streams, then stops gunicorn
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the process group this bench started
            proc.wait(timeout=5)


# --- a minimal HTTP/1.1 client: raw asyncio connections, server-sent events -----------------

OPEN: set["HttpReader"] = set()  # every client connection not yet closed


class HttpReader(asyncio.Protocol):
    """One client connection. Reads a response head, then a body framed by Content-Length,
    chunked encoding or the close; server-sent events in the body go to ``on_event(name, data,
    t)`` as they arrive (``t``: ``time.monotonic()`` when the bytes were read). Kept-alive
    connections call :meth:`send` once per request, one request at a time."""

    def __init__(self, on_event=None, keep_body: bool = True) -> None:
        self.loop = asyncio.get_running_loop()
        self.on_event = on_event
        self.keep_body = keep_body
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._reset()

    def _reset(self) -> None:
        self.buf = bytearray()
        self.state = "head"  # head, size, data, crlf, trailer, length, close, done
        self.status = 0
        self.headers: dict[str, str] = {}
        self.remaining = 0
        self.body = bytearray()
        self.sse = bytearray()
        self.head = self.loop.create_future()
        self.done = self.loop.create_future()  # True: the body ended as framed; False: connection lost first

    def send(self, data: bytes) -> None:
        self._reset()
        self.transport.write(data)

    def connection_made(self, transport) -> None:
        self.transport = transport
        OPEN.add(self)

    def connection_lost(self, exc) -> None:
        self.closed = True
        OPEN.discard(self)
        if not self.head.done():
            self.head.set_exception(ConnectionError(f"closed before a response head ({exc})"))
            self.head.exception()  # retrieved: whoever awaits it still sees it
        if not self.done.done():
            self.done.set_result(self.state == "close")

    def data_received(self, data: bytes) -> None:
        t = time.monotonic()
        self.buf += data
        try:
            self._parse(t)
        except (ValueError, IndexError) as exc:
            if not self.head.done():
                self.head.set_exception(ConnectionError(f"bad response: {exc}"))
                self.head.exception()
            self.transport.abort()

    def _parse(self, t: float) -> None:
        buf = self.buf
        while buf:
            state = self.state
            if state == "head":
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
                del buf[:end + 4]
                self.status = int(lines[0].split(" ", 2)[1])
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    name, value = name.strip().lower(), value.strip()
                    self.headers[name] = f"{self.headers[name]}, {value}" if name in self.headers else value
                if "chunked" in self.headers.get("transfer-encoding", "").lower():
                    self.state = "size"
                elif "content-length" in self.headers:
                    self.remaining = int(self.headers["content-length"])
                    self.state = "length"
                else:
                    self.state = "close"
                self.head.set_result(None)
                if self.state == "length" and self.remaining == 0:
                    self._finish()
            elif state == "size":
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                size = int(bytes(buf[:end]).split(b";")[0], 16)
                del buf[:end + 2]
                self.remaining = size
                self.state = "data" if size else "trailer"
            elif state in ("data", "length"):
                take = bytes(buf[:self.remaining])
                del buf[:len(take)]
                self.remaining -= len(take)
                self._body(take, t)
                if self.remaining == 0:
                    if state == "data":
                        self.state = "crlf"
                    else:
                        self._finish()
            elif state == "crlf":
                if len(buf) < 2:
                    return
                del buf[:2]
                self.state = "size"
            elif state == "trailer":
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                empty = end == 0
                del buf[:end + 2]
                if empty:
                    self._finish()
            elif state == "close":
                self._body(bytes(buf), t)
                buf.clear()
            else:  # done: nothing more is expected on this connection now
                buf.clear()

    def _finish(self) -> None:
        self.state = "done"
        if not self.done.done():
            self.done.set_result(True)

    def _body(self, data: bytes, t: float) -> None:
        if self.keep_body:
            self.body += data
        if self.on_event is None:
            return
        self.sse += data
        while True:
            end = self.sse.find(b"\n\n")
            if end < 0:
                return
            block = bytes(self.sse[:end]).decode()
            del self.sse[:end + 2]
            name, data_lines = "message", []
            for line in block.split("\n"):
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data_lines.append(line[5:].removeprefix(" "))
            if data_lines:  # comments (": keep-alive") and "retry:" lines carry no event
                self.on_event(name, "\n".join(data_lines), t)


def http_request(method: str, path: str, port: int, headers: dict | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "User-Agent: watchword-bench-push"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def connect(port: int, reader: HttpReader) -> HttpReader:
    await asyncio.get_running_loop().create_connection(lambda: reader, HOST, port)
    return reader


def held_problem(reader: HttpReader) -> str | None:
    """Why a response is not a stream held by the front, or None."""
    if reader.status != 200:
        return f"status {reader.status}"
    if not reader.headers.get("content-type", "").startswith("text/event-stream"):
        return f"content type {reader.headers.get('content-type')!r}"
    if "chunked" not in reader.headers.get("transfer-encoding", ""):
        return "not chunked (the front did not hold it)"
    if any(name.startswith("x-watchword-hold") for name in reader.headers):
        return "X-Watchword-Hold reached the client"
    return None


# --- setup: people and registered devices, straight through the ORM -----------------------

@dataclass
class Device:
    device_id: str
    key: object  # the device's ECDSA P-256 private key
    reader: HttpReader | None = None


@dataclass
class Person:
    user: object
    devices: list[Device] = field(default_factory=list)


def create_people(count: int) -> list[Person]:
    """``count`` devices, at most 5 per person, each a registered push method (``Method`` of type
    push and its ``PushDevice`` with the public key sealed as activation seals it). People get an
    unusable password: nothing here signs in with one, and hashing would take minutes."""
    from django.db import transaction
    from django.utils import timezone
    from watchword_authenticator.crypto import new_device_key, public_key_b64

    from watchword.core import sealing
    from watchword.directory.models import MfaState, User
    from watchword.methods import push, totp
    from watchword.methods.models import Method, PushDevice

    keyring = sealing.default_keyring()
    now = timezone.now()
    people: list[Person] = []
    n_people = math.ceil(count / DEVICES_PER_PERSON)
    made, t0, shown = 0, time.monotonic(), time.monotonic()
    for i in range(n_people):
        with transaction.atomic():
            user = User(upn=f"push{i:05d}@bench.example", display_name=f"Push Person {i}", mfa_state=MfaState.ENFORCED)
            user.set_unusable_password()
            user.save()
            person = Person(user=user)
            seed_sealed = sealing.seal(totp.new_secret().encode(), purpose=totp.seed_purpose(user.pk), keyring=keyring)
            for k in range(min(DEVICES_PER_PERSON, count - made)):
                key = new_device_key()
                device_id = "dv_" + secrets.token_urlsafe(16)
                method = Method.objects.create(user=user, type="push", name=f"Bench phone {k}",
                                               secret_sealed=seed_sealed, is_default=k == 0, last_used_at=now)
                PushDevice.objects.create(
                    device_id=device_id, user=user, method=method, name=f"Bench phone {k}", platform="android",
                    last_seen_at=now, public_key_sealed=sealing.seal(public_key_b64(key).encode(),
                                                                     purpose=push.key_purpose(device_id),
                                                                     keyring=keyring))
                person.devices.append(Device(device_id=device_id, key=key))
                made += 1
        people.append(person)
        if time.monotonic() - shown > 5:
            log(f"setup: {made}/{count} devices")
            shown = time.monotonic()
    log(f"setup: {len(people)} people with {made} registered devices in {time.monotonic() - t0:.1f} s")
    return people


# --- the measurements ---------------------------------------------------------------------

class Deliveries:
    """Every ``event: challenge`` any device stream received, by challenge id."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self.waiting: dict[str, tuple[asyncio.Future, int]] = {}
        self.other_events: list[str] = []

    def listener(self, device_id: str):
        def on_event(name: str, data: str, t: float) -> None:
            if name != "challenge":
                self.other_events.append(f"{device_id}: {name} {data[:80]}")
                return
            cid = json.loads(data)["challenge_id"]
            self.arrivals[cid].append((device_id, t))
            self.check(cid)
        return on_event

    def check(self, cid: str) -> None:
        waiter = self.waiting.get(cid)
        if waiter and not waiter[0].done() and len(self.arrivals[cid]) >= waiter[1]:
            waiter[0].set_result(None)

    async def wait(self, cid: str, expected: int, timeout: float) -> list[tuple[str, float]]:
        future = asyncio.get_running_loop().create_future()
        self.waiting[cid] = (future, expected)
        self.check(cid)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            pass
        finally:
            del self.waiting[cid]
        return self.arrivals[cid]


async def round_trips(port: int, path: str, count: int) -> tuple[list[float], list[str]]:
    """``count`` GETs one after another on one kept-alive connection through the front."""
    reader = await connect(port, HttpReader())
    times, errors = [], []
    request = http_request("GET", path, port, {"Accept": "*/*"})
    try:
        for _ in range(count):
            if reader.closed:
                errors.append(f"GET {path}: the front closed the kept-alive connection")
                reader = await connect(port, HttpReader())
            t0 = time.monotonic()
            reader.send(request)
            await asyncio.wait_for(reader.head, 30)
            complete = await asyncio.wait_for(reader.done, 30)
            times.append(time.monotonic() - t0)
            if reader.status != 200 or not complete:
                errors.append(f"GET {path}: status {reader.status}, complete {complete}")
    finally:
        reader.transport.close()
    return times, errors


async def open_streams(port: int, people: list[Person], deliveries: Deliveries, concurrency: int,
                       errors: list[str], quiet: bool = False) -> float:
    from watchword_authenticator.crypto import device_token

    gate = asyncio.Semaphore(concurrency)
    devices = [d for p in people for d in p.devices]
    opened, t0, shown = 0, time.monotonic(), time.monotonic()

    async def open_one(device: Device) -> None:
        nonlocal opened, shown
        async with gate:
            token = device_token(device.key, device_id=device.device_id, now=int(time.time()))  # fresh, single use
            reader = HttpReader(on_event=deliveries.listener(device.device_id), keep_body=False)
            try:
                await connect(port, reader)
                reader.transport.write(http_request("GET", "/api/push/v1/stream", port, {
                    "Authorization": token, "Accept": "text/event-stream"}))
                await asyncio.wait_for(reader.head, 60)
            except (OSError, TimeoutError) as exc:
                errors.append(f"stream {device.device_id}: {exc or type(exc).__name__}")
                if reader.transport is not None:
                    reader.transport.abort()
                return
            problem = held_problem(reader)
            if problem:
                errors.append(f"stream {device.device_id}: {problem}")
                reader.transport.abort()
                return
            device.reader = reader
            opened += 1
            if time.monotonic() - shown > 5 and not quiet:
                log(f"connect: {opened}/{len(devices)} device streams open")
                shown = time.monotonic()

    await asyncio.gather(*(open_one(d) for d in devices))
    elapsed = time.monotonic() - t0
    if not quiet:
        log(f"connect: {opened}/{len(devices)} device streams open in {elapsed:.1f} s")
    return elapsed


async def challenges(port: int, people: list[Person], deliveries: Deliveries, count: int, gap: float,
                     hold_check: float, errors: list[str]) -> dict:
    """One sign-in request at a time: create it (delivery to the person's device streams), hold
    the sign-in page's event stream on it, then approve from one device (answer → page)."""
    from django.conf import settings
    from django.utils import timezone
    from watchword_authenticator.crypto import signed_answer

    from watchword.methods import push
    from watchword.methods.models import PushChallenge
    from watchword.signin.flow import SESSION_KEY, Flow, Stage
    from watchword.signin.sessions import SessionStore

    delivery, approval, answer_rt, create_call = [], [], [], []
    missed = duplicate = 0
    people = [p for p in people if p.devices and all(d.reader is not None for d in p.devices)]
    if not people:
        errors.append("no person has all device streams open; no challenges sent")
        return {"delivery": delivery, "approval": approval, "answer": answer_rt, "create": create_call,
                "missed": missed, "duplicate": duplicate, "sent": 0}
    shown = time.monotonic()
    for i in range(count):
        person = people[i % len(people)]
        user = person.user
        flow = Flow.start(user.upn, user_id=user.pk, stage=Stage.MFA)
        flow.mfa_method = "push"

        # 1. delivery: creation → "event: challenge" on every device of the person
        t0 = time.monotonic()
        challenge = push.create_challenge(user, purpose="signin", app="Bench sign-in", ip=HOST,
                                          now=timezone.now(), flow_id=flow.id)
        create_call.append(time.monotonic() - t0)
        expected = {d.device_id for d in person.devices}
        arrived = await deliveries.wait(challenge.id, len(expected), timeout=5)
        seen = [device_id for device_id, _ in arrived]
        duplicate += len(seen) - len(set(seen))
        missed += len(expected - set(seen))
        delivery.extend(t - t0 for _, t in arrived)

        # 2. the waiting page: a session at the MFA stage waiting for this request, its event stream held
        flow.push_challenge = challenge.id
        session = SessionStore()
        session[SESSION_KEY] = asdict(flow)
        session.save()
        answered: asyncio.Future = asyncio.get_running_loop().create_future()

        def on_page_event(name: str, data: str, t: float, answered=answered) -> None:
            if name == "answered" and not answered.done():
                answered.set_result((t, data))

        page = HttpReader(on_event=on_page_event)
        device = person.devices[i % len(person.devices)]
        answer = HttpReader()
        try:
            await connect(port, page)
            page.transport.write(http_request("GET", "/signin/push/events", port, {
                "Accept": "text/event-stream", "Cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}"}))
            await asyncio.wait_for(page.head, 10)
            problem = held_problem(page)
            if problem:
                errors.append(f"waiting page {challenge.id}: {problem} {bytes(page.body[:200])!r}")
                continue
            await asyncio.sleep(hold_check)
            if page.closed or page.done.done():
                errors.append(f"waiting page {challenge.id}: the stream ended before any answer")
                continue

            # 3. the device approves with the number the page shows
            number = PushChallenge.objects.filter(pk=challenge.id).values_list("number", flat=True).get()
            body = json.dumps(signed_answer(device.key, device_id=device.device_id, challenge_id=challenge.id,
                                            decision="approve", number=number, now=int(time.time()))).encode()
            request = http_request("POST", f"/api/push/v1/challenges/{challenge.id}/answer", port, {
                "Content-Type": "application/json", "Accept": "application/json"}, body)
            await connect(port, answer)
            t1 = time.monotonic()
            answer.transport.write(request)
            t2, data = await asyncio.wait_for(answered, 10)
            await asyncio.wait_for(answer.done, 10)
            t3 = time.monotonic()
            result = json.loads(answer.body or b"{}")
            if answer.status != 200 or result.get("result") != "approved":
                errors.append(f"answer {challenge.id}: {answer.status} {bytes(answer.body[:200])!r}")
            elif json.loads(data).get("state") != "approved":
                errors.append(f"waiting page {challenge.id}: answered {data}")
            else:
                approval.append(t2 - t1)
                answer_rt.append(t3 - t1)
            if not await asyncio.wait_for(page.done, 5):
                errors.append(f"waiting page {challenge.id}: the stream did not end after the answer")
        except (OSError, TimeoutError, ValueError) as exc:
            errors.append(f"challenge {challenge.id}: {type(exc).__name__} {exc}")
        finally:
            for reader in (page, answer):
                if reader.transport is not None:
                    reader.transport.close()
        if time.monotonic() - shown > 5:
            log(f"challenges: {i + 1}/{count}")
            shown = time.monotonic()
        await asyncio.sleep(gap)
    return {"delivery": delivery, "approval": approval, "answer": answer_rt, "create": create_call,
            "missed": missed, "duplicate": duplicate, "sent": count}


async def measure(args, port: int, front_pid: int, people: list[Person]) -> dict:
    """The measurements; Ctrl+C or SIGTERM cancels them, and every client connection is then
    closed while the event loop still runs, so the server sees them go before it is stopped."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await _measure(args, port, front_pid, people)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        signal.signal(signal.SIGTERM, interrupt)
        for reader in list(OPEN):
            reader.transport.abort()
        await asyncio.sleep(0.05)  # their connection_lost callbacks close the sockets


async def _measure(args, port: int, front_pid: int, people: list[Person]) -> dict:
    errors: list[str] = []
    deliveries = Deliveries()
    out: dict = {}

    # warm the front and both gunicorn workers, then the front's memory with no stream open
    for path, n in ((STATIC_PATH, 50), ("/signin", 20)):
        _, warm_errors = await round_trips(port, path, n)
        errors += warm_errors
    # ... and the stream path once (Django's push code in both workers, the front's hold), so the
    # figures below count the streams, not code loaded on first use
    warm = [Person(user=p.user, devices=[Device(device_id=d.device_id, key=d.key) for d in p.devices])
            for p in people[:4]]
    await open_streams(port, warm, Deliveries(), 4, errors, quiet=True)
    for p in warm:
        for d in p.devices:
            if d.reader is not None:
                d.reader.transport.close()
    await asyncio.sleep(1)
    workers = gunicorn_workers(front_pid)
    rss_front0 = rss_kb(front_pid)
    rss_workers0 = {pid: rss_kb(pid) for pid in workers}
    cpu_front0, cpu_workers0 = proc_cpu(front_pid), sum(proc_cpu(p) for p in workers)

    out["connect_s"] = await open_streams(port, people, deliveries, args.concurrency, errors)
    cpu_front1, cpu_workers1 = proc_cpu(front_pid), sum(proc_cpu(p) for p in workers)
    await asyncio.sleep(args.idle)  # open and idle
    open_streams_now = sum(1 for p in people for d in p.devices if d.reader is not None and not d.reader.closed)
    rss_front1 = rss_kb(front_pid)
    rss_workers1 = {pid: rss_kb(pid) for pid in workers}
    connected = sum(1 for p in people for d in p.devices if d.reader is not None)
    out.update({
        "devices": sum(len(p.devices) for p in people), "people": len(people), "connected": connected,
        "still_open_after_idle": open_streams_now,
        "rss_front_kb": [rss_front0, rss_front1],
        "kb_per_device": (rss_front1 - rss_front0) / connected if connected else float("nan"),
        "rss_workers_kb": [[rss_workers0[p], rss_workers1[p]] for p in workers],
        "connect_cpu_ms_per_stream": {
            "front": (cpu_front1 - cpu_front0) / connected * 1000 if connected else float("nan"),
            "workers": (cpu_workers1 - cpu_workers0) / connected * 1000 if connected else float("nan")},
    })
    log(f"memory: front RSS {rss_front0 / 1024:.1f} → {rss_front1 / 1024:.1f} MiB with {connected} streams "
        f"({out['kb_per_device']:.1f} KiB each)")

    base = {"static": [], "signin": []}
    t, e = await round_trips(port, STATIC_PATH, args.baseline)
    base["static"] += t
    errors += e
    t, e = await round_trips(port, "/signin", args.baseline // 3)
    base["signin"] += t
    errors += e
    log(f"baseline (before): GET {STATIC_PATH} p50 {percentile(base['static'], 50) * 1000:.2f} ms")

    log(f"challenges: {args.challenges}, one at a time, {args.gap * 1000:.0f} ms apart")
    ours = [front_pid, *children_of(front_pid), *workers, os.getpid()]  # the server and this process
    cpu2, ours2, busy2, wall2 = proc_cpu(front_pid), sum(map(proc_cpu, ours)), machine_busy(), time.monotonic()
    out["challenges"] = await challenges(port, people, deliveries, args.challenges, args.gap, args.hold_check, errors)
    cpu3, ours3, busy3, wall3 = proc_cpu(front_pid), sum(map(proc_cpu, ours)), machine_busy(), time.monotonic()
    out["challenge_cpu_front_ms"] = (cpu3 - cpu2) / max(1, args.challenges) * 1000
    out["challenge_phase"] = {"seconds": wall3 - wall2, "machine_busy_cpu_s": busy3 - busy2,
                              "others_cpu_s": (busy3 - busy2) - (ours3 - ours2)}

    t, e = await round_trips(port, STATIC_PATH, args.baseline)
    base["static"] += t
    errors += e
    log(f"baseline (after): GET {STATIC_PATH} p50 {percentile(t, 50) * 1000:.2f} ms (pooled with before)")
    t, e = await round_trips(port, "/signin", args.baseline // 3)
    base["signin"] += t
    errors += e

    still = sum(1 for p in people for d in p.devices if d.reader is not None and not d.reader.closed)
    out["still_open_at_end"] = still
    if still != connected:
        errors.append(f"{connected - still} device streams were closed by the server during the run")
    out["rss_front_end_kb"] = rss_kb(front_pid)
    out["other_events"] = deliveries.other_events[:10]
    for p in people:
        for d in p.devices:
            if d.reader is not None and d.reader.transport is not None:
                d.reader.transport.close()
    out["baseline"] = base
    out["errors"] = errors
    return out


# --- the run ------------------------------------------------------------------------------

def run(args) -> dict:
    started = time.monotonic()
    limit = raise_file_limit()
    if limit < args.devices + 100:
        raise RuntimeError(f"only {limit} open files allowed (ulimit -n); {args.devices} streams need more")
    data_dir = Path(tempfile.mkdtemp(prefix="watchword-bench-push-"))
    port = free_port()
    env = {**os.environ, "WATCHWORD_DATA_DIR": str(data_dir), "WATCHWORD_ORGANISATION": "Bench",
           "WATCHWORD_PUBLIC_URL": f"http://{HOST}:{port}", "DJANGO_SETTINGS_MODULE": "watchword.settings"}
    if args.redis:
        env["WATCHWORD_REDIS_URL"] = args.redis
    else:
        env.pop("WATCHWORD_REDIS_URL", None)
    server = None
    try:
        init = subprocess.run([PYTHON, "-m", "watchword.cli", "init"], env=env, capture_output=True, text=True,
                              timeout=300)
        if init.returncode:
            raise RuntimeError(f"watchword init failed:\n{init.stderr}")
        os.environ.update({k: env[k] for k in ("WATCHWORD_DATA_DIR", "WATCHWORD_ORGANISATION", "WATCHWORD_PUBLIC_URL",
                                               "DJANGO_SETTINGS_MODULE")})
        if args.redis:
            os.environ["WATCHWORD_REDIS_URL"] = args.redis
        else:
            os.environ.pop("WATCHWORD_REDIS_URL", None)
        # The ORM is called from the event loop on purpose: one thread creates a request and then reads
        # the streams, so arrival times are never late for a switch between threads.
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        import django

        django.setup()
        people = create_people(args.devices)
        setup_s = time.monotonic() - started

        server = start_server(env, port, args.workers, data_dir / "serve.log")
        log(f"server: pid {server.pid}, http://{HOST}:{port}, {args.workers} workers, "
            f"fan-out {'Redis ' + args.redis if args.redis else 'embedded (datagrams)'}")
        try:
            result = asyncio.run(measure(args, port, server.pid, people))
        except asyncio.CancelledError:
            raise KeyboardInterrupt from None
    finally:
        if server is not None:
            t = time.monotonic()
            stop_server(server)
            log(f"server stopped in {time.monotonic() - t:.1f} s")
            if args.keep:
                log(f"server log: {data_dir / 'serve.log'}")
        if args.keep:
            log(f"data folder kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    result.update({"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cores": os.cpu_count(), "workers": args.workers,
                   "redis": args.redis or "", "setup_s": setup_s, "total_s": time.monotonic() - started})
    return result


def report(r: dict) -> None:
    c = r["challenges"]
    d, a, ans, cr = (summary_ms(c[k]) for k in ("delivery", "approval", "answer", "create"))
    bs, bp = summary_ms(r["baseline"]["static"]), summary_ms(r["baseline"]["signin"])
    expected = len(c["delivery"]) + c["missed"]

    def line(s: dict) -> str:
        return f"{s['p50']:.2f} / {s['p90']:.2f} / {s['p99']:.2f} ms  (max {s['max']:.1f}, n {s['n']})"

    def mark(value: float, target: float) -> str:
        return "met" if value <= target else "MISSED"

    rows = [
        ("devices connected", f"{r['connected']} of {r['devices']} ({r['people']} people), "
                              f"{r['still_open_at_end']} still open at the end"),
        ("opening the streams", f"{r['connect_s']:.1f} s ({r['connected'] / r['connect_s']:.0f}/s); CPU per stream "
                                f"front {r['connect_cpu_ms_per_stream']['front']:.2f} ms, gunicorn workers "
                                f"{r['connect_cpu_ms_per_stream']['workers']:.2f} ms"),
        ("baseline GET site.css p50/p90/p99", line(bs)),
        ("(GET /signin p50/p90/p99)", line(bp)),
        ("delivery p50/p90/p99", line(d)),
        ("  of which create_challenge() call", f"{cr['p50']:.2f} ms p50"),
        ("  delivered / missed / duplicates", f"{len(c['delivery'])} of {expected} / {c['missed']} / {c['duplicate']}"),
        ("approval → page p50/p90/p99", line(a)),
        ("  (the answer's own response)", line(ans)),
        ("ratio delivery p50 ÷ baseline p50", f"{d['p50'] / bs['p50']:.2f}"),
        ("ratio approval p50 ÷ baseline p50", f"{a['p50'] / bs['p50']:.2f}"),
        ("front RSS before → after streams", f"{r['rss_front_kb'][0] / 1024:.1f} → {r['rss_front_kb'][1] / 1024:.1f} MiB"
                                             f" (end of run {r['rss_front_end_kb'] / 1024:.1f} MiB)"),
        ("memory per connected device", f"{r['kb_per_device']:.1f} KiB"),
        ("gunicorn workers' RSS before → after", ", ".join(f"{a0 / 1024:.1f} → {a1 / 1024:.1f} MiB"
                                                           for a0, a1 in r["rss_workers_kb"])),
        ("front CPU per challenge", f"{r['challenge_cpu_front_ms']:.2f} ms (delivery + page + answer through the front)"),
        ("targets", f"delivery p99 ≤ {TARGETS['delivery_p99_ms']:.0f} ms: {mark(d['p99'], TARGETS['delivery_p99_ms'])}; "
                    f"approval → page p99 ≤ {TARGETS['approval_p99_ms']:.0f} ms: "
                    f"{mark(a['p99'], TARGETS['approval_p99_ms'])}; ≤ {TARGETS['kb_per_device']:.0f} KB per device: "
                    f"{mark(r['kb_per_device'] * 1.024, TARGETS['kb_per_device'])}"),
        ("machine during the requests", f"{r['challenge_phase']['seconds']:.0f} s, "
                                        f"{r['challenge_phase']['machine_busy_cpu_s']:.1f} CPU-s busy, of which others' "
                                        f"(not the server, not this bench) {r['challenge_phase']['others_cpu_s']:.1f}"),
        ("errors", str(len(r["errors"]))),
        ("time", f"{r['total_s']:.0f} s in all ({r['setup_s']:.0f} s init and setup)"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"\nWatchword push benchmark — {r['date']}, {r['cores']} cores, 1 node (front + {r['workers']} gunicorn "
          f"workers), SQLite, fan-out {'Redis' if r['redis'] else 'embedded'}")
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")
    for sample in r["errors"][:10]:
        print(f"    error: {sample}")
    for sample in r["other_events"]:
        print(f"    other event: {sample}")


def interrupt(*_) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000, help="device streams held open (default 1000; "
                        f"{DEVICES_PER_PERSON} per person)")
    parser.add_argument("--challenges", type=int, default=250, help="sign-in requests, one at a time (default 250)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--concurrency", type=int, default=50, help="streams being opened at once (default 50)")
    parser.add_argument("--gap", type=float, default=0.02, help="pause between requests, s (default 0.02)")
    parser.add_argument("--hold-check", type=float, default=0.03,
                        help="how long the waiting page must stay open before the device answers, s (default 0.03)")
    parser.add_argument("--idle", type=float, default=2, help="idle time before reading the front's RSS, s (default 2)")
    parser.add_argument("--baseline", type=int, default=300,
                        help="round trips of GET site.css in each baseline (default 300; a third as many GET /signin)")
    parser.add_argument("--redis", metavar="URL", help="scale-out fan-out through this Redis (WATCHWORD_REDIS_URL)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures (and every sample) as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder (server log, database)")
    args = parser.parse_args(argv)
    if args.devices < 1 or args.challenges < 1 or args.workers < 1 or args.concurrency < 1 or args.baseline < 3:
        parser.error("need --devices, --challenges, --workers, --concurrency ≥ 1 and --baseline ≥ 3")

    signal.signal(signal.SIGTERM, interrupt)
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
