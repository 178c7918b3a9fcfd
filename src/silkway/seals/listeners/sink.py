"""Where the listeners hand positions: the sink, and the batcher that groups them per transaction.

Positions cross as columns: each packet's fixes are one ``PositionBatch``, the batcher joins the
packets of one sink call into one batch, and the sink hands it to ingestion as it is.

A device is acknowledged only after the sink has returned for the batch holding its positions,
so that a crash never loses acknowledged data: the sink's return is the commit point. A sink
that raises leaves the device unacknowledged, and the device sends the data again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from silkway.seals.domain.telemetry import PositionBatch

if TYPE_CHECKING:
    from silkway.seals.service import SealContext

__all__ = [
    "Batcher",
    "BatcherStats",
    "IngestResult",
    "Sink",
    "SinkFailed",
    "make_pipeline_sink",
]

log = logging.getLogger("silkway.listeners")


class IngestResult(Protocol):
    """What the listeners read from the ingestion pipeline's answer to one batch."""

    @property
    def accepted(self) -> int: ...


Sink = Callable[[PositionBatch, str], Awaitable[IngestResult]]
"""Takes one batch of positions and their source ("egts", "wialon", "teltonika", "mqtt")."""


class SinkFailed(Exception):
    """The sink did not take a batch; the positions in it must not be acknowledged."""


def make_pipeline_sink(ctx: SealContext) -> Sink:
    """A sink feeding the node's telemetry pipeline (``seals.ingest.ingest``).

    ``ingest`` is synchronous (one call, one transaction), so it runs in a worker thread and the
    listeners' event loop keeps serving devices meanwhile.
    """
    from silkway.seals import ingest as telemetry

    async def sink(batch: PositionBatch, source: str) -> IngestResult:
        return await asyncio.to_thread(telemetry.ingest, ctx, batch, source=source)

    return sink


@dataclass(slots=True)
class BatcherStats:
    """Counters of one batcher, for monitoring."""

    batches: int = 0
    positions: int = 0
    accepted: int = 0
    failures: int = 0


@dataclass(slots=True)
class _Pending:
    positions: PositionBatch
    done: asyncio.Future[None]
    queued_at: float


@dataclass(slots=True)
class _Queue:
    items: deque[_Pending] = field(default_factory=deque)
    positions: int = 0


class Batcher:
    """Groups the positions of many packets (from many connections) into one sink call.

    Each packet's batch is queued as it is; a sink call gets the queued batches joined into one.

    One sink call is in flight at a time. A batch closes when it holds ``max_positions``, or
    ``max_delay_s`` after its first packet was queued; packets arriving while a call is in flight
    wait for the next one, so batches grow with the load by themselves. The database commit is
    what limits ingestion (about a thousand commits a second on PostgreSQL with fsync), and
    200,000 seals reporting once a minute send 3,333 packets a second: one transaction per
    packet would not keep up. The delay is small against device answer timeouts (seconds).
    A packet is never split across batches, so each device's acknowledgement waits for
    exactly one sink call.
    """

    def __init__(
        self, sink: Sink, source: str, *, max_positions: int = 500, max_delay_s: float = 0.01
    ) -> None:
        if max_positions < 1:
            raise ValueError("max_positions must be at least 1")
        self.source = source
        self.stats = BatcherStats()
        self._sink = sink
        self._max_positions = max_positions
        self._max_delay_s = max(0.0, max_delay_s)
        self._queue = _Queue()
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"silkway-batcher-{self.source}"
            )

    async def close(self) -> None:
        """Stop; packets still queued are failed (never acknowledged)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        while self._queue.items:
            item = self._queue.items.popleft()
            if not item.done.done():
                item.done.set_exception(SinkFailed("listener stopped"))
        self._queue.positions = 0

    async def submit(self, positions: PositionBatch) -> None:
        """Wait until the sink has taken ``positions``; raise ``SinkFailed`` if it did not."""
        if not len(positions):
            return
        if self._task is None:
            raise SinkFailed("batcher is not running")
        loop = asyncio.get_running_loop()
        item = _Pending(positions, loop.create_future(), loop.time())
        self._queue.items.append(item)
        self._queue.positions += len(positions)
        self._arrived.set()
        await item.done

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        queue = self._queue
        while True:
            while not queue.items:
                self._arrived.clear()
                await self._arrived.wait()
            if queue.positions < self._max_positions:
                await self._linger(loop, queue.items[0].queued_at + self._max_delay_s)
            await self._flush(self._take())

    async def _linger(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        """Wait until the batch is full or the deadline passes.

        A timer sets the wake-up event, so no cancellation is involved in an ordinary wait.
        """
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            self._arrived.set()

        timer = loop.call_at(deadline, expire)
        try:
            while not expired and self._queue.positions < self._max_positions:
                self._arrived.clear()
                await self._arrived.wait()
        finally:
            timer.cancel()

    def _take(self) -> list[_Pending]:
        queue = self._queue
        batch: list[_Pending] = []
        count = 0
        while queue.items:
            size = len(queue.items[0].positions)
            if batch and count + size > self._max_positions:
                break
            batch.append(queue.items.popleft())
            count += size
        queue.positions -= count
        return batch

    async def _flush(self, batch: list[_Pending]) -> None:
        # A packet whose connection went away meanwhile was never acknowledged: its device
        # sends it again, so it is left out rather than stored twice.
        live = [item for item in batch if not item.done.done()]
        if not live:
            return
        positions = PositionBatch.concat([item.positions for item in live])
        try:
            result = await self._sink(positions, self.source)
        except asyncio.CancelledError:
            for item in live:
                if not item.done.done():
                    item.done.set_exception(SinkFailed("listener stopped"))
            raise
        except Exception as error:  # noqa: BLE001 - whatever the sink raised, nothing is acked
            self.stats.failures += 1
            log.warning(
                "%s: sink refused a batch of %d positions: %r", self.source, len(positions), error
            )
            for item in live:
                if not item.done.done():
                    item.done.set_exception(SinkFailed(str(error)))
            return
        self.stats.batches += 1
        self.stats.positions += len(positions)
        self.stats.accepted += result.accepted
        for item in live:
            if not item.done.done():
                item.done.set_result(None)
