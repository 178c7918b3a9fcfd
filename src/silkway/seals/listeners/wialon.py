"""Wialon IPS 1.1 / 2.0 over TCP: ``\\r\\n``-framed lines, one ``WialonSession`` per connection.

The session gives the exact answer line for each packet (login, data, short data, black box,
ping). A line that has no answer (data before login, an unknown packet type, a line that is not
``#TYPE#body`` or not UTF-8) closes the connection without one, so that the tracker logs in
again and resends. A line longer than the limit is refused with the structure error of its
packet type (``-1``; ``#AL#0`` for a login, ``#AB#0`` for a black box, which answers with a
count) and the connection is closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from silkway.seals.devices import wialon
from silkway.seals.devices.records import DecodeError, Position
from silkway.seals.domain.telemetry import PositionBatch
from silkway.seals.listeners.tcp import Reply

__all__ = ["DEFAULT_MAX_LINE_BYTES", "WialonLineSession"]

log = logging.getLogger("silkway.listeners")

DEFAULT_MAX_LINE_BYTES = 65_536
_REFUSALS = {
    b"L": b"#AL#0\r\n",
    b"SD": b"#ASD#-1\r\n",
    b"D": b"#AD#-1\r\n",
    b"B": b"#AB#0\r\n",
}


class WialonLineSession:
    """Cuts the stream into lines and answers each through a ``WialonSession``."""

    def __init__(
        self,
        *,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        check_password: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.session = wialon.WialonSession(check_password=check_password)
        self._max_line_bytes = max_line_bytes
        self._buffer = b""

    def feed(self, chunk: bytes, now: datetime) -> Reply:
        self._buffer += chunk
        reply = Reply()
        found: list[Position] = []
        while not reply.close:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self._max_line_bytes:
                    self._refuse_long(self._buffer, reply)
                break
            line, self._buffer = self._buffer[: end + 1], self._buffer[end + 1 :]
            if len(line) > self._max_line_bytes:
                self._refuse_long(line, reply)
            else:
                self._answer(line, now, reply, found)
        if found:
            reply.add(PositionBatch.from_positions(found))
        return reply

    def _answer(self, raw: bytes, now: datetime, reply: Reply, found: list[Position]) -> None:
        if not raw.strip():
            return
        reply.frames += 1
        try:
            answer, positions = self.session.handle_line(raw.decode("utf-8"), now=now)
        except (UnicodeDecodeError, DecodeError) as error:
            log.info("wialon %s: line without an answer, closing: %s", self.session.imei, error)
            reply.errors += 1
            reply.close = True
            return
        if self.session.last_error is not None:
            log.info("wialon %s: %s", self.session.imei, self.session.last_error.reason)
            reply.errors += 1
        reply.answer += answer.encode("ascii")
        found.extend(positions)

    def _refuse_long(self, line: bytes, reply: Reply) -> None:
        log.info("wialon %s: line over %d bytes, closing", self.session.imei, self._max_line_bytes)
        _prefix, _hash, rest = line.partition(b"#")
        kind = rest.partition(b"#")[0]
        reply.answer += _REFUSALS.get(kind, b"")
        reply.frames += 1
        reply.errors += 1
        reply.close = True
        self._buffer = b""
