"""Teltonika Codec 8 / 8E over TCP: the IMEI handshake, then AVL packets and keep-alives.

The handshake is answered ``01`` (or ``00`` and closed); each AVL packet with the number of its
records as a big-endian u32 once the sink has taken them, or ``0`` when the packet is refused
(bad CRC, counts or values), so that the device sends it again. Bytes that cannot start a packet
close the connection. The decoder caps a packet at 1,280 bytes, which bounds the buffer.
"""

from __future__ import annotations

import logging
from datetime import datetime

from silkway.seals.devices import teltonika
from silkway.seals.devices.records import DecodeError
from silkway.seals.domain.telemetry import PositionBatch
from silkway.seals.listeners.gate import DeviceGate
from silkway.seals.listeners.tcp import Reply

__all__ = ["TeltonikaStreamSession"]

log = logging.getLogger("silkway.listeners")

_REFUSED = teltonika.encode_ack(0)


class TeltonikaStreamSession:
    """Drives a ``TeltonikaSession`` from the bytes of one connection.

    The IMEI of the handshake goes to the listener's gate first: one that is not a registered
    device is answered ``00`` and the connection closed.
    """

    def __init__(self, gate: DeviceGate) -> None:
        self.session = teltonika.TeltonikaSession()
        self._gate = gate
        self._held = b""
        """The handshake's bytes (and any behind it) until the gate has decided."""

    async def feed(self, chunk: bytes, now: datetime) -> Reply:
        session = self.session
        reply = Reply()
        if session.imei is None:
            self._held += chunk
            try:
                imei, rest = teltonika.read_handshake(self._held)
            except DecodeError:
                imei = ""  # not a handshake: the session refuses it in its own words
            if imei is None:
                self._held = rest  # keep-alive bytes before it are dropped
                return reply  # the IMEI is still arriving
            if imei:
                admission = await self._gate.admit(teltonika.PROTOCOL, imei)
                if not admission.accepted:
                    reply.frames += 1
                    reply.errors += 1
                    reply.answer = teltonika.IMEI_REJECT
                    reply.refusal = admission
                    reply.close = True
                    return reply
            chunk, self._held = self._held, b""
            handshake, _none = session.feed(chunk, now=now)
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
