"""The ``watchword`` command line: init, serve, user …, mfa state …, keys rotate, radius …, sync …,
policy …."""

from __future__ import annotations

import argparse
import json
import os
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchword.settings")
    from watchword.config import ConfigError

    try:
        import django

        django.setup()
    except ConfigError as exc:
        print(f"watchword: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def _fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"watchword: {message}", file=sys.stderr)
    return code


def _progress(label: str):
    def show(done: int, total: int) -> None:
        if not sys.stderr.isatty() and done != total and done % 500:
            return
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _print_table(rows: list[dict], headers: list[str], *, strip: bool = False) -> None:
    """Rows as aligned columns under upper-case headers (the list commands' table format)."""
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in headers}
    for cells in [[h.upper() for h in headers], *([str(r[h]) for h in headers] for r in rows)]:
        line = "  ".join(cell.ljust(widths[h]) for cell, h in zip(cells, headers))
        print(line.rstrip() if strip else line)


# --- commands ------------------------------------------------------------------------------

def cmd_init(args) -> int:
    from django.conf import settings
    from django.core.management import call_command

    from watchword.core import sealing
    from watchword.directory.models import Role, User
    from watchword.directory.services import create_user

    settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    if not settings.SEAL_KEYRING.exists():
        sealing.write_keyring(settings.SEAL_KEYRING, sealing.new_keyring())
        print(f"Created the sealing key: {settings.SEAL_KEYRING} (back it up; it is not in the database)")
    # settings load (and on first use create) the OpenID Connect signing key
    print(f"OpenID Connect signing key: {settings.OIDC_SIGNING_KEY}")
    call_command("migrate", interactive=False, verbosity=0)
    print(f"Database ready: {settings.DATABASES['default']['NAME']}")
    if User.objects.filter(role=Role.GLOBAL_ADMIN).exists():
        print("Watchword is already initialised; a Global Administrator exists.")
        return EXIT_OK
    created = create_user({"upn": args.admin, "display_name": args.admin_name, "role": Role.GLOBAL_ADMIN},
                          actor="cli:init")
    print()
    print("First Global Administrator created")
    print(f"  Sign-in name:       {created.user.upn}")
    print(f"  One-time password:  {created.one_time_password}")
    print("  (shown once; you will choose a new password at first sign-in)")
    print()
    return EXIT_OK


def cmd_serve(args) -> int:
    from django.conf import settings
    from django.core.management import call_command

    from watchword.core.serving import ServeError, serve

    if not settings.SEAL_KEYRING.exists():
        return _fail("Watchword is not initialised here; run 'watchword init' first.")
    call_command("migrate", interactive=False, verbosity=0)
    call_command("clearsessions", verbosity=0)
    from django.db import connections
    from django.utils import timezone

    from watchword.methods import phone, push
    from watchword.signin import throttle

    throttle.purge_stale(timezone.now())
    push.purge_stale(timezone.now())
    phone.purge_stale(timezone.now())
    from watchword.delivery import phone as phone_delivery

    phone_delivery.purge_stale(timezone.now())
    connections.close_all()  # gunicorn's workers start from a process of their own; this one holds none open
    if args.workers is not None and not 1 <= args.workers <= 256:
        return _fail("--workers must be between 1 and 256", EXIT_USAGE)

    def ready() -> None:
        print(f"Watchword is serving on http://{args.bind}  (sign in at http://{args.bind}/signin; Ctrl+C stops)",
              flush=True)

    try:
        return serve(bind=args.bind, workers=args.workers, ready=ready)
    except ServeError as exc:
        return _fail(str(exc))


def cmd_user_add(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.directory.services import create_user

    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    data = {"upn": args.upn, "display_name": args.name, "email": args.email or "",
            "office_phone": args.office_phone or "", "mobile_phone": args.mobile_phone or "", "role": args.role}
    try:
        created = create_user(data, actor="cli", password=password)
    except WatchwordError as exc:
        return _fail(f"{exc.public_message} [{exc.code}]")
    print(f"Created {created.user.upn} ({created.user.display_name})")
    if created.one_time_password:
        print(f"One-time password: {created.one_time_password}  (must be changed at first sign-in)")
    return EXIT_OK


def cmd_user_list(args) -> int:
    from django.db.models import Count

    from watchword.directory.models import User
    from watchword.directory.services import clean_mfa_state
    from watchword.core.errors import WatchwordError

    users = User.objects.filter(deleted_at__isnull=True).annotate(method_count=Count("methods")).order_by("upn")
    if args.state:
        try:
            users = users.filter(mfa_state=clean_mfa_state(args.state))
        except WatchwordError as exc:
            return _fail(exc.public_message, EXIT_USAGE)
    rows = [{"upn": u.upn, "display_name": u.display_name, "mfa_state": u.mfa_state, "role": u.role,
             "enabled": u.is_active, "methods": u.method_count} for u in users]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("No users.")
        return EXIT_OK
    headers = ["upn", "display_name", "mfa_state", "role", "enabled", "methods"]
    _print_table(rows, headers)
    return EXIT_OK


def cmd_user_enable(args, enabled: bool) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.directory.services import get_user, set_enabled

    try:
        user = set_enabled(get_user(args.upn), enabled, actor="cli")
    except WatchwordError as exc:
        return _fail(f"{exc.public_message} [{exc.code}]")
    print(f"{user.upn} is now {'enabled' if user.is_active else 'disabled'}"
          f"{'' if enabled else ' and signed out everywhere'}.")
    return EXIT_OK


def cmd_user_import(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.directory.imports import import_users_csv

    try:
        with open(args.file, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        return _fail(f"cannot read {args.file}: {exc.strerror}")
    try:
        report = import_users_csv(data, actor="cli", progress=_progress("Importing"))
    except WatchwordError as exc:
        return _fail(f"{exc.public_message} [{exc.code}]")
    for line, upn, otp in report.created:
        print(f"line {line}: created {upn}" + (f"  one-time password: {otp}" if otp else ""))
    for line, message in report.errors:
        print(f"line {line}: NOT imported: {message}", file=sys.stderr)
    print(f"{len(report.created)} imported, {len(report.errors)} rows with problems.")
    return EXIT_OK if not report.errors else EXIT_FAILED


def cmd_mfa_get(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.directory.services import get_user

    try:
        user = get_user(args.upn)
    except WatchwordError as exc:
        return _fail(f"{exc.public_message} [{exc.code}]")
    print(user.mfa_state)
    return EXIT_OK


def cmd_mfa_set(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.directory.services import get_user
    from watchword.methods.services import set_mfa_state

    try:
        user = set_mfa_state(get_user(args.upn), args.state, actor="cli", notify=not args.no_notify)
    except WatchwordError as exc:
        return _fail(f"{exc.public_message} [{exc.code}]")
    print(f"{user.upn}: per-user MFA is {user.mfa_state}")
    return EXIT_OK


def cmd_keys_rotate(args) -> int:
    from watchword.core.sealing import SealError
    from watchword.methods.services import rotate_seal_keys

    try:
        result = rotate_seal_keys(progress=_progress("Re-sealing"))
    except SealError as exc:
        return _fail(str(exc))
    print(f"New sealing key {result['key_id']}: {result['resealed']} secrets re-sealed; "
          f"retired {', '.join(result['retired']) or 'none'}.")
    return EXIT_OK


def cmd_radius_client_add(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.protocols.services import add_client

    secret = None
    if args.secret_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    try:
        client, secret = add_client(name=args.name, address=args.address, secret=secret, actor="cli")
    except WatchwordError as exc:
        return _fail(f"{exc.public_message} [{exc.code}]")
    print(f"Added RADIUS client {client.name} ({client.address})")
    if not args.secret_stdin:
        print(f"Shared secret: {secret}  (shown once; enter it on the NAS)")
    return EXIT_OK


def cmd_radius_client_list(args) -> int:
    from watchword.protocols.services import list_clients

    rows = [{"name": c.name, "address": c.address, "enabled": c.enabled,
             "created": c.created_at.strftime("%Y-%m-%d %H:%M")} for c in list_clients()]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("No RADIUS clients.")
        return EXIT_OK
    headers = ["name", "address", "enabled", "created"]
    _print_table(rows, headers)
    return EXIT_OK


def cmd_radius_client_remove(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.protocols.services import get_client, remove_client

    try:
        client = get_client(args.name)
        remove_client(client, actor="cli")
    except WatchwordError as exc:
        return _fail(f"{exc.public_message} [{exc.code}]")
    print(f"Removed RADIUS client {client.name}")
    return EXIT_OK


def cmd_radius_serve(args) -> int:
    import logging
    import signal

    from django.conf import settings
    from django.core.management import call_command

    from watchword.core.errors import WatchwordError
    from watchword.protocols.radius import Server, parse_bind
    from watchword.protocols.services import list_clients

    if not settings.SEAL_KEYRING.exists():
        return _fail("Watchword is not initialised here; run 'watchword init' first.")
    try:
        host, port = parse_bind(args.bind)
    except WatchwordError as exc:
        return _fail(exc.public_message, EXIT_USAGE)
    call_command("migrate", interactive=False, verbosity=0)
    logging.getLogger("watchword.radius").setLevel(logging.INFO)
    try:
        server = Server(host, port)
    except OSError as exc:
        return _fail(f"cannot listen on udp {args.bind}: {exc.strerror or exc}")
    count = len(list_clients())

    def stop(signum, frame):
        server.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"Watchword RADIUS is listening on udp {args.bind} ({count} client{'s' if count != 1 else ''}; "
          f"push waits {settings.RADIUS_PUSH_TIMEOUT} s; Ctrl+C stops)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.stop()
    return EXIT_OK


def cmd_oidc_client_add(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.protocols.oidc_clients import KIND_LABELS, add_client, kind_of

    try:
        new = add_client(name=args.name, kind=args.kind, public=True if args.public else None,
                         redirect_uris=args.redirect_uri or [],
                         post_logout_redirect_uris=args.post_logout_redirect_uri or [],
                         scopes=args.scopes, consent=args.consent, actor="cli")
    except WatchwordError as exc:
        return _fail(f"{exc.public_message} [{exc.code}]")
    application = new.application
    print(f"Added application {application.name} ({KIND_LABELS[kind_of(application)]})")
    print(f"Client ID:     {new.client_id}")
    if new.client_secret:
        print(f"Client secret: {new.client_secret}  (shown once; store it in the application)")
    return EXIT_OK


def cmd_oidc_client_list(args) -> int:
    from watchword.protocols.oidc_clients import list_clients

    rows = [{"name": c.name, "client_id": c.client_id, "kind": c.kind, "redirect_uris": list(c.redirect_uris),
             "post_logout_redirect_uris": list(c.post_logout_redirect_uris), "scopes": list(c.scopes),
             "consent": c.consent} for c in list_clients()]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("No applications.")
        return EXIT_OK
    table = [{**row, "redirect_uris": " ".join(row["redirect_uris"]) or "-", "scopes": " ".join(row["scopes"]),
              "consent": "yes" if row["consent"] else "no"} for row in rows]
    headers = ["name", "client_id", "kind", "scopes", "consent", "redirect_uris"]
    _print_table(table, headers, strip=True)
    return EXIT_OK


def cmd_oidc_client_remove(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.protocols.oidc_clients import get_client, remove_client

    try:
        application = get_client(args.name)
        revoked = remove_client(application, actor="cli")
    except WatchwordError as exc:
        return _fail(f"{exc.public_message} [{exc.code}]")
    print(f"Removed application {application.name}; {revoked} token{'s' if revoked != 1 else ''} revoked.")
    return EXIT_OK


def cmd_oidc_client_secret(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.protocols.oidc_clients import get_client, new_secret

    try:
        application = get_client(args.name)
        secret = new_secret(application, actor="cli")
    except WatchwordError as exc:
        return _fail(f"{exc.public_message} [{exc.code}]")
    print(f"New client secret for {application.name} (the old one no longer works):")
    print(f"Client secret: {secret}  (shown once; store it in the application)")
    return EXIT_OK


def cmd_oidc_keys_rotate(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.protocols.oidc_signing import rotate_signing_key

    try:
        rotation = rotate_signing_key(actor="cli")
    except WatchwordError as exc:
        return _fail(f"{exc.public_message} [{exc.code}]")
    print(f"New ID-token signing key {rotation.new_kid} signs from now on.")
    print(f"The previous key {rotation.retired_kid} stays in the JWKS until "
          f"{rotation.retired_until:%Y-%m-%d %H:%M} UTC.")
    if rotation.deleted_kids:
        print(f"Deleted keys retired longer ago: {', '.join(rotation.deleted_kids)}.")
    return EXIT_OK


def cmd_api_token_create(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.directory.services import get_user
    from watchword.protocols.tokens import create_token

    try:
        owner = get_user(args.user)
        row, token = create_token(owner, name=args.name, scopes=args.scopes, days=args.days, actor="cli")
    except WatchwordError as exc:
        return _fail(f"{exc.public_message} [{exc.code}]")
    print(f"API token {row.name} for {owner.upn} (id {row.pk}), scopes {row.scopes}, "
          f"expires {row.expires_at:%Y-%m-%d}. Shown once:", file=sys.stderr)
    print(token)
    return EXIT_OK


def cmd_api_token_list(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.directory.services import get_user
    from watchword.protocols.tokens import token_state, tokens_of

    try:
        owner = get_user(args.user) if args.user else None
    except WatchwordError as exc:
        return _fail(f"{exc.public_message} [{exc.code}]")
    rows = [{"id": t.pk, "owner": t.user.upn, "name": t.name, "token": f"{t.hint}…", "scopes": t.scopes,
             "state": token_state(t), "expires": t.expires_at.strftime("%Y-%m-%d"),
             "last used": t.last_used_at.strftime("%Y-%m-%d %H:%M") if t.last_used_at else "never"}
            for t in tokens_of(owner)]
    if args.format == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print("No API tokens.")
        return EXIT_OK
    headers = list(rows[0])
    _print_table(rows, headers)
    return EXIT_OK


def cmd_api_token_revoke(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.protocols.tokens import get_token, revoke_token

    try:
        row = get_token(args.id)
    except WatchwordError as exc:
        return _fail(f"{exc.public_message} [{exc.code}]")
    if revoke_token(row, actor="cli"):
        print(f"Revoked API token {row.name} of {row.user.upn}")
    else:
        print(f"API token {row.name} of {row.user.upn} was already revoked")
    return EXIT_OK


def cmd_manage(args) -> int:
    from django.core.management import execute_from_command_line

    execute_from_command_line(["watchword manage", *args.rest])
    return EXIT_OK


# --- parser --------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="watchword", description="Watchword multi-factor authentication service.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("init", help="create the data folder, keys, database and first Global Administrator",
                       description="Create the data folder, the sealing key, the database and the first Global "
                                   "Administrator (printing a one-time password). Safe to run again.")
    p.add_argument("--admin", default="admin@watchword.local", help="sign-in name of the first admin")
    p.add_argument("--admin-name", default="Watchword Administrator", help="display name of the first admin")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("serve", help="serve the web pages (gunicorn's WSGI workers behind the front)",
                       description="Serve sign-in, My account, Security info and admin pages: the front "
                                   "listens on --bind and passes requests to gunicorn's workers.")
    p.add_argument("--bind", default=os.environ.get("WATCHWORD_BIND", "127.0.0.1:8000"), help="host:port")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU core, at least 2)")
    p.set_defaults(func=cmd_serve)

    user = sub.add_parser("user", help="add, list, enable, disable and import people").add_subparsers(
        dest="user_command", metavar="ACTION", required=True)
    p = user.add_parser("add", help="add a person", description="Add a person. Without --password-stdin a "
                        "one-time password is printed, to be changed at first sign-in.")
    p.add_argument("upn", help="sign-in name, like name@example.org")
    p.add_argument("--name", required=True, help="display name")
    p.add_argument("--email", help="e-mail address for notices")
    p.add_argument("--office-phone", help="office phone, with country code; extension as x123")
    p.add_argument("--mobile-phone", help="mobile phone, with country code")
    p.add_argument("--role", default="user", choices=["user", "authentication_admin", "security_admin", "global_admin"])
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_user_add)
    p = user.add_parser("list", help="list people", description="List people with their MFA state.")
    p.add_argument("--state", help="only this per-user MFA state (disabled, enabled, enforced)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_user_list)
    p = user.add_parser("disable", help="disable a person's account and sign them out",
                        description="Disable the account: sign-in refused, every session ended.")
    p.add_argument("upn")
    p.set_defaults(func=lambda a: cmd_user_enable(a, False))
    p = user.add_parser("enable", help="enable a disabled account", description="Enable a disabled account.")
    p.add_argument("upn")
    p.set_defaults(func=lambda a: cmd_user_enable(a, True))
    p = user.add_parser("import", help="import people from a CSV file",
                        description="Import people from CSV (columns: upn,display_name,email,office_phone,"
                                    "mobile_phone,role,password). Bad rows are reported by line; good rows kept.")
    p.add_argument("file")
    p.set_defaults(func=cmd_user_import)

    mfa = sub.add_parser("mfa", help="per-user MFA").add_subparsers(dest="mfa_command", metavar="ACTION",
                                                                    required=True)
    state = mfa.add_parser("state", help="get or set per-user MFA state").add_subparsers(
        dest="state_command", metavar="ACTION", required=True)
    p = state.add_parser("get", help="print a person's MFA state", description="Print disabled, enabled or enforced.")
    p.add_argument("upn")
    p.set_defaults(func=cmd_mfa_get)
    p = state.add_parser("set", help="set a person's MFA state",
                         description="Set per-user MFA. 'enabled' for someone who already has a method becomes "
                                     "'enforced'. Turning MFA on e-mails the person what to expect.")
    p.add_argument("upn")
    p.add_argument("state", choices=["disabled", "enabled", "enforced"])
    p.add_argument("--no-notify", action="store_true", help="do not e-mail the person")
    p.set_defaults(func=cmd_mfa_set)

    keys = sub.add_parser("keys", help="sealing keys").add_subparsers(dest="keys_command", metavar="ACTION",
                                                                      required=True)
    p = keys.add_parser("rotate", help="new sealing key; re-seal every stored secret",
                        description="Create a new sealing key, re-seal every stored secret, retire the old key.")
    p.set_defaults(func=cmd_keys_rotate)

    radius = sub.add_parser("radius", help="the RADIUS server for VPNs and network equipment").add_subparsers(
        dest="radius_command", metavar="ACTION", required=True)
    p = radius.add_parser("serve", help="answer RADIUS Access-Requests (UDP)",
                          description="Answer RADIUS Access-Requests (PAP) from known clients, with the second "
                                      "factor enforced. See docs/radius.md.")
    p.add_argument("--bind", default=os.environ.get("WATCHWORD_RADIUS_BIND") or "127.0.0.1:1812",
                   help="host:port (default 127.0.0.1:1812, or WATCHWORD_RADIUS_BIND)")
    p.set_defaults(func=cmd_radius_serve)
    client = radius.add_parser("client", help="add, list and remove RADIUS clients (NAS)").add_subparsers(
        dest="client_command", metavar="ACTION", required=True)
    p = client.add_parser("add", help="add a RADIUS client",
                          description="Add a RADIUS client (a VPN or other NAS), recognised by its source address. "
                                      "Without --secret-stdin a shared secret is generated and printed once.")
    p.add_argument("name", help="a short name, like vpn-1 (shown in the sign-in log as radius:NAME)")
    p.add_argument("--address", required=True, help="the NAS's IP address or CIDR network (IPv4 or IPv6)")
    p.add_argument("--secret-stdin", action="store_true",
                   help="read the shared secret (at least 16 characters) from standard input")
    p.set_defaults(func=cmd_radius_client_add)
    p = client.add_parser("list", help="list RADIUS clients", description="List RADIUS clients (never secrets).")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_radius_client_list)
    p = client.add_parser("remove", help="remove a RADIUS client",
                          description="Remove a RADIUS client; its requests are dropped from then on.")
    p.add_argument("name")
    p.set_defaults(func=cmd_radius_client_remove)

    oidc = sub.add_parser("oidc", help="the OpenID Connect provider").add_subparsers(
        dest="oidc_command", metavar="ACTION", required=True)
    oidc_client = oidc.add_parser("client", help="register, list and remove applications").add_subparsers(
        dest="oidc_client_command", metavar="ACTION", required=True)
    p = oidc_client.add_parser("add", help="register an application (relying party or service)",
                               description="Register an application: a web app or a single-page/native app that "
                                           "signs people in with Watchword, or a service that calls the REST API "
                                           "as itself (client credentials). Prints the client ID, and for a "
                                           "confidential client its secret once. See docs/oidc.md.")
    p.add_argument("name")
    p.add_argument("--kind", choices=["web", "spa", "service"], default=None,
                   help="web: server-side web app (secret); spa: single-page or native app (no secret, PKCE "
                        "required); service: client credentials with API scopes (default: web, or spa with --public)")
    p.add_argument("--redirect-uri", action="append",
                   help="where the application receives the code (repeat for several; not for a service)")
    p.add_argument("--post-logout-redirect-uri", action="append",
                   help="where the application may send people after signing them out (repeat for several)")
    p.add_argument("--public", action="store_true", help="the same as --kind spa")
    p.add_argument("--scopes", default=None,
                   help='scopes it may ask for, space-separated (default for web and spa: "openid profile email"; '
                        "a service needs one or more API scopes, e.g. \"users.read logs.read\")")
    p.add_argument("--consent", action=argparse.BooleanOptionalAction, default=False,
                   help="show people a consent page (Allow / Cancel) before the application gets their details "
                        "(default: no, the application is trusted)")
    p.set_defaults(func=cmd_oidc_client_add)
    p = oidc_client.add_parser("list", help="list applications",
                               description="List applications: name, client ID, kind, scopes, consent and redirect "
                                           "URIs (never secrets).")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_oidc_client_list)
    p = oidc_client.add_parser("remove", help="remove an application and revoke its tokens",
                               description="Remove an application (by name or client ID); every token issued to it "
                                           "stops working at once.")
    p.add_argument("name", help="the application's name or client ID")
    p.set_defaults(func=cmd_oidc_client_remove)
    p = oidc_client.add_parser("secret", help="give a confidential application a new secret",
                               description="Make a new client secret for a web application or service and print it "
                                           "once; the old secret stops working at once.")
    p.add_argument("name", help="the application's name or client ID")
    p.set_defaults(func=cmd_oidc_client_secret)
    oidc_keys = oidc.add_parser("keys", help="the keys that sign ID tokens").add_subparsers(
        dest="oidc_keys_command", metavar="ACTION", required=True)
    p = oidc_keys.add_parser("rotate", help="new ID-token signing key; the old one stays published for a while",
                             description="Make a new RSA key that signs ID tokens from now on. The previous key "
                                         "stays in /o/jwks.json for WATCHWORD_OIDC_RETIRED_KEY_SECONDS (default: "
                                         "the ID-token lifetime and a day) so tokens it signed still verify.")
    p.set_defaults(func=cmd_oidc_keys_rotate)

    api = sub.add_parser("api", help="the REST API: personal tokens for administrators").add_subparsers(
        dest="api_command", metavar="ACTION", required=True)
    api_token = api.add_parser("token", help="create, list and revoke personal API tokens").add_subparsers(
        dest="api_token_command", metavar="ACTION", required=True)
    p = api_token.add_parser("create", help="create a personal API token for an administrator",
                             description="Create a personal API token (wwp_…) that acts as the administrator, "
                                         "limited to its scopes. The token is printed once on standard output. "
                                         "See docs/api.md.")
    p.add_argument("--user", required=True, help="the administrator's sign-in name")
    p.add_argument("--name", required=True, help="what it is for, like ci-pipeline")
    p.add_argument("--scopes", required=True,
                   help="space-separated: users.read users.write methods.read methods.write logs.read verify "
                        "policy.read policy.write")
    p.add_argument("--days", default=None, help="lifetime in days, 1 to 366 (default 90)")
    p.set_defaults(func=cmd_api_token_create)
    p = api_token.add_parser("list", help="list API tokens", description="List API tokens (never the tokens).")
    p.add_argument("--user", help="only this administrator's")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_api_token_list)
    p = api_token.add_parser("revoke", help="revoke an API token", description="Revoke an API token by its id.")
    p.add_argument("id")
    p.set_defaults(func=cmd_api_token_revoke)

    from watchword.sync.cli import register as register_sync

    register_sync(sub, user)

    from watchword.policy.cli import register as register_policy

    register_policy(sub)

    p = sub.add_parser("manage", help="Django management commands (advanced)", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_manage)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["manage"]:  # everything after 'manage' belongs to Django, --help included
        _setup_django()
        return cmd_manage(argparse.Namespace(rest=argv[1:]))
    args = build_parser().parse_args(argv)
    _setup_django()
    from django.core.exceptions import ImproperlyConfigured
    from django.db import DatabaseError

    from watchword.core.sealing import SealError

    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except DatabaseError as exc:
        return _fail(f"the database is not ready ({exc}). Run 'watchword init' first, or check "
                     "WATCHWORD_DATABASE_URL.")
    except (ImproperlyConfigured, SealError) as exc:
        return _fail(f"configuration error: {exc}", EXIT_USAGE)


if __name__ == "__main__":
    sys.exit(main())
