"""A real OpenLDAP server for the directory-sync tests and benchmarks.

``Slapd`` builds a private slapd (Debian's 2.5 build) in a folder of its own: a cn=config
directory made with ``slapadd -n0`` (of ``/etc/ldap`` only the schema files are read, nothing written),
one mdb database for ``dc=example,dc=org`` and, on request, TLS with a throw-away CA. It listens on
127.0.0.1 only, on free ports, and is always stopped at the latest when the interpreter exits
(or when the object is collected), even if a test fails half-way.

The directory looks like a small organisation's::

    dc=example,dc=org
      cn=admin              rootdn (not an entry; bypasses limits and ACLs)
      ou=people
        ou=london           people, split across two offices so that moves can be tested
        ou=paris
      ou=groups             groupOfNames
      ou=services
        cn=watchword        the read-only service account the sync binds as
      ou=former             outside ou=people: "moved out of the sync's scope"

Access control is a realistic read-only-integration setup:

* people may bind with their own ``userPassword`` (anonymous ``auth``) and read their own entry;
* the service account reads everything except ``userPassword``;
* anonymous users may only bind (and read the root DSE and the subschema, as every client does).

The service account is held to limits like a production server's: 1,000 entries for an ordinary
search, any number through the paged-results control in pages of at most 1,000 (a bigger page is
refused with adminLimitExceeded).

Data helpers (``add_person``, ``modify``, ``rename`` ...) go through ldap3 as the rootdn;
``bulk_ldif`` + ``Slapd.load_ldif_offline`` load 100,000 people in seconds with ``slapadd``.
``messy_people`` is the awkward data an import has to survive.

This module has no pytest dependency; ``unavailable_reason()`` says why the harness can't run here.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import ipaddress
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unicodedata
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator, Mapping

SLAPD = Path("/usr/sbin/slapd")
SLAPADD = Path("/usr/sbin/slapadd")
MODULE_DIR = Path("/usr/lib/ldap")
SCHEMA_DIR = Path("/etc/ldap/schema")
SCHEMAS = ("core", "cosine", "nis", "inetorgperson")
MODULES = ("back_mdb", "ppolicy")

HOST = "127.0.0.1"
BASE_DN = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{BASE_DN}"
PEOPLE_DN = f"ou=people,{BASE_DN}"
GROUPS_DN = f"ou=groups,{BASE_DN}"
SERVICES_DN = f"ou=services,{BASE_DN}"
FORMER_DN = f"ou=former,{BASE_DN}"
SERVICE_DN = f"cn=watchword,{SERVICES_DN}"
OFFICES = ("london", "paris")

# Limits for everyone but the rootdn (olcSizeLimit in slapd-config(5) / "limits" in slapd.conf(5)):
# an ordinary search stops at 1,000 entries (sizeLimitExceeded); a paged search may return every
# entry (size.prtotal), in pages of at most 1,000 (size.pr). Asking for a bigger page is refused
# outright with adminLimitExceeded and no entries (Active Directory would quietly cap the page).
SIZE_LIMIT = "size.soft=1000 size.hard=unlimited size.pr=1000 size.prtotal=unlimited"

# The mdb map is a sparse file: 4 GiB is only the ceiling (200,000 people take ~1 GiB with indexes).
MAX_SIZE = 4 * 1024**3
INDEXES = ("objectClass eq", "entryUUID eq", "entryCSN eq", "uid eq", "mail eq", "member eq")

START_TIMEOUT = 10.0  # seconds for slapd to accept a bind
STOP_TIMEOUT = 10.0  # seconds for slapd to shut down on SIGTERM before it is killed
LOG_TAIL_LINES = 40


class SlapdError(RuntimeError):
    """The test server could not be built, started, stopped or changed; says what and why."""


def unavailable_reason() -> str | None:
    """Why this machine can't run the harness (for ``pytest.skip``), or None when it can."""
    for path in (SLAPD, SLAPADD):
        if not os.access(path, os.X_OK):
            return f"{path} is not installed (Debian: apt-get install slapd ldap-utils)"
    for module in MODULES:
        if not (MODULE_DIR / f"{module}.so").exists() and not (MODULE_DIR / f"{module}.la").exists():
            return f"the slapd module {module} is missing from {MODULE_DIR}"
    for schema in SCHEMAS:
        if not (SCHEMA_DIR / f"{schema}.ldif").exists():
            return f"the LDAP schema {SCHEMA_DIR / schema}.ldif is missing"
    try:
        import ldap3  # noqa: F401
    except ImportError:
        return "the ldap3 package is not installed"
    return None


def ssha(password: str) -> str:
    """``{SSHA}`` hash of a password, the scheme slapd verifies natively."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --- TLS -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsFiles:
    ca_path: Path  # the CA certificate (PEM) a client trusts
    cert_path: Path  # the server certificate (PEM)
    key_path: Path  # the server's private key (unencrypted PKCS#8 PEM)


def make_tls_files(folder: Path | str, *, hosts: Iterable[str] = ("localhost",),
                   ips: Iterable[str] = (HOST,), ca_name: str = "Watchword test CA") -> TlsFiles:
    """A self-signed CA and a server certificate it signed, for the given names, valid for a day.

    Written as ``ca.pem``, ``server.pem`` and ``server.key`` in ``folder``. Calling it again in
    another folder gives an unrelated CA: handy to check that verification really happens."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    not_before, not_after = now - dt.timedelta(hours=1), now + dt.timedelta(days=1)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_subject).issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(h) for h in hosts] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, next(iter(hosts), HOST))]))
        .issuer_name(ca_subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    files.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    files.key_path.chmod(0o600)
    return files


# --- LDIF ------------------------------------------------------------------------------------

# RFC 2849: a value must be base64-encoded unless it is ASCII without NUL/CR/LF, does not start
# with a space, ':' or '<', and does not end with a space.
_UNSAFE = re.compile(r"[\x00\n\r]|^[ :<]|[ ]$")


def ldif_line(attr: str, value: str | bytes) -> str:
    """One ``attr: value`` line, or ``attr:: <base64>`` when RFC 2849 requires it."""
    text = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
    if text.isascii() and not _UNSAFE.search(text):
        return f"{attr}: {text}\n"
    raw = value if isinstance(value, bytes) else value.encode()
    return f"{attr}:: {base64.b64encode(raw).decode()}\n"


def write_entry(out: IO[str], dn: str, attrs: Mapping[str, str | bytes | Iterable[str | bytes] | None]) -> None:
    """Write one LDIF entry; attributes whose value is None or empty are left out."""
    out.write(ldif_line("dn", dn))
    for attr, values in attrs.items():
        if values is None:
            continue
        for value in [values] if isinstance(values, (str, bytes)) else values:
            out.write(ldif_line(attr, value))
    out.write("\n")


def _base_entries(service_password: str) -> Iterator[tuple[str, dict]]:
    yield BASE_DN, {"objectClass": ["top", "dcObject", "organization"], "dc": "example", "o": "Example Org"}
    for dn in (PEOPLE_DN, GROUPS_DN, SERVICES_DN, FORMER_DN,
               *(f"ou={office},{PEOPLE_DN}" for office in OFFICES)):
        yield dn, {"objectClass": ["top", "organizationalUnit"], "ou": dn.split(",")[0].split("=")[1]}
    yield SERVICE_DN, {"objectClass": ["top", "organizationalRole", "simpleSecurityObject"], "cn": "watchword",
                       "description": "Watchword directory sync (read-only)", "userPassword": ssha(service_password)}


def _escape_rdn(value: str) -> str:
    from ldap3.utils.dn import escape_rdn

    return escape_rdn(value)


# --- the server ------------------------------------------------------------------------------


class _Runtime:
    """What must be cleaned up even if the ``Slapd`` object is lost: the process and an owned
    folder. Kept apart from ``Slapd`` so that a ``weakref.finalize`` can hold it (a finalizer
    must not hold the object it watches), which also runs at interpreter exit."""

    def __init__(self, folder: Path, owned: bool):
        self.folder, self.owned = folder, owned
        self.process: subprocess.Popen | None = None
        self.log: IO[bytes] | None = None

    def halt(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.log is not None:
            self.log.close()
            self.log = None

    def close(self) -> None:
        self.halt()
        if self.owned:
            shutil.rmtree(self.folder, ignore_errors=True)


def _parent_death_signal():
    """A ``preexec_fn`` that has Linux send slapd SIGTERM when the thread that started it dies,
    so that a test process killed outright (SIGKILL, OOM) leaves no slapd behind; None elsewhere.

    libc is loaded here, in the parent: between fork and exec the child only makes the call
    (importing or dlopen-ing there could deadlock on a lock another thread held at fork)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl, pr_set_pdeathsig, sigterm = ctypes.CDLL(None, use_errno=True).prctl, 1, int(signal.SIGTERM)
    return lambda: prctl(pr_set_pdeathsig, sigterm)


class Slapd:
    """A private OpenLDAP server on 127.0.0.1; see the module's docstring for its contents.

    ``Slapd(folder=None, tls=False)``: ``folder`` (created if missing) holds the configuration,
    the database and ``slapd.log``; without one a temporary folder is made and removed by
    ``close()``. ``start()`` builds everything on first use; ``stop()``/``kill()`` keep the data, so
    ``start()`` afterwards serves the same directory on the same ports. Use as a context manager
    (start ... close) or call ``close()``; it is closed at interpreter exit regardless.

    ``log_level`` is slapd's ``-d`` level, logged to ``<folder>/slapd.log``: keep at least "stats"
    (connections and operations, a few lines each), as with "0" slapd logs nothing at all, not
    even why it failed to start. slapd gets SIGTERM if the thread that started it dies: start it
    from the main thread (or one that outlives it).
    """

    base_dn = BASE_DN
    admin_dn = ADMIN_DN
    people_dn = PEOPLE_DN
    groups_dn = GROUPS_DN
    services_dn = SERVICES_DN
    former_dn = FORMER_DN
    service_dn = SERVICE_DN
    host = HOST
    # groupOfNames must have a member: an empty group holds this DN instead (it is no person's).
    empty_group_member = ADMIN_DN

    def __init__(self, folder: Path | str | None = None, *, tls: bool = False,
                 admin_password: str = "admin-secret", service_password: str = "watchword-secret",
                 log_level: str = "stats", start_timeout: float = START_TIMEOUT):
        if folder is None:
            path, owned = Path(tempfile.mkdtemp(prefix="watchword-slapd-")), True
        else:
            path, owned = Path(folder), False
            path.mkdir(parents=True, exist_ok=True)
        self.folder = path.resolve()
        self.config_dir = self.folder / "slapd.d"
        self.data_dir = self.folder / "data"
        self.log_path = self.folder / "slapd.log"
        self.tls = tls
        self.admin_password = admin_password
        self.service_password = service_password
        self.log_level = log_level
        self.start_timeout = start_timeout
        self.port: int | None = None
        self.tls_port: int | None = None
        # The CA a client trusts, written on first start (make_tls_files).
        self.ca_path: Path | None = self.folder / "tls" / "ca.pem" if tls else None
        self._runtime = _Runtime(self.folder, owned)
        self._finalizer = weakref.finalize(self, _Runtime.close, self._runtime)
        self._admin_conn = None

    # --- addresses ---

    @property
    def url(self) -> str:
        self._require_ports()
        return f"ldap://{HOST}:{self.port}"

    @property
    def ldaps_url(self) -> str | None:
        self._require_ports()
        return f"ldaps://{HOST}:{self.tls_port}" if self.tls else None

    def _require_ports(self) -> None:
        if self.port is None:
            raise SlapdError("the LDAP server has no address until start() has been called")

    # --- life cycle ---

    @property
    def running(self) -> bool:
        process = self._runtime.process
        return process is not None and process.poll() is None

    def start(self) -> "Slapd":
        """Build the server on first use, then run slapd and wait until it accepts a bind."""
        if self.running:
            return self
        if not self._finalizer.alive:
            raise SlapdError("this LDAP server was closed; make a new Slapd")
        self._ensure_initialised()
        first, attempts = self.port is None, 0
        while True:
            if first:  # a restart keeps its ports, so that clients' URLs stay right
                self.port = free_port()
                self.tls_port = free_port() if self.tls else None
            attempts += 1
            try:
                self._launch()
                return self
            except SlapdError:
                # Another process may have taken a port between free_port() and slapd's bind.
                if first and attempts < 3 and "Address already in use" in self.log_tail(5):
                    continue
                raise

    def stop(self) -> None:
        """Shut slapd down cleanly (SIGTERM, then SIGKILL after 10 s); the data stays."""
        self._drop_admin_connection()
        self._runtime.halt(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL slapd, as a crash or a pulled plug would; ``start()`` recovers the data."""
        self._drop_admin_connection()
        self._runtime.halt(signal.SIGKILL)

    def close(self) -> None:
        """Stop slapd and remove the folder if this object made it."""
        self._drop_admin_connection()
        self._finalizer()

    def __enter__(self) -> "Slapd":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines slapd logged (with ``-d <log_level>``), for error messages."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - 200 * lines))  # the log can grow large
                text = log.read().decode(errors="replace")
        except FileNotFoundError:
            return "(no slapd log yet)"
        return "\n".join(text.splitlines()[-lines:]) or "(the slapd log is empty)"

    def _launch(self) -> None:
        urls = f"ldap://{HOST}:{self.port}/"
        if self.tls:
            urls += f" ldaps://{HOST}:{self.tls_port}/"
        # -d keeps slapd in the foreground and sends its log to stderr (no syslog); -h picks the
        # listeners, loopback only. No ldapi:// socket: nothing here needs one.
        command = [str(SLAPD), "-h", urls, "-F", str(self.config_dir), "-d", self.log_level]
        log = open(self.log_path, "ab")
        log.write(f"--- {dt.datetime.now().isoformat()} {' '.join(command)}\n".encode())
        log.flush()
        self._runtime.log = log
        self._runtime.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder,
            start_new_session=True,  # out of the terminal's process group: Ctrl-C goes to pytest only
            preexec_fn=_parent_death_signal())
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        from ldap3.core.exceptions import LDAPException

        deadline = time.monotonic() + self.start_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            process = self._runtime.process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                self._runtime.halt()
                raise SlapdError(f"slapd exited during start-up (exit status {code}); "
                                 f"log {self.log_path}:\n{self.log_tail()}")
            try:
                self._connect(self.admin_dn, self.admin_password, timeout=1, receive_timeout=1).unbind()
                return
            except LDAPException as error:
                last_error = error
                time.sleep(0.05)
        self._runtime.halt(signal.SIGKILL)
        raise SlapdError(f"slapd did not accept a bind on {self.url} within {self.start_timeout:g} s "
                         f"(last error: {last_error!r}); log {self.log_path}:\n{self.log_tail()}")

    # --- building ---

    @property
    def initialised(self) -> bool:
        return (self.config_dir / "cn=config.ldif").exists()

    def _ensure_initialised(self) -> None:
        """Write cn=config with slapadd -n0 and the base entries with slapadd -n1, once."""
        if self.initialised:
            return
        self.config_dir.mkdir()  # slapadd -n0 wants an empty one
        self.data_dir.mkdir()
        if self.tls:
            make_tls_files(self.folder / "tls")
        config = self.folder / "config.ldif"
        config.write_text(self.config_ldif())
        base = self.folder / "base.ldif"
        with open(base, "w", encoding="utf-8") as out:
            for dn, attrs in _base_entries(self.service_password):
                write_entry(out, dn, attrs)
        try:
            self._slapadd(0, config)
            self._slapadd(1, base)
        except SlapdError:
            # Leave nothing half-built behind, so that a retry (after a fix) starts clean.
            shutil.rmtree(self.config_dir, ignore_errors=True)
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise

    def _slapadd(self, database: int, ldif: Path) -> None:
        # -q: no consistency checks, no per-entry transactions: an offline bulk load at full speed.
        command = [str(SLAPADD), "-q", "-n", str(database), "-F", str(self.config_dir), "-l", str(ldif)]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.folder)
        if result.returncode != 0:
            output = "\n".join((result.stdout + result.stderr).strip().splitlines()[-LOG_TAIL_LINES:])
            raise SlapdError(f"{' '.join(command)} failed with exit status {result.returncode}:\n{output}")

    def config_ldif(self) -> str:
        """The cn=config tree loaded with ``slapadd -n0`` (schemas pulled in with ``include:``)."""
        tls = ""
        if self.tls:
            tls_dir = self.folder / "tls"
            tls = (f"olcTLSCACertificateFile: {tls_dir / 'ca.pem'}\n"
                   f"olcTLSCertificateFile: {tls_dir / 'server.pem'}\n"
                   f"olcTLSCertificateKeyFile: {tls_dir / 'server.key'}\n")
        modules = "".join(f"olcModuleLoad: {{{i}}}{name}\n" for i, name in enumerate(MODULES))
        schemas = "".join(f"include: file://{SCHEMA_DIR / name}.ldif\n\n" for name in SCHEMAS)
        indexes = "".join(f"olcDbIndex: {index}\n" for index in INDEXES)
        service = self.service_dn
        return f"""\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {self.folder / 'slapd.pid'}
olcArgsFile: {self.folder / 'slapd.args'}
{tls}
dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {MODULE_DIR}
{modules}
dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{schemas}\
# Frontend ACLs are appended to every database's: anyone may read the root DSE and the subschema.
dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcAccess: {{0}}to dn.base="" by * read
olcAccess: {{1}}to dn.base="cn=Subschema" by * read

# cn=config itself is not reachable over the network (no rootdn, no ldapi://).
dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

# olcDbNoSync: no fsync per write (a test server; a killed slapd still loses nothing, only an
# OS crash would).
dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcDbDirectory: {self.data_dir}
olcSuffix: {self.base_dn}
olcRootDN: {self.admin_dn}
olcRootPW: {ssha(self.admin_password)}
olcDbMaxSize: {MAX_SIZE}
olcDbNoSync: TRUE
{indexes}\
olcSizeLimit: {SIZE_LIMIT}
olcAccess: {{0}}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {{1}}to * by dn.exact="{service}" read by self read by * none

# ppolicy brings the password-policy schema (pwdAccountLockedTime & co.), built into the module
# in 2.5. No olcPPolicyDefault: no policy applies unless an entry names one in pwdPolicySubentry,
# so pwdAccountLockedTime is stored and readable but does not stop a bind.
dn: olcOverlay={{0}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{0}}ppolicy
"""

    # --- connections ---

    def _connect(self, user: str | None, password: str | None, *, ldaps: bool = False, start_tls: bool = False,
                 ca_path: Path | str | None = None, timeout: float = 5, receive_timeout: float = 60):
        import ldap3

        tls = None
        if ldaps or start_tls:
            if not self.tls:
                raise SlapdError("this LDAP server was started without TLS (use Slapd(tls=True))")
            tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(ca_path or self.ca_path))
        server = ldap3.Server(HOST, port=self.tls_port if ldaps else self.port, use_ssl=ldaps, tls=tls,
                              get_info=ldap3.NONE, connect_timeout=timeout)
        auto_bind = ldap3.AUTO_BIND_TLS_BEFORE_BIND if start_tls else ldap3.AUTO_BIND_NO_TLS
        return ldap3.Connection(server, user=user, password=password, auto_bind=auto_bind,
                                receive_timeout=receive_timeout, raise_exceptions=False)

    def connect(self, user: str | None = None, password: str | None = None, *, ldaps: bool = False,
                start_tls: bool = False, ca_path: Path | str | None = None):
        """A bound ldap3 Connection (anonymous without ``user``), plain, ldaps or StartTLS;
        TLS verifies the server against ``ca_path`` (default: this server's CA). The caller
        unbinds it. Raises ldap3's LDAPBindError on bad credentials."""
        self._require_ports()
        return self._connect(user, password, ldaps=ldaps, start_tls=start_tls, ca_path=ca_path)

    def admin(self):
        """A new ldap3 Connection bound as the rootdn (no ACLs, no limits); the caller unbinds it."""
        return self.connect(self.admin_dn, self.admin_password)

    def service(self):
        """A new ldap3 Connection bound as the read-only service account; the caller unbinds it."""
        return self.connect(self.service_dn, self.service_password)

    def _admin(self):
        if self._admin_conn is None or self._admin_conn.closed:
            self._admin_conn = self.admin()
        return self._admin_conn

    def _drop_admin_connection(self) -> None:
        conn, self._admin_conn = self._admin_conn, None
        if conn is not None and not conn.closed:
            try:
                conn.unbind()
            except Exception:  # the server may already be gone; the socket is closed either way
                pass

    def _check(self, ok: bool, what: str) -> None:
        if not ok:
            result = self._admin_conn.result if self._admin_conn is not None else {}
            raise SlapdError(f"{what} failed: {result.get('description')} ({result.get('result')}) "
                             f"{result.get('message') or ''}".rstrip())

    # --- data helpers (as the rootdn) ---

    def add(self, dn: str, attributes: Mapping[str, object]) -> str:
        """Add any entry; attributes whose value is None are left out."""
        attrs = {k: v for k, v in attributes.items() if v is not None}
        self._check(self._admin().add(dn, attributes=attrs), f"adding {dn}")
        return dn

    def add_person(self, uid: str | None, *, ou: str = "london", cn: str | None = None, sn: str | None = None,
                   given_name: str | None = None, mail: str | list[str] | None = None,
                   telephone: str | list[str] | None = None, mobile: str | list[str] | None = None,
                   password: str | None = None, extra: Mapping[str, object] | None = None) -> str:
        """Add an inetOrgPerson and return its DN: ``uid=<uid>,ou=<ou>,ou=people,...``.

        ``ou`` is an office under ou=people ("london", "paris") or a full DN (e.g. ``FORMER_DN``).
        ``cn`` defaults to "given_name sn", else sn, else uid; ``sn`` to the last word of cn. Without
        a uid the RDN is the cn. ``password`` is stored {SSHA}-hashed; ``extra`` adds attributes
        (e.g. ``{"pwdAccountLockedTime": "000001010000Z", "displayName": "..."}``)."""
        if cn is None:
            cn = " ".join(p for p in (given_name, sn) if p) or uid
        if cn is None:
            raise SlapdError("a person needs a uid or a cn")
        if sn is None:
            sn = cn.split()[-1] if cn.split() else cn
        parent = ou if "=" in ou else f"ou={ou},{self.people_dn}"
        dn = f"uid={_escape_rdn(uid)},{parent}" if uid is not None else f"cn={_escape_rdn(cn)},{parent}"
        attrs = {"objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson"], "uid": uid,
                 "cn": cn, "sn": sn, "givenName": given_name, "mail": mail, "telephoneNumber": telephone,
                 "mobile": mobile, "userPassword": ssha(password) if password is not None else None,
                 **(extra or {})}
        return self.add(dn, attrs)

    def modify(self, dn: str, changes: Mapping[str, list | str | None]) -> None:
        """Replace each attribute's values; None (or []) removes the attribute (if present)."""
        import ldap3

        ops = {attr: [(ldap3.MODIFY_REPLACE, [] if v is None else [v] if isinstance(v, (str, bytes)) else list(v))]
               for attr, v in changes.items()}
        self._check(self._admin().modify(dn, ops), f"modifying {dn}")

    def rename(self, dn: str, new_rdn: str, new_superior: str | None = None) -> str:
        """ModDN: give the entry a new RDN (``"uid=new"``) and/or move it; returns the new DN."""
        from ldap3.utils.dn import safe_dn, to_dn

        self._check(self._admin().modify_dn(dn, new_rdn, delete_old_dn=True, new_superior=new_superior),
                    f"renaming {dn} to {new_rdn}" + (f" under {new_superior}" if new_superior else ""))
        parent = new_superior or ",".join(to_dn(dn)[1:])
        return safe_dn(f"{new_rdn},{parent}")

    def delete(self, dn: str) -> None:
        self._check(self._admin().delete(dn), f"deleting {dn}")

    def add_group(self, cn: str, member_dns: Iterable[str]) -> str:
        """Add a groupOfNames under ou=groups; an empty group gets ``empty_group_member``."""
        dn = f"cn={_escape_rdn(cn)},{self.groups_dn}"
        members = list(member_dns) or [self.empty_group_member]
        return self.add(dn, {"objectClass": ["top", "groupOfNames"], "cn": cn, "member": members})

    def set_members(self, group_dn: str, dns: Iterable[str]) -> None:
        """Replace a group's members (an empty list leaves ``empty_group_member``)."""
        self.modify(group_dn, {"member": list(dns) or [self.empty_group_member]})

    def read(self, dn: str, attributes: Iterable[str] = ("*", "+")) -> dict[str, list]:
        """An entry's attributes as the rootdn sees them ("+": operational ones too), each a list of
        values (str, or bytes where ldap3 can't decode); absent attributes are left out."""
        import ldap3

        conn = self._admin()
        self._check(conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=list(attributes)), f"reading {dn}")
        attrs = conn.response[0]["attributes"].items()  # ldap3 lists absent attributes it was asked for as []
        return {k: v if isinstance(v, list) else [v] for k, v in attrs if v not in ([], None)}

    def entry_uuid(self, dn: str) -> str:
        return str(self.read(dn, ["entryUUID"])["entryUUID"][0])

    def entry_csn(self, dn: str) -> str:
        return str(self.read(dn, ["entryCSN"])["entryCSN"][0])

    def load_ldif_offline(self, path: Path | str) -> None:
        """Bulk-load an LDIF into the database with ``slapadd -q`` while slapd is stopped (it is
        restarted afterwards if it was running, even if slapadd failed). Parents must come before
        children; the base entries (suffix, ou=people/london/paris, ou=groups ...) already exist."""
        was_running = self.running
        self.stop()
        try:
            self._ensure_initialised()
            self._slapadd(1, Path(path).resolve())
        finally:
            if was_running:
                self.start()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Slapd {self.url if self.port else '(never started)'} {state} in {self.folder}>"


# --- generated and messy data ----------------------------------------------------------------

_GIVEN = ("Olivia", "Amelia", "Isla", "Ava", "Mia", "Oliver", "George", "Harry", "Noah", "Jack", "Leo", "Arthur",
          "Muhammad", "Priya", "Aisha", "Chloé", "Léa", "Manon", "Camille", "Hugo", "Louis", "Gabriel", "Jules",
          "Zoë", "José", "Søren", "Ines", "Mateo", "Sofia", "Emma", "Lucas", "Nathan", "Chen", "Wei", "Yuki",
          "Kwame", "Fatima", "Olu", "Siobhán", "Ciarán", "Björn", "Agnieszka", "Dmitri", "Ana", "Raj", "Megan")
_SURNAMES = ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Wright",
             "Robinson", "Thompson", "Evans", "Walker", "Martin", "Bernard", "Dubois", "Thomas", "Robert",
             "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Müller", "García",
             "Núñez", "O'Brien", "Ångström", "Nowak", "Kowalski", "Nguyen", "Okafor", "Haddad", "Khan",
             "Van der Berg", "MacDonald", "Fitzgerald", "Bowen", "Vance", "Wilber")


@functools.lru_cache(maxsize=None)  # called for every generated person, with a few dozen names
def _ascii(text: str) -> str:
    """"Lefèvre" -> "lefevre", "O'Brien" -> "obrien": the kind of name uids and mail are made of."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


def _uk_phone(rng: random.Random) -> str:
    n = rng.randrange(1000)  # Ofcom's range for drama: 020 7946 0000-0999
    return rng.choice((f"+44 20 7946 0{n:03d}", f"020 7946 0{n:03d}", f"+44 (0)20 7946 0{n:03d}",
                       f"+442079460{n:03d}", f"020-7946-0{n:03d}", f"+44 20 7946 0{n:03d} x{rng.randrange(100, 999)}"))


def _fr_phone(rng: random.Random) -> str:
    a, b = rng.randrange(100), rng.randrange(100)
    return rng.choice((f"+33 1 99 00 {a:02d} {b:02d}", f"+33 (0)1 99 00 {a:02d} {b:02d}", f"01 99 00 {a:02d} {b:02d}",
                       f"+33199 00{a:02d}{b:02d}", f"0033 1 99 00 {a:02d} {b:02d}", f"01.99.00.{a:02d}.{b:02d}"))


def _us_phone(rng: random.Random) -> str:
    n = rng.randrange(100, 200)  # 555-0100..0199, reserved for fiction
    return rng.choice((f"+1 (425) 555-0{n}", f"+1 425-555-0{n}", f"+1 (425) 555-0{n} x{rng.randrange(100, 999)}",
                       f"+1.425.555.0{n}", f"+14255550{n}"))


def _mobile(rng: random.Random, office: str) -> str:
    a, b, n = rng.randrange(100), rng.randrange(100), rng.randrange(1000000)
    if office == "paris":
        return rng.choice((f"+33 6 12 34 {a:02d} {b:02d}", f"06 12 34 {a:02d} {b:02d}", f"+33 7 81 23 {a:02d} {b:02d}",
                           f"06.12.34.{a:02d}.{b:02d}"))
    return rng.choice((f"07400 {n:06d}", f"+44 7400 {n:06d}", f"+44 (0) 7400-{n:06d}", f"07400{n:06d}",
                       f"+447400{n:06d}"))


def _identity(i: int, seed: int) -> tuple[random.Random, str, str, str, str]:
    """Who person number i is: (their random source, given name, surname, office, uid). The same
    for the same (i, seed), so that groups can name members without a list of everyone in memory;
    drawn first, so that a member's DN costs only these few draws."""
    rng = random.Random(seed * 1_000_003 + i)
    given, surname = rng.choice(_GIVEN), rng.choice(_SURNAMES)
    office = "london" if rng.random() < 0.6 else "paris"
    return rng, given, surname, office, f"{_ascii(given)}.{_ascii(surname)}{i}"


def _person_dn(i: int, seed: int) -> str:
    _, _, _, office, uid = _identity(i, seed)
    return f"uid={uid},ou={office},{PEOPLE_DN}"


def _person(i: int, seed: int) -> tuple[str, dict]:
    """Person number i's DN and attributes."""
    rng, given, surname, office, uid = _identity(i, seed)
    roll = rng.random()
    if roll < 0.12:
        telephone = None
    elif roll < 0.22:
        telephone = _us_phone(rng)  # visiting from the Redmond office
    else:
        telephone = _uk_phone(rng) if office == "london" else _fr_phone(rng)
    attrs = {
        "objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson"],
        "uid": uid, "cn": f"{given} {surname}", "sn": surname, "givenName": given,
        "displayName": f"{given} {surname}" if rng.random() < 0.7 else None,
        "mail": f"{uid}@example.org" if rng.random() < 0.97 else None,
        "telephoneNumber": telephone,
        "mobile": _mobile(rng, office) if rng.random() < 0.75 else None,
        "title": rng.choice(("Engineer", "Analyst", "Manager", "Consultant", "Director", None)),
    }
    return f"uid={uid},ou={office},{PEOPLE_DN}", attrs


# (name, share of everyone or a fixed head count): ten groups from one person to half the company.
_BULK_GROUPS = (("vpn-users", 0.5), ("engineering", 0.2), ("sales", 0.1), ("support", 0.05), ("finance", 0.02),
                ("mfa-pilot", 0.01), ("helpdesk", 12), ("board", 7), ("auditors", 3), ("contractors", 1))


def bulk_people_dns(count: int, *, seed: int = 1) -> Iterator[str]:
    """The DNs ``bulk_ldif(path, count, seed=seed)`` writes for its people, in order."""
    for i in range(count):
        yield _person_dn(i, seed)


def bulk_ldif(path: Path | str, count: int, *, seed: int = 1, password: str | None = None) -> None:
    """Write an LDIF of ``count`` people under ou=london/ou=paris (60/40) and 10 groups of
    varying size under ou=groups, for ``Slapd.load_ldif_offline``. Deterministic for a seed.

    Phones come in many formats, from fictional ranges a parser accepts (020 7946 0xxx, +1 425
    555 01xx, +33 1 99 00 xx xx; mobiles 07400 xxxxxx and +33 6 ...); ~12% of people have no
    telephoneNumber, ~25% no mobile, ~3% no mail. With ``password`` everyone gets that password
    (one {SSHA} hash for all). Written as it is generated: memory stays small for any count."""
    hashed = ssha(password) if password is not None else None
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as out:
        for i in range(count):
            dn, attrs = _person(i, seed)
            attrs["userPassword"] = hashed
            write_entry(out, dn, attrs)
        for name, share in _BULK_GROUPS:
            size = max(1, min(count, round(share * count) if isinstance(share, float) else share))
            members = sorted(rng.sample(range(count), size)) if count else []
            member_dns = (_person_dn(i, seed) for i in members) if members else [ADMIN_DN]
            write_entry(out, f"cn={name},{GROUPS_DN}",
                        {"objectClass": ["top", "groupOfNames"], "cn": name, "member": member_dns})


def messy_people() -> list[dict]:
    """Awkward but real-looking people for an import test: each dict is ``Slapd.add_person``
    keyword arguments (``uid`` included, None for the entry without one) plus a ``note``.
    Use ``{k: v for k, v in p.items() if k != "note"}`` to add them. What the import should make
    of each one is for the test to decide."""
    long_text = ("Senior principal staff engineer, platform reliability and identity. " * 80)[:5000]
    people = [
        dict(uid="adele.vance", given_name="Adele", sn="Vance", mail="adele.vance@example.org",
             telephone="+44 20 7946 0958", mobile="07400 123456", note="clean: international and national formats"),
        dict(uid="alex.wilber", given_name="Alex", sn="Wilber", mail="alex.wilber@example.org",
             telephone="+1 (425) 555-0100 x123", mobile="+1.425.555.0177",
             note="US number with an extension, dotted mobile"),
        dict(uid="megan.bowen", given_name="Megan", sn="Bowen", mail="megan.bowen@example.org",
             telephone="020-7946-0123 ext. 45", note="dashes and 'ext.' extension; no mobile"),
        dict(uid="lee.gu", given_name="Lee", sn="Gu", mail="lee.gu@example.org",
             telephone="tel:+44-20-7946-0555", mobile="(0)7400 654321",
             note="RFC 3966 tel: URI; '(0)' national prefix"),
        dict(uid="lynne.robbins", given_name="Lynne", sn="Robbins", mail="lynne.robbins@example.org",
             telephone="020.7946.0777", mobile="+44 (0) 7400-111222", note="dots; '+44 (0)' written together"),
        dict(uid="camille.durand", ou="paris", given_name="Camille", sn="Durand", mail="camille.durand@example.org",
             telephone="+33 1 99 00 12 34", mobile="06 12 34 56 78",
             note="French: international fixed line, national mobile (needs region FR)"),
        dict(uid="hugo.leroy", ou="paris", given_name="Hugo", sn="Leroy", mail="hugo.leroy@example.org",
             telephone="0033 (0)1 99 00 98 76", note="00 international prefix with a '(0)'"),
        dict(uid="nestor.wilke", given_name="Nestor", sn="Wilke", mail="nestor.wilke@example.org",
             telephone=["+44 20 7946 0100", "+44 20 7946 0101"], note="two telephoneNumber values"),
        dict(uid="bad.short", given_name="Short", sn="Number", mail="bad.short@example.org",
             telephone="12345", note="invalid: far too short"),
        dict(uid="bad.text", given_name="Not", sn="Anumber", mail="bad.text@example.org",
             telephone="not a number", mobile="ask reception", note="invalid: words"),
        dict(uid="bad.truncated", given_name="Cut", sn="Off", mail="bad.truncated@example.org",
             telephone="+44 20 7946", note="invalid: truncated international number"),
        dict(uid="no.mail", given_name="Nomail", sn="Person", telephone="+44 20 7946 0200", note="no mail"),
        dict(uid="no.phone", given_name="Nophone", sn="Person", mail="no.phone@example.org",
             note="no telephoneNumber and no mobile"),
        dict(uid="kiosk07", cn="kiosk07", sn="kiosk07", mail="kiosk07@example.org",
             note="no givenName or displayName: cn and sn are only the uid"),
        dict(uid="zoe.angstrom", given_name="Zoë", sn="Ångström", mail="zoe.angstrom@example.org",
             telephone="+44 20 7946 0300", extra={"displayName": "Zoë Ångström"}, note="non-ASCII (Latin, combining)"),
        dict(uid="jose.nunez", ou="paris", given_name="José", sn="Núñez", mail="jose.nunez@example.org",
             telephone="+33 1 99 00 11 22", note="non-ASCII Spanish name"),
        dict(uid="wang.fang", cn="王芳", sn="王", given_name="芳", mail="wang.fang@example.org",
             telephone="+44 20 7946 0400", extra={"displayName": "王芳 (Wang Fang)"}, note="CJK name"),
        dict(uid="orjan.lie", given_name="Ørjan", sn="Lie", mail="orjan.lie@example.org",
             telephone="+44 20 7946 0500", note="non-ASCII first letter"),
        dict(uid="pat.shared1", given_name="Pat", sn="Morgan", mail="shared.inbox@example.org",
             telephone="+44 20 7946 0600", note="same mail as pat.shared2"),
        dict(uid="pat.shared2", given_name="Patricia", sn="Morgan", mail="shared.inbox@example.org",
             telephone="+44 20 7946 0601", note="same mail as pat.shared1"),
        dict(uid="long.title", given_name="Verbose", sn="Title", mail="long.title@example.org",
             extra={"displayName": long_text, "description": long_text},
             note="5,000-character displayName and description"),
        dict(uid=None, cn="Nobody Uidless", given_name="Nobody", sn="Uidless", mail="uidless@example.org",
             telephone="+44 20 7946 0700", note="no uid: the RDN is the cn"),
        dict(uid="Upper.Case", given_name="Mixed", sn="Case", mail="Upper.Case@Example.ORG",
             telephone=" +44 20 7946 0800 ", note="mixed-case uid and mail; phone with surrounding spaces"),
    ]
    return people
