"""Running the exchange: subscriptions, the outbox relay and the journal, on a real bus.

The services are synchronous (one transaction per use case); the bus is asyncio. One
:class:`BusRunner` owns the loop; handlers hand their database work to a thread, and a relay
thread sends each node's outbox.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import partial
from itertools import combinations
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError

from silkway.exchange import service as exchange
from silkway.exchange.bus.ports import (
    Bus,
    DeadLetterHandler,
    Delivery,
    Handler,
    RetryLater,
    publisher_of,
)
from silkway.exchange.bus.runner import BusRunner
from silkway.exchange.conformance import ScenarioOutcome, run_conformance
from silkway.exchange.domain.processes import PROCESS
from silkway.exchange.expected import ExpectedRefusals
from silkway.exchange.journal import journal_envelope
from silkway.exchange.partner_tests import run_partner_tests
from silkway.kernel.errors import MovementBusy
from silkway.reference.model import MEMBER_STATES

log = logging.getLogger("silkway.exchange")
T = TypeVar("T")


def _waited(delivery: Delivery) -> timedelta:
    return timedelta(seconds=delivery.waited)


class ExchangeRuntime:
    """The exchange of one or more nodes in this process, over one bus."""

    def __init__(
        self,
        contexts: Mapping[str, exchange.ExchangeContext],
        bus: Bus,
        *,
        journal: exchange.ExchangeContext | None = None,
        relay_interval: float = 0.05,
        max_attempts: int = 5,
        serialize: bool = True,
    ) -> None:
        self.contexts = dict(contexts)
        self.bus = bus
        self.journal = journal
        self.relay_interval = relay_interval
        self.max_attempts = max_attempts
        self.runner = BusRunner()
        self._stop = threading.Event()
        self._relay_thread = threading.Thread(
            target=self._relay_loop, name="silkway-relay", daemon=True
        )
        self._wake = threading.Event()
        # SQLite takes one writer at a time: queueing here is cheaper than its busy-wait back-off.
        self._locks: dict[str, threading.Lock] = {
            s: threading.Lock() for s in (*self.contexts, *([journal.state] if journal else []))
        }
        self.serialize = serialize
        # The refusals this process's own interstate tests provoke, told to its receivers.
        self.expected = ExpectedRefusals()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.runner.start()
        self.runner.call(self.bus.start(), timeout=60)
        for state, ctx in self.contexts.items():
            self.runner.call(
                self.bus.subscribe(
                    f"node-{state}",
                    f"silkway.{state}.>",
                    self._handler(ctx),
                    on_dead_letter=self._dead_letter_handler(ctx),
                    max_attempts=self.max_attempts,
                ),
                timeout=60,
            )
        if self.journal is not None:
            self.runner.call(
                self.bus.subscribe(
                    "eec-journal",
                    "silkway.>",
                    self._journal_handler(self.journal),
                    on_dead_letter=self._dead_letter_handler(self.journal),
                    max_attempts=self.max_attempts,
                ),
                timeout=60,
            )
        self._relay_thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._relay_thread.is_alive():
            self._relay_thread.join(timeout=10)
        try:
            self.runner.call(self.bus.close(), timeout=30)
        finally:
            self.runner.stop()

    # -- sending ---------------------------------------------------------------------------

    def send(self, subject: str, data: bytes, message_id: str) -> None:
        self.runner.call(self.bus.publish(subject, data, message_id=message_id), timeout=30)

    def relay_now(self) -> None:
        """Wake the relay (after a change that owes messages)."""
        self._wake.set()

    def _relay_loop(self) -> None:
        while not self._stop.is_set():
            busy = False
            for ctx in self.contexts.values():
                try:
                    report = exchange.relay(ctx, self.send)
                except Exception:  # the relay must outlive any one failure; the outbox keeps all
                    log.exception("relay of %s failed", ctx.state)
                    continue
                busy = busy or bool(report.sent or report.paper or report.dead)
            if not busy:
                self._wake.wait(self.relay_interval)
                self._wake.clear()

    def _locked(self, state: str, work: Callable[..., T], *args: Any) -> T:
        if not self.serialize:
            return work(*args)
        with self._locks[state]:
            return work(*args)

    # -- receiving -------------------------------------------------------------------------

    def _handler(self, ctx: exchange.ExchangeContext) -> Handler:
        async def handle(delivery: Delivery) -> None:
            try:
                await asyncio.to_thread(
                    self._locked,
                    ctx.state,
                    partial(
                        exchange.receive,
                        via=publisher_of(delivery.subject),
                        expected=self.expected,
                    ),
                    ctx,
                    delivery.data,
                    _waited(delivery),
                )
            except (MovementBusy, OperationalError) as exc:
                raise RetryLater(str(exc)) from exc
            # A received message usually owes an answer (its R.006): send it now, not at the
            # relay's next turn.
            self._wake.set()

        return handle

    def _journal_handler(self, ctx: exchange.ExchangeContext) -> Handler:
        async def handle(delivery: Delivery) -> None:
            try:
                await asyncio.to_thread(
                    self._locked,
                    ctx.state,
                    partial(
                        journal_envelope,
                        via=publisher_of(delivery.subject),
                        expected=self.expected,
                    ),
                    ctx,
                    delivery.data,
                    _waited(delivery),
                )
            except OperationalError as exc:
                raise RetryLater(str(exc)) from exc

        return handle

    def _dead_letter_handler(self, ctx: exchange.ExchangeContext) -> DeadLetterHandler:
        async def on_dead(delivery: Delivery, reason: str) -> None:
            await asyncio.to_thread(
                exchange.dead_letter,
                ctx,
                delivery.subject,
                delivery.data,
                reason,
                delivery.attempt,
                _waited(delivery),
            )

        return on_dead

    # -- interstate tests ------------------------------------------------------------------

    def settle(self) -> None:
        time.sleep(0.02)

    def conformance(
        self, a: str, b: str, *, timeout: float = 5.0, process: str = PROCESS
    ) -> dict[str, list[ScenarioOutcome]]:
        return run_conformance(
            self.contexts[a],
            self.contexts[b],
            self.send,
            self.settle,
            register=self.journal,
            timeout=timeout,
            process=process,
            expect=self.expected.expect,
        )

    def run_partner_tests(
        self, state: str, partners: list[str], *, timeout: float = 10.0
    ) -> dict[str, dict[str, list[ScenarioOutcome]]]:
        """The node ``state`` of this process tests its partners over this bus on its own."""
        return run_partner_tests(
            self.contexts[state], partners, self.send, self.settle, timeout=timeout
        )

    def conformance_all(
        self, *, timeout: float = 5.0
    ) -> dict[str, dict[str, list[ScenarioOutcome]]]:
        """Every process with a kit, between every pair of member-state nodes here."""
        states = [s for s in self.contexts if s in MEMBER_STATES]
        kits = [set(self.contexts[s].kits) for s in states]
        processes = sorted(set.intersection(*kits)) if kits else []
        results: dict[str, dict[str, list[ScenarioOutcome]]] = {p: {} for p in processes}
        for process in processes:
            for a, b in combinations(states, 2):
                results[process].update(self.conformance(a, b, timeout=timeout, process=process))
        return results
