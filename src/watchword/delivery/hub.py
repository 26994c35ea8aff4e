"""The front: one asyncio process on the public address, in front of gunicorn's sync workers.

Every request is passed to gunicorn on a private Unix socket, one upstream connection per request
(sync workers close after each response), while the front keeps the client's connection alive.
httptools (llhttp, the C parser uvicorn uses) parses HTTP/1.1 on both sides and the front frames
what it sends itself: h11, the pure-Python parser used before, cost half the front's CPU per
request (bench/README.md, *Serving cost per request*). Once the request is sent, the front shuts
its side of the upstream connection, so that the worker's graceful close does not wait for the
front to read the answer. The front adds ``X-Watchword-Client: <peer address>`` (after removing
any the client sent), which ``ClientAddressMiddleware`` turns into ``REMOTE_ADDR``.

Held streams. When Django's response carries ``X-Watchword-Hold: <channel>`` (and optionally
``X-Watchword-Hold-Seconds: N``, default 3600), the front removes those headers, sends the
response head and Django's body (the first server-sent events, perhaps none) and then keeps the
response open: it writes each message published on that channel (``watchword.delivery.fanout``)
as ``event: …`` / ``data: …``, a ``: keep-alive`` comment every 15 s, and ends the response
after a message marked ``close``, after N seconds, when the client goes or when the front stops.
Django decides everything (who may listen, what is pending); the front only carries messages.

So that no message is lost between Django reading the database and the hold starting, the front
keeps the messages of the last two minutes (at most 10,000) and, when a hold starts, first
replays those for its channel that arrived after the request did. Clients drop duplicates by id.

A held stream costs a protocol object, its transport and an httptools parser: no task, no buffer
beyond what the kernel has not yet sent. Timers and keep-alives are shared.
"""

from __future__ import annotations

import asyncio
import collections
import http
import ipaddress
import json
import logging
import os
import resource
import signal
import socket
import struct
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httptools

from watchword.delivery.fanout import MAX_MESSAGE_BYTES, REDIS_CHANNEL, valid_channel, valid_event

log = logging.getLogger("watchword.hub")

# Headers that describe one hop, never passed on (RFC 9110 §7.6.1), and ours.
_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
                         b"transfer-encoding", b"upgrade"})
_REQUEST_DROP = _HOP_BY_HOP | {b"expect", b"content-length", b"x-watchword-client"}
_HOLD_PREFIX = b"x-watchword-hold"
# gunicorn trusts every peer on its Unix socket with these (its secure_scheme_headers); before the
# front it trusted only 127.0.0.1 (forwarded_allow_ips), so the front keeps that rule for them.
_SCHEME_HEADERS = frozenset({b"x-forwarded-proto", b"x-forwarded-protocol", b"x-forwarded-ssl"})
_TRUSTED_PEERS = frozenset({"127.0.0.1"})
_KEEPALIVE_COMMENT = b": keep-alive\n\n"
_READ_AHEAD = 64 * 1024  # bytes of a client's request read before the front stops reading
_HOLD_BACKLOG = 256 * 1024  # unsent bytes after which a held client is taken to be gone
_UPSTREAM_HEAD_LIMIT = 64 * 1024
_CREDENTIALS = struct.Struct("iII")  # struct ucred: pid, uid, gid
_REASONS = {status.value: status.phrase.encode() for status in http.HTTPStatus}


@dataclass
class FrontConfig:
    upstream: str  # gunicorn's Unix socket
    keepalive_seconds: float = 15
    idle_seconds: float = 75  # a keep-alive connection with no request, or a request body stalling
    max_connections: int = 10_000
    max_head_bytes: int = 16 * 1024
    hold_seconds: int = 3600  # when Django gives no X-Watchword-Hold-Seconds
    recent_seconds: float = 120
    recent_max: int = 10_000
    # for gunicorn's response head; after it gunicorn's own worker timeout (30 s) bounds a stuck answer
    upstream_timeout: float = 120
    upstream_slots: int = 1000  # requests at gunicorn at once; the rest wait in the front
    max_chunked_body: int = 16 * 1024 * 1024  # chunked request bodies are collected (Django needs a length)
    graceful_seconds: float = 10
    redis_url: str | None = None


class Message:
    __slots__ = ("seq", "time", "channel", "sse", "close")

    def __init__(self, seq: int, at: float, channel: str, sse: bytes, close: bool) -> None:
        self.seq, self.time, self.channel, self.sse, self.close = seq, at, channel, sse, close


def sse_event(event: str, data: str) -> bytes:
    """One server-sent event; each line of ``data`` becomes its own ``data:`` line."""
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return ("event: " + event + "\n" + "".join("data: " + line + "\n" for line in lines) + "\n").encode()


def client_address(peername) -> str:
    """The client's IP address as Django should see it (IPv4-mapped IPv6 as plain IPv4)."""
    if not isinstance(peername, tuple) or not peername:
        return ""
    host = str(peername[0]).split("%", 1)[0]
    try:
        mapped = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(mapped, ipaddress.IPv6Address) and mapped.ipv4_mapped:
        return str(mapped.ipv4_mapped)
    return host


def redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


class Front:
    """The channels, the held streams on them and the recent messages; one per process."""

    def __init__(self, config: FrontConfig) -> None:
        self.config = config
        self.loop = asyncio.get_running_loop()
        self.seq = 0  # number of the last message received
        self.connections: set[ClientConnection] = set()
        self.channels: dict[str, set[ClientConnection]] = {}
        self.stopping = False
        self.slots = asyncio.Semaphore(config.upstream_slots)
        self._recent: dict[str, collections.deque[Message]] = {}
        self._order: collections.deque[Message] = collections.deque()
        self._tasks: list[asyncio.Task] = []
        self._datagram: socket.socket | None = None
        self._uid = os.getuid()
        self._refused_senders = 0

    # --- messages ---------------------------------------------------------------------------
    def receive(self, payload: bytes) -> None:
        """One message in the wire format of ``fanout``; anything else is dropped."""
        try:
            item = json.loads(payload)
            channel, event, data, close = item["c"], item["e"], item["d"], item.get("x", False)
        except (ValueError, TypeError, KeyError):
            log.warning("front: a message that is not Watchword's JSON was dropped")
            return
        if not (valid_channel(channel) and valid_event(event) and isinstance(data, str)
                and isinstance(close, bool)):
            log.warning("front: a message with a bad channel, event or data was dropped")
            return
        self.deliver(channel, event, data, close)

    def deliver(self, channel: str, event: str, data: str, close: bool = False) -> None:
        self.seq += 1
        message = Message(self.seq, time.monotonic(), channel, sse_event(event, data), close)
        self._remember(message)
        held = self.channels.get(channel)
        if held:
            for connection in list(held):
                connection.send_message(message)

    def _remember(self, message: Message) -> None:
        self._order.append(message)
        self._recent.setdefault(message.channel, collections.deque()).append(message)
        self.trim()

    def trim(self) -> None:
        order, recent = self._order, self._recent
        too_old = time.monotonic() - self.config.recent_seconds
        while order and (len(order) > self.config.recent_max or order[0].time < too_old):
            oldest = order.popleft()
            same_channel = recent[oldest.channel]
            same_channel.popleft()  # the channel's oldest is the oldest overall of that channel
            if not same_channel:
                del recent[oldest.channel]

    def replay(self, channel: str, after_seq: int) -> list[Message]:
        """The remembered messages on ``channel`` received after message number ``after_seq``."""
        return [m for m in self._recent.get(channel, ()) if m.seq > after_seq]

    def subscribe(self, connection: ClientConnection, channel: str) -> None:
        self.channels.setdefault(channel, set()).add(connection)

    def unsubscribe(self, connection: ClientConnection, channel: str) -> None:
        held = self.channels.get(channel)
        if held is not None:
            held.discard(connection)
            if not held:
                del self.channels[channel]

    # --- where messages come from -----------------------------------------------------------
    def listen_datagrams(self, sock: socket.socket) -> None:
        """Messages from processes of this installation (``fanout`` without Redis). The socket
        has SO_PASSCRED on, so the kernel tells who sent each one: only this user and root count."""
        self._datagram = sock
        self.loop.add_reader(sock.fileno(), self._read_datagrams)

    def _read_datagrams(self) -> None:
        sock = self._datagram
        space = socket.CMSG_SPACE(_CREDENTIALS.size)
        for _ in range(1000):  # then let the rest of the loop run
            try:
                payload, ancillary, flags, _ = sock.recvmsg(MAX_MESSAGE_BYTES + 1024, space)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("front: reading a message failed: %s", exc)
                return
            uid = None
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(data) >= _CREDENTIALS.size:
                    uid = _CREDENTIALS.unpack_from(data)[1]
            if uid not in (self._uid, 0):
                self._refused_senders += 1
                if self._refused_senders in (1, 10, 100) or self._refused_senders % 1000 == 0:
                    log.warning("front: dropped %d message(s) from another user (uid %s)", self._refused_senders, uid)
                continue
            if flags & socket.MSG_TRUNC:
                log.warning("front: a message too large for one datagram was dropped")
                continue
            self.receive(payload)

    async def _listen_redis(self, url: str) -> None:
        import redis.asyncio as aioredis
        from redis.exceptions import RedisError

        delay, shown = 1.0, redacted(url)
        while True:
            client = aioredis.Redis.from_url(url, socket_connect_timeout=5, socket_keepalive=True,
                                             health_check_interval=30)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(REDIS_CHANNEL)
                log.info("front: listening for messages on Redis %s", shown)
                delay = 1.0
                while True:
                    message = await pubsub.get_message(timeout=30)
                    if message and message.get("type") == "message":
                        self.receive(message["data"])
            except (RedisError, OSError) as exc:
                log.warning("front: Redis %s is not reachable (%s); held streams get no messages until it is "
                            "back; trying again in %.0f s", shown, str(exc).rstrip(".") or type(exc).__name__, delay)
            finally:
                try:
                    await pubsub.aclose()
                    await client.aclose()
                except (RedisError, OSError):
                    pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    # --- running ------------------------------------------------------------------------------
    def start(self) -> None:
        self._tasks.append(self.loop.create_task(self._keepalives()))
        if self.config.redis_url:
            self._tasks.append(self.loop.create_task(self._listen_redis(self.config.redis_url)))

    async def _keepalives(self) -> None:
        while True:
            await asyncio.sleep(self.config.keepalive_seconds)
            self.trim()
            for held in list(self.channels.values()):
                for connection in list(held):
                    connection.send_comment()

    async def shutdown(self, server: asyncio.AbstractServer) -> None:
        """Stop accepting, end held streams, close idle connections, let requests being answered
        finish (for ``graceful_seconds`` at most), then close what is left."""
        self.stopping = True
        server.close()
        for task in self._tasks:
            task.cancel()
        if self._datagram is not None:
            self.loop.remove_reader(self._datagram.fileno())
        for held in list(self.channels.values()):
            for connection in list(held):
                connection.end_hold(close=True)
        busy = []
        for connection in list(self.connections):
            if connection.task is None:
                connection.close()
            else:
                busy.append(connection.task)
        deadline = self.loop.time() + self.config.graceful_seconds
        if busy:
            await asyncio.wait(busy, timeout=self.config.graceful_seconds)
        while self.connections and self.loop.time() < deadline + 1:  # closing: let what was written go out
            await asyncio.sleep(0.05)
        for connection in list(self.connections):
            connection.transport.abort()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class _ClientGone(Exception):
    pass


class _Unreadable(Exception):
    """The client's request cannot be read: answer ``status`` (if no answer has begun) and close."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _UpstreamFailed(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class _Request:
    """A client's request as httptools reads it: the head, then the body as it comes (chunked
    bodies already decoded). Requests that arrive while one is being answered (pipelining) wait
    in the connection's queue, each with its own body."""

    __slots__ = ("method", "target", "headers", "http10", "keep_alive", "upgrade", "head", "head_done", "body",
                 "complete")

    def __init__(self) -> None:
        self.method = b""
        self.target = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.http10 = self.keep_alive = self.upgrade = self.head = self.head_done = self.complete = False
        self.body = bytearray()


class _UpstreamResponse:
    """gunicorn's answer as httptools reads it: the head once whole, then body parts as they come.
    Informational (1xx) answers are skipped; the answer to a HEAD request ends with its head."""

    __slots__ = ("parser", "for_head", "status", "reason", "headers", "head_done", "parts", "complete")

    def __init__(self, for_head: bool) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.for_head = for_head
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = self.complete = False
        self.parts: list[bytes] = []

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.reason = b""
        self.headers = []

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status >= 200:
            self.status, self.head_done, self.complete = status, True, self.for_head

    def on_body(self, body: bytes) -> None:
        if not self.complete:
            self.parts.append(body)

    def on_message_complete(self) -> None:
        if self.head_done:
            self.complete = True


_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LAST_CHUNK = b"0\r\n\r\n"
_UNREADABLE_TEXT = {400: "Bad request.", 431: "Request header fields too large."}


def _head(first_line: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """A message head: the first line, the header lines and the blank line that ends it."""
    return b"".join([first_line, b"\r\n", *[b"%b: %b\r\n" % header for header in headers], b"\r\n"])


class ClientConnection(asyncio.Protocol):
    """One client connection: idle (no task), answering a request (one task), or held (no task).
    httptools parses what the client sends as it arrives (the connection is its callback object);
    responses are framed here: Content-Length as gunicorn gave it, otherwise chunked (HTTP/1.1)
    or until the connection closes (HTTP/1.0)."""

    __slots__ = ("front", "transport", "parser", "peer", "peer_bytes", "trusted", "task", "waiter", "drainer",
                 "reading_paused", "writing_paused", "unread", "timer", "channel", "discarded", "closed",
                 "requests", "parsing", "head_bytes", "unreadable", "eof", "responding", "chunked")

    def __init__(self, front: Front) -> None:
        self.front = front
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.peer = ""
        self.peer_bytes = b""
        self.trusted = False
        self.task: asyncio.Task | None = None
        self.waiter: asyncio.Future | None = None
        self.drainer: asyncio.Future | None = None
        self.reading_paused = self.writing_paused = False
        self.unread = 0
        self.timer: asyncio.TimerHandle | None = None
        self.channel: str | None = None
        self.discarded = self.closed = self.eof = False
        self.requests: collections.deque[_Request] = collections.deque()  # the first is being answered
        self.parsing: _Request | None = None  # the request whose head or body is arriving
        self.head_bytes = 0  # bytes read while a request head was incomplete
        self.unreadable = 0  # the status to answer once the client sent what cannot be read; then nothing is read
        self.responding = False  # a response head went to the client
        self.chunked = False  # and its body is framed in chunks

    # --- asyncio callbacks ------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.peer = client_address(transport.get_extra_info("peername"))
        self.peer_bytes = self.peer.encode()
        self.trusted = self.peer in _TRUSTED_PEERS
        front = self.front
        front.connections.add(self)
        if front.stopping or len(front.connections) > front.config.max_connections:
            self._send_plain(503, "Watchword is busy; try again in a moment.")
            return
        self._set_timer(front.config.idle_seconds, self.close)

    def data_received(self, data: bytes) -> None:
        if self.channel is not None:  # a held stream: the client has nothing more to say
            self.discarded = True
            return
        if self.closed or self.unreadable or self.transport.is_closing():
            return
        busy = self.task is not None
        parsing = self.parsing
        if parsing is None or not parsing.head_done:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # the rest is in another protocol (Upgrade, CONNECT): answer what was asked, then close
            self.requests[-1].keep_alive = False
            self._refuse_more(0)
        except httptools.HttpParserError as exc:
            self._refuse_more(exc.__context__.status if isinstance(exc.__context__, _Unreadable) else 400)
            return
        parsing = self.parsing
        if parsing is not None and not parsing.head_done and self.head_bytes > self.front.config.max_head_bytes:
            self._refuse_more(431)
            return
        if busy:
            self.unread += len(data)
            if self.unread > _READ_AHEAD and not self.reading_paused:
                self.reading_paused = True
                self.transport.pause_reading()
            self._wake()

    def eof_received(self) -> bool:
        if self.task is None or self.channel is not None:
            return False  # idle or held: close
        self.eof = True  # the requests that arrived whole are answered, then the connection closes
        self._wake()
        return True

    def connection_lost(self, exc) -> None:
        self.closed = True
        self.parser = None  # it refers back to this connection
        self.front.connections.discard(self)
        self._set_timer(None)
        if self.channel is not None:
            self.front.unsubscribe(self, self.channel)
            self.channel = None
        if self.task is not None:
            self.task.cancel()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.drainer is not None and not self.drainer.done():
            self.drainer.set_result(None)

    # --- httptools callbacks (from data_received) ---------------------------------------------
    def on_message_begin(self) -> None:
        self.parsing = _Request()

    def on_url(self, url: bytes) -> None:
        self.parsing.target += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.parsing.headers.append((name, value))

    def on_headers_complete(self) -> None:
        request, parser = self.parsing, self.parser
        request.method = parser.get_method()
        request.head = request.method == b"HEAD"
        request.http10 = parser.get_http_version() != "1.1"
        request.keep_alive = not request.http10 and parser.should_keep_alive()  # HTTP/1.0: one answer, then close
        request.upgrade = parser.should_upgrade()
        request.head_done = True
        self.head_bytes = 0
        # a head that arrived whole in one read is measured here; one still arriving, in data_received
        size = len(request.method) + len(request.target) + sum(len(n) + len(v) + 4 for n, v in request.headers)
        if size > self.front.config.max_head_bytes:
            raise _Unreadable(431)
        self.requests.append(request)
        if self.task is None and self.channel is None and len(self.requests) == 1:
            self._answer_next()

    def on_body(self, body: bytes) -> None:
        self.parsing.body += body

    def on_message_complete(self) -> None:
        self.parsing.complete = True
        self.parsing = None

    # --- small helpers ----------------------------------------------------------------------
    def _set_timer(self, seconds: float | None, callback=None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = None if seconds is None else self.front.loop.call_later(seconds, callback)

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _write(self, data: bytes | bytearray) -> None:
        if not self.closed and data:
            # bytes, never the caller's bytearray: the transport may keep a view of what it could not send yet
            self.transport.write(bytes(data) if type(data) is bytearray else data)

    def _framed(self, data: bytes) -> bytes:
        if self.chunked and data:
            return b"%x\r\n%b\r\n" % (len(data), data)
        return data

    async def _drain(self) -> None:
        while self.writing_paused and not self.closed:
            self.drainer = self.front.loop.create_future()
            await self.drainer
        if self.closed:
            raise _ClientGone

    def close(self) -> None:
        self._set_timer(None)
        if self.transport is not None:
            self.transport.close()  # after what is already written

    def _send_plain(self, status: int, text: str) -> None:
        """A short plain-text answer, then close (bad requests, a missing gunicorn, a full house)."""
        self.unreadable = self.unreadable or -1
        if not self.responding:
            self.responding = True
            body = b"" if self.requests and self.requests[0].head else text.encode() + b"\n"
            self._write(b"HTTP/1.1 %d %b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
                        b"Connection: close\r\n\r\n%b" % (status, _REASONS.get(status, b""), len(body), body))
        self.close()  # (if a response had already begun, closing is all that is left)

    def _refuse_more(self, status: int) -> None:
        """Read nothing more from this client; answer ``status`` (0: none) after the requests that
        arrived whole, or at once if there are none."""
        self.unreadable = status or -1
        if self.task is None and self.channel is None and not self.requests:
            if status:
                self._send_plain(status, _UNREADABLE_TEXT.get(status, "Bad request."))
            else:
                self.close()
        else:
            self._wake()

    # --- requests ---------------------------------------------------------------------------
    def _answer_next(self) -> None:
        self._set_timer(None)
        self.task = self.front.loop.create_task(self._answer(self.requests[0], self.front.seq))

    async def _more_from(self, request: _Request) -> None:
        """Wait for more of ``request``'s body."""
        if self.unreadable > 0:
            raise _Unreadable(self.unreadable)
        if self.eof or self.unreadable:
            raise _ClientGone
        self.unread = 0
        if self.reading_paused:
            self.reading_paused = False
            self.transport.resume_reading()
        self.waiter = self.front.loop.create_future()
        async with asyncio.timeout(self.front.config.idle_seconds):
            await self.waiter

    async def _answer(self, request: _Request, arrival: int) -> None:
        try:
            await self._proxy(request, arrival)
        except (_ClientGone, asyncio.CancelledError):
            self.close()
        except _Unreadable as exc:  # a request body that breaks the rules
            self._send_plain(exc.status, _UNREADABLE_TEXT.get(exc.status, "Bad request."))
        except TimeoutError:  # a request body that stopped coming
            self._send_plain(408, "The request took too long to arrive.")
        except Exception:
            log.exception("front: unexpected failure answering %s %s", request.method.decode(errors="replace"),
                          request.target[:200].decode(errors="replace"))
            self._send_plain(500, "Watchword could not answer this request.")

    def _upstream_headers(self, request: _Request) -> tuple[list[tuple[bytes, bytes]], bool, bytes | None, bool]:
        """The headers for gunicorn but Content-Length; whether the body comes chunked, its length
        if given, and whether the client waits for 100 Continue."""
        chunked, length, expect, hop = False, None, False, None
        kept = []
        for raw, value in request.headers:
            name = raw.lower()
            if name in _REQUEST_DROP:
                if name == b"connection":
                    hop = value if hop is None else hop + b"," + value
                elif name == b"transfer-encoding":
                    chunked = True
                elif name == b"content-length":
                    length = value
                elif name == b"expect":
                    expect = value.lower() == b"100-continue"
            elif self.trusted or not (name in _SCHEME_HEADERS or b"_" in name):
                kept.append((name, raw, value))
        if hop is not None:  # headers the client named as its own hop's (RFC 9110 §7.6.1)
            named = {token.strip().lower() for token in hop.split(b",")}
            kept = [header for header in kept if header[0] not in named]
        headers, host = [], False
        for name, raw, value in kept:
            headers.append((raw, value))
            host = host or name == b"host"
        if not host:
            if not request.http10:
                raise _Unreadable(400)  # RFC 9112 §3.2: an HTTP/1.1 request without Host
            sockname = self.transport.get_extra_info("sockname")  # what gunicorn would have used
            if isinstance(sockname, tuple):
                headers.append((b"Host", f"{sockname[0]}:{sockname[1]}".encode()))
        headers += ((b"X-Watchword-Client", self.peer_bytes), (b"Connection", b"close"))
        request.headers = []  # not needed any more (a held stream keeps its request)
        return headers, chunked, length, expect and not request.http10

    async def _proxy(self, request: _Request, arrival: int) -> None:
        front, config = self.front, self.front.config
        if request.method == b"CONNECT":
            self._send_plain(405, "Method not allowed.")
            return
        headers, chunked, length, expect = self._upstream_headers(request)
        if request.upgrade and (chunked or length not in (None, b"0")):
            raise _Unreadable(400)  # httptools leaves the body of an Upgrade request unread
        if expect and not request.complete and not request.body:
            self._write(_CONTINUE)
        body = None
        if chunked:  # Django reads bodies by Content-Length: collect it first
            while not request.complete:
                if len(request.body) > config.max_chunked_body:
                    self._send_plain(413, "Request body too large.")
                    return
                await self._more_from(request)
            body, request.body = request.body, bytearray()
            if len(body) > config.max_chunked_body:
                self._send_plain(413, "Request body too large.")
                return
            headers.append((b"Content-Length", b"%d" % len(body)))
        elif length is not None:
            headers.append((b"Content-Length", length))
        head = _head(b"%b %b HTTP/1.1" % (request.method, request.target), headers)

        hold = hold_seconds = None
        response = _UpstreamResponse(request.head)
        out = bytearray()  # for the client; written at once before any wait, so one send where one will do
        async with front.slots:
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
            try:
                try:
                    await front.loop.sock_connect(upstream, config.upstream)
                except OSError as exc:
                    raise _UpstreamFailed(502, f"cannot connect to gunicorn: {exc.strerror or exc}") from None
                await self._send_request(upstream, request, head, body)
                try:
                    async with asyncio.timeout(config.upstream_timeout):
                        await self._read_upstream_head(upstream, response)
                except TimeoutError:
                    raise _UpstreamFailed(504, "gunicorn did not answer in time") from None
                except (OSError, httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
                    raise _UpstreamFailed(502, f"gunicorn's answer broke off: {exc or type(exc).__name__}") from None

                headers, length, framed = [], None, False
                for raw, value in response.headers:
                    name = raw.lower()
                    if name in _HOP_BY_HOP:
                        framed = framed or name == b"transfer-encoding"
                        continue
                    if name.startswith(_HOLD_PREFIX):
                        if name == _HOLD_PREFIX:
                            hold = value.decode("ascii", "replace")
                        elif name == b"x-watchword-hold-seconds" and value.isdigit():
                            hold_seconds = max(1, min(int(value), 86400))
                        continue
                    if name == b"content-length":
                        length = value
                    headers.append((raw, value))
                bodyless = request.head or response.status in (204, 304)
                until_eof = not (bodyless or framed or length is not None)  # gunicorn's body ends when it closes
                if hold is not None:
                    if not valid_channel(hold):
                        log.warning("front: X-Watchword-Hold %r is not a channel name; not holding", hold[:100])
                        hold = None
                    elif request.head or front.stopping or not 200 <= response.status < 300:
                        hold = None
                    elif length is not None:  # open-ended
                        length = None
                        headers = [(raw, value) for raw, value in headers if raw.lower() != b"content-length"]
                self.chunked = not bodyless and length is None and not request.http10
                if self.chunked:
                    headers.append((b"Transfer-Encoding", b"chunked"))
                elif not bodyless and length is None:
                    request.keep_alive = False  # to HTTP/1.0: the body ends when the connection does
                if front.stopping:
                    request.keep_alive = False
                if not request.keep_alive:
                    headers.append((b"Connection", b"close"))
                out += _head(b"HTTP/1.1 %d %b" % (response.status, response.reason), headers)
                self.responding = True
                while True:
                    if response.parts:
                        for part in response.parts:
                            out += self._framed(part)
                        response.parts.clear()
                    if response.complete:
                        break
                    self._write(out)
                    out.clear()
                    if self.writing_paused:
                        await self._drain()
                    try:
                        data = await front.loop.sock_recv(upstream, 65536)
                        if data:
                            response.parser.feed_data(data)
                        elif until_eof:
                            response.complete = True
                        else:
                            raise ConnectionResetError("gunicorn closed the connection")
                    except (OSError, httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
                        log.warning("front: gunicorn's answer to %s broke off: %s",
                                    request.target[:200].decode(errors="replace"), exc or type(exc).__name__)
                        self._write(out)
                        self.close()
                        return
            except _UpstreamFailed as exc:
                log.warning("front: %s (%s %s)", exc, request.method.decode(errors="replace"),
                            request.target[:200].decode(errors="replace"))
                self._send_plain(exc.status, "Watchword's web workers are not answering; try again in a moment."
                                 if exc.status == 502 else "Watchword took too long to answer; try again.")
                return
            finally:
                upstream.close()
                response.parser = None  # the parser and its callback object refer to each other
        if self.closed:
            return
        if hold is not None:
            self._write(out)
            self.begin_hold(hold, hold_seconds or config.hold_seconds, arrival)
            return
        if self.chunked:
            out += _LAST_CHUNK
        self._write(out)
        self._finish()

    async def _send_request(self, upstream, request: _Request, head: bytes, body: bytearray | None) -> None:
        """The request to gunicorn, in as few sends as it arrived in, then the end of our side of
        the connection, so that gunicorn's worker need not wait for us to close (gunicorn reads
        until the peer closes before closing, RFC 9112 §9.6). If gunicorn answers early and stops
        reading, its answer is what counts."""
        loop = self.front.loop
        try:
            if body is not None:
                await loop.sock_sendall(upstream, head + body)
            elif request.complete and not request.body:
                await loop.sock_sendall(upstream, head)
            else:
                pending = bytearray(head)
                while True:
                    if request.body:
                        pending += request.body
                        request.body = bytearray()
                    if request.complete:
                        break
                    if pending:
                        await loop.sock_sendall(upstream, bytes(pending))
                        pending.clear()
                    await self._more_from(request)
                await loop.sock_sendall(upstream, bytes(pending))
            upstream.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # read what gunicorn said, if anything

    async def _read_upstream_head(self, upstream, response: _UpstreamResponse) -> None:
        received = 0
        while not response.head_done:
            data = await self.front.loop.sock_recv(upstream, 65536)
            if not data:
                raise _UpstreamFailed(502, "gunicorn closed the connection without answering")
            received += len(data)
            response.parser.feed_data(data)
            if not response.head_done and received > _UPSTREAM_HEAD_LIMIT:
                raise _UpstreamFailed(502, "gunicorn's answer has a head too large")

    def _finish(self) -> None:
        """The response is complete: answer the next request on this connection, wait for one, or close."""
        self.task = None
        request = self.requests.popleft()
        self.responding = self.chunked = False
        if self.closed:
            return
        if self.front.stopping or not request.keep_alive or not request.complete:
            self.close()
            return
        self.unread = 0
        if self.reading_paused:
            self.reading_paused = False
            self.transport.resume_reading()
        following = self.requests[0] if self.requests else None
        if following is not None and (following.complete or not self.unreadable):
            self._answer_next()  # a request sent before this answer ended (pipelining)
        elif self.unreadable > 0:
            self._send_plain(self.unreadable, _UNREADABLE_TEXT.get(self.unreadable, "Bad request."))
        elif self.unreadable or self.eof:
            self.close()
        else:
            self._set_timer(self.front.config.idle_seconds, self.close)

    # --- held streams -----------------------------------------------------------------------
    def begin_hold(self, channel: str, seconds: float, arrival: int) -> None:
        """Keep the response open on ``channel``: first the messages that came since the request
        arrived, then every new one. Runs without yielding, so none slips between the two."""
        self.task = None
        self.channel = channel
        if self.reading_paused:  # read on, if only to notice when the client goes
            self.reading_paused = False
            self.transport.resume_reading()
        self.front.subscribe(self, channel)
        for message in self.front.replay(channel, arrival):
            self.send_message(message)
            if self.channel is None:
                return
        self._set_timer(seconds, self.end_hold)

    def send_message(self, message: Message) -> None:
        if self.channel is None or self.closed:
            return
        self._write(self._framed(message.sse))
        if message.close:
            self.end_hold()
        elif self.transport.get_write_buffer_size() > _HOLD_BACKLOG:
            log.info("front: a held stream on %s is not reading; closing it", self.channel)
            self.transport.abort()

    def send_comment(self) -> None:
        if self.channel is not None and not self.closed:
            self._write(self._framed(_KEEPALIVE_COMMENT))
            if self.transport.get_write_buffer_size() > _HOLD_BACKLOG:
                self.transport.abort()

    def end_hold(self, close: bool = False) -> None:
        if self.channel is None:
            return
        self.front.unsubscribe(self, self.channel)
        self.channel = None
        self._set_timer(None)
        if self.closed:
            return
        if self.chunked:
            self._write(_LAST_CHUNK)
        if close or self.discarded:
            self.close()
        else:
            self._finish()


# --- the process ---------------------------------------------------------------------------

def raise_file_limit(connections: int, upstream_slots: int) -> None:
    """One descriptor per connection, one per request at gunicorn, some to spare."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + upstream_slots + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        except (ValueError, OSError):
            new = soft
        if new < wanted:
            log.warning("front: only %d open files allowed (ulimit -n); fewer than %d connections fit",
                        new, connections)


def _ended(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except OSError:
        return True


async def run(config: FrontConfig, listener: socket.socket, *, datagrams: socket.socket | None = None,
              child_pid: int | None = None, ready=None) -> str:
    """Serve on ``listener`` until SIGTERM or SIGINT (returns ``"signal"``) or until the process
    ``child_pid`` (gunicorn) ends (returns ``"child"``)."""
    loop = asyncio.get_running_loop()
    front = Front(config)
    stop: asyncio.Future = loop.create_future()

    def request_stop(reason: str) -> None:
        if not stop.done():
            stop.set_result(reason)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, request_stop, "signal")
    pidfd = None
    if child_pid is not None:
        try:
            pidfd = os.pidfd_open(child_pid)  # readable once the child has ended
            loop.add_reader(pidfd, request_stop, "child")
        except (AttributeError, OSError):  # kernels before 5.3: look now and then
            async def poll_child() -> None:
                while not _ended(child_pid):
                    await asyncio.sleep(0.5)
                request_stop("child")

            front._tasks.append(loop.create_task(poll_child()))
    raise_file_limit(config.max_connections, config.upstream_slots)
    server = await loop.create_server(lambda: ClientConnection(front), sock=listener, backlog=2048)
    if datagrams is not None:
        front.listen_datagrams(datagrams)
    front.start()
    if ready is not None:
        ready()
    reason = await stop
    if pidfd is not None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
    await front.shutdown(server)
    return reason
