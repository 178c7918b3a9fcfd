"""The in-process bus: every node of the embedded set-up in one asyncio loop.

It keeps the semantics the NATS JetStream bus has, as far as the port shows them, so that the
exchange behaves the same embedded and in production:

- a publish is stored once per ``message_id`` within the de-duplication window;
- a durable consumer (one per name) keeps its place while no subscription is attached (within
  this process): a node that subscribes again with the same name gets what it has not acknowledged;
- first deliveries reach the handler in publish order (``concurrency=1`` also finishes them in
  that order; with more, handlers of later messages may start before earlier ones finish);
- a failed delivery is redelivered with exponential backoff, then dead-lettered after
  ``max_attempts`` (see :mod:`silkway.exchange.bus.handling`);
- stopping a subscription lets in-flight handlers finish for ``stop_grace`` seconds and cancels the
  rest; what they did not acknowledge is delivered again.

Messages are kept while a consumer still owes them an outcome, and for ``retention`` seconds (at
most ``max_retained`` of them) so that a durable created later receives them too, as a
JetStream stream with limits retention would.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from silkway.exchange.bus.handling import DeliveryProcessor, RetryPolicy, Verdict
from silkway.exchange.bus.ports import (
    BusUnavailable,
    DeadLetterHandler,
    Delivery,
    Handler,
    Subscription,
)
from silkway.exchange.bus.subjects import (
    check_durable,
    check_filter,
    check_headers,
    check_message_id,
    check_subject,
    matches,
)


@dataclass(frozen=True, slots=True, eq=False)
class _Message:
    seq: int
    subject: str
    tokens: tuple[str, ...]
    data: bytes
    message_id: str
    headers: Mapping[str, str]
    stored_at: float
    taken_at: float
    """When the bus took it, on the bus's clock (seconds)."""


class _Consumer:
    """A durable consumer's place in the stream; it outlives its subscriptions."""

    def __init__(self, durable: str, subject: str) -> None:
        self.durable = durable
        self.subject = subject
        self.tokens = check_filter(subject)
        self.fresh: deque[_Message] = deque()
        """Never delivered yet, in publish order."""
        self.due: list[tuple[float, int, _Message]] = []
        """Waiting for redelivery: a heap of (when, seq, message)."""
        self.deliveries: dict[int, int] = {}
        """How often each message that has no outcome yet was delivered."""
        self.wake = asyncio.Event()
        self.subscription: _InProcessSubscription | None = None

    def offer(self, message: _Message) -> None:
        self.fresh.append(message)
        self.wake.set()

    def redeliver_at(self, when: float, message: _Message) -> None:
        heapq.heappush(self.due, (when, message.seq, message))
        self.wake.set()

    def settle(self, message: _Message) -> None:
        self.deliveries.pop(message.seq, None)

    async def next_message(self) -> _Message:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            if self.due and self.due[0][0] <= now:
                return heapq.heappop(self.due)[2]
            if self.fresh:
                return self.fresh.popleft()
            self.wake.clear()
            try:
                async with asyncio.timeout(self.due[0][0] - now if self.due else None):
                    await self.wake.wait()
            except TimeoutError:
                pass


class _InProcessSubscription:
    def __init__(
        self,
        consumer: _Consumer,
        processor: DeliveryProcessor,
        *,
        stamp: Callable[[], float],
        concurrency: int,
        stop_grace: float,
        on_stopped: Callable[[_InProcessSubscription], None],
    ) -> None:
        self._consumer = consumer
        self._processor = processor
        self._stamp = stamp
        self._slots = asyncio.Semaphore(concurrency)
        self._stop_grace = stop_grace
        self._on_stopped = on_stopped
        self._in_flight: set[asyncio.Task[None]] = set()
        self._dispatcher = asyncio.create_task(
            self._dispatch(), name=f"silkway-bus-{consumer.durable}"
        )
        self._stopped = False

    async def _dispatch(self) -> None:
        consumer = self._consumer
        while True:
            await self._slots.acquire()
            try:
                message = await consumer.next_message()
            except BaseException:
                self._slots.release()
                raise
            attempt = consumer.deliveries.get(message.seq, 0) + 1
            consumer.deliveries[message.seq] = attempt
            task = asyncio.create_task(self._handle(message, attempt))
            self._in_flight.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slots.release()

    async def _handle(self, message: _Message, attempt: int) -> None:
        delivery = Delivery(
            subject=message.subject,
            data=message.data,
            message_id=message.message_id,
            headers=message.headers,
            attempt=attempt,
            waited=max(0.0, self._stamp() - message.taken_at),
        )
        loop = asyncio.get_running_loop()
        try:
            outcome = await self._processor.process(delivery, message.seq)
        except asyncio.CancelledError:
            # Stopped mid-handling: no outcome, so the next subscription gets it again at once.
            self._consumer.redeliver_at(loop.time(), message)
            raise
        if outcome.verdict is Verdict.RETRY:
            self._consumer.redeliver_at(loop.time() + outcome.delay, message)
        else:
            self._consumer.settle(message)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._dispatcher.cancel()
        await asyncio.gather(self._dispatcher, return_exceptions=True)
        if self._in_flight:
            _, late = await asyncio.wait(set(self._in_flight), timeout=self._stop_grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._consumer.subscription is self:
            self._consumer.subscription = None
        self._on_stopped(self)


class InProcessBus:
    """The embedded bus. Create it, ``await start()`` it in the loop that will run it.

    It is not thread-safe: every call is made from that loop (from other threads through
    :class:`silkway.exchange.bus.runner.BusRunner`).
    """

    def __init__(
        self,
        *,
        duplicate_window: float = 120.0,
        retry: RetryPolicy | None = None,
        concurrency: int = 16,
        retention: float = 300.0,
        max_retained: int = 10_000,
        stop_grace: float = 5.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``clock`` stamps each message as the bus takes it, as a JetStream server does (the
        embedded Union passes its own; default the monotonic clock)."""
        if duplicate_window < 0 or retention < 0 or max_retained < 0 or stop_grace < 0:
            raise ValueError("windows, retention and grace must not be negative")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.duplicate_window = duplicate_window
        self.retry = retry or RetryPolicy()
        self.concurrency = concurrency
        self.retention = retention
        self.max_retained = max_retained
        self.stop_grace = stop_grace
        self._stamp: Callable[[], float] = (
            time.monotonic if clock is None else (lambda: clock().timestamp())
        )
        self._running = False
        self._sequence = itertools.count(1)
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._retained: deque[_Message] = deque()
        self._consumers: dict[str, _Consumer] = {}
        self._subscriptions: set[_InProcessSubscription] = set()

    async def start(self) -> None:
        self._running = True

    async def close(self) -> None:
        """Stop every subscription; consumers keep their place for a later ``start``."""
        self._running = False
        await asyncio.gather(*(s.stop() for s in list(self._subscriptions)))

    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        message_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        tokens = tuple(check_subject(subject))
        check_message_id(message_id)
        fields = MappingProxyType(check_headers(headers))
        if not self._running:
            raise BusUnavailable("the in-process bus is not running")
        now = time.monotonic()
        self._forget(now)
        if message_id in self._seen:
            return
        self._seen[message_id] = now
        message = _Message(
            next(self._sequence), subject, tokens, data, message_id, fields, now, self._stamp()
        )
        self._retained.append(message)
        for consumer in self._consumers.values():
            if matches(consumer.tokens, tokens):
                consumer.offer(message)

    def _forget(self, now: float) -> None:
        seen, window = self._seen, self.duplicate_window
        while seen and now - next(iter(seen.values())) > window:
            seen.popitem(last=False)
        retained = self._retained
        while retained and (
            len(retained) > self.max_retained or now - retained[0].stored_at > self.retention
        ):
            retained.popleft()

    async def subscribe(
        self,
        durable: str,
        subject: str,
        handler: Handler,
        *,
        on_dead_letter: DeadLetterHandler,
        max_attempts: int = 5,
    ) -> Subscription:
        check_durable(durable)
        check_filter(subject)
        processor = DeliveryProcessor(
            handler, on_dead_letter, max_attempts=max_attempts, retry=self.retry
        )
        if not self._running:
            raise BusUnavailable("the in-process bus is not running")
        consumer = self._consumers.get(durable)
        if consumer is None:
            consumer = self._consumers[durable] = _Consumer(durable, subject)
            self._forget(time.monotonic())
            for message in self._retained:
                if matches(consumer.tokens, message.tokens):
                    consumer.fresh.append(message)
        elif consumer.subject != subject:
            raise ValueError(
                f"durable {durable!r} follows {consumer.subject!r}, not {subject!r}:"
                " use another name for another subject"
            )
        if consumer.subscription is not None:
            raise ValueError(f"durable {durable!r} already has an active subscription")
        subscription = _InProcessSubscription(
            consumer,
            processor,
            stamp=self._stamp,
            concurrency=self.concurrency,
            stop_grace=self.stop_grace,
            on_stopped=self._subscriptions.discard,
        )
        consumer.subscription = subscription
        self._subscriptions.add(subscription)
        return subscription
