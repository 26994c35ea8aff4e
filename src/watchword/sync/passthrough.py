"""Pass-through password check: a synced person's password is checked by binding to their
directory as them, never stored here.

Each process keeps a few open connections per directory (already connected and secured) and
rebinds them for each check. A connection that broke is dropped and the check tried once on a
fresh one; a directory that cannot be reached raises ``DirectoryUnavailable`` — never a silent
accept. An empty password is refused before anything is sent (an LDAP simple bind with an empty
password is an anonymous bind, which servers accept).
"""

from __future__ import annotations

import queue
import threading

from ldap3.core import exceptions as lx

from watchword.sync import ldap
from watchword.sync.errors import DirectoryError
from watchword.sync.mapping import normalise_dn

POOL_SIZE = 4


class DirectoryUnavailable(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


_pools: dict[tuple, queue.LifoQueue] = {}
_pools_lock = threading.Lock()


def _pool(endpoint: ldap.Endpoint) -> queue.LifoQueue:
    key = (endpoint.url, endpoint.start_tls, endpoint.ca_certificate, endpoint.timeout)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = queue.LifoQueue(maxsize=POOL_SIZE)
        return pool


def reset_pools() -> None:
    """Close every pooled connection (tests; a connection's settings changed)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        while True:
            try:
                ldap.close(pool.get_nowait())
            except queue.Empty:
                break


def _bind(conn, dn: str, password: str) -> bool:
    conn.user, conn.password = dn, password
    return bool(conn.bind())


def _attempt(endpoint: ldap.Endpoint, dn: str, password: str, pool: queue.LifoQueue) -> tuple[bool, object]:
    """(accepted, connection to pool again or None)."""
    try:
        conn = pool.get_nowait()
    except queue.Empty:
        # A new connection opened with the person's own credentials: its bind is the answer.
        try:
            return True, ldap.connect(endpoint, bind_dn=dn, password=password)
        except DirectoryError as exc:
            if exc.code == "invalid_credentials":
                return False, None
            raise
    ok = _bind(conn, dn, password)
    code = (conn.result or {}).get("result")
    if not ok and code not in (49, 53):  # anything but "wrong credentials" / "unwilling": the link is suspect
        ldap.close(conn)
        raise lx.LDAPSessionTerminatedByServerError(f"bind answered {code}")
    return ok, conn


def _current_dn(connection, endpoint: ldap.Endpoint, user) -> str | None:
    """Where the person's entry is now, found by its immutable id with the connection's own
    account (None when it cannot be looked up)."""
    from watchword.sync.mapping import effective_mapping

    attribute = effective_mapping(connection.flavour, connection.mapping)["id"]
    try:
        conn = ldap.connect(endpoint)
    except DirectoryError:
        return None
    try:
        for base in connection.base_dn_list:
            for page in ldap.paged_search(conn, base, ldap.by_id_filter(attribute, user.external_id), ["1.1"],
                                          page_size=2):
                for found, _ in page.entries:
                    return normalise_dn(found)
    except (DirectoryError, ValueError):
        return None
    finally:
        ldap.close(conn)
    return None


def check_password(connection, user, password: str) -> bool:
    """True when the directory accepts ``password`` for ``user``; ``DirectoryUnavailable`` when
    it cannot say."""
    from watchword.sync.services import endpoint_for

    if not password or "\x00" in password or not user.external_dn:
        return False
    endpoint = endpoint_for(connection)
    pool = _pool(endpoint)
    dn = user.external_dn
    last: Exception | None = None
    failures = 0
    looked_up = False
    while failures < 2:  # a broken pooled connection is retried once on a fresh one
        try:
            ok, conn = _attempt(endpoint, dn, password, pool)
        except DirectoryError as exc:
            last, failures = exc, failures + 1
            if exc.code in ("tls_failed", "invalid_url"):
                break
            continue
        except (lx.LDAPException, OSError) as exc:
            last, failures = exc, failures + 1
            continue
        if conn is not None:
            try:
                pool.put_nowait(conn)
            except queue.Full:
                ldap.close(conn)
        if not ok and not looked_up:
            looked_up = True
            moved = _current_dn(connection, endpoint, user)
            if moved and moved != normalise_dn(dn):
                # Moved or renamed in the directory since the last sync: bind where the entry is now.
                type(user).objects.filter(pk=user.pk).update(external_dn=moved)
                dn = moved
                continue
        return ok
    if isinstance(last, DirectoryError) and last.code == "timeout":
        raise DirectoryUnavailable(str(last), "timeout")
    raise DirectoryUnavailable(str(last) if last else "unreachable", "unreachable")
