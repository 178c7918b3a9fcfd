"""The listeners as the servers run them: on their own event loop thread, from a plan."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import pytest
from tests.auth import NodeClient
from tests.integration.listeners.harness import ANYONE, CLOCK, WAIT_S, RecordingSink, recent

from silkway.bootstrap import build_node
from silkway.seals.devices import wialon
from silkway.seals.listeners import DeviceBoard, DeviceListeners, ListenerPlan
from silkway.seals.listeners.mqtt import MqttConfig
from silkway.settings import Settings
from silkway.web.app import create_node_app

IMEI = "862462031234567"


def _exchange(port: int, lines: str, answers: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as conn:
        conn.sendall(lines.encode("ascii"))
        received = b""
        while received.count(b"\r\n") < answers:
            chunk = conn.recv(4096)
            if not chunk:
                break
            received += chunk
    return received.decode("ascii")


def _poll(condition: Callable[[], bool]) -> None:
    """Wait (bounded) for something the listener thread does."""
    deadline = time.monotonic() + WAIT_S
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


async def _publish(broker: tuple[str, int], topic: str, payload: bytes) -> None:
    async with aiomqtt.Client(*broker, identifier=f"seal-{uuid.uuid4().hex[:12]}") as client:
        await client.publish(topic, payload, qos=1)


def test_tcp_and_mqtt_listeners_run_beside_the_caller(broker: tuple[str, int]) -> None:
    tcp_sink, kz_sink = RecordingSink(), RecordingSink()
    plan = ListenerPlan(
        clock=CLOCK.now,
        tcp_ports={"egts": 0, "wialon": 0, "teltonika": 0},
        tcp_sink=tcp_sink,
        tcp_gate=ANYONE,
        mqtt=MqttConfig(*broker, client_id=f"silkway-test-{uuid.uuid4().hex[:12]}"),
        mqtt_sinks={"KZ": kz_sink},
    )
    listeners = DeviceListeners(plan)
    lines = listeners.start()
    try:
        assert len(lines) == 4
        assert lines[0].startswith("  devices: EGTS tcp://127.0.0.1:")
        assert "silkway/KZ/seals/+/telemetry" in lines[3]
        port = listeners.tcp["wialon"].address[1]
        assert f"Wialon IPS tcp://127.0.0.1:{port}" in lines[1]
        fix = recent()
        answers = _exchange(
            port,
            wialon.encode_login(IMEI) + wialon.encode_sd(wialon.sd_body(fix, 43.0, 76.0)),
            answers=2,
        )
        assert answers == "#AL#1\r\n#ASD#1\r\n"
        subscriber = listeners.mqtt
        assert subscriber is not None
        _poll(subscriber.connected.is_set)
        payload = json.dumps({"time": "2026-01-01T00:00:00Z", "lat": 43.0, "lon": 76.0})
        asyncio.run(_publish(broker, "silkway/KZ/seals/S9/telemetry", payload.encode()))
        _poll(lambda: bool(kz_sink.positions))
    finally:
        listeners.stop()
    assert [(p.device_id, p.time) for p in tcp_sink.positions] == [(IMEI, fix)]
    assert [p.device_id for p in kz_sink.positions] == ["S9"]


def test_a_taken_port_fails_a_strict_start_and_is_reported_otherwise() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        plan = ListenerPlan(
            clock=CLOCK.now,
            tcp_ports={"egts": port, "wialon": 0},
            tcp_sink=RecordingSink(),
            tcp_gate=ANYONE,
        )

        with pytest.raises(OSError, match=f"EGTS port 127.0.0.1:{port}"):
            DeviceListeners(plan, strict=True).start()

        lenient = DeviceListeners(plan, strict=False)
        lines = lenient.start()
        try:
            assert lines[0].startswith(f"  devices: EGTS NOT LISTENING: 127.0.0.1:{port}: ")
            assert lines[0].endswith("(SILKWAY_EGTS_PORT=0 takes any free port)")
            assert lines[1].startswith("  devices: Wialon IPS tcp://127.0.0.1:")
            assert list(lenient.tcp) == ["wialon"]
        finally:
            lenient.stop()


def test_the_api_shows_what_each_listener_has_seen(tmp_path: Path) -> None:
    node = build_node("KZ", Settings(data_dir=tmp_path))
    board = DeviceBoard()
    client = NodeClient(create_node_app(node, devices=board), node)
    try:
        idle = client.get("/api/v1/devices/listeners").json()
        assert idle == {"running": False, "tcp": {}, "mqtt": None}
        sink = RecordingSink()
        listeners = DeviceListeners(
            ListenerPlan(clock=CLOCK.now, tcp_ports={"wialon": 0}, tcp_sink=sink, tcp_gate=ANYONE)
        )
        listeners.start()
        board.listeners = listeners
        try:
            port = listeners.tcp["wialon"].address[1]
            fix = recent()
            body = wialon.sd_body(fix, 43.0, 76.0)
            _exchange(
                port,
                wialon.encode_login(IMEI) + wialon.encode_sd(body) + "#SD#garbage\r\n",
                answers=3,
            )
            _poll(lambda: listeners.tcp["wialon"].stats.active == 0)
            status = client.get("/api/v1/devices/listeners").json()
        finally:
            listeners.stop()
    finally:
        node.dispose()
    assert status["running"] is True
    wialon_status = status["tcp"]["wialon"]
    assert wialon_status["address"] == f"127.0.0.1:{port}"
    counters = wialon_status["counters"]
    assert (counters["connections"], counters["active"]) == (1, 0)
    # Three lines read (login, a fix, garbage), one of them refused, one position taken.
    assert (counters["frames"], counters["errors"], counters["positions"]) == (3, 1, 1)
    assert wialon_status["batches"]["positions"] == 1
    assert status["mqtt"] is None
