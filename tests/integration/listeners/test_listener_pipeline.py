"""Devices to database: the listeners feeding the real telemetry pipeline on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime

import aiomqtt
from sqlalchemy import select
from tests.integration.listeners.harness import WAIT_S, device, recent

from silkway.bootstrap import Node
from silkway.node.clock import ManualClock
from silkway.seals import service as seals
from silkway.seals.db.tables import seal_positions
from silkway.seals.devices import teltonika
from silkway.seals.devices.teltonika import AvlRecord
from silkway.seals.domain.seals import IncidentCode
from silkway.seals.domain.signals import SIGNAL_BITS, STORED_BIT
from silkway.seals.listeners import (
    DeviceListeners,
    make_pipeline_sink,
    plan_from_settings,
    registry_gate,
    tcp_listener,
)
from silkway.settings import Settings

IMEI = "864123456789012"
SEAL_ID = "KZNS2600045180"
MQTT_SEAL_ID = "KZNS2600045181"


def stored_rows(node: Node, seal_id: str) -> list[tuple[int, int]]:
    """(time in ms, signal bits) of every stored position of a seal, oldest first."""
    key = seals.get_seal(node.seals, seal_id).key
    with node.engine.connect() as conn:
        rows = conn.execute(
            select(seal_positions.c.t_ms, seal_positions.c.signals)
            .where(seal_positions.c.seal_key == key)
            .order_by(seal_positions.c.t_ms)
        )
        return [(int(r[0]), int(r[1])) for r in rows]


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def avl(*moments: datetime) -> bytes:
    return teltonika.encode_avl_packet(
        [AvlRecord(time=m, lat=43.25, lon=76.95, satellites=8, speed_kmh=40) for m in moments]
    )


def test_devices_and_seals_reach_the_database_through_the_settings_wiring(
    kz_node: Node, clock: ManualClock
) -> None:
    seals.register_seal(kz_node.seals, seal_id=SEAL_ID, protocol="teltonika", imei=IMEI)
    live, replayed = recent(1, clock=clock), [recent(50, clock=clock), recent(40, clock=clock)]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    settings = Settings(egts_port=0, wialon_port=0, teltonika_port=free, listener_node="KZ")
    listeners = DeviceListeners(plan_from_settings(settings, {"KZ": kz_node}))
    listeners.start()
    try:
        with socket.create_connection(("127.0.0.1", free), timeout=WAIT_S) as conn:
            conn.sendall(teltonika.encode_imei_handshake(IMEI))
            assert conn.recv(1) == b"\x01"
            conn.sendall(avl(live))
            assert _receive(conn, 4) == bytes.fromhex("00000001")
            # The black box replayed afterwards, older than what was already stored.
            conn.sendall(avl(*replayed))
            assert _receive(conn, 4) == bytes.fromhex("00000002")
    finally:
        listeners.stop()
    assert stored_rows(kz_node, SEAL_ID) == [(ms(m), 0) for m in [*replayed, live]]


def test_mqtt_seal_reaches_the_database(
    kz_node: Node, clock: ManualClock, broker: tuple[str, int]
) -> None:
    seals.register_seal(kz_node.seals, seal_id=MQTT_SEAL_ID, protocol="mqtt", imei=None)
    moment = recent(3, clock=clock)
    settings = Settings(
        egts_port=0,
        wialon_port=0,
        teltonika_port=0,
        mqtt_url=f"mqtt://{broker[0]}:{broker[1]}",
        mqtt_client_id=f"silkway-test-{uuid.uuid4().hex[:12]}",
    )
    listeners = DeviceListeners(plan_from_settings(settings, {"KZ": kz_node}))
    listeners.start()
    try:
        subscriber = listeners.mqtt
        assert subscriber is not None
        _poll(subscriber.connected.is_set)
        fix = {
            "time": moment.isoformat(),
            "lat": 43.25,
            "lon": 76.95,
            "stored": True,
            "events": ["housing_opened"],
            "battery_pct": 64,
        }
        asyncio.run(_publish(broker, f"silkway/KZ/seals/{MQTT_SEAL_ID}/telemetry", fix))
        _poll(lambda: bool(stored_rows(kz_node, MQTT_SEAL_ID)))
    finally:
        listeners.stop()
    signals = STORED_BIT | SIGNAL_BITS[IncidentCode.HOUSING_OPENED]
    assert stored_rows(kz_node, MQTT_SEAL_ID) == [(ms(moment), signals)]


def test_resent_packets_are_acknowledged_and_stored_once_and_unknown_devices_refused(
    kz_node: Node, clock: ManualClock
) -> None:
    seals.register_seal(kz_node.seals, seal_id=SEAL_ID, protocol="teltonika", imei=IMEI)
    packet = avl(recent(7, clock=clock), recent(6, clock=clock))

    async def scenario() -> None:
        listener = tcp_listener(
            "teltonika",
            make_pipeline_sink(kz_node.seals),
            clock=kz_node.transit.clock.now,
            gate=registry_gate(kz_node, Settings()),
        )
        await listener.start("127.0.0.1", 0)
        try:
            for _attempt in range(2):
                async with device(listener) as tracker:
                    await tracker.send(teltonika.encode_imei_handshake(IMEI))
                    assert await tracker.receive(1) == b"\x01"
                    await tracker.send(packet)
                    assert await tracker.receive(4) == bytes.fromhex("00000002")
            async with device(listener) as stranger:
                await stranger.send(teltonika.encode_imei_handshake("864123456789099") + packet)
                assert await stranger.rest_until_closed() == b"\x00"
            assert listener.batcher.stats.accepted == 2
            assert listener.stats.refused_devices == 1
        finally:
            await listener.close()

    asyncio.run(scenario())
    assert len(stored_rows(kz_node, SEAL_ID)) == 2


def _receive(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _poll(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


async def _publish(broker: tuple[str, int], topic: str, fix: dict[str, object]) -> None:
    async with aiomqtt.Client(*broker, identifier=f"seal-{uuid.uuid4().hex[:12]}") as client:
        await client.publish(topic, json.dumps(fix).encode(), qos=1)
