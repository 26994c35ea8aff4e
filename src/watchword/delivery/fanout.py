"""Telling the front (``watchword.delivery.hub``) about a message for its held streams.

Django code calls :func:`publish` (or :func:`publish_on_commit` inside a transaction) with a
channel such as ``device:dv_abc123`` or ``challenge:ch_xyz``; every stream held open on that
channel, by any front of this installation, receives the message as a server-sent event::

    event: <event>
    data: <data>

One message on the wire is the JSON ``{"c": channel, "e": event, "d": data, "x": close}``. It
travels one of two ways, chosen by the settings:

- **Embedded (default):** one datagram to the front's Unix socket in Linux's abstract namespace,
  named after this installation's data folder (:func:`hub_address`), so every process of the
  installation (gunicorn workers, the command line) reaches the front with one ``sendto`` and two
  installations on one machine never cross. When no front is running the message is dropped
  quietly.
- **Scale-out (``WATCHWORD_REDIS_URL``):** a ``PUBLISH`` to the Redis channel ``watchword:hub``;
  every front subscribes, so a message published on one node reaches streams held by another.

A process that waits for an answer without holding a stream (the RADIUS server) hears of a
channel's closing message too (``close=True``: the end of what it waits for); see
``delivery.wakeups``. With Redis it subscribes like a front; embedded, each closing message is
also sent, without ever blocking, to a second abstract socket (:func:`waiter_address`).

Delivery is best effort: the database stays the only record, and a stream that reconnects is
sent what is pending from it. So :func:`publish` never raises: a failure is logged as a warning.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import logging
import os
import socket
import threading
import time
from pathlib import Path

log = logging.getLogger("watchword.fanout")

REDIS_CHANNEL = "watchword:hub"
MAX_MESSAGE_BYTES = 60 * 1024  # well inside one datagram; a held stream is no place for more
MAX_CHANNEL_LENGTH = 200
_SEND_TIMEOUT = 0.5  # seconds a sender may wait when the front's queue is full
_REDIS_TIMEOUT = 1.0
_REDIS_PAUSE = 2.0  # after a failure, publishes are dropped (with a warning) for this long


@functools.lru_cache(maxsize=8)
def _installation(data_dir: Path | str) -> bytes:
    return hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:20].encode()


def hub_address(data_dir: Path | str) -> bytes:
    """The abstract-namespace address of the front of the installation in ``data_dir`` (cached:
    publishing asks for it with every message)."""
    return b"\0watchword-hub-" + _installation(data_dir)


def waiter_address(data_dir: Path | str) -> bytes:
    """Where closing messages also go, for a process of the installation that waits for them
    (``delivery.wakeups``)."""
    return b"\0watchword-wait-" + _installation(data_dir)


def valid_channel(channel: object) -> bool:
    return (isinstance(channel, str) and 0 < len(channel) <= MAX_CHANNEL_LENGTH
            and channel.isascii() and channel.isprintable() and " " not in channel)


def valid_event(event: object) -> bool:
    return isinstance(event, str) and 0 < len(event) <= 64 and event.isascii() and event.isprintable()


def encode(channel: str, event: str, data: str, close: bool = False) -> bytes:
    """The wire form of one message; ``ValueError`` if it cannot be sent."""
    if not valid_channel(channel):
        raise ValueError(f"channel {channel!r} is not a short printable ASCII name")
    if not valid_event(event):
        raise ValueError(f"event {event!r} is not a short printable ASCII name")
    if not isinstance(data, str):
        raise ValueError("data must be a str")
    payload = json.dumps({"c": channel, "e": event, "d": data, "x": bool(close)}, separators=(",", ":"),
                         ensure_ascii=False).encode()
    if len(payload) > MAX_MESSAGE_BYTES:
        raise ValueError(f"message of {len(payload)} bytes is larger than {MAX_MESSAGE_BYTES}")
    return payload


def publish(channel: str, event: str, data: str, *, close: bool = False) -> None:
    """Send one message to every stream held on ``channel``; ``close=True`` ends those streams
    after this message. Fast, and never raises: a message that cannot be sent is logged."""
    try:
        payload = encode(channel, event, data, close)
        from django.conf import settings

        redis_url = getattr(settings, "REDIS_URL", None)
        if redis_url:
            _redis.send(redis_url, payload)
        else:
            try:
                _datagram.send(hub_address(settings.DATA_DIR), payload)
            finally:
                if close:
                    _wake_waiters(settings.DATA_DIR, payload)
    except Exception as exc:  # the caller's work is done and saved; a lost message is not its failure
        log.warning("message for %r not sent: %s", channel, exc)


def publish_on_commit(channel: str, event: str, data: str, *, close: bool = False) -> None:
    """:func:`publish` once the current transaction commits (at once outside a transaction), so a
    stream never hears of a row a reader could not yet see."""
    from django.db import transaction

    transaction.on_commit(lambda: publish(channel, event, data, close=close))


def _wake_waiters(data_dir, payload: bytes) -> None:
    """Best effort and never blocking: usually nobody waits, and a waiter that misses a message
    finds the answer at its next read of the database."""
    try:
        _nudges.send(waiter_address(data_dir), payload)
    except OSError as exc:
        log.debug("wake-up not sent: %s", exc)


class _DatagramSender:
    """One unbound datagram socket per process (a forked worker makes its own). ``timeout`` 0
    makes a full receiving queue fail at once instead of waiting."""

    def __init__(self, timeout: float = _SEND_TIMEOUT) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._pid = 0
        self._timeout = timeout

    def _socket(self) -> socket.socket:
        with self._lock:
            if self._sock is None or self._pid != os.getpid():
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                sock.settimeout(self._timeout)
                self._sock, self._pid = sock, os.getpid()
            return self._sock

    def send(self, address: bytes, payload: bytes) -> None:
        try:
            self._socket().sendto(payload, address)
        except (ConnectionRefusedError, FileNotFoundError):
            log.debug("no front is running for this installation; message dropped")
        except TimeoutError:
            raise OSError(errno.EAGAIN, "the front is not keeping up (its queue is full)") from None


class _RedisSender:
    """One lazily made Redis client per process and URL."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client = None
        self._key: tuple[int, str] | None = None
        self._paused_until = 0.0

    def _get(self, url: str):
        with self._lock:
            key = (os.getpid(), url)
            if self._client is None or self._key != key:
                import redis

                self._client = redis.Redis.from_url(url, socket_timeout=_REDIS_TIMEOUT,
                                                    socket_connect_timeout=_REDIS_TIMEOUT,
                                                    health_check_interval=30)
                self._key = key
            return self._client

    def send(self, url: str, payload: bytes) -> None:
        if time.monotonic() < self._paused_until:
            raise OSError("Redis was unreachable a moment ago; not trying again yet")
        try:
            self._get(url).publish(REDIS_CHANNEL, payload)
        except Exception as exc:
            self._paused_until = time.monotonic() + _REDIS_PAUSE
            raise OSError(f"Redis publish failed: {exc}") from None


_datagram = _DatagramSender()
_nudges = _DatagramSender(timeout=0.0)
_redis = _RedisSender()
