"""A Server-Sent Events parser (WHATWG HTML, "Parsing an event stream"), fed one line at a time.

Only what the push stream uses: ``event``, ``data`` (several lines join with newlines), ``id``,
comment lines (``: keep-alive``) and the blank line that dispatches an event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ServerEvent:
    event: str
    data: str
    id: str | None = None


class EventStreamParser:
    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, line: str) -> ServerEvent | None:
        """Take one line (without its line ending); return an event when the line completes one."""
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: the server's keep-alive
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        return None  # other fields (``retry``: the listener keeps its own backoff) are ignored

    def _dispatch(self) -> ServerEvent | None:
        event, data = self._event or "message", self._data
        self._event, self._data = "", []
        if not data:
            return None
        return ServerEvent(event=event, data="\n".join(data), id=self._id)


def parse_event_stream(lines: Iterable[str]) -> Iterator[ServerEvent]:
    parser = EventStreamParser()
    for line in lines:
        event = parser.feed(line.rstrip("\r\n"))
        if event is not None:
            yield event
