"""What the listener tests share: a recording sink, a device over a real socket, waiting helpers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tests.conftest import START

from silkway.node.clock import ManualClock
from silkway.seals.devices.records import Position
from silkway.seals.domain.telemetry import PositionBatch
from silkway.seals.listeners import DeviceListener, ListenerLimits, tcp_listener

# Every wait is bounded so that a broken listener fails the test instead of hanging it.
WAIT_S = 10.0


CLOCK = ManualClock(START)
"""The listeners' clock where no node is involved: fixes are stamped by the clock that judges
them, never by the machine's, so the tests pass on any date."""


def recent(minutes: int = 10, *, clock: ManualClock = CLOCK) -> datetime:
    """A fix time ``minutes`` before ``clock``'s now, in whole seconds (EGTS keeps seconds only).

    With a node, pass the node's clock: the pipeline refuses fixes too far from its "now"."""
    return clock.now().replace(microsecond=0) - timedelta(minutes=minutes)


@dataclass(frozen=True)
class Report:
    accepted: int


@dataclass
class RecordingSink:
    """A sink that keeps every batch it is given (as positions, to compare them with what the
    devices sent); ``failures`` batches are refused first."""

    failures: int = 0
    batches: list[tuple[list[Position], str]] = field(default_factory=list)
    refused: list[list[Position]] = field(default_factory=list)

    async def __call__(self, batch: PositionBatch, source: str) -> Report:
        assert isinstance(batch, PositionBatch), "positions cross the sink as columns"
        if self.failures > 0:
            self.failures -= 1
            self.refused.append(batch.positions())
            raise RuntimeError("storage unavailable")
        self.batches.append((batch.positions(), source))
        return Report(accepted=len(batch))

    @property
    def positions(self) -> list[Position]:
        return [p for batch, _source in self.batches for p in batch]


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.01)
    assert condition(), what


@asynccontextmanager
async def serving(
    protocol: str, sink: RecordingSink, limits: ListenerLimits | None = None
) -> AsyncIterator[DeviceListener]:
    listener = tcp_listener(protocol, sink, limits=limits, clock=CLOCK.now)
    await listener.start("127.0.0.1", 0)
    try:
        yield listener
    finally:
        await listener.close()


class Device:
    """A device's side of one TCP connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes | str) -> None:
        self.writer.write(data.encode("ascii") if isinstance(data, str) else data)
        await self.writer.drain()

    async def send_slowly(self, data: bytes | str) -> None:
        """One byte per TCP segment, with a pause between them."""
        raw = data.encode("ascii") if isinstance(data, str) else data
        for index in range(len(raw)):
            self.writer.write(raw[index : index + 1])
            await self.writer.drain()
            await asyncio.sleep(0.002)

    async def receive(self, size: int) -> bytes:
        async with asyncio.timeout(WAIT_S):
            return await self.reader.readexactly(size)

    async def line(self) -> str:
        async with asyncio.timeout(WAIT_S):
            return (await self.reader.readuntil(b"\r\n")).decode("ascii")

    async def rest_until_closed(self) -> bytes:
        """Everything the server still sends before it hangs up."""
        async with asyncio.timeout(WAIT_S):
            return await self.reader.read()

    async def close(self) -> None:
        self.writer.close()
        with suppress(ConnectionError):
            await self.writer.wait_closed()


@asynccontextmanager
async def device(listener: DeviceListener) -> AsyncIterator[Device]:
    host, port = listener.address
    reader, writer = await asyncio.open_connection(host, port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connection = Device(reader, writer)
    try:
        yield connection
    finally:
        await connection.close()
