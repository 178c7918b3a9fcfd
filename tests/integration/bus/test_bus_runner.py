"""The loop thread that lets synchronous code drive the async bus."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from silkway.exchange.bus.inproc import InProcessBus
from silkway.exchange.bus.ports import Delivery, RetryLater
from silkway.exchange.bus.runner import BusRunner


async def _answer(value: int) -> int:
    await asyncio.sleep(0)
    return value * 2


async def _fail() -> None:
    raise RetryLater("not now")


def test_call_returns_results_and_raises_errors_in_the_calling_thread() -> None:
    with BusRunner() as runner:
        assert runner.call(_answer(21)) == 42
        with pytest.raises(RetryLater, match="not now"):
            runner.call(_fail())
        assert runner.submit(_answer(5)).result(timeout=5) == 10
    assert not runner.running


def test_call_from_the_loop_itself_is_refused() -> None:
    with BusRunner() as runner:

        async def nested() -> str:
            inner = _answer(1)
            try:
                runner.call(inner)
            except RuntimeError as exc:
                return str(exc)
            return "no error"

        assert "wait for itself" in runner.call(nested())


def test_stop_cancels_what_still_runs_and_refuses_new_work() -> None:
    runner = BusRunner()
    runner.start()
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    future = runner.submit(forever())
    time.sleep(0.05)
    runner.stop()
    assert cancelled.is_set()
    assert future.cancelled()
    coro = _answer(1)
    with pytest.raises(RuntimeError, match="not started"):
        runner.submit(coro)


def test_sync_code_publishes_and_handlers_run_on_the_loop() -> None:
    handled: list[tuple[str, str]] = []
    done = threading.Event()

    async def handler(delivery: Delivery) -> None:
        handled.append((delivery.message_id, threading.current_thread().name))
        if len(handled) == 3:
            done.set()

    async def dead_letter(delivery: Delivery, reason: str) -> None:
        raise AssertionError(reason)

    with BusRunner(name="silkway-bus-test") as runner:
        bus = InProcessBus()
        runner.call(bus.start())
        runner.call(bus.subscribe("kz", "silkway.KZ.>", handler, on_dead_letter=dead_letter))
        for i in range(3):
            runner.call(bus.publish("silkway.KZ.P_CP_01", b"", message_id=f"m{i}"))
        assert done.wait(timeout=5)
        runner.call(bus.close())
    assert handled == [(f"m{i}", "silkway-bus-test") for i in range(3)]
