"""The RADIUS server (RFC 2865, PAP only) that VPNs and network equipment send sign-ins to.

    datagram ─▶ known NAS? (source address) ─▶ Message-Authenticator right? ─▶ retransmission?
            ─▶ worker thread: ``authenticate()`` ─▶ Access-Accept / -Reject / -Challenge (signed)

Packets from unknown sources, larger than RFC 2865's 4096 octets, malformed, without a
Message-Authenticator or with a wrong one are dropped (logged), never answered: a
Message-Authenticator on every Access-Request and every reply is the defence against BlastRADIUS
(CVE-2024-3596). A retransmission (same NAS, same identifier and Request Authenticator) is
answered with the reply already sent, or ignored while the first copy is still being worked on;
it is never processed twice.

The sign-in itself (password, decision, codes, push, texts and calls) is ``radius_signin``.
A push or a call is waited for in a worker thread, woken by ``delivery.wakeups`` when the answer
comes; the loop that reads datagrams never waits.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections
from pyrad import packet as rp
from pyrad.dictionary import Dictionary

from watchword.delivery.wakeups import Wakeups
from watchword.protocols import services
from watchword.protocols.errors import RadiusBindInvalid
from watchword.protocols.models import RadiusClient
from watchword.protocols.radius_signin import (  # noqa: F401  (the sign-in's names, for callers of this module)
    ACCEPT,
    BAD_CREDENTIALS,
    CHALLENGE,
    CODE_PROMPT,
    REJECT,
    STATE_SECONDS,
    Conversations,
    authenticate,
    client_address,
)

log = logging.getLogger("watchword.radius")

DICTIONARY_PATH = Path(__file__).with_name("dictionary")
DUPLICATE_SECONDS = 30  # replies kept for retransmissions (the reference discards them for 10 s)
MAX_PACKET = 4096  # RFC 2865 §3


def dictionary() -> Dictionary:
    return Dictionary(str(DICTIONARY_PATH))


# ----------------------------------------------------------------------------------------------
# Packets


def parse_bind(value: str) -> tuple[str, int]:
    """``127.0.0.1:1812``, ``[::1]:1812``, ``0.0.0.0:1812``."""
    text = (value or "").strip()
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([0-9.]+|[A-Za-z0-9.-]+):(\d{1,5})", text)
    if not match:
        raise RadiusBindInvalid(f"--bind must look like 127.0.0.1:1812 or [::1]:1812, got {text!r}")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 1 <= port <= 65535:
        raise RadiusBindInvalid(f"the port must be between 1 and 65535, got {port}")
    return host, port


def _text(pkt, name: str) -> str:
    try:
        values = pkt.get(name) or []
    except (KeyError, UnicodeDecodeError):
        return ""
    value = values[0] if values else ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _octets(pkt, name: str) -> bytes:
    values = pkt.get(name) or []
    return bytes(values[0]) if values else b""


class Server:
    """UDP listener: reads datagrams, hands each Access-Request to a worker thread (a push or a
    call can wait tens of seconds; the loop never does), sends the signed reply. ``wakeups``
    False makes waits poll the database only."""

    def __init__(self, host: str, port: int, *, workers: int = 64, push_timeout: float | None = None,
                 wakeups: bool = True) -> None:
        self.dict = dictionary()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.5)
        self.address = self.sock.getsockname()[:2]
        self.conversations = Conversations()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="radius")
        self.push_timeout = push_timeout
        self.stopping = threading.Event()
        self._replies: dict[tuple, tuple[float, bytes | None]] = {}
        self._replies_lock = threading.Lock()
        self._clients: list[RadiusClient] = []
        self._clients_loaded = 0.0
        self._clients_lock = threading.Lock()
        self.wakeups = None
        if wakeups:
            self.wakeups = Wakeups(data_dir=settings.DATA_DIR, redis_url=settings.REDIS_URL)
            self.wakeups.start()

    def serve_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                data, source = self.sock.recvfrom(MAX_PACKET + 1)  # one more: an oversized one shows
            except socket.timeout:
                continue
            except OSError:
                if self.stopping.is_set():
                    break
                raise
            self.pool.submit(self._handle, data, source)

    def stop(self) -> None:
        self.stopping.set()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.sock.close()
        if self.wakeups is not None:
            self.wakeups.stop()

    # -- one datagram

    def clients(self) -> list[RadiusClient]:
        """The clients, re-read from the database at most every 5 s (added or removed clients
        take effect without a restart)."""
        with self._clients_lock:
            if time.monotonic() - self._clients_loaded > 5:
                self._clients = list(RadiusClient.objects.filter(enabled=True))
                self._clients_loaded = time.monotonic()
            return self._clients

    def forget_clients(self) -> None:
        with self._clients_lock:
            self._clients_loaded = 0.0

    def _handle(self, data: bytes, source) -> None:
        close_old_connections()
        try:
            reply = self.handle(data, source[0])
            if reply is not None:
                self.sock.sendto(reply, source)
        except Exception:  # one bad packet must never stop the server
            log.exception("RADIUS: error handling a packet from %s", source[0])
        finally:
            close_old_connections()

    def handle(self, data: bytes, source_ip: str) -> bytes | None:
        """The reply to send for one datagram, or None to drop it."""
        nas = services.client_for_address(source_ip, self.clients())
        if nas is None:
            log.warning("RADIUS: dropped a packet from %s: not a known RADIUS client", source_ip)
            return None
        if len(data) > MAX_PACKET:
            log.warning("RADIUS: dropped an oversized packet from %s (%s): more than %d octets", nas.name,
                        source_ip, MAX_PACKET)
            return None
        secret = services.secret_of(nas)
        try:
            pkt = rp.AuthPacket(packet=data, secret=secret, dict=self.dict)
        except rp.PacketError as exc:
            log.warning("RADIUS: dropped a malformed packet from %s (%s): %s", nas.name, source_ip, exc)
            return None
        if pkt.code != rp.AccessRequest:
            log.warning("RADIUS: dropped a packet of code %s from %s: only Access-Request is served", pkt.code,
                        nas.name)
            return None
        if not pkt.message_authenticator:
            log.warning("RADIUS: dropped an Access-Request from %s (%s) without Message-Authenticator; configure "
                        "the NAS to send it (BlastRADIUS)", nas.name, source_ip)
            return None
        if not pkt.verify_message_authenticator():
            log.warning("RADIUS: dropped an Access-Request from %s (%s) with a wrong Message-Authenticator "
                        "(check the shared secret)", nas.name, source_ip)
            return None
        key = (nas.pk, source_ip, pkt.id, pkt.authenticator)
        now = time.monotonic()
        with self._replies_lock:
            for old in [k for k, (t, _) in self._replies.items() if t < now - DUPLICATE_SECONDS]:
                del self._replies[old]
            if key in self._replies:
                _, previous = self._replies[key]
                log.info("RADIUS: retransmission from %s (id %s) %s", nas.name, pkt.id,
                         "answered again" if previous else "ignored, still working on it")
                return previous
            self._replies[key] = (now + 3600, None)  # working on it: kept until done
        reply = None
        try:
            reply = self._answer(nas, pkt, source_ip)
        finally:
            with self._replies_lock:
                self._replies[key] = (time.monotonic(), reply)
        return reply

    def _answer(self, nas: RadiusClient, pkt, source_ip: str) -> bytes | None:
        name = _text(pkt, "User-Name")
        encrypted = _octets(pkt, "User-Password")
        state = _octets(pkt, "State") or None
        if not name or not (encrypted or state):  # the answer to a push challenge may come without one
            log.warning("RADIUS: dropped an Access-Request from %s without User-Name or User-Password (PAP only)",
                        nas.name)
            return None
        try:
            password = pkt.PwDecrypt(encrypted) if encrypted else ""
        except rp.PacketError:
            log.warning("RADIUS: dropped an Access-Request from %s with a malformed User-Password", nas.name)
            return None
        result = authenticate(nas, name=name, password=password, state=state,
                              ip=client_address(_text(pkt, "Calling-Station-Id"), source_ip),
                              conversations=self.conversations, push_timeout=self.push_timeout,
                              wakeups=self.wakeups)
        reply = pkt.CreateReply()
        reply.code = result.code
        reply.message_authenticator = True
        if result.message:
            reply["Reply-Message"] = result.message
        if result.state:
            reply["State"] = result.state
            reply["Session-Timeout"] = STATE_SECONDS
        log.info("RADIUS: %s for %r from %s", {ACCEPT: "Access-Accept", REJECT: "Access-Reject",
                                               CHALLENGE: "Access-Challenge"}[result.code], name[:64], nas.name)
        return reply.ReplyPacket()
