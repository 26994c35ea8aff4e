"""What each subcommand does, given parsed arguments and a ``Session`` (where the state lives
and how to get its passphrase). ``cli`` owns argument parsing and error printing."""

from __future__ import annotations

import os
import platform as platform_module
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from watchword_authenticator import sealing
from watchword_authenticator.accounts import CODES, PUSH, Account
from watchword_authenticator.client import PushClient
from watchword_authenticator.codes import current_code
from watchword_authenticator.crypto import public_key_b64
from watchword_authenticator.errors import AccountNotFound, NoPushAccounts, PassphraseRequired, StateUnreadable
from watchword_authenticator.listening import AutoAnswer, Console, run_listen
from watchword_authenticator.payload import ActivationPayload, OtpauthPayload, parse_payload
from watchword_authenticator.qr import decode_qr_file
from watchword_authenticator.state import State, load_state, new_state, save_state

PROG = "watchword-authenticator"


@dataclass
class Session:
    path: Path
    passphrase: Callable[[], str]  # asked only when the state file is sealed
    new_passphrase: Callable[[], str]  # for init --passphrase and passphrase set
    out: TextIO = sys.stdout
    err: TextIO = sys.stderr
    make_client: Callable[[], PushClient] = PushClient

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> State:
        return load_state(self.path, passphrase=self.passphrase)

    def load_or_create(self) -> State:
        """The device key is made with the state and saved before it is ever sent anywhere."""
        if self.exists():
            return self.load()
        state = new_state()
        save_state(self.path, state, exclusive=True)
        return state

    def save(self, state: State) -> None:
        save_state(self.path, state)

    def say(self, text: str = "") -> None:
        print(text, file=self.out)


def cmd_init(args, session: Session) -> int:
    state = new_state()
    if args.passphrase:
        state.sealer = sealing.Sealer.from_passphrase(session.new_passphrase())
    save_state(session.path, state, exclusive=True)
    sealed = " (encrypted with your passphrase)" if state.sealer else ""
    session.say(f"Created {session.path}{sealed} with a new device key.")
    return 0


def cmd_add(args, session: Session) -> int:
    text = decode_qr_file(args.image) if args.image else args.payload
    payload = parse_payload(text)
    if isinstance(payload, OtpauthPayload):
        return _add_codes_account(payload, session)
    return _add_push_account(payload, session, device_name=args.name, platform=args.platform)


def _add_codes_account(payload: OtpauthPayload, session: Session) -> int:
    state = session.load_or_create()
    account = Account(kind=CODES, issuer=payload.issuer, account=payload.account, totp=payload.totp,
                      added=int(time.time()))
    state.book.add(account)
    session.save(state)
    session.say(f"Added {account.label} (codes only).")
    return 0


def _add_push_account(payload: ActivationPayload, session: Session, *, device_name: str | None,
                      platform: str | None) -> int:
    state = session.load_or_create()
    if payload.account:  # refuse before the single-use activation code is spent
        state.book.refuse_duplicate(issuer=payload.issuer, account=payload.account, server=payload.server)
    client = session.make_client()
    try:
        activation = client.activate(payload.server, activation_code=payload.code,
                                     public_key=public_key_b64(state.device_key),
                                     device_name=device_name or default_device_name(),
                                     platform=platform or default_platform())
    finally:
        client.close()
    account = Account(kind=PUSH, issuer=activation.issuer, account=activation.account, totp=activation.totp,
                      server=payload.server, device_id=activation.device_id, added=int(time.time()))
    state.book.add(account)
    session.save(state)
    session.say(f"Added {account.label} (sign-in requests and codes), device {account.device_id}.")
    return 0


def default_device_name() -> str:
    return socket.gethostname() or "watchword-authenticator"


def default_platform() -> str:
    return platform_module.system().lower() or "unknown"


def cmd_list(args, session: Session) -> int:
    accounts = session.load().book.accounts if session.exists() else []
    if not accounts:
        session.say(f"No accounts yet. Add one with: {PROG} add PAYLOAD (or --image FILE.png)")
        return 0
    rows = [("ISSUER", "ACCOUNT", "KIND", "DEVICE")]
    rows += [(a.issuer or "-", a.account, a.kind_label, a.device_id or "-") for a in accounts]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        session.say("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[3])
    return 0


def cmd_code(args, session: Session) -> int:
    if not session.exists():
        if args.account:
            raise AccountNotFound(f"No account matches {args.account!r}; there are no accounts yet.")
        session.say(f"No accounts yet. Add one with: {PROG} add PAYLOAD (or --image FILE.png)")
        return 0
    now = time.time()
    for account in session.load().book.select(args.account):
        code = current_code(account.totp, now=now)
        session.say(f"{code.code}  ({code.seconds_left:>2} s left)  {account.label}")
    return 0


def cmd_remove(args, session: Session) -> int:
    if not session.exists():
        raise AccountNotFound(f"No account matches {args.account!r}; there are no accounts yet.")
    state = session.load()
    (account,) = state.book.select(args.account)
    state.book.remove(account)
    session.save(state)
    session.say(f"Removed {account.label} from this device.")
    if account.kind == PUSH:
        session.say(f"The server at {account.server} still lists device {account.device_id}; "
                    "remove it from your security info page too.")
    return 0


def cmd_listen(args, session: Session) -> int:
    if not session.exists():
        raise NoPushAccounts()
    state = session.load()
    selected = state.book.select(args.account)
    push = [account for account in selected if account.kind == PUSH]
    if not push:
        if args.account:
            raise NoPushAccounts(f"{selected[0].label} has codes only; it cannot receive sign-in requests.")
        raise NoPushAccounts()
    auto = AutoAnswer(decision=args.auto, number=args.number) if args.auto else None
    console = Console(out=session.out, err=session.err)
    return run_listen(state, push, once=args.once, auto=auto, console=console, make_client=session.make_client)


def cmd_passphrase_set(args, session: Session) -> int:
    if not session.exists():
        raise StateUnreadable(f"{session.path} does not exist; create it encrypted with: {PROG} init --passphrase")
    state = session.load()  # asks for the current passphrase if there is one
    state.sealer = sealing.Sealer.from_passphrase(session.new_passphrase())
    session.save(state)
    session.say(f"{session.path} is now encrypted with the new passphrase.")
    return 0


def cmd_passphrase_clear(args, session: Session) -> int:
    state = session.load()
    if state.sealer is None:
        session.say(f"{session.path} has no passphrase; nothing changed.")
        return 0
    state.sealer = None
    session.save(state)
    session.say(f"{session.path} is no longer encrypted; it is protected by its file permissions (0600) only.")
    return 0


# --- passphrases ------------------------------------------------------------------------------


def passphrase_from_env(variable: str) -> str:
    value = os.environ.get(variable)
    if value is None:
        raise PassphraseRequired(f"The environment variable {variable} (from --passphrase-env) is not set.")
    if not value:
        raise PassphraseRequired(f"The environment variable {variable} is empty.")
    return value

