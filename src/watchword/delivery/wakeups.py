"""Waking a thread that waits for a channel's last message, in a process that holds no streams:
the RADIUS server, whose request waits for a push answer or a call's result.

A wake-up only says "read the database again": the database stays the truth, the message's
contents are not trusted, and the waiter still re-reads now and then (``fallback_seconds``), so
a lost wake-up costs a little latency, never a wrong answer. The messages come from
``delivery.fanout``, as the front's do:

- **Embedded:** ``fanout`` also sends each channel's closing message (``close=True``: a push
  answered, a call ended, a device revoked) to a second abstract Unix socket named after the data
  folder (``fanout.waiter_address``), which one waiting process binds. When another process of
  the installation has it already, this one polls.
- **Redis (``WATCHWORD_REDIS_URL``):** the process subscribes to ``watchword:hub`` like every
  front, and reads only closing messages. While Redis is unreachable it polls.

The embedded socket does not check who sent a datagram (the front does): a forged wake-up can
only make a waiter re-read a row it was already reading, and only for a channel whose random
name the sender knows.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

from watchword.delivery.fanout import MAX_MESSAGE_BYTES, REDIS_CHANNEL, waiter_address

log = logging.getLogger("watchword.fanout")

POLL_SECONDS = 0.2  # how often a waiter re-reads without wake-ups
FALLBACK_SECONDS = 1.0  # … and with them, in case one is lost


class Wakeups:
    """Per-channel events set when the channel's closing message arrives. ``start()`` begins
    listening; until it succeeds (or when it cannot), ``live`` is False and waiters poll."""

    def __init__(self, *, data_dir: Path | str, redis_url: str | None = None) -> None:
        self.data_dir = data_dir
        self.redis_url = redis_url
        self._lock = threading.Lock()
        self._waiting: dict[str, set[threading.Event]] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._live = False

    @property
    def live(self) -> bool:
        return self._live

    @property
    def poll_seconds(self) -> float:
        """How long a waiter may sleep between two reads of the database."""
        return FALLBACK_SECONDS if self._live else POLL_SECONDS

    def start(self) -> bool:
        """Listen, in a daemon thread. False when this process gets no wake-ups (the embedded
        socket is taken by another process): its waiters poll."""
        if self.redis_url:
            target = self._listen_redis
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            try:
                sock.bind(waiter_address(self.data_dir))
            except OSError as exc:
                sock.close()
                log.warning("wake-ups: not listening (%s); waiting requests re-read every %.1f s instead",
                            exc.strerror or exc, POLL_SECONDS)
                return False
            sock.settimeout(0.5)
            self._sock, self._live, target = sock, True, self._listen_datagrams
        self._thread = threading.Thread(target=target, name="wakeups", daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        self._stopping.set()
        self._live = False
        if self._sock is not None:
            with contextlib.suppress(OSError):  # an empty datagram to itself ends its wait at once
                self._sock.sendto(b"", waiter_address(self.data_dir))
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()

    @contextlib.contextmanager
    def watching(self, channel: str) -> Iterator[threading.Event]:
        """An event set when ``channel``'s closing message arrives. Enter it *before* reading
        the database, so a message that arrives between the read and the wait is not missed."""
        event = threading.Event()
        with self._lock:
            self._waiting.setdefault(channel, set()).add(event)
        try:
            yield event
        finally:
            with self._lock:
                events = self._waiting.get(channel)
                if events is not None:
                    events.discard(event)
                    if not events:
                        del self._waiting[channel]

    def receive(self, payload: bytes) -> None:
        """One message in ``fanout``'s wire format; anything else, or a message that does not
        close its channel, is ignored."""
        try:
            item = json.loads(payload)
            channel, close = item["c"], item.get("x")
        except (ValueError, TypeError, KeyError):
            return
        if close is not True or not isinstance(channel, str):
            return
        with self._lock:
            events = list(self._waiting.get(channel, ()))
        for event in events:
            event.set()

    # -- where messages come from

    def _listen_datagrams(self) -> None:
        while not self._stopping.is_set():
            try:
                payload = self._sock.recv(MAX_MESSAGE_BYTES + 1024)
            except TimeoutError:
                continue
            except OSError:
                if not self._stopping.is_set():
                    log.exception("wake-ups: reading a message failed; waiting requests poll from now on")
                self._live = False
                return
            self.receive(payload)

    def _listen_redis(self) -> None:
        import redis
        from redis.exceptions import RedisError

        delay = 1.0
        while not self._stopping.is_set():
            client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=5, socket_timeout=5,
                                          health_check_interval=30)
            pubsub = client.pubsub()
            try:
                pubsub.subscribe(REDIS_CHANNEL)
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if not message:
                        continue
                    if message.get("type") == "message":
                        self.receive(message["data"])
                    elif message.get("type") == "subscribe":  # Redis confirmed: from now on nothing is missed
                        self._live, delay = True, 1.0
                        log.info("wake-ups: listening on Redis")
            except (RedisError, OSError) as exc:
                if self._live or delay == 1.0:
                    log.warning("wake-ups: Redis is not reachable (%s); waiting requests re-read every %.1f s "
                                "until it is back", str(exc).rstrip(".") or type(exc).__name__, POLL_SECONDS)
            finally:
                self._live = False
                with contextlib.suppress(RedisError, OSError):
                    pubsub.close()
                    client.close()
            self._stopping.wait(delay)
            delay = min(delay * 2, 30.0)
