"""Teltonika Codec 8 / 8E over TCP: the IMEI handshake, then AVL packets and keep-alives.

The handshake is answered ``01`` (or ``00`` and closed); each AVL packet with the number of its
records as a big-endian u32 once the sink has taken them, or ``0`` when the packet is refused
(bad CRC, counts or values), so that the device sends it again. Bytes that cannot start a packet
close the connection. The decoder caps a packet at 1,280 bytes, which bounds the buffer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from silkway.seals.devices import teltonika
from silkway.seals.domain.telemetry import PositionBatch
from silkway.seals.listeners.tcp import Reply

__all__ = ["TeltonikaStreamSession"]

log = logging.getLogger("silkway.listeners")

_REFUSED = teltonika.encode_ack(0)


class TeltonikaStreamSession:
    """Drives a ``TeltonikaSession`` from the bytes of one connection."""

    def __init__(self, *, accept_imei: Callable[[str], bool] | None = None) -> None:
        self.session = teltonika.TeltonikaSession(accept_imei=accept_imei)

    def feed(self, chunk: bytes, now: datetime) -> Reply:
        session = self.session
        reply = Reply()
        if session.imei is None:
            handshake, _none = session.feed(chunk, now=now)
            if not handshake:
                return reply  # the IMEI is still arriving
            reply.frames += 1
            reply.answer = handshake
            if session.closed:
                log.info("teltonika: handshake refused: %s", session.last_error)
                reply.errors += 1
                reply.close = True
                return reply
            # Bytes sent right behind the handshake are already buffered; read them now rather
            # than waiting for more data that may never come.
            chunk = b""
        acks, positions = session.feed(chunk, now=now)
        reply.answer += acks
        if positions:
            reply.add(PositionBatch.from_positions(positions))
        reply.close = session.closed
        for offset in range(0, len(acks), 4):
            reply.frames += 1
            if acks[offset : offset + 4] == _REFUSED:
                reply.errors += 1
        if session.closed:
            reply.errors += 1
        if session.last_error is not None:
            log.info("teltonika %s: %s", session.imei, session.last_error.reason)
        return reply
