"""bus.nats: messages per second through the NATS JetStream bus.

One publisher and one durable consumer, each on its own connection (as two nodes would be),
2 KiB payloads: every message is published with its id and its PubAck awaited, fetched, handled
and acknowledged; the clock stops when the consumer has handled the last one.

Baseline ``bus.nats.raw``: the same work with plain nats-py on the same server in the same run
(JetStream publish with ``Nats-Msg-Id`` awaiting each PubAck, a durable pull consumer fetching
batches of the same size, an ack per message), on a stream of its own. The ratio is the cost of
the adapter (validation, delivery objects, handler tasks, bounded concurrency).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import nats
import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from silkway.exchange.bus.nats import NatsBus
from silkway.exchange.bus.ports import Delivery
from tests.bench.harness import Result
from tests.natsd import running_server

COUNT = 2_500
SIZE = 2048
BATCH = 64


ASYNC_WINDOW = 256
"""Publishes awaiting their PubAck at once in the asynchronous baseline, as a JetStream user
bounds ``publish_async`` (nats-py's own default allows 4,000)."""


def raw_jetstream_rate(url: str, count: int, size: int, *, window: int = 1) -> float:
    """Messages/s for plain nats-py: publish, pull-fetch, ack. ``window`` 1 awaits each
    PubAck before the next publish; more uses ``publish_async`` with that many in flight."""
    return asyncio.run(_raw_jetstream_rate(url, count, size, window))


async def _raw_jetstream_rate(url: str, count: int, size: int, window: int = 1) -> float:
    tag = uuid.uuid4().hex[:12]
    stream, subject = f"RAW_{tag}", f"raw.{tag}"
    publisher, consumer = await nats.connect(url), await nats.connect(url)
    js = publisher.jetstream(publish_async_max_pending=max(window, 1))
    cjs = consumer.jetstream()
    await js.add_stream(
        StreamConfig(
            name=stream, subjects=[subject], storage=StorageType.FILE, duplicate_window=120
        )
    )
    pull = await cjs.pull_subscribe(
        subject,
        durable="raw",
        stream=stream,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=30),
    )
    payload = os.urandom(size)
    received = 0

    async def consume() -> None:
        nonlocal received
        while received < count:
            try:
                messages = await pull.fetch(BATCH, timeout=1)
            except nats.errors.TimeoutError:
                continue
            for msg in messages:
                await msg.ack()
                received += 1

    start = time.perf_counter()
    consuming = asyncio.create_task(consume())
    if window <= 1:
        for i in range(count):
            await js.publish(subject, payload, headers={"Nats-Msg-Id": f"{tag}-{i}"})
    else:
        acks = [
            await js.publish_async(subject, payload, headers={"Nats-Msg-Id": f"{tag}-{i}"})
            for i in range(count)
        ]
        await asyncio.gather(*acks)  # every message stored, as a PubAck says
    await consuming
    elapsed = time.perf_counter() - start
    await consumer.flush()
    await js.delete_stream(stream)
    await consumer.close()
    await publisher.close()
    return count / elapsed


def bus_rate(url: str, count: int, size: int) -> float:
    """Messages/s through :class:`NatsBus`: publish, consume, handle, ack."""
    return asyncio.run(_bus_rate(url, count, size))


async def _bus_rate(url: str, count: int, size: int) -> float:
    tag = uuid.uuid4().hex[:12]
    subject = f"silkway.BENCH.P_{tag}"
    publisher = NatsBus(url, batch_size=BATCH)
    consumer = NatsBus(url, batch_size=BATCH)
    await publisher.start()
    await consumer.start()
    payload = os.urandom(size)
    handled = 0
    done = asyncio.Event()

    async def handler(delivery: Delivery) -> None:
        nonlocal handled
        handled += 1
        if handled == count:
            done.set()

    async def dead_letter(delivery: Delivery, reason: str) -> None:
        raise RuntimeError(f"no dead letter expected in the benchmark: {reason}")

    await consumer.subscribe(f"bench-{tag}", subject, handler, on_dead_letter=dead_letter)
    start = time.perf_counter()
    for i in range(count):
        await publisher.publish(subject, payload, message_id=f"{tag}-{i}")
    await done.wait()
    elapsed = time.perf_counter() - start
    await consumer.close()
    await publisher.close()
    return count / elapsed


def run() -> list[Result]:
    with running_server() as server:
        # Alternate the two so that neither gets a warmer server or a quieter machine.
        raw = raw_async = bus = 0.0
        for _ in range(3):
            raw = max(raw, raw_jetstream_rate(server.url, COUNT, SIZE))
            raw_async = max(
                raw_async, raw_jetstream_rate(server.url, COUNT, SIZE, window=ASYNC_WINDOW)
            )
            bus = max(bus, bus_rate(server.url, COUNT, SIZE))
    return [
        Result("bus.nats", bus, "messages/s", "bus.nats.raw", raw),
        Result("bus.nats", bus, "messages/s", "jetstream.raw_async", raw_async),
    ]
