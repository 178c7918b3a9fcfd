"""Helpers shared by the bus tests: a kit that opens either bus, and waiting helpers."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from silkway.exchange.bus.inproc import InProcessBus
from silkway.exchange.bus.nats import NatsBus
from silkway.exchange.bus.ports import Bus, BusUnavailable

T = TypeVar("T")


class BusKit:
    """Opens buses of one kind inside a test's event loop, and closes them all at the end.

    For NATS each ``open()`` is a new connection (a separate node process, as in production);
    for the in-process bus every ``open()`` returns the one bus of the process, as in the
    embedded set-up. Options one kind does not have are ignored for it.
    """

    def __init__(self, kind: str, servers: list[str] | None) -> None:
        self.kind = kind
        self.servers = servers
        self._buses: list[Bus] = []
        self._inproc: InProcessBus | None = None

    async def open(self, **options: Any) -> Bus:
        bus: Bus
        if self.kind == "inproc":
            if self._inproc is None:
                self._inproc = InProcessBus(**_accepted(InProcessBus, options))
                await self._inproc.start()
                self._buses.append(self._inproc)
            return self._inproc
        defaults = {"fetch_timeout": 1.0, "ack_wait": 2.0, "publish_timeout": 2.0}
        bus = NatsBus(self.servers or [], **_accepted(NatsBus, {**defaults, **options}))
        await bus.start()
        self._buses.append(bus)
        return bus

    async def close(self) -> None:
        for bus in reversed(self._buses):
            await bus.close()
        self._buses.clear()


def _accepted(cls: type, options: dict[str, Any]) -> dict[str, Any]:
    names = inspect.signature(cls).parameters
    return {k: v for k, v in options.items() if k in names}


def run(body: Callable[[], Coroutine[Any, Any, T]], timeout: float = 40.0) -> T:
    """Run an async test body in a fresh loop; a body that hangs fails instead."""

    async def bounded() -> T:
        return await asyncio.wait_for(body(), timeout)

    return asyncio.run(bounded())


async def until(
    condition: Callable[[], bool], what: str, timeout: float = 20.0, every: float = 0.01
) -> None:
    """Wait for ``condition``; fail with ``what`` if it does not hold within ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


async def publish_with_retry(
    publish: Callable[[], Awaitable[None]], attempts: int = 400, pause: float = 0.05
) -> int:
    """Publish like the outbox relay: on ``BusUnavailable`` wait and try the same id again.

    Returns how many attempts failed.
    """
    for failed in range(attempts):
        try:
            await publish()
        except BusUnavailable:
            await asyncio.sleep(pause)
        else:
            return failed
    raise AssertionError(f"publish still failing after {attempts} attempts")
