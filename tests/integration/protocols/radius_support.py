"""Building Access-Requests and reading replies with pyrad's client side, for the tests."""

from __future__ import annotations

from pyrad import packet as rp

from watchword.protocols import radius


def access_request(secret: bytes, name: str, password: str, *, state: bytes | None = None,
                   message_authenticator: bool = True, calling_station: str | None = None,
                   packet_id: int | None = None):
    pkt = rp.AuthPacket(code=rp.AccessRequest, secret=secret, dict=radius.dictionary(), id=packet_id)
    pkt.authenticator = pkt.CreateAuthenticator()
    pkt["User-Name"] = name
    pkt["User-Password"] = pkt.PwCrypt(password)
    if state is not None:
        pkt["State"] = state
    if calling_station:
        pkt["Calling-Station-Id"] = calling_station
    if message_authenticator:
        pkt.add_message_authenticator()
    return pkt, pkt.RequestPacket()


def read_reply(request, raw: bytes):
    """The reply, checked as a NAS checks it (Response Authenticator and Message-Authenticator)."""
    reply = request.CreateReply(packet=raw)
    assert request.VerifyReply(reply, raw, enforce_ma=True), "reply not signed with the shared secret"
    message = reply.get("Reply-Message")
    state = reply.get("State")
    return reply.code, (message[0] if message else ""), (state[0] if state else None)
