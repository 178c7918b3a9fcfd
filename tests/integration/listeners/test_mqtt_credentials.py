"""Per-operator broker credentials and topic ACLs, on a real mosquitto.

The broker takes no anonymous client (``password_file`` written with ``mosquitto_passwd``); its
``acl_file`` lets each operator's seals publish only under their own prefix and the Silkway
subscriber read every operator's telemetry. The subscriber logs in with the user and password
its settings carry.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import aiomqtt
import pytest
from sqlalchemy import func, select
from tests.conftest import START
from tests.integration.listeners.harness import CLOCK, WAIT_S, RecordingSink, recent, wait_until
from tests.mqttd import secured_mqtt_broker

from silkway.bootstrap import Node, build_node
from silkway.node.clock import ManualClock
from silkway.seals import service as seals
from silkway.seals.db.tables import seal_positions
from silkway.seals.listeners import DeviceListeners, plan_from_settings
from silkway.seals.listeners.mqtt import MqttConfig, MqttSubscriber
from silkway.settings import Settings

Broker = tuple[str, int]

USERS = {"seals-kz": "kz-pass", "seals-ru": "ru-pass", "silkway": "listener-pass"}
ACL = """\
# Each operator's seals publish under their own prefix only.
user seals-kz
topic write silkway/KZ/seals/+/telemetry

user seals-ru
topic write silkway/RU/seals/+/telemetry

# The Silkway subscriber reads every operator's telemetry and publishes nothing.
user silkway
topic read silkway/+/seals/+/telemetry
"""


@pytest.fixture(scope="module")
def secured() -> Iterator[Broker]:
    with secured_mqtt_broker(USERS, ACL) as address:
        yield address


def fix() -> bytes:
    return json.dumps({"time": recent().isoformat(), "lat": 43.25, "lon": 76.95}).encode()


async def publish(broker: Broker, user: str, password: str, topic: str) -> None:
    async with aiomqtt.Client(
        *broker, username=user, password=password, identifier=f"seal-{uuid.uuid4().hex[:12]}"
    ) as client:
        await client.publish(topic, fix(), qos=1)


async def connects(broker: Broker, **credentials: str) -> bool:
    try:
        async with aiomqtt.Client(
            *broker, identifier=f"probe-{uuid.uuid4().hex[:12]}", **credentials
        ):
            return True
    except aiomqtt.MqttError:
        return False


def test_a_client_without_credentials_or_with_a_wrong_password_is_refused(
    secured: Broker,
) -> None:
    assert not asyncio.run(connects(secured))
    assert not asyncio.run(connects(secured, username="seals-kz", password="guess"))
    assert asyncio.run(connects(secured, username="seals-kz", password="kz-pass"))


def test_an_operator_publishes_only_under_its_own_prefix(secured: Broker) -> None:
    kz, ru = RecordingSink(), RecordingSink()
    config = MqttConfig(
        *secured,
        username="silkway",
        password="listener-pass",
        client_id=f"silkway-test-{uuid.uuid4().hex[:12]}",
    )
    subscriber = MqttSubscriber(config, {"KZ": kz, "RU": ru}, batch_delay_s=0.0, clock=CLOCK.now)

    async def scenario() -> None:
        task = asyncio.create_task(subscriber.run())
        try:
            async with asyncio.timeout(WAIT_S):
                await subscriber.connected.wait()
            await publish(secured, "seals-kz", "kz-pass", "silkway/KZ/seals/KZS1/telemetry")
            # Acknowledged by the broker, but not delivered: KZ's seals may not speak for RU.
            await publish(secured, "seals-kz", "kz-pass", "silkway/RU/seals/RUS1/telemetry")
            await publish(secured, "seals-ru", "ru-pass", "silkway/RU/seals/RUS2/telemetry")
            await wait_until(lambda: bool(kz.positions) and bool(ru.positions), "delivered")
            await asyncio.sleep(0.2)  # anything else on its way arrives meanwhile
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert [p.device_id for p in kz.positions] == ["KZS1"]
    assert [p.device_id for p in ru.positions] == ["RUS2"]


def test_the_subscriber_logs_in_with_the_credentials_its_settings_carry(
    secured: Broker, tmp_path: Path
) -> None:
    node = build_node("KZ", Settings(data_dir=tmp_path), clock=ManualClock(START))
    try:
        seals.register_seal(node.seals, seal_id="KZNS2600000007", protocol="mqtt", imei=None)

        def settings(password: str) -> Settings:
            return Settings(
                listeners=True,
                egts_port=0,
                wialon_port=0,
                teltonika_port=0,
                mqtt_url=f"mqtt://{secured[0]}:{secured[1]}",
                mqtt_username="silkway",
                mqtt_password=password,  # type: ignore[arg-type]
                mqtt_client_id=f"silkway-test-{uuid.uuid4().hex[:12]}",
            )

        plan = plan_from_settings(settings("listener-pass"), {"KZ": node})
        assert plan.mqtt is not None
        assert (plan.mqtt.username, plan.mqtt.password) == ("silkway", "listener-pass")
        assert "listener-pass" not in repr(plan.mqtt)
        assert "listener-pass" not in repr(settings("listener-pass"))
        assert plan.mqtt.describe() == f"mqtt://silkway@{secured[0]}:{secured[1]}"

        refused = DeviceListeners(plan_from_settings(settings("guess"), {"KZ": node}))
        refused.start()
        try:
            subscriber = refused.mqtt
            assert subscriber is not None
            _poll(lambda: subscriber.stats.connection_failures > 0)
            assert not subscriber.connected.is_set()
        finally:
            refused.stop()

        listeners = DeviceListeners(plan)
        listeners.start()
        try:
            subscriber = listeners.mqtt
            assert subscriber is not None
            _poll(subscriber.connected.is_set)
            asyncio.run(
                publish(secured, "seals-kz", "kz-pass", "silkway/KZ/seals/KZNS2600000007/telemetry")
            )
            _poll(lambda: _stored(node) > 0)
        finally:
            listeners.stop()
        assert _stored(node) == 1
    finally:
        node.dispose()


def _stored(node: Node) -> int:
    with node.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(seal_positions)).scalar_one())


def _poll(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
