"""The TCP server every device protocol shares: connections, limits, acknowledgement after the sink.

Each connection owns a protocol session (``DeviceSession``) that turns received bytes into a
``Reply``: the answer the device expects, the positions decoded (one columnar ``PositionBatch``),
and whether to hang up. The server hands the positions to the batcher first and writes the answer only once the sink has
taken them; if the sink fails the connection is closed without an answer, so the device keeps
its data and sends it again after reconnecting (an answer withheld on a connection that stays
open could be taken by the device as the answer to its next packet).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Self

from silkway.seals.domain.telemetry import PositionBatch
from silkway.seals.listeners.sink import Batcher, Sink, SinkFailed

__all__ = [
    "MAX_EGTS_FRAME_BYTES",
    "DeviceListener",
    "DeviceSession",
    "ListenerLimits",
    "ListenerStats",
    "Reply",
]

log = logging.getLogger("silkway.listeners")

# The largest EGTS frame: a 16-byte routed header, 65,535 bytes of data and the data checksum.
MAX_EGTS_FRAME_BYTES = 16 + 0xFFFF + 2
_READ_BYTES = 65_536


@dataclass(frozen=True, slots=True)
class ListenerLimits:
    """Bounds that keep one listener safe from any number of misbehaving devices."""

    max_connections: int = 1000
    """Connections served at once; one more is closed as soon as it is accepted."""
    idle_timeout_s: float = 300.0
    """A connection that sends nothing (or reads nothing) for this long is closed."""
    max_frame_bytes: int = MAX_EGTS_FRAME_BYTES
    """The longest frame or line a device may send; beyond it the connection is refused."""
    batch_positions: int = 500
    """Positions grouped into one sink call at most."""
    batch_delay_s: float = 0.01
    """How long a packet may wait for others to join its sink call."""


@dataclass(slots=True)
class ListenerStats:
    """Counters of one listener, for monitoring."""

    connections: int = 0
    refused: int = 0
    active: int = 0
    frames: int = 0
    errors: int = 0
    positions: int = 0
    sink_failures: int = 0
    idle_timeouts: int = 0


@dataclass(slots=True)
class Reply:
    """What a session makes of received bytes."""

    answer: bytes = b""
    positions: PositionBatch | None = None
    """The fixes decoded, as columns; None when there are none."""
    close: bool = False
    """Hang up once the answer (if any) is written: the stream can no longer be trusted."""
    frames: int = 0
    errors: int = 0
    """Frames or lines refused, answered with the protocol's error or by hanging up."""

    def add(self, batch: PositionBatch) -> None:
        """Take ``batch``'s fixes after those already decoded."""
        if not len(batch):
            return
        held = self.positions
        self.positions = batch if held is None else PositionBatch.concat([held, batch])


class DeviceSession(Protocol):
    """One device connection's protocol state."""

    def feed(self, chunk: bytes, now: datetime) -> Reply:
        """Consume bytes from the device."""
        ...


class DeviceListener:
    """A TCP port speaking one device protocol; positions go to ``sink`` with source ``protocol``."""

    def __init__(
        self,
        protocol: str,
        new_session: Callable[[], DeviceSession],
        sink: Sink,
        *,
        limits: ListenerLimits | None = None,
        clock: Callable[[], datetime],
    ) -> None:
        self.protocol = protocol
        self.limits = limits or ListenerLimits()
        self.stats = ListenerStats()
        self.batcher = Batcher(
            sink,
            protocol,
            max_positions=self.limits.batch_positions,
            max_delay_s=self.limits.batch_delay_s,
        )
        self._new_session = new_session
        self._clock = clock
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> tuple[str, int]:
        """The bound host and port (the real port when 0 was asked for)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError(f"{self.protocol} listener is not started")
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    async def start(self, host: str, port: int) -> None:
        """Bind and start accepting devices; raises ``OSError`` when the port cannot be had."""
        self.batcher.start()
        try:
            self._server = await asyncio.start_server(self._serve, host, port)
        except OSError:
            await self.batcher.close()
            raise

    async def close(self) -> None:
        """Stop accepting, drop every connection and stop the batcher."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()
        await self.batcher.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if self.stats.active >= self.limits.max_connections or task is None:
            self.stats.refused += 1
            await _hang_up(writer)
            return
        self._connections.add(task)
        self.stats.connections += 1
        self.stats.active += 1
        peer = writer.get_extra_info("peername")
        try:
            await self._converse(reader, writer)
        except (ConnectionError, TimeoutError) as error:
            log.debug("%s %s: connection lost: %r", self.protocol, peer, error)
        except asyncio.CancelledError:
            # Only ``close`` cancels a conversation; ending the task quietly keeps asyncio's
            # stream machinery from reporting the cancellation as an unhandled error.
            log.debug("%s %s: dropped by shutdown", self.protocol, peer)
        except Exception:
            # A fault in one conversation must not reach the server or the other devices.
            log.exception("%s %s: connection failed", self.protocol, peer)
        finally:
            self.stats.active -= 1
            self._connections.discard(task)
            await _hang_up(writer)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = self._new_session()
        idle = self.limits.idle_timeout_s
        stats = self.stats
        while True:
            try:
                async with asyncio.timeout(idle):
                    chunk = await reader.read(_READ_BYTES)
            except TimeoutError:
                stats.idle_timeouts += 1
                return
            if not chunk:
                return
            reply = session.feed(chunk, self._clock())
            stats.frames += reply.frames
            stats.errors += reply.errors
            if reply.positions is not None:
                try:
                    await self.batcher.submit(reply.positions)
                except SinkFailed:
                    stats.sink_failures += 1
                    return
                stats.positions += len(reply.positions)
            if reply.answer:
                writer.write(reply.answer)
                async with asyncio.timeout(idle):
                    await writer.drain()
            if reply.close:
                return


async def _hang_up(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()
