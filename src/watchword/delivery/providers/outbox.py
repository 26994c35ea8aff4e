"""The development outbox, the embedded default: nothing leaves the machine.

Every text and call is kept (with its words, the code included), written to the server log
(logger ``watchword.delivery``) and listed on Admin → Outbox, where an administrator can answer
a ringing call as the person would: press #, press 0#, answer and hang up, or not answer. That
is how voice is tried in development. Not for production: anyone who can read the server log
or the admin pages sees every code.
"""

from __future__ import annotations

import logging

from watchword.delivery.numbers import mask_number

log = logging.getLogger("watchword.delivery")

# What the outbox page offers for a ringing call, and the result each one gives.
ANSWERS = {
    "press_hash": ("Answer and press #", "confirmed"),
    "press_zero_hash": ("Answer and press 0#", "fraud"),
    "hang_up": ("Answer and hang up", "no_input"),
    "no_answer": ("Don't answer", "failed"),
}


class OutboxProvider:
    name = "outbox"
    keeps_words = True

    def send_text(self, message, body: str) -> str:
        log.info("outbox: text %s to %s (%s): %s", message.id, mask_number(message.to), message.purpose, body)
        return ""

    def place_call(self, message, greeting: str) -> str:
        extension = f" extension {message.extension}" if message.extension else ""
        log.info("outbox: call %s to %s%s (%s) says: %s -- answer it on Admin > Outbox", message.id,
                 mask_number(message.to), extension, message.purpose, greeting)
        return ""


def provider() -> OutboxProvider:
    return OutboxProvider()
