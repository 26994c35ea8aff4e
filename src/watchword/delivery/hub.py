"""The front: one asyncio process on the public address, in front of gunicorn's sync workers.

Every request is passed to gunicorn on a private Unix socket, one upstream connection per request
(sync workers close after each response), while the front keeps the client's connection alive.
HTTP/1.1 is parsed and framed by h11 on both sides. The front adds ``X-Watchword-Client: <peer
address>`` (after removing any the client sent), which ``ClientAddressMiddleware`` turns into
``REMOTE_ADDR``.

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

A held stream costs a protocol object, its transport and an h11 state machine: no task, no
buffer beyond what the kernel has not yet sent. Timers and keep-alives are shared.
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

import h11

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


class _UpstreamFailed(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class ClientConnection(asyncio.Protocol):
    """One client connection: idle (no task), answering a request (one task), or held (no task)."""

    __slots__ = ("front", "transport", "h11", "peer", "trusted", "task", "waiter", "drainer", "reading_paused",
                 "writing_paused", "unread", "timer", "channel", "discarded", "closed", "head")

    def __init__(self, front: Front) -> None:
        self.front = front
        self.transport: asyncio.Transport | None = None
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=front.config.max_head_bytes)
        self.peer = ""
        self.trusted = False
        self.task: asyncio.Task | None = None
        self.waiter: asyncio.Future | None = None
        self.drainer: asyncio.Future | None = None
        self.reading_paused = self.writing_paused = False
        self.unread = 0
        self.timer: asyncio.TimerHandle | None = None
        self.channel: str | None = None
        self.discarded = self.closed = self.head = False

    # --- asyncio callbacks ------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.peer = client_address(transport.get_extra_info("peername"))
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
        if self.closed or self.transport.is_closing():
            return
        self.h11.receive_data(data)
        if self.task is None:
            self._next_request()
            return
        self.unread += len(data)
        if self.unread > _READ_AHEAD and not self.reading_paused:
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        if self.task is None or self.channel is not None:
            return False  # idle or held: close
        self.h11.receive_data(b"")  # the request may be complete: answer it, then close
        self._wake()
        return True

    def connection_lost(self, exc) -> None:
        self.closed = True
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
        body = b"" if self.head else text.encode() + b"\n"
        try:
            data = self.h11.send(h11.Response(status_code=status, reason=_REASONS.get(status, b""), headers=[
                (b"Content-Type", b"text/plain; charset=utf-8"), (b"Content-Length", str(len(body)).encode()),
                (b"Connection", b"close")]))
            if body:
                data += self.h11.send(h11.Data(data=body))
            data += self.h11.send(h11.EndOfMessage())
            self._write(data)
        except h11.LocalProtocolError:  # a response had already begun: all that is left is to close
            pass
        self.close()

    # --- requests ---------------------------------------------------------------------------
    def _next_request(self) -> None:
        """Idle: look for the next request head among what has arrived."""
        try:
            event = self.h11.next_event()
        except h11.RemoteProtocolError as exc:
            self._send_plain(exc.error_status_hint, "Bad request.")
            return
        if event is h11.NEED_DATA:
            return
        if isinstance(event, h11.Request):
            self._set_timer(None)
            self.head = event.method == b"HEAD"
            # h11 limits a head still arriving; one that arrived whole in one read is measured here
            size = len(event.method) + len(event.target) + sum(len(n) + len(v) + 4 for n, v in event.headers)
            if size > self.front.config.max_head_bytes:
                self._send_plain(431, "Request header fields too large.")
                return
            self.task = self.front.loop.create_task(self._answer(event, self.front.seq))
        else:  # ConnectionClosed
            self.close()

    async def _client_event(self):
        conn = self.h11
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            await self._more_from_client()

    async def _more_from_client(self) -> None:
        self.unread = 0
        if self.reading_paused:
            self.reading_paused = False
            self.transport.resume_reading()
        self.waiter = self.front.loop.create_future()
        async with asyncio.timeout(self.front.config.idle_seconds):
            await self.waiter

    async def _answer(self, request: h11.Request, arrival: int) -> None:
        try:
            await self._proxy(request, arrival)
        except (_ClientGone, asyncio.CancelledError):
            self.close()
        except h11.RemoteProtocolError:  # a request body that breaks the rules
            self._send_plain(400, "Bad request.")
        except TimeoutError:  # a request body that stopped coming
            self._send_plain(408, "The request took too long to arrive.")
        except Exception:
            log.exception("front: unexpected failure answering %s %s", request.method.decode(errors="replace"),
                          request.target[:200].decode(errors="replace"))
            self._send_plain(500, "Watchword could not answer this request.")

    def _upstream_headers(self, request: h11.Request) -> tuple[list, bool, bytes | None]:
        drop = set(_REQUEST_DROP)
        chunked, length, host = False, None, False
        for name, value in request.headers:
            if name == b"connection":
                drop.update(token.strip().lower() for token in value.split(b","))
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"content-length":
                length = value
            elif name == b"host":
                host = True
        headers = []
        for raw, value in request.headers.raw_items():
            name = raw.lower()
            if name in drop:
                continue
            if not self.trusted and (name in _SCHEME_HEADERS or b"_" in name):
                continue
            headers.append((raw, value))
        if not host:  # HTTP/1.0 without Host: what gunicorn would have used, the address dialled
            sockname = self.transport.get_extra_info("sockname")
            if isinstance(sockname, tuple):
                headers.append((b"Host", f"{sockname[0]}:{sockname[1]}".encode()))
        headers.append((b"X-Watchword-Client", self.peer.encode()))
        headers.append((b"Connection", b"close"))
        return headers, chunked, None if chunked else length

    async def _proxy(self, request: h11.Request, arrival: int) -> None:
        front, conn, config = self.front, self.h11, self.front.config
        if request.method == b"CONNECT":
            self._send_plain(405, "Method not allowed.")
            return
        headers, chunked, length = self._upstream_headers(request)
        body = None
        if conn.they_are_waiting_for_100_continue:
            self._write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        if chunked:  # Django reads bodies by Content-Length: collect it first
            body = bytearray()
            while True:
                event = await self._client_event()
                if isinstance(event, h11.Data):
                    body += event.data
                    if len(body) > config.max_chunked_body:
                        self._send_plain(413, "Request body too large.")
                        return
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    raise _ClientGone
            headers.append((b"Content-Length", str(len(body)).encode()))
        elif length is not None:
            headers.append((b"Content-Length", length))

        hold = hold_seconds = None
        out = bytearray()  # for the client; written at once before any wait, so one send where one will do
        async with front.slots:
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
            try:
                up = h11.Connection(h11.CLIENT, max_incomplete_event_size=_UPSTREAM_HEAD_LIMIT)
                try:
                    await front.loop.sock_connect(upstream, config.upstream)
                except OSError as exc:
                    raise _UpstreamFailed(502, f"cannot connect to gunicorn: {exc.strerror or exc}") from None
                await self._send_request(upstream, up, request, headers, body)
                try:
                    async with asyncio.timeout(config.upstream_timeout):
                        response = await self._upstream_event(upstream, up, out)
                        while isinstance(response, h11.InformationalResponse):
                            response = await self._upstream_event(upstream, up, out)
                except TimeoutError:
                    raise _UpstreamFailed(504, "gunicorn did not answer in time") from None
                except (OSError, h11.RemoteProtocolError) as exc:
                    raise _UpstreamFailed(502, f"gunicorn's answer broke off: {exc}") from None
                if not isinstance(response, h11.Response):
                    raise _UpstreamFailed(502, "gunicorn closed the connection without answering")

                headers = []
                for raw, value in response.headers.raw_items():
                    name = raw.lower()
                    if name in _HOP_BY_HOP:
                        continue
                    if name.startswith(_HOLD_PREFIX):
                        if name == _HOLD_PREFIX:
                            hold = value.decode("ascii", "replace")
                        elif name == b"x-watchword-hold-seconds" and value.isdigit():
                            hold_seconds = max(1, min(int(value), 86400))
                        continue
                    headers.append((raw, value))
                if hold is not None:
                    if not valid_channel(hold):
                        log.warning("front: X-Watchword-Hold %r is not a channel name; not holding", hold[:100])
                        hold = None
                    elif self.head or front.stopping or not 200 <= response.status_code < 300:
                        hold = None
                    else:  # open-ended: chunked to HTTP/1.1 clients
                        headers = [(raw, value) for raw, value in headers if raw.lower() != b"content-length"]
                if front.stopping:
                    headers.append((b"Connection", b"close"))
                out += conn.send(h11.Response(status_code=response.status_code, headers=headers,
                                              reason=response.reason))
                while True:
                    try:
                        event = await self._upstream_event(upstream, up, out)
                    except (OSError, h11.RemoteProtocolError) as exc:
                        log.warning("front: gunicorn's answer to %s broke off: %s",
                                    request.target[:200].decode(errors="replace"), exc or type(exc).__name__)
                        self._write(out)
                        self.close()
                        return
                    if type(event) is h11.Data:
                        out += conn.send(event)
                        if len(out) >= _READ_AHEAD:
                            self._write(out)
                            out.clear()
                            await self._drain()
                    elif type(event) is h11.EndOfMessage:
                        break
                    else:
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
        if self.closed:
            return
        if hold is not None:
            self._write(out)
            self.begin_hold(hold, hold_seconds or config.hold_seconds, arrival)
            return
        out += conn.send(h11.EndOfMessage())
        self._write(out)
        self._finish()

    async def _send_request(self, upstream, up, request, headers, body) -> None:
        """The request to gunicorn, in as few sends as it arrived in. If gunicorn answers early
        and stops reading, its answer is what counts."""
        loop, conn = self.front.loop, self.h11
        pending = bytearray(up.send(h11.Request(method=request.method, target=request.target, headers=headers)))
        try:
            if body is not None:
                if body:
                    pending += up.send(h11.Data(data=bytes(body)))
            else:
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        if pending:
                            await loop.sock_sendall(upstream, bytes(pending))
                            pending.clear()
                        await self._more_from_client()
                    elif type(event) is h11.Data:
                        pending += up.send(event)
                        if len(pending) >= _READ_AHEAD:
                            await loop.sock_sendall(upstream, bytes(pending))
                            pending.clear()
                    elif type(event) is h11.EndOfMessage:
                        break
                    else:
                        raise _ClientGone
            pending += up.send(h11.EndOfMessage())
            await loop.sock_sendall(upstream, bytes(pending))
        except (BrokenPipeError, ConnectionResetError):
            pass  # read what gunicorn said, if anything

    async def _upstream_event(self, upstream, up, out: bytearray):
        """The next event from gunicorn; before waiting for it, what is ready for the client goes."""
        while True:
            event = up.next_event()
            if event is not h11.NEED_DATA:
                return event
            if out:
                self._write(out)
                out.clear()
                if self.writing_paused:
                    await self._drain()
            up.receive_data(await self.front.loop.sock_recv(upstream, 65536))

    def _finish(self) -> None:
        """The response is complete: wait for the next request on this connection, or close."""
        self.task = None
        conn = self.h11
        if self.closed:
            return
        if self.front.stopping or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
            self.close()
            return
        conn.start_next_cycle()
        self.unread = 0
        if self.reading_paused:
            self.reading_paused = False
            self.transport.resume_reading()
        self._set_timer(self.front.config.idle_seconds, self.close)
        self._next_request()  # a request sent before this answer ended (pipelining)

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
        self._write(self.h11.send(h11.Data(data=message.sse)))
        if message.close:
            self.end_hold()
        elif self.transport.get_write_buffer_size() > _HOLD_BACKLOG:
            log.info("front: a held stream on %s is not reading; closing it", self.channel)
            self.transport.abort()

    def send_comment(self) -> None:
        if self.channel is not None and not self.closed:
            self._write(self.h11.send(h11.Data(data=_KEEPALIVE_COMMENT)))
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
        self._write(self.h11.send(h11.EndOfMessage()))
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
