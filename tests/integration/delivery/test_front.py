"""The front (``delivery.hub``) in front of gunicorn, as ``watchword serve`` runs it: real
processes, real sockets. Ordinary pages pass through it; held streams get the messages published
with ``delivery.fanout`` (datagrams on one node, Redis between nodes).

Servers come from tests/serving.py with the test URLconf tests/hold_urls.py; a few checks of the
front's own rules (a missing gunicorn, the connection cap, the recent-message buffer) run it in
this process on a loopback port.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import http.client
import json
import os
import re
import select
import socket
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.serving import REDIS_URL, free_port, start_server, two_node_env
from tests.serving import postgres_database as own_postgres_database
from watchword.delivery import fanout, hub

ADMIN = "admin@contoso.example"
KEEPALIVE = 1  # seconds between ': keep-alive' comments on the test servers


def run_async(coro):
    """``asyncio.run`` on a thread of its own: when the browser tests ran first in this process,
    Playwright's event loop is still running on this one."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("front"), env_extra={
        "WATCHWORD_HUB_KEEPALIVE_SECONDS": str(KEEPALIVE)})
    yield running
    assert running.stop() == 0, running.log()


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def channel_name(prefix: str = "device") -> str:
    return f"{prefix}:dv_{uuid.uuid4().hex[:12]}"


def publish_to(data_dir: Path, channel: str, event: str, data: str, *, close: bool = False,
               redis_url: str | None = None) -> None:
    """``fanout.publish`` from this process as a process of that installation would."""
    from django.test import override_settings

    with override_settings(DATA_DIR=Path(data_dir), REDIS_URL=redis_url):
        fanout.publish(channel, event, data, close=close)


def read_events(response: httpx.Response, *, until_end: bool = True, count: int | None = None) -> list[tuple]:
    """(event, data) pairs of a server-sent-event response; comments as ('#', text)."""
    found, event, data = [], None, []
    for line in response.iter_lines():
        if line.startswith(":"):
            found.append(("#", line[1:].strip()))
        elif line.startswith("event: "):
            event = line[len("event: "):]
        elif line.startswith("data: "):
            data.append(line[len("data: "):])
        elif line == "" and (event or data):
            found.append((event, "\n".join(data)))
            event, data = None, []
        if count is not None and len([f for f in found if f[0] != "#"]) >= count:
            break
    return found


def raw_exchange(port: int, payload: bytes, *, timeout: float = 10) -> bytes:
    """Send bytes, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def csrf_token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


# --- ordinary pages ------------------------------------------------------------------------


def test_an_ordinary_page_comes_through_the_front_with_its_headers(client):
    response = client.get("/signin")

    assert response.status_code == 200
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert 'name="csrfmiddlewaretoken"' in response.text
    assert "watchword_csrf" in response.cookies
    assert response.headers.get("connection") != "close"  # the front keeps the connection


def test_a_form_post_with_its_csrf_cookie_and_token_reaches_the_next_step(client):
    page = client.get("/signin").text

    response = client.post("/signin", data={"csrfmiddlewaretoken": csrf_token(page), "name": ADMIN})

    assert response.status_code == 200
    assert 'name="flow"' in response.text  # the password step


def test_two_requests_share_one_kept_alive_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/signin")
    first = conn.getresponse()
    first.read()
    sock = conn.sock

    conn.request("GET", "/test/echo")
    second = conn.getresponse()

    assert first.status == 200 and not first.will_close
    assert second.status == 200 and json.loads(second.read())["method"] == "GET"
    assert conn.sock is sock
    conn.close()


def test_pipelined_requests_are_answered_in_order(server):
    request = b"GET /test/echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    closing = b"HEAD /signin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"

    answer = raw_exchange(server.port, request + request + closing)

    assert answer.count(b"HTTP/1.1 200 OK") == 3
    assert answer.count(b'"method": "GET"') == 2


def test_a_head_request_gets_the_head_only(client):
    got = client.get("/static/watchword/site.css")
    head = client.head("/static/watchword/site.css")

    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"] == str(len(got.content))


def test_a_large_static_file_arrives_whole(client):
    from django.contrib.staticfiles import finders

    path = Path(finders.find("watchword/site.css"))

    response = client.get("/static/watchword/site.css")

    assert response.status_code == 200
    assert response.content == path.read_bytes()


def test_a_streamed_answer_is_passed_on_as_it_comes_not_held_back(client):
    started = time.monotonic()
    with client.stream("GET", "/test/trickle") as response:
        lines = response.iter_lines()
        first = next(lines)
        first_at = time.monotonic() - started
        second = next(lines)
        second_at = time.monotonic() - started

    assert (first, second) == ("first part", "second part")
    assert first_at < 0.9 <= second_at


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


def test_a_large_download_to_a_slow_reader_is_not_gathered_in_the_front(server):
    before = _rss_kib(server.proc.pid)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(b"GET /test/big?mb=64 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        received = len(sock.recv(65536))
        time.sleep(1.5)  # the reader dawdles; gunicorn's worker must wait, not the front's memory grow
        during = _rss_kib(server.proc.pid)
        while chunk := sock.recv(1 << 20):
            received += len(chunk)

    assert during - before < 8 * 1024
    assert received > 64 * 1024 * 1024  # the whole body (and the head, and the chunk framing)


def test_a_request_body_with_a_length_and_a_chunked_one_both_reach_django(client):
    body = os.urandom(300_000)

    with_length = client.post("/test/echo", content=body).json()
    chunked = client.post("/test/echo", content=iter([body[:100_000], body[100_000:]])).json()

    assert with_length["body_length"] == chunked["body_length"] == len(body)
    assert with_length["body_sha256"] == chunked["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_expect_100_continue_is_answered_before_the_body_is_sent(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /test/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
                     b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
        interim = sock.recv(1024)
        sock.sendall(b"hello")
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk

    assert interim.startswith(b"HTTP/1.1 100 ")
    assert rest.startswith(b"HTTP/1.1 200 OK") and b'"body_length": 5' in rest


def test_a_garbage_request_gets_a_plain_400_and_the_connection_is_closed(server):
    answer = raw_exchange(server.port, b"\x16\x03\x01\x02\x00 this is not HTTP\r\n\r\n")

    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert answer.endswith(b"\r\n\r\nBad request.\n")


def test_a_request_head_over_16_kb_is_refused(server):
    big = b"X-Big: " + b"a" * 20_000 + b"\r\n"

    answer = raw_exchange(server.port, b"GET /signin HTTP/1.1\r\nHost: 127.0.0.1\r\n" + big + b"\r\n")

    assert answer.startswith(b"HTTP/1.1 431 ")


def test_a_request_head_growing_past_16_kb_over_several_reads_is_refused(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /signin HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        for _ in range(40):  # 1 KB at a time, until the front answers
            sock.sendall(b"a" * 1024)
            if select.select([sock], [], [], 0.02)[0]:
                break
        answer = sock.recv(65536)

    assert answer.startswith(b"HTTP/1.1 431 ")


def test_pipelined_requests_with_bodies_each_reach_django_with_their_own(server):
    def post(body: bytes) -> bytes:
        return b"POST /test/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)

    chunked = (b"POST /test/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
               b"2\r\nth\r\n3\r\nree\r\n0\r\n\r\n")

    answer = raw_exchange(server.port, post(b"one") + post(b"second") + chunked)

    assert re.findall(rb'"body_length": (\d+)', answer) == [b"3", b"6", b"5"]


def test_an_http_1_0_request_is_answered_and_then_the_connection_closes(server):
    answer = raw_exchange(server.port, b"GET /test/trickle HTTP/1.0\r\n\r\n")  # streamed: no length known

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nconnection: close" in head.lower() and b"transfer-encoding" not in head.lower()
    assert body == b"first part\nsecond part\n"  # ended by the close, as HTTP/1.0 reads it


def test_an_http_1_1_request_without_a_host_gets_a_plain_400(server):
    answer = raw_exchange(server.port, b"GET /test/echo HTTP/1.1\r\n\r\n")

    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")


def test_a_request_asking_to_upgrade_is_answered_over_http_and_the_connection_closed(server):
    answer = raw_exchange(server.port, b"GET /test/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                                       b"Upgrade: websocket\r\n\r\n")

    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b'"method": "GET"' in answer
    assert b"\r\nconnection: close" in answer.lower()


# --- the client's address ------------------------------------------------------------------


def test_django_sees_the_clients_address_and_a_forged_header_changes_nothing(client):
    seen = client.get("/test/echo", headers={"X-Watchword-Client": "203.0.113.9",
                                             "X-Forwarded-Proto": "https"}).json()

    assert seen["remote_addr"] == "127.0.0.1"
    assert seen["headers"]["X-Watchword-Client"] == "127.0.0.1"  # the front's, the forged one removed


def _echo_from(source: str, port: int, headers: bytes) -> dict:
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as sock:
        sock.sendall(b"GET /test/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers + b"\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return json.loads(answer.partition(b"\r\n\r\n")[2])


def test_scheme_headers_count_only_from_127_0_0_1_as_when_gunicorn_listened_itself(server):
    forged = b"X-Forwarded-Proto: https\r\nX-Watchword-Client: 203.0.113.9\r\n"

    local_proxy = _echo_from("127.0.0.1", server.port, forged)
    stranger = _echo_from("127.0.0.2", server.port, forged)

    assert local_proxy["secure"] is True and local_proxy["remote_addr"] == "127.0.0.1"
    assert stranger["secure"] is False and stranger["remote_addr"] == "127.0.0.2"
    assert "X-Forwarded-Proto" not in stranger["headers"]


def test_the_sign_in_log_records_the_real_address_despite_a_forged_header(client, server):
    forged = {"X-Watchword-Client": "198.51.100.23"}
    page = client.get("/signin").text
    page = client.post("/signin", data={"csrfmiddlewaretoken": csrf_token(page), "name": ADMIN}, headers=forged).text
    flow = re.search(r'name="flow" value="([^"]*)"', page).group(1)

    response = client.post("/signin/password", headers=forged, data={
        "csrfmiddlewaretoken": csrf_token(page), "flow": flow, "password": "not the password at all"})

    assert response.status_code == 200
    with contextlib.closing(sqlite3.connect(server.data_dir / "watchword.sqlite3")) as db:
        ip, = db.execute("SELECT ip FROM audit_signinevent WHERE step = 'password' AND result = 'failure' "
                         "ORDER BY id DESC LIMIT 1").fetchone()
    assert ip == "127.0.0.1"


def test_the_client_header_is_ignored_unless_served_by_the_front(rf, settings):
    from watchword.core.middleware import ClientAddressMiddleware

    def seen(served_by_front: bool) -> str:
        settings.SERVED_BY_FRONT = served_by_front
        middleware = ClientAddressMiddleware(lambda request: request.META["REMOTE_ADDR"])
        return middleware(rf.get("/", HTTP_X_WATCHWORD_CLIENT="203.0.113.9", REMOTE_ADDR="127.0.0.1"))

    assert seen(False) == "127.0.0.1"
    assert seen(True) == "203.0.113.9"


# --- held streams ----------------------------------------------------------------------------


def test_a_held_stream_gets_what_a_worker_publishes_and_ends_on_a_closing_message(client, server):
    channel = channel_name()
    with client.stream("GET", "/test/hold", params={"channel": channel, "initial": "retry: 1000\n\n"}) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert not any(name.lower().startswith("x-watchword-hold") for name in stream.headers)
        assert "content-length" not in stream.headers
        client.get("/test/publish", params={"channel": channel, "event": "challenge", "data": "one\ntwo"})
        publish_to(server.data_dir, channel, "answered", '{"state": "approved"}', close=True)

        events = [e for e in read_events(stream) if e[0] != "#"]

    assert events == [("challenge", "one\ntwo"), ("answered", '{"state": "approved"}')]
    assert client.get("/test/echo").status_code == 200  # and the connection is usable again


def test_a_held_stream_gets_keep_alive_comments_and_ends_after_its_hold_seconds(client):
    started = time.monotonic()
    with client.stream("GET", "/test/hold", params={"channel": channel_name(), "seconds": "3"}) as stream:
        found = read_events(stream)

    assert ("#", "keep-alive") in found
    assert 2.5 < time.monotonic() - started < 6


def test_a_message_published_before_the_hold_begins_is_not_lost(server):
    """Django has read the database and is still answering when the message goes out: the front
    replays it when the hold begins."""
    channel = channel_name("challenge")
    received = {}

    def listen():
        with httpx.Client(base_url=server.url, timeout=10) as other, \
                other.stream("GET", "/test/hold", params={"channel": channel, "sleep": "3"}) as held:
            received["events"] = [e for e in read_events(held) if e[0] != "#"]

    thread = threading.Thread(target=listen)
    thread.start()
    time.sleep(1)  # the request is at Django (sleeping for 3 s); the hold has not begun
    publish_to(server.data_dir, channel, "answered", '{"state": "denied"}', close=True)
    thread.join(15)

    assert received["events"] == [("answered", '{"state": "denied"}')]


def test_a_thousand_held_streams_cost_under_20_kb_each(server):
    def hold_many(count: int, prefix: str) -> list[socket.socket]:
        socks = []
        for i in range(count):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            sock.sendall(f"GET /test/hold?channel={prefix}:{i} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            socks.append(sock)
        for sock in socks:
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
        return socks

    warm = hold_many(50, "warm")
    before = _rss_kib(server.proc.pid)
    held = hold_many(1000, "many")
    time.sleep(0.5)
    after = _rss_kib(server.proc.pid)
    for sock in warm + held:
        sock.close()

    assert (after - before) * 1024 / 1000 < 20 * 1024


def test_two_installations_on_one_machine_never_cross_and_sigterm_ends_held_streams(tmp_path, server, client):
    other = start_server(tmp_path)
    channel = channel_name()
    try:
        gunicorn, = other.children()
        socket_path = Path(open(f"/proc/{gunicorn}/cmdline", "rb").read().split(b"\0")[3].decode())
        assert socket_path.name == "web.sock" and (socket_path.parent.stat().st_mode & 0o777) == 0o700
        with httpx.Client(base_url=other.url, timeout=httpx.Timeout(10, read=2)) as other_client, \
                other_client.stream("GET", "/test/hold", params={"channel": channel}) as elsewhere, \
                client.stream("GET", "/test/hold", params={"channel": channel}) as here:
            publish_to(server.data_dir, channel, "challenge", "for the first installation only", close=True)
            assert [e for e in read_events(here) if e[0] != "#"] == [("challenge", "for the first installation only")]
            with pytest.raises(httpx.ReadTimeout):
                read_events(elsewhere, count=1)

        with httpx.Client(base_url=other.url, timeout=10) as other_client, \
                other_client.stream("GET", "/test/hold", params={"channel": channel}) as held:
            assert other.stop() == 0
            assert read_events(held) == []  # ended cleanly (a complete chunked body), nothing lost on the way
        assert not socket_path.parent.exists()
        assert "Traceback" not in other.log()
    finally:
        other.stop()


def test_when_gunicorn_dies_serve_stops_with_a_clear_message_and_exit_1(tmp_path):
    other = start_server(tmp_path)
    try:
        gunicorn, = other.children()
        os.kill(gunicorn, 9)
        assert other.proc.wait(timeout=30) == 1
        assert "gunicorn (the page workers) stopped unexpectedly" in other.log()
        assert "Traceback" not in other.log()
        for _ in range(50):  # its workers are told to stop too, and do, at once
            try:
                os.killpg(gunicorn, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("gunicorn's workers outlived it")
    finally:
        other.stop()


def test_a_port_in_use_and_a_second_serve_of_one_installation_are_refused_in_one_line(server):
    from tests.serving import cli

    same_port = cli(server.env, "serve", "--bind", f"127.0.0.1:{server.port}")
    same_data = cli(server.env, "serve", "--bind", f"127.0.0.1:{free_port()}")
    bad_redis = cli({**server.env, "WATCHWORD_REDIS_URL": "http://127.0.0.1:6379"}, "serve")

    assert same_port.returncode == 1
    assert same_port.stderr == (f"watchword: cannot listen on 127.0.0.1:{server.port}: the address is already in use "
                                "(is another server running there?)\n")
    assert same_data.returncode == 1 and "already running for the data folder" in same_data.stderr
    assert bad_redis.returncode == 2 and bad_redis.stderr.startswith(
        "watchword: configuration error: WATCHWORD_REDIS_URL is not a Redis URL")
    assert all(r.stderr.count("\n") == 1 for r in (same_port, same_data, bad_redis))


# --- two nodes: PostgreSQL shared, Redis between the fronts ----------------------------------


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own, which the test may stop and start again."""
    import shutil
    import subprocess

    binary = shutil.which("redis-server")
    if binary is None:
        print("Redis reconnection test skipped: redis-server is not installed")
        pytest.skip("redis-server is not installed")
    port = free_port()

    def start():
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    procs = [start()]
    yield f"redis://127.0.0.1:{port}/0", procs, start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


def test_a_front_that_loses_redis_says_so_and_listens_again_when_it_is_back(tmp_path, private_redis):
    url, procs, start = private_redis
    node = start_server(tmp_path / "node", env_extra={"WATCHWORD_REDIS_URL": url})

    def wait_for_log(text: str, count: int = 1) -> None:
        for _ in range(150):
            if node.log().count(text) >= count:
                return
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not in the log:\n{node.log()}")

    def one_message(event: str) -> list:
        channel = channel_name()
        with httpx.Client(base_url=node.url, timeout=10) as client, \
                client.stream("GET", "/test/hold", params={"channel": channel}) as held:
            client.get("/test/publish", params={"channel": channel, "event": event, "close": "1"})
            return [e[0] for e in read_events(held) if e[0] != "#"]

    try:
        wait_for_log("listening for messages on Redis")
        assert one_message("before") == ["before"]
        procs[0].terminate()
        procs[0].wait(10)
        wait_for_log("is not reachable")
        assert "Traceback" not in node.log()
        procs.append(start())
        wait_for_log("listening for messages on Redis", count=2)
        assert one_message("after") == ["after"]
    finally:
        assert node.stop() == 0, node.log()


@pytest.fixture
def postgres_database():
    with own_postgres_database("watchword_front") as url:
        yield url


@pytest.mark.postgres
def test_two_nodes_a_message_published_on_one_reaches_a_stream_held_by_the_other(tmp_path, postgres_database):
    shared = two_node_env(postgres_database)
    node_a = start_server(tmp_path / "a", env_extra=shared)  # migrates the database first
    node_b = None
    try:
        node_b = start_server(tmp_path / "b", env_extra=shared)
        channel = channel_name()
        with httpx.Client(base_url=node_b.url, timeout=10) as on_b, httpx.Client(base_url=node_a.url,
                                                                               timeout=10) as on_a:
            for _ in range(50):  # node B's front subscribes to Redis right after it starts
                if "listening for messages on Redis" in node_b.log():
                    break
                time.sleep(0.1)
            with on_b.stream("GET", "/test/hold", params={"channel": channel}) as held:
                assert on_a.get("/test/publish", params={"channel": channel, "event": "challenge",
                                                         "data": "created on node A"}).status_code == 200
                publish_to(node_a.data_dir, channel, "revoked", "{}", close=True, redis_url=REDIS_URL)
                events = [e for e in read_events(held) if e[0] != "#"]
        assert events == [("challenge", "created on node A"), ("revoked", "{}")]
    finally:
        if node_b is not None:
            assert node_b.stop() == 0, node_b.log()
        assert node_a.stop() == 0, node_a.log()


# --- the front's own rules, run in this process ------------------------------------------------


async def _front_on_loopback(config: hub.FrontConfig):
    front = hub.Front(config)
    server = await front.loop.create_server(lambda: hub.ClientConnection(front), "127.0.0.1", 0)
    return front, server, server.sockets[0].getsockname()[1]


async def _ask(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


def test_without_gunicorn_the_front_answers_502_in_plain_text(tmp_path):
    async def scenario():
        front, server, port = await _front_on_loopback(hub.FrontConfig(upstream=str(tmp_path / "nothing.sock")))
        try:
            return await _ask(port, b"GET /signin HTTP/1.1\r\nHost: x\r\n\r\n")
        finally:
            server.close()

    answer = run_async(scenario())

    assert answer.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert b"content-type: text/plain" in answer.lower()
    assert answer.endswith(b"Watchword's web workers are not answering; try again in a moment.\n")


def test_past_the_connection_cap_the_front_answers_503(tmp_path):
    async def scenario():
        front, server, port = await _front_on_loopback(hub.FrontConfig(upstream=str(tmp_path / "x.sock"),
                                                                       max_connections=2))
        try:
            kept = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
            answer = await _ask(port, b"")
            for _, writer in kept:
                writer.close()
            return answer
        finally:
            server.close()

    assert run_async(scenario()).startswith(b"HTTP/1.1 503 Service Unavailable\r\n")


def test_an_idle_kept_alive_connection_is_closed_after_the_idle_time(tmp_path):
    async def scenario():
        front, server, port = await _front_on_loopback(hub.FrontConfig(upstream=str(tmp_path / "x.sock"),
                                                                       idle_seconds=0.3))
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            started = time.monotonic()
            assert await asyncio.wait_for(reader.read(), 5) == b""
            writer.close()
            return time.monotonic() - started
        finally:
            server.close()

    assert 0.2 < run_async(scenario()) < 3


def test_the_recent_buffer_replays_only_the_channels_messages_since_the_request_arrived():
    async def scenario():
        front = hub.Front(hub.FrontConfig(upstream="unused", recent_max=3))
        front.deliver("device:a", "challenge", "before the request")
        arrival = front.seq
        front.deliver("device:a", "challenge", "after")
        front.deliver("device:b", "challenge", "another channel")
        replayed = [m.sse for m in front.replay("device:a", arrival)]
        front.deliver("device:c", "x", "1")
        front.deliver("device:c", "x", "2")  # the buffer keeps 3: both device:a messages are gone
        return replayed, front.replay("device:a", 0), len(front.replay("device:c", 0))

    replayed, after_trim, kept = run_async(scenario())

    assert replayed == [b"event: challenge\ndata: after\n\n"]
    assert after_trim == [] and kept == 2


def test_messages_older_than_the_buffer_time_are_forgotten():
    async def scenario():
        front = hub.Front(hub.FrontConfig(upstream="unused", recent_seconds=0.2))
        front.deliver("device:a", "challenge", "old")
        await asyncio.sleep(0.3)
        front.trim()
        return front.replay("device:a", 0)

    assert run_async(scenario()) == []


def test_the_wire_format_and_the_event_text():
    assert json.loads(fanout.encode("challenge:ch_1", "answered", "x", True)) == {
        "c": "challenge:ch_1", "e": "answered", "d": "x", "x": True}
    assert hub.sse_event("challenge", "a\r\nb\rc\nd") == b"event: challenge\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
    assert fanout.hub_address("/srv/one") != fanout.hub_address("/srv/two")
    assert fanout.hub_address("/srv/one").startswith(b"\0watchword-hub-")


def test_publish_never_raises(settings, caplog, tmp_path):
    settings.DATA_DIR = tmp_path  # no front runs for this folder: dropped quietly
    fanout.publish("device:dv_1", "challenge", "{}")
    fanout.publish("bad channel\n", "challenge", "{}")  # refused, logged
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        fanout.publish("device:dv_1", "challenge", "{}")
    finally:
        fanout._redis._paused_until = 0.0  # the pause after a failure is per process

    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2 and all("not sent" in w for w in warnings)
