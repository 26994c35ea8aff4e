"""The ``listen`` command: one listener thread per push account feeding a queue; this (main)
thread shows each sign-in request, asks the person (or applies ``--auto``), signs the answer and
sends it. Only the main thread prints or reads input, so prompts are never interleaved.

Number matching: the number is shown on the sign-in page, never sent to the device, so the
person types it here; approving without it is not offered.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from watchword_authenticator.accounts import Account
from watchword_authenticator.client import Challenge, PushClient
from watchword_authenticator.crypto import signed_answer
from watchword_authenticator.errors import AnswerMissing, AuthenticatorError, ListeningStopped
from watchword_authenticator.listener import (
    CHALLENGE,
    CONNECTED,
    DISCONNECTED,
    NOTICE,
    STOPPED,
    StreamUpdate,
    run_listener_thread,
)
from watchword_authenticator.state import State

RESULTS = {
    "approved": "Approved: the sign-in can go on.",
    "denied": "Denied: the sign-in was stopped.",
    "reported": "Reported: the sign-in was stopped and reported as not you.",
}
MAX_NUMBER_DIGITS = 8


@dataclass(frozen=True)
class AutoAnswer:
    """``--auto``: answer every request the same way, without asking."""

    decision: str
    number: str | None = None


@dataclass
class Console:
    out: TextIO
    err: TextIO
    ask: Callable[[str], str] = input


def run_listen(state: State, accounts: list[Account], *, once: bool, auto: AutoAnswer | None, console: Console,
               make_client: Callable[[], PushClient] = PushClient, clock: Callable[[], float] = time.time) -> int:
    updates: queue.Queue[StreamUpdate] = queue.Queue()
    stop = threading.Event()
    answering = make_client()
    for account in accounts:
        threading.Thread(target=run_listener_thread, name=f"listen-{account.device_id}", daemon=True,
                         args=(account,), kwargs={"make_client": make_client, "key": state.device_key,
                                                  "deliver": updates.put, "stop": stop, "clock": clock}).start()
    handled: set[tuple[str, str]] = set()
    listening = len(accounts)
    last_problem = ""
    try:
        while listening:
            try:
                update = updates.get(timeout=0.5)
            except queue.Empty:
                continue
            if update.kind == CHALLENGE:
                done = _handle_challenge(update.account, update.challenge, state=state, auto=auto, console=console,
                                         client=answering, handled=handled, clock=clock, once=once)
                if done and once:
                    return 0
            elif update.kind == STOPPED:
                listening -= 1
                last_problem = update.message
                _say(console.err, f"Stopped listening for {update.account.label}: {update.message}")
            else:
                _report_status(update, console)
        raise ListeningStopped(f"No account is listening any more ({last_problem.rstrip('.')}).")
    except KeyboardInterrupt:
        _say(console.err, "\nStopped listening.")
        return 0
    finally:
        stop.set()
        answering.close()


def _report_status(update: StreamUpdate, console: Console) -> None:
    if update.kind == CONNECTED:
        _say(console.err, f"Listening for sign-in requests for {update.account.label} ({update.account.server}).")
    elif update.kind == DISCONNECTED:
        _say(console.err, f"Lost the connection to {update.account.server}: {update.message} "
                          f"Trying again in {update.retry_in:.0f} s.")
    elif update.kind == NOTICE:
        _say(console.err, f"{update.account.label}: {update.message}")


def _handle_challenge(account: Account, challenge: Challenge, *, state: State, auto: AutoAnswer | None,
                      console: Console, client: PushClient, handled: set, clock: Callable[[], float],
                      once: bool) -> bool:
    """Show, decide, sign, send. Return True when an answer was sent; a refused answer raises
    with ``--once`` (so the exit code tells) and is reported otherwise."""
    seen = (account.device_id, challenge.challenge_id)
    if seen in handled:  # the server sends pending challenges again after every reconnect
        return False
    handled.add(seen)
    if challenge.expires <= clock():
        _say(console.err, f"Skipped an expired sign-in request for {account.label}.")
        return False
    _say(console.out, describe_challenge(account, challenge, now=clock()))
    decision, number = (auto.decision, auto.number) if auto else ask_decision(console)
    body = signed_answer(state.device_key, device_id=account.device_id, challenge_id=challenge.challenge_id,
                         decision=decision, number=number, now=int(clock()))
    if auto:
        _say(console.out, f"Answering automatically: {decision}" + (f" with number {number}." if number else "."))
    try:
        result = client.answer(account.server, body=body)
    except AuthenticatorError as exc:
        if once:
            raise
        _say(console.err, exc.message)
        return True
    _say(console.out, RESULTS[result])
    return True


def describe_challenge(account: Account, challenge: Challenge, *, now: float) -> str:
    where = challenge.ip or "an unknown address"
    if challenge.location:
        where += f" ({challenge.location})"
    when = datetime.fromtimestamp(challenge.created).strftime("%Y-%m-%d %H:%M:%S")
    left = max(0, int(challenge.expires - now))
    return "\n".join([
        "",
        f"Sign-in request for {account.label}",
        f"  App:       {challenge.app or account.issuer or 'unknown'}",
        f"  Account:   {challenge.account or account.account}",
        f"  From:      {where}",
        f"  Time:      {when} (expires in {left} s)",
    ])


def ask_decision(console: Console) -> tuple[str, str | None]:
    """Microsoft Authenticator's order: the number first, then Approve / Deny / "No, it's not me"."""
    while True:
        number = _ask(console, "Enter the number shown to sign in (leave empty if it was not you): ").strip()
        if not number or (number.isascii() and number.isdigit() and len(number) <= MAX_NUMBER_DIGITS):
            break
        _say(console.out, "Type the digits shown on the sign-in page.")
    if number:
        choices, default = {"a": "approve", "d": "deny", "n": "fraud"}, "a"
        question = "Approve (a), Deny (d), or \"No, it's not me\" (n) to report it [a]: "
    else:
        choices, default = {"d": "deny", "n": "fraud"}, "d"
        question = "Deny (d), or \"No, it's not me\" (n) to report it [d]: "
    while True:
        choice = _ask(console, question).strip().lower()[:1] or default
        if choice in choices:
            decision = choices[choice]
            return decision, number if decision == "approve" else None
        _say(console.out, f"Type one of: {', '.join(choices)}.")


def _ask(console: Console, question: str) -> str:
    try:
        return console.ask(question)
    except EOFError:
        raise AnswerMissing() from None


def _say(stream: TextIO, text: str) -> None:
    print(text, file=stream, flush=True)
