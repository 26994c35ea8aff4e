"""A throw-away Samba Active Directory domain controller for integration tests of directory sync.

``SambaDC().start()`` provisions the domain ``EXAMPLE.TEST`` (NetBIOS ``EXAMPLE``, DC ``DC1``) and
runs ``samba`` as a child process that serves LDAP on 127.0.0.1:389 (and LDAPS on 636) only.
Everything -- databases, smb.conf, TLS key, pid file, sockets, log -- lives in one temporary
folder; nothing under /etc/samba, /var/lib/samba, /var/log/samba or /run/samba is written, and
/etc/samba/smb.conf is not read. Provisioning takes about 5 s, so it is done once per process into
a template folder that every ``start()`` copies (copy, start and first bind: about 0.5 s).

The directory is seeded with::

    DC=example,DC=test
      CN=Users                       Administrator, watchword-sync (the read-only sync account)
      OU=Staff                       the sync scope
        OU=London, OU=Paris
      OU=Former                      outside the scope, for "moved out" cases

Samba binds fixed ports (389, 636, 3268, 3269), so only one instance can run on the machine at a
time; ``start()`` refuses with a clear message when one of them is taken, and ``samba_available()``
gives the reason tests should skip with.

The harness needs root (samba refuses to run otherwise) and ``ldap3``; nothing here imports pytest.
The passwords are fixed so a failing test can be reproduced by hand: the DC only listens on the
loopback interface and lives as long as the test run.

Worth knowing when writing sync tests (Samba 4.17, as in Windows AD):

* ldap3 gives ``entry.objectGUID.value`` as ``"{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}"`` (lower
  case, braces) only when the connection loaded the schema; without it the value is the 16 raw
  little-endian bytes. ``object_guid()`` always returns the braced form.
* A user's first successful bind sets ``lastLogonTimestamp``, which bumps the user's uSNChanged;
  take ``highest_usn()`` after such binds when testing delta reads. Failed binds change nothing
  (no lockout policy).
* Tombstones (``isDeleted=TRUE``, same objectGUID, under CN=Deleted Objects, found with the
  Show-Deleted control) are visible to the Administrator only; the ordinary sync account sees
  neither them nor anything else of a deleted object.

Samba is started with ``-i`` and a pipe on its stdin: it terminates itself on EOF there, so it
goes away even when the test process is killed outright and ``atexit`` never runs.
"""

from __future__ import annotations

import atexit
import errno
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path

HOST = "127.0.0.1"
LDAP_PORT = 389
LDAPS_PORT = 636
# samba's ldap service also listens on the global-catalog ports and fails to start without them.
SAMBA_PORTS = (LDAP_PORT, LDAPS_PORT, 3268, 3269)

REALM = "EXAMPLE.TEST"
DNS_DOMAIN = "example.test"
NETBIOS_DOMAIN = "EXAMPLE"
NETBIOS_NAME = "DC1"
BASE_DN = "DC=example,DC=test"

# Provisioning enforces AD password complexity on the Administrator's password; the policy is
# relaxed afterwards (see _provision) so test users may have any password.
ADMIN_PASSWORD = "Watchword-Adm1n!Samba"
SERVICE_PASSWORD = "Watchword-Sync1!Read"
USER_PASSWORD = "Correct-Horse-Battery-9"

SHOW_DELETED_OID = "1.2.840.113556.1.4.417"  # LDAP_SERVER_SHOW_DELETED_OID: return tombstones too
TREE_DELETE_OID = "1.2.840.113556.1.4.805"  # LDAP_SERVER_TREE_DELETE_OID: delete a subtree at once

# userAccountControl flags
UF_ACCOUNTDISABLE = 0x2
UF_NORMAL_ACCOUNT = 0x200
GLOBAL_SECURITY_GROUP = -2147483646  # groupType: ADS_GROUP_TYPE_GLOBAL_GROUP | SECURITY_ENABLED

START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
LOG_TAIL_LINES = 40


class SambaDCError(RuntimeError):
    """Provisioning, starting or talking to the test domain controller failed."""


def _find(binary: str) -> str | None:
    # samba lives in /usr/sbin, which is not on every PATH.
    return shutil.which(binary) or shutil.which(binary, path="/usr/local/sbin:/usr/sbin:/sbin")


def _busy_ports() -> list[int]:
    """The samba ports on 127.0.0.1 something already listens on (a bind probe, so a listener on
    0.0.0.0 counts too; SO_REUSEADDR keeps connections in TIME_WAIT from counting)."""
    busy = []
    for port in SAMBA_PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    busy.append(port)
                else:
                    raise
    return busy


def samba_available() -> str | None:
    """Why a Samba DC cannot be started here, or ``None`` when it can."""
    for binary in ("samba", "samba-tool"):
        if _find(binary) is None:
            return f"{binary} is not installed (Debian: apt-get install samba)"
    if os.geteuid() != 0:
        return "a Samba AD DC must run as root"
    try:
        import ldap3  # noqa: F401
    except ImportError:
        return "the ldap3 package is not installed"
    busy = _busy_ports()
    if busy:
        return f"{HOST} port(s) {', '.join(map(str, busy))} already in use (another LDAP server or Samba DC?)"
    return None


def _tail(path: Path | None, lines: int = LOG_TAIL_LINES) -> str:
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").rstrip().splitlines()
    return "\n".join(text[-lines:]) or "(log is empty)"


# --- the provisioned template, shared by every start() in this process ----------------------

_template_lock = threading.Lock()
_template_root: Path | None = None  # holds "provision.log", "empty.conf" and "dc/" (the domain)
FOLDER_PREFIX = "watchword-samba-"
OWNER_FILE = "owner.pid"


def _make_folder(kind: str) -> Path:
    """A new temporary folder, marked with this process's id so later runs can tell it is stale."""
    folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{kind}-"))
    (folder / OWNER_FILE).write_text(str(os.getpid()))
    return folder


def _sweep_stale_folders() -> None:
    """Remove folders left behind by test processes that were killed before ``atexit`` ran
    (samba itself went away with them: it exits on EOF on stdin)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*"):
        try:
            owner = int((folder / OWNER_FILE).read_text())
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):  # no pid file yet (being created), unreadable, ...: leave it
            pass


def _provisioned_template() -> Path:
    """Provision the domain once per process and return its folder (to be copied, never run)."""
    global _template_root
    with _template_lock:
        if _template_root is None:
            _sweep_stale_folders()
            root = _make_folder("template")
            atexit.register(shutil.rmtree, root, True)
            _provision(root)
            _template_root = root
        return _template_root / "dc"


def _provision(root: Path) -> None:
    target = root / "dc"
    log = root / "provision.log"
    # samba-tool reads /etc/samba/smb.conf by default and copies its settings (log file under
    # /var/log/samba, ...) into the new smb.conf; an empty file keeps the provision hermetic.
    empty_conf = root / "empty.conf"
    empty_conf.write_text("")
    samba_tool = _find("samba-tool")
    commands = [
        [
            samba_tool, "domain", "provision", f"--configfile={empty_conf}", f"--targetdir={target}",
            f"--realm={REALM}", f"--domain={NETBIOS_DOMAIN}", f"--host-name={NETBIOS_NAME.lower()}",
            "--server-role=dc", "--dns-backend=NONE", f"--adminpass={ADMIN_PASSWORD}", "--use-rfc2307",
            # These end up in the generated smb.conf, which start() replaces with its own anyway.
            "--option=interfaces=lo", "--option=bind interfaces only=yes",
        ],
        # Let tests give users short/simple passwords and change them back and forth at will.
        [
            samba_tool, "domain", "passwordsettings", "set", f"--configfile={target / 'etc' / 'smb.conf'}",
            "-H", f"tdb://{target / 'private' / 'sam.ldb'}", "--complexity=off", "--min-pwd-length=0",
            "--history-length=0", "--min-pwd-age=0", "--max-pwd-age=0",
        ],
    ]
    # samba generates a self-signed TLS key pair on each first start, which takes 1-1.5 s here;
    # openssl makes one for the template in ~0.1 s (samba wants key.pem to be 0600).
    openssl = shutil.which("openssl")
    if openssl:
        tls = target / "private" / "tls"
        commands.append([
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
            "-subj", f"/CN={NETBIOS_NAME}.{DNS_DOMAIN}", "-keyout", str(tls / "key.pem"), "-out", str(tls / "cert.pem"),
        ])
    with log.open("w") as out:
        for command in commands:
            what = f"{Path(command[0]).name} {command[1]} {command[2]}"
            out.write(f"$ {' '.join(command)}\n")
            out.flush()
            try:
                result = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                        timeout=180, cwd=root)
            except subprocess.TimeoutExpired:
                raise SambaDCError(f"{what} timed out (provisioning in {root}); log tail:\n{_tail(log)}") from None
            if result.returncode != 0:
                raise SambaDCError(f"{what} failed with exit status {result.returncode} (provisioning in {root}); "
                                   f"log tail:\n{_tail(log)}")
    if openssl:
        os.chmod(tls / "key.pem", 0o600)
        shutil.copyfile(tls / "cert.pem", tls / "ca.pem")


def _smb_conf(folder: Path) -> str:
    """The whole smb.conf for a DC living in ``folder`` (the provisioned one is replaced: it has
    the template's paths, all the file-server services and lacks some of the options we need)."""
    return f"""\
[global]
	netbios name = {NETBIOS_NAME}
	workgroup = {NETBIOS_DOMAIN}
	realm = {REALM}
	server role = active directory domain controller
	idmap_ldb:use rfc2307 = yes

	# LDAP (389/636 and the global catalog 3268/3269) is all the tests use: no SMB file server,
	# RPC, NetBIOS, KDC, replication or DNS update services -- quicker start, fewer ports taken.
	# Simple binds and password checks are done by the ldap service itself.
	server services = ldap
	interfaces = {HOST}
	bind interfaces only = yes
	# Allow simple binds over plain LDAP (the sync connector may use them against a test DC).
	ldap server require strong auth = no

	# Every path inside the folder; the defaults point into /var/lib/samba, /run/samba, ...
	private dir = {folder}/private
	lock directory = {folder}
	state directory = {folder}/state
	cache directory = {folder}/cache
	binddns dir = {folder}/bind-dns
	pid directory = {folder}/run
	ncalrpc dir = {folder}/run/ncalrpc
	ntp signd socket directory = {folder}/run/ntp_signd
	winbindd socket directory = {folder}/run/winbindd
	usershare path = {folder}/usershares
	smb passwd file = {folder}/private/smbpasswd
	# With -i the log goes to stdout (captured into samba.log); this only covers early messages.
	log file = {folder}/samba.log
	panic action =
	load printers = no
	printcap name = /dev/null
"""


# --- the domain controller -------------------------------------------------------------------


class SambaDC:
    """A running Samba AD DC on 127.0.0.1 plus helpers to shape its directory (as Administrator).

    Use as ``with SambaDC() as dc:`` or call ``start()``/``stop()``; it is stopped at interpreter
    exit in any case. All helpers raise ``SambaDCError`` (with samba's log tail) on failure.
    """

    url = f"ldap://{HOST}:{LDAP_PORT}"
    ldaps_url = f"ldaps://{HOST}:{LDAPS_PORT}"
    realm = REALM
    dns_domain = DNS_DOMAIN
    netbios_domain = NETBIOS_DOMAIN
    base_dn = BASE_DN
    users_dn = f"CN=Users,{BASE_DN}"
    staff_dn = f"OU=Staff,{BASE_DN}"
    former_dn = f"OU=Former,{BASE_DN}"
    deleted_objects_dn = f"CN=Deleted Objects,{BASE_DN}"
    admin_dn = f"CN=Administrator,CN=Users,{BASE_DN}"
    admin_upn = f"Administrator@{DNS_DOMAIN}"
    admin_password = ADMIN_PASSWORD
    service_dn = f"CN=watchword-sync,CN=Users,{BASE_DN}"
    service_upn = f"watchword-sync@{DNS_DOMAIN}"
    service_password = SERVICE_PASSWORD
    user_password = USER_PASSWORD  # what add_user() gives a user unless told otherwise

    def __init__(self, *, max_runtime: int = 3 * 3600, keep: bool = False):
        """``max_runtime``: seconds after which samba stops itself whatever happens (a backstop);
        ``keep``: leave the folder (databases, samba.log) behind on stop, for debugging."""
        self.max_runtime = max_runtime
        self.keep = keep
        self.folder: Path | None = None  # the DC's files; samba.log is in there
        self.log_path: Path | None = None
        self.startup_seconds: float | None = None  # copy + start + first bind, for the curious
        self._process: subprocess.Popen | None = None
        self._admin = None  # ldap3.Connection over LDAPS (unicodePwd may only be set encrypted)
        self._atexit_registered = False

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> SambaDC:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> SambaDC:
        if self._process is not None:
            raise SambaDCError("this SambaDC is already started")
        reason = samba_available()
        if reason:
            raise SambaDCError(f"cannot start a Samba DC: {reason}")
        template = _provisioned_template()

        began = time.monotonic()
        self.folder = _make_folder("dc")
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        try:
            shutil.copytree(template, self.folder, dirs_exist_ok=True, symlinks=True)
            for sub in ("run", "cache", "usershares"):
                (self.folder / sub).mkdir(exist_ok=True)
            conf = self.folder / "etc" / "smb.conf"
            conf.write_text(_smb_conf(self.folder))
            self.log_path = self.folder / "samba.log"
            with self.log_path.open("wb") as log:
                self._process = subprocess.Popen(
                    [_find("samba"), "-i", "-M", "single", f"--configfile={conf}", "--debuglevel=1",
                     f"--maximum-runtime={self.max_runtime}"],
                    # samba -i exits on EOF on stdin: the pipe dies with this process.
                    stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder,
                    # Own session: a Ctrl-C in the terminal reaches pytest, which then stops samba.
                    start_new_session=True,
                )
            self._wait_until_serving(began + START_TIMEOUT)
            self.startup_seconds = time.monotonic() - began
            self._seed()
        except BaseException:
            self.stop()  # the error carries the log tail; keep=True leaves the folder behind
            raise
        return self

    def _wait_until_serving(self, deadline: float) -> None:
        last_error = "no attempt yet"
        while True:
            if self._process.poll() is not None:
                raise SambaDCError(f"samba exited with status {self._process.returncode} while starting; "
                                   f"log tail:\n{_tail(self.log_path)}")
            try:
                self._admin = self._connect(self.admin_dn, self.admin_password, url=self.ldaps_url)
                break
            except SambaDCError as exc:
                last_error = str(exc).splitlines()[0]
            if time.monotonic() > deadline:
                raise SambaDCError(f"samba did not accept an LDAP bind as Administrator within {START_TIMEOUT:.0f} s "
                                   f"(last error: {last_error}); log tail:\n{_tail(self.log_path)}")
            time.sleep(0.1)
        # The bind proves *a* DC answers; make sure it is ours and not one started meanwhile.
        if self._process.poll() is not None:
            raise SambaDCError(f"samba exited with status {self._process.returncode} right after start-up "
                               f"(another instance answered on {HOST}:{LDAP_PORT}?); log tail:\n{_tail(self.log_path)}")
        # And a plain-LDAP simple bind, as the sync connector would do it.
        self._connect(self.admin_upn, self.admin_password, url=self.url).unbind()

    def stop(self, keep: bool | None = None) -> None:
        """Stop samba (SIGTERM, then SIGKILL after 10 s) and remove the folder unless kept.
        Safe to call more than once."""
        keep = self.keep if keep is None else keep
        if self._admin is not None:
            try:
                self._admin.unbind()
            except Exception:  # noqa: BLE001 - the server may be gone already
                pass
            self._admin = None
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(STOP_TIMEOUT)
            if process.stdin:
                process.stdin.close()
        if self.folder is not None and not keep:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    # --- connections ---------------------------------------------------------------------------

    def _server(self, url: str, *, schema: bool = False):
        import ldap3

        tls = ldap3.Tls(validate=ssl.CERT_NONE)  # samba's self-signed certificate
        return ldap3.Server(url, tls=tls, connect_timeout=2, get_info=ldap3.SCHEMA if schema else ldap3.NONE)

    def _connect(self, user: str, password: str, *, url: str | None = None, schema: bool = False):
        import ldap3
        from ldap3.core.exceptions import LDAPException

        try:
            return ldap3.Connection(self._server(url or self.url, schema=schema), user, password, auto_bind=True,
                                    receive_timeout=30, raise_exceptions=False)
        except LDAPException as exc:
            raise SambaDCError(f"LDAP bind as {user} to {url or self.url} failed: {exc}; "
                               f"log tail:\n{_tail(self.log_path)}") from exc

    def connect(self, user: str | None = None, password: str | None = None, *, url: str | None = None,
                schema: bool = True):
        """A bound ldap3 connection (default: the sync service account over plain LDAP, with the
        schema loaded so ``entry.objectGUID.value`` is formatted like ``"{...}"``)."""
        if user is None:
            user, password = self.service_dn, self.service_password
        return self._connect(user, password, url=url, schema=schema)

    @property
    def admin(self):
        """The harness's own Administrator connection (LDAPS, no schema: values are raw bytes)."""
        if self._admin is None:
            raise SambaDCError("the Samba DC is not running")
        return self._admin

    def _check(self, ok: bool, what: str) -> None:
        if not ok:
            result = self.admin.result
            raise SambaDCError(f"{what} failed: {result.get('description')} {result.get('message', '').strip()}; "
                               f"log tail:\n{_tail(self.log_path)}")

    # --- seed data -----------------------------------------------------------------------------

    def _seed(self) -> None:
        for dn in (self.staff_dn, self.ou_dn("London"), self.ou_dn("Paris"), self.former_dn):
            self._check(self.admin.add(dn, "organizationalUnit"), f"creating {dn}")
        self._add_account(self.service_dn, "watchword-sync", self.service_upn, self.service_password,
                          {"description": "Watchword directory sync (read-only)"})

    def ou_dn(self, ou: str) -> str:
        """``"Staff"``, ``"Former"``, a sub-OU of Staff (``"London"``, ``"Paris"``) or a DN as is."""
        if "=" in ou:
            return ou
        return {"Staff": self.staff_dn, "Former": self.former_dn}.get(ou, f"OU={ou},{self.staff_dn}")

    # --- data helpers (as Administrator) -------------------------------------------------------

    def _add_account(self, dn: str, sam: str, upn: str, password: str | None, attributes: dict,
                     disabled: bool = False) -> None:
        uac = UF_NORMAL_ACCOUNT | (UF_ACCOUNTDISABLE if disabled else 0)
        attributes = {"sAMAccountName": sam, "userPrincipalName": upn, "userAccountControl": uac,
                      **{k: v for k, v in attributes.items() if v is not None}}
        if password is not None:
            attributes["unicodePwd"] = f'"{password}"'.encode("utf-16-le")
        self._check(self.admin.add(dn, ["top", "person", "organizationalPerson", "user"], attributes),
                    f"creating user {dn}")

    def add_user(self, sam: str, *, ou: str = "London", given: str | None = None, surname: str | None = None,
                 display: str | None = None, upn: str | None = None, mail: str | None = None,
                 telephone: str | None = None, mobile: str | None = None, password: str | None = None,
                 disabled: bool = False, cn: str | None = None) -> str:
        """Create an (enabled unless told) user in ``ou`` (see ``ou_dn``) named ``CN=<cn or sam>``;
        the password defaults to ``user_password``. Returns the DN."""
        from ldap3.utils.dn import escape_rdn

        dn = f"CN={escape_rdn(cn or sam)},{self.ou_dn(ou)}"
        self._add_account(dn, sam, upn or f"{sam}@{self.dns_domain}", password or self.user_password, {
            "givenName": given, "sn": surname, "displayName": display, "mail": mail,
            "telephoneNumber": telephone, "mobile": mobile,
        }, disabled=disabled)
        return dn

    def modify(self, dn: str, changes: dict) -> None:
        """Replace attributes: ``{"mobile": ["+44 ..."], "mail": None}`` (``None`` or ``[]`` removes)."""
        from ldap3 import MODIFY_REPLACE

        ops = {}
        for attribute, values in changes.items():
            if values is None:
                values = []
            elif isinstance(values, (str, bytes, int)):
                values = [values]
            ops[attribute] = [(MODIFY_REPLACE, list(values))]
        self._check(self.admin.modify(dn, ops), f"modifying {dn} ({', '.join(changes)})")

    def set_password(self, dn: str, password: str) -> None:
        self.modify(dn, {"unicodePwd": [f'"{password}"'.encode("utf-16-le")]})

    def set_disabled(self, dn: str, disabled: bool = True) -> None:
        uac = int(self._read(dn, "userAccountControl")[0])
        uac = uac | UF_ACCOUNTDISABLE if disabled else uac & ~UF_ACCOUNTDISABLE
        self.modify(dn, {"userAccountControl": [uac]})

    def rename(self, dn: str, new_rdn: str, new_superior: str | None = None) -> str:
        """Rename and/or move (``new_superior``: anything ``ou_dn`` takes). Returns the new DN.
        ``new_rdn`` is ``"CN=..."`` (a bare name means ``CN=<name>``, escaped)."""
        from ldap3.utils.dn import escape_rdn, to_dn

        if "=" not in new_rdn:
            new_rdn = f"CN={escape_rdn(new_rdn)}"
        superior = self.ou_dn(new_superior) if new_superior else ",".join(to_dn(dn)[1:])
        self._check(self.admin.modify_dn(dn, new_rdn, new_superior=superior if new_superior else None),
                    f"renaming {dn} to {new_rdn},{superior}")
        return f"{new_rdn},{superior}"

    def delete(self, dn: str, *, tree: bool = False) -> None:
        """Delete an entry (it becomes a tombstone under CN=Deleted Objects); ``tree`` for a
        non-empty container."""
        controls = [(TREE_DELETE_OID, True, None)] if tree else None
        self._check(self.admin.delete(dn, controls=controls), f"deleting {dn}")

    def add_group(self, cn: str, member_dns=(), *, ou: str = "Staff") -> str:
        """A global security group in ``ou`` with the given members. Returns the DN."""
        from ldap3.utils.dn import escape_rdn

        dn = f"CN={escape_rdn(cn)},{self.ou_dn(ou)}"
        attributes = {"sAMAccountName": cn, "groupType": GLOBAL_SECURITY_GROUP}
        if member_dns:
            attributes["member"] = list(member_dns)
        self._check(self.admin.add(dn, ["top", "group"], attributes), f"creating group {dn}")
        return dn

    def _read(self, dn: str, attribute: str, *, deleted: bool = False) -> list:
        import ldap3

        controls = [(SHOW_DELETED_OID, True, None)] if deleted else None
        ok = self.admin.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=[attribute],
                               controls=controls)
        self._check(ok and bool(self.admin.entries), f"reading {attribute} of {dn}")
        return self.admin.response[0]["raw_attributes"].get(attribute, [])

    def object_guid(self, dn: str) -> str:
        """The entry's objectGUID as ldap3 formats it (schema loaded): ``"{xxxxxxxx-xxxx-...}"``,
        lower case, from the little-endian bytes AD stores."""
        from ldap3.protocol.formatters.formatters import format_uuid_le

        return format_uuid_le(self._read(dn, "objectGUID")[0])

    def highest_usn(self) -> int:
        """The rootDSE's highestCommittedUSN: every change after now gets a uSNChanged above it."""
        return int(self._read("", "highestCommittedUSN")[0])
