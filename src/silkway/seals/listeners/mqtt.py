"""The MQTT subscriber: seal telemetry published on a broker, per national operator.

Subscribes with QoS 1 to ``{prefix}/{STATE}/seals/+/telemetry`` for every operator it serves
(payloads: ``seal_json``). A message's fixes become one columnar ``PositionBatch``; it is
acknowledged (PUBACK) only once the sink has taken them, in the order received as MQTT requires;
if the sink fails, the subscriber drops the connection unacknowledged and reconnects with a
persistent session, so the broker delivers the message again. A malformed message is logged, counted and acknowledged: sending it again would
not mend it. Connection failures are retried with exponential backoff.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote, urlsplit

import aiomqtt

from silkway.seals.devices.records import DecodeError
from silkway.seals.domain.telemetry import PositionBatch
from silkway.seals.listeners.seal_json import (
    PROTOCOL,
    decode_seal_payload,
    parse_topic,
    subscription,
)
from silkway.seals.listeners.sink import Batcher, Sink, SinkFailed

__all__ = ["MqttConfig", "MqttStats", "MqttSubscriber"]

log = logging.getLogger("silkway.listeners")

# Messages received but not yet acknowledged; the broker's own in-flight window (20 by default
# for Mosquitto) normally keeps this far lower.
_MAX_UNACKED = 1000


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """Where the broker is and how to talk to it."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    topic_prefix: str = "silkway"
    client_id: str = "silkway-listener"
    """Stable across restarts: the broker keeps this client's session and unacknowledged messages."""
    keepalive_s: int = 30
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0

    @classmethod
    def from_url(cls, url: str, **options: object) -> MqttConfig:
        """From ``mqtt://[user[:password]@]host[:port]``; ``options`` set the other fields."""
        parts = urlsplit(url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ValueError(f"MQTT broker URL {url!r} is not mqtt://[user[:password]@]host[:port]")
        return cls(
            host=parts.hostname,
            port=parts.port or 1883,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            **options,  # type: ignore[arg-type]
        )

    def describe(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


@dataclass(slots=True)
class MqttStats:
    """Counters of the subscriber, for monitoring."""

    connects: int = 0
    messages: int = 0
    positions: int = 0
    """Positions decoded and handed to the sinks."""
    malformed: int = 0
    """Messages refused (bad topic, JSON or values), logged and acknowledged."""
    last_malformed: str | None = None
    sink_failures: int = 0
    connection_failures: int = 0


class MqttSubscriber:
    """Feeds each operator's sink from the broker until cancelled."""

    def __init__(
        self,
        config: MqttConfig,
        sinks: Mapping[str, Sink],
        *,
        batch_positions: int = 500,
        batch_delay_s: float = 0.01,
        clock: Callable[[], datetime],
    ) -> None:
        if not sinks:
            raise ValueError("an MQTT subscriber needs at least one operator to feed")
        self.config = config
        self.stats = MqttStats()
        self.connected = asyncio.Event()
        """Set while subscribed (tests and health checks wait on it)."""
        self.batchers = {
            state: Batcher(sink, PROTOCOL, max_positions=batch_positions, max_delay_s=batch_delay_s)
            for state, sink in sinks.items()
        }
        self._clock = clock

    @property
    def topics(self) -> list[str]:
        return [subscription(self.config.topic_prefix, state) for state in self.batchers]

    async def run(self) -> None:
        """Stay subscribed, reconnecting with backoff; returns only by cancellation."""
        for batcher in self.batchers.values():
            batcher.start()
        delay = self.config.reconnect_min_s
        try:
            while True:
                try:
                    await self._session()
                except* SinkFailed as group:
                    self.stats.sink_failures += 1
                    log.warning("mqtt: sink failed, reconnecting for redelivery: %s", group)
                except* aiomqtt.MqttError as group:
                    self.stats.connection_failures += 1
                    log.warning("mqtt %s: %s", self.config.describe(), group.exceptions[0])
                except* Exception:
                    # Whatever broke this session, the subscriber must outlive it.
                    self.stats.connection_failures += 1
                    log.exception("mqtt %s: session failed", self.config.describe())
                if self.connected.is_set():
                    delay = self.config.reconnect_min_s
                self.connected.clear()
                await asyncio.sleep(delay * (0.5 + random.random() / 2))
                delay = min(delay * 2, self.config.reconnect_max_s)
        finally:
            self.connected.clear()
            for batcher in self.batchers.values():
                await batcher.close()

    async def _session(self) -> None:
        config = self.config
        client = aiomqtt.Client(
            config.host,
            config.port,
            username=config.username,
            password=config.password,
            identifier=config.client_id,
            clean_session=False,
            keepalive=config.keepalive_s,
        )
        # aiomqtt does not expose paho's manual acknowledgement yet (aiomqtt issue #345); without
        # it a message would be acknowledged before the sink had it.
        client._client.manual_ack_set(True)
        async with client:
            for topic in self.topics:
                await client.subscribe(topic, qos=1)
            self.stats.connects += 1
            self.connected.set()
            log.info("mqtt %s: subscribed to %s", config.describe(), ", ".join(self.topics))
            unacked: asyncio.Queue[tuple[aiomqtt.Message, asyncio.Task[None] | None]]
            unacked = asyncio.Queue(maxsize=_MAX_UNACKED)
            async with asyncio.TaskGroup() as group:
                group.create_task(self._acknowledge(client, unacked))
                async for message in client.messages:
                    await unacked.put((message, self._take(message, group)))

    def _take(
        self, message: aiomqtt.Message, group: asyncio.TaskGroup
    ) -> asyncio.Task[None] | None:
        """Start handing a message's positions to its sink; None when there is nothing to wait for."""
        self.stats.messages += 1
        topic = message.topic.value
        try:
            state, seal_id = parse_topic(topic, self.config.topic_prefix)
            batcher = self.batchers.get(state)
            if batcher is None:
                raise DecodeError(PROTOCOL, f"topic {topic!r}: operator {state} is not served here")
            payload = message.payload
            if not isinstance(payload, bytes | bytearray):
                raise DecodeError(PROTOCOL, "payload is not bytes")
            positions = PositionBatch.from_positions(
                decode_seal_payload(bytes(payload), seal_id=seal_id, now=self._clock())
            )
        except DecodeError as error:
            self.stats.malformed += 1
            self.stats.last_malformed = f"{topic}: {error.reason}"
            log.warning("mqtt: malformed message on %s: %s", topic, error.reason)
            return None
        self.stats.positions += len(positions)
        return group.create_task(batcher.submit(positions))

    async def _acknowledge(
        self,
        client: aiomqtt.Client,
        unacked: asyncio.Queue[tuple[aiomqtt.Message, asyncio.Task[None] | None]],
    ) -> None:
        while True:
            message, taken = await unacked.get()
            if taken is not None:
                await taken
            client._client.ack(message.mid, message.qos)
