"""Command line: argument parsing, passphrase sources, and one place that turns an
``AuthenticatorError`` into ``watchword-authenticator: <message>`` and exit code 1 (2 is
argparse's, for usage errors; 130 for Ctrl+C outside ``listen``)."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from watchword_authenticator import commands
from watchword_authenticator.commands import PROG, Session, passphrase_from_env
from watchword_authenticator.errors import AuthenticatorError, PassphraseRequired
from watchword_authenticator.state import ENV_VAR, default_state_path

DESCRIPTION = "Companion authenticator for Watchword: approve sign-ins and show time-based codes."
EPILOG = f"""The state file holds this device's private key and your accounts' seeds. It is kept with
mode 0600 and can be encrypted with a passphrase (init --passphrase, passphrase set).
Default: ~/.config/watchword-authenticator/state.json, or ${ENV_VAR}."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", metavar="PATH", type=Path, default=None,
                        help=f"state file (default: ${ENV_VAR} or ~/.config/watchword-authenticator/state.json)")
    parser.add_argument("--passphrase-env", metavar="VAR",
                        help="read the state file's passphrase from this environment variable "
                             "instead of asking for it")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    init = sub.add_parser("init", help="create the state file and this device's key",
                          description="Create the state file with a new device key (add does this on first use).")
    init.add_argument("--passphrase", action="store_true",
                      help="encrypt the state file with a passphrase (asked twice, or from --passphrase-env)")
    init.set_defaults(handler=commands.cmd_init)

    add = sub.add_parser("add", help="add an account from an activation QR code or an otpauth:// URI",
                         description="Add an account. A watchword-push:// activation payload activates this "
                                     "device for sign-in requests (and codes); an otpauth://totp/ URI adds a "
                                     "codes-only account without contacting anyone.")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("payload", nargs="?", metavar="PAYLOAD",
                        help="the text of the QR code: watchword-push://activate?... or otpauth://totp/...")
    source.add_argument("--image", metavar="FILE", help="read the QR code from an image file (PNG, JPEG, ...)")
    add.add_argument("--name", metavar="DEVICE_NAME", help="name shown for this device on the server "
                                                           "(default: this computer's host name)")
    add.add_argument("--platform", metavar="P", help="platform reported to the server (default: this OS, e.g. linux)")
    add.set_defaults(handler=commands.cmd_add)

    listing = sub.add_parser("list", help="list accounts", description="List accounts: issuer, account, kind "
                                                                          "(push+codes or codes only), device id.")
    listing.set_defaults(handler=commands.cmd_list)

    code = sub.add_parser("code", help="show current codes (works offline)",
                          description="Show the current code of every account, or of one, with seconds left.")
    code.add_argument("account", nargs="?", metavar="ACCOUNT", help="account name, Issuer:account or device id")
    code.set_defaults(handler=commands.cmd_code)

    listen = sub.add_parser("listen", help="wait for sign-in requests and answer them",
                            description="Connect to each push account's server and answer sign-in requests: type "
                                        "the number shown on the sign-in page, then approve, deny, or report "
                                        "\"No, it's not me\". Reconnects when the connection drops; Ctrl+C stops.")
    listen.add_argument("account", nargs="?", metavar="ACCOUNT", help="listen for this account only")
    listen.add_argument("--once", action="store_true", help="exit after answering one request "
                                                            "(exit code 1 if the server refused the answer)")
    listen.add_argument("--auto", choices=("approve", "deny", "fraud"),
                        help="answer without asking (for scripts and tests); approve needs --number")
    listen.add_argument("--number", metavar="N", help="with --auto approve: the number shown on the sign-in page")
    listen.set_defaults(handler=commands.cmd_listen)

    remove = sub.add_parser("remove", help="delete an account from this device",
                            description="Delete an account from this device's state file.")
    remove.add_argument("account", metavar="ACCOUNT", help="account name, Issuer:account or device id")
    remove.set_defaults(handler=commands.cmd_remove)

    phrase = sub.add_parser("passphrase", help="set, change or remove the state file's passphrase",
                            description="Encrypt the state file with a passphrase, change it, or remove it.")
    phrase_sub = phrase.add_subparsers(dest="passphrase_command", metavar="ACTION", required=True)
    set_phrase = phrase_sub.add_parser("set", help="encrypt with a new passphrase (asks for the old one if any)",
                                       description="Encrypt the state file with a new passphrase.")
    set_phrase.add_argument("--new-passphrase-env", metavar="VAR",
                            help="read the new passphrase from this environment variable instead of asking")
    set_phrase.set_defaults(handler=commands.cmd_passphrase_set)
    clear = phrase_sub.add_parser("clear", help="remove the passphrase (file permissions still apply)",
                                  description="Store the state file unencrypted (still mode 0600).")
    clear.set_defaults(handler=commands.cmd_passphrase_clear)
    return parser


def check_usage(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.command == "listen":
        if args.auto == "approve" and not args.number:
            parser.error("--auto approve needs --number N (the number shown on the sign-in page)")
        if args.number is not None and args.auto != "approve":
            parser.error("--number goes with --auto approve")
        if args.number is not None and not (args.number.isascii() and args.number.isdigit()):
            parser.error("--number must be digits")


def make_session(args: argparse.Namespace) -> Session:
    path = (args.state.expanduser() if args.state else default_state_path())

    def passphrase() -> str:
        if args.passphrase_env:
            return passphrase_from_env(args.passphrase_env)
        if not sys.stdin.isatty():
            raise PassphraseRequired(f"{path} is encrypted; give its passphrase with --passphrase-env VAR.")
        return getpass.getpass(f"Passphrase for {path}: ")

    def new_passphrase() -> str:
        variable = getattr(args, "new_passphrase_env", None) or (args.passphrase_env if args.command == "init"
                                                                 else None)
        if variable:
            return passphrase_from_env(variable)
        if not sys.stdin.isatty():
            raise PassphraseRequired("No terminal to ask for the new passphrase on; "
                                     "use --new-passphrase-env VAR (init: --passphrase-env VAR).")
        first = getpass.getpass("New passphrase: ")
        if not first:
            raise PassphraseRequired("The passphrase must not be empty; nothing was changed.")
        if getpass.getpass("Repeat the new passphrase: ") != first:
            raise PassphraseRequired("The two passphrases differ; nothing was changed.")
        return first

    return Session(path=path, passphrase=passphrase, new_passphrase=new_passphrase)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_usage(parser, args)
    try:
        return args.handler(args, make_session(args))
    except AuthenticatorError as exc:
        print(f"{PROG}: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
