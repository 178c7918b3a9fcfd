"""The MQTT subscriber against a real broker: routing per operator, malformed payloads, redelivery."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiomqtt
from tests.integration.listeners.harness import (
    CLOCK,
    WAIT_S,
    RecordingSink,
    recent,
    wait_until,
)

from silkway.seals.listeners.mqtt import MqttConfig, MqttSubscriber

Broker = tuple[str, int]


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@asynccontextmanager
async def subscribed(
    broker: Broker, sinks: dict[str, RecordingSink]
) -> AsyncIterator[MqttSubscriber]:
    host, port = broker
    config = MqttConfig(
        host,
        port,
        client_id=f"silkway-test-{uuid.uuid4().hex[:12]}",
        reconnect_min_s=0.05,
        reconnect_max_s=0.2,
    )
    subscriber = MqttSubscriber(config, sinks, batch_delay_s=0.0, clock=CLOCK.now)
    task = asyncio.create_task(subscriber.run())
    try:
        async with asyncio.timeout(WAIT_S):
            await subscriber.connected.wait()
        yield subscriber
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def publish(broker: Broker, *messages: tuple[str, bytes]) -> None:
    host, port = broker
    async with aiomqtt.Client(host, port, identifier=f"seal-{uuid.uuid4().hex[:12]}") as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1)


def test_positions_reach_the_sink_of_their_operator(broker: Broker) -> None:
    kz, by = RecordingSink(), RecordingSink()
    now = recent(1)
    live = {
        "time": stamp(now),
        "lat": 43.2567,
        "lon": 76.9286,
        "speed_kmh": 62.5,
        "course": 270,
        "battery_pct": 14.5,
        "events": ["housing_opened"],
    }
    replay = [
        {"time": stamp(recent(90)), "lat": 52.08, "lon": 23.66, "stored": True},
        {"time": "2026-01-01T10:00:00+05:00", "lat": 52.06, "lon": 23.62, "stored": True},
    ]

    async def scenario() -> None:
        async with subscribed(broker, {"KZ": kz, "BY": by}) as subscriber:
            await publish(
                broker,
                ("silkway/KZ/seals/KZ-SEAL-000123/telemetry", json.dumps(live).encode()),
                ("silkway/BY/seals/BY-77/telemetry", json.dumps(replay).encode()),
            )
            await wait_until(lambda: len(kz.positions) + len(by.positions) == 3, "3 positions")
            assert subscriber.stats.malformed == 0

    asyncio.run(scenario())
    (seal,) = kz.positions
    assert (seal.device_id, seal.protocol, seal.course, seal.speed_kmh) == (
        "KZ-SEAL-000123",
        "mqtt",
        270,
        62.5,
    )
    assert seal.time == now
    assert seal.flags == {"housing_opened": True}
    assert seal.io == {"battery_pct": 14.5}
    assert [(p.device_id, p.stored, p.lat) for p in by.positions] == [
        ("BY-77", True, 52.08),
        ("BY-77", True, 52.06),
    ]
    assert by.positions[1].time == datetime(2026, 1, 1, 5, 0, tzinfo=UTC)
    assert {source for _batch, source in kz.batches + by.batches} == {"mqtt"}


def test_malformed_messages_are_counted_and_do_not_stop_the_subscriber(broker: Broker) -> None:
    kz = RecordingSink()
    good = {"time": stamp(recent(2)), "lat": 43.0, "lon": 76.0}

    async def scenario() -> MqttSubscriber:
        async with subscribed(broker, {"KZ": kz}) as subscriber:
            await publish(
                broker,
                ("silkway/KZ/seals/S1/telemetry", b"not json"),
                ("silkway/KZ/seals/S1/telemetry", json.dumps({**good, "lat": 100}).encode()),
                ("silkway/KZ/seals/bad seal!/telemetry", json.dumps(good).encode()),
                ("silkway/KZ/seals/S1/telemetry", json.dumps(good).encode()),
            )
            await wait_until(lambda: len(kz.positions) == 1, "the good message")
            await wait_until(lambda: subscriber.stats.malformed == 3, "3 malformed")
            return subscriber

    subscriber = asyncio.run(scenario())
    assert subscriber.stats.messages == 4
    assert subscriber.stats.last_malformed is not None
    assert "is not a seal id" in subscriber.stats.last_malformed
    assert [p.device_id for p in kz.positions] == ["S1"]


def test_a_message_the_sink_refused_is_delivered_again(broker: Broker) -> None:
    kz = RecordingSink(failures=1)
    fix = {"time": stamp(recent(3)), "lat": 44.21, "lon": 80.32}

    async def scenario() -> MqttSubscriber:
        async with subscribed(broker, {"KZ": kz}) as subscriber:
            await publish(broker, ("silkway/KZ/seals/S2/telemetry", json.dumps(fix).encode()))
            await wait_until(lambda: len(kz.positions) == 1, "redelivered")
            return subscriber

    subscriber = asyncio.run(scenario())
    assert [p.lat for p in kz.refused[0]] == [44.21]
    assert [p.lat for p in kz.positions] == [44.21]
    assert subscriber.stats.sink_failures == 1
    assert subscriber.stats.connects == 2
