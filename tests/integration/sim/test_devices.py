"""The simulator's seals against the real listeners: a node on SQLite, its listeners wired from
settings as in production (EGTS, Wialon IPS, Teltonika on TCP, the MQTT subscriber on a broker
that takes only known users), one seal of each protocol registered and activated at release.

Each device sends a short track over its protocol; the node must have stored exactly those
fixes for that seal, opened the incident of a tamper event the protocol carries, and refused a
device it does not know, which the device reports as :class:`DeviceRefused`.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.conftest import START
from tests.mqttd import secured_mqtt_broker

from silkway.bootstrap import Node, build_node
from silkway.examples import example_declaration
from silkway.node.clock import ManualClock
from silkway.reference import load_reference
from silkway.seals import service as seals
from silkway.seals.db.tables import seal_positions
from silkway.seals.domain.corridor import CorridorGeometry
from silkway.seals.domain.seals import IncidentCode, IncidentStatus
from silkway.seals.domain.signals import SIGNAL_BITS, STORED_BIT
from silkway.seals.listeners import DeviceListeners, plan_from_settings
from silkway.seals.ports import IncidentFilter
from silkway.settings import Settings
from silkway.sim.devices import (
    Device,
    DeviceRefused,
    EgtsTerminal,
    EventNotCarried,
    MqttSeal,
    NoAnswer,
    TeltonikaTracker,
    WialonTracker,
)
from silkway.sim.track import Journey, Stretch, Track, deviate, make_track, silence, tamper
from silkway.transit import service as transit
from silkway.transit.domain.movement import Accept, Release
from silkway.transit.security import QuotedSecurityGate

Broker = tuple[str, int]
WAIT_S = 10.0

USERS = {"seals-kz": "kz-pass", "silkway": "listener-pass"}
ACL = """\
user seals-kz
topic write silkway/KZ/seals/+/telemetry

user silkway
topic read silkway/+/seals/+/telemetry
"""
WIALON_PASSWORD = "s3cret"
STRANGER = "864123456789099"
CORRIDOR = CorridorGeometry(load_reference().corridors["WESTERN_ROAD"])
"""The corridor of the Western road example, which the movement declares."""


@dataclass(frozen=True)
class Seal:
    seal_id: str
    imei: str | None
    event: IncidentCode | None
    """The tamper event its protocol carries (None: it carries none)."""
    stored: bool
    """Whether its protocol marks fixes sent from the device's memory."""
    coordinate_slack_e6: int
    """How far the stored coordinates may lie from those sent, in millionths of a degree (the
    node's unit): Wialon IPS writes minutes to four decimals."""
    speed_slack_kmh: float
    """Teltonika carries whole km/h."""


SEALS = {
    "egts": Seal("KZNS2600000101", "356307042441013", IncidentCode.HOUSING_OPENED, True, 0, 0),
    "wialon": Seal("KZNS2600000102", "864123456789012", IncidentCode.SEAL_BROKEN, True, 1, 0),
    "teltonika": Seal("KZNS2600000103", "864123456789013", None, False, 0, 0.5),
    "mqtt": Seal("KZNS2600000104", None, IncidentCode.UNAUTHORISED, True, 0, 0),
}


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    with secured_mqtt_broker(USERS, ACL) as address:
        yield address


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def node(sqlite_template: Path, clock: ManualClock, tmp_path: Path) -> Iterator[Node]:
    """A KZ node on SQLite with one seal per protocol, all activated on a released movement."""
    database = tmp_path / "node.sqlite"
    shutil.copyfile(sqlite_template, database)
    built = build_node(
        "KZ",
        Settings(data_dir=tmp_path),
        database_url=f"sqlite:///{database}",
        clock=clock,
        migrate=False,
        security=QuotedSecurityGate(),
    )
    for protocol, seal in SEALS.items():
        seals.register_seal(
            built.seals,
            seal_id=seal.seal_id,
            protocol=protocol,
            imei=seal.imei,
            reporting_period_s=60,
            password=WIALON_PASSWORD if protocol == "wialon" else None,
        )
    yield built
    built.dispose()


def release(node: Node) -> str:
    """Lodge and release the Western road example with the four seals; returns its reference."""
    declaration = example_declaration("western-road", START.date())
    declared = declaration.seals.model_copy(
        update={"navigation_seal_ids": [seal.seal_id for seal in SEALS.values()]}
    )
    declaration = declaration.model_copy(update={"lrn": "SIM-DEVICES-1", "seals": declared})
    movement = transit.lodge_declaration(node.transit, declaration).movement
    transit.act(node.transit, movement.reference, Accept())
    released = transit.act(
        node.transit,
        movement.reference,
        Release(declaration.security[0].reference, declaration.departure_office),
    )
    return released.reference


@contextmanager
def listening(node: Node, broker: Broker) -> Iterator[DeviceListeners]:
    settings = Settings(
        egts_port=0,
        wialon_port=0,
        teltonika_port=0,
        mqtt_url=f"mqtt://{broker[0]}:{broker[1]}",
        mqtt_username="silkway",
        mqtt_password="listener-pass",  # type: ignore[arg-type]
        mqtt_client_id=f"silkway-test-{uuid.uuid4().hex[:12]}",
    )
    listeners = DeviceListeners(plan_from_settings(settings, {"KZ": node}))
    listeners.start()
    try:
        subscriber = listeners.mqtt
        assert subscriber is not None
        poll(subscriber.connected.is_set)
        assert subscriber.connected.is_set(), "the subscriber logged in to the broker"
        yield listeners
    finally:
        listeners.stop()


def device(protocol: str, **options: int) -> Device:
    seal = SEALS[protocol]
    if protocol == "egts":
        return EgtsTerminal(seal.imei or "", **options)
    if protocol == "wialon":
        return WialonTracker(seal.imei or "", WIALON_PASSWORD, **options)
    if protocol == "teltonika":
        return TeltonikaTracker(seal.imei or "", **options)
    return MqttSeal(seal.seal_id, "KZ", username="seals-kz", password="kz-pass", **options)


def address(listeners: DeviceListeners, protocol: str, broker: Broker) -> tuple[str, int]:
    return broker if protocol == "mqtt" else listeners.tcp[protocol].address


def corridor_track(seed: int, minutes: int = 24, *, jitter: bool = True) -> Track:
    """Fixes a minute apart on the movement's corridor (the Western road) from its start, at
    about 60 km/h; without jitter exactly ``minutes + 1`` of them."""
    journey = Journey(
        start=START,
        speeds=(Stretch(0.0, 60.0),),
        period=timedelta(minutes=1),
        to_km=float(minutes),
        speed_jitter_kmh=6.0 if jitter else 0.0,
        position_jitter_m=8.0 if jitter else 0.0,
        seed=seed,
    )
    return make_track(CORRIDOR, journey)


Row = tuple[int, int, int, int | None, int | None, int]


def stored_rows(node: Node, seal_id: str) -> list[Row]:
    """(time ms, lat e6, lon e6, speed in 0.1 km/h, course, signals) of a seal, oldest first."""
    key = seals.get_seal(node.seals, seal_id).key
    c = seal_positions.c
    with node.engine.connect() as conn:
        rows = conn.execute(
            select(c.t_ms, c.lat_e6, c.lon_e6, c.speed_dkmh, c.course, c.signals)
            .where(c.seal_key == key)
            .order_by(c.t_ms)
        )
        return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


def stored_count(node: Node) -> int:
    with node.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(seal_positions)).scalar_one())


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def poll(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def assert_stored_as_sent(rows: list[Row], track: Track, seal: Seal) -> None:
    assert [row[0] for row in rows] == [ms(fix.time) for fix in track]
    for row, fix in zip(rows, track, strict=True):
        _t, lat, lon, speed, course, signals = row
        assert abs(lat - round(fix.lat * 1e6)) <= seal.coordinate_slack_e6, fix
        assert abs(lon - round(fix.lon * 1e6)) <= seal.coordinate_slack_e6, fix
        assert speed is not None
        assert abs(speed - fix.speed_kmh * 10) <= seal.speed_slack_kmh * 10, fix
        assert course == fix.course
        expected = STORED_BIT if fix.stored and seal.stored else 0
        for event in fix.events:
            expected |= SIGNAL_BITS[event]
        assert signals == expected, fix


# --- a track per protocol ------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", list(SEALS))
def test_a_track_is_stored_as_the_device_sent_it(
    protocol: str, node: Node, clock: ManualClock, broker: Broker
) -> None:
    seal = SEALS[protocol]
    reference = release(node)
    track = corridor_track(seed=list(SEALS).index(protocol))
    # Six minutes without coverage, sent afterwards from the device's memory.
    track = silence(track, track.fixes[9].time, timedelta(minutes=6), replay=True)
    if seal.event is not None:
        track = tamper(track, track.fixes[4].time, seal.event)
    clock.advance(timedelta(hours=1))

    with listening(node, broker) as listeners:
        delivery = asyncio.run(
            device(protocol, batch_size=8).send(address(listeners, protocol, broker), track.fixes)
        )
        # MQTT: the broker acknowledged; the node takes the messages from it afterwards.
        poll(lambda: len(stored_rows(node, seal.seal_id)) >= len(track))

    assert (delivery.protocol, delivery.device_id) == (protocol, seal.imei or seal.seal_id)
    assert len(track) > 20
    assert (delivery.sent, delivery.acknowledged, delivery.rejections) == (len(track),) * 2 + ((),)
    assert_stored_as_sent(stored_rows(node, seal.seal_id), track, seal)
    incidents = seals.list_incidents(
        node.seals, IncidentFilter(movement_reference=reference, seal_id=seal.seal_id)
    )
    if seal.event is None:
        assert incidents == []
    else:
        [incident] = incidents
        assert (incident.code, incident.status) == (seal.event, IncidentStatus.OPEN)
        assert incident.opened_at == track.fixes[4].time


def test_wialon_sends_live_fixes_as_data_and_stored_ones_as_a_black_box(
    node: Node, clock: ManualClock, broker: Broker
) -> None:
    release(node)
    track = corridor_track(seed=11, minutes=9, jitter=False)
    track = silence(track, track.fixes[3].time, timedelta(minutes=4), replay=True)
    clock.advance(timedelta(hours=1))
    with listening(node, broker) as listeners:
        delivery = asyncio.run(
            device("wialon", batch_size=10).send(listeners.tcp["wialon"].address, track.fixes)
        )
    # Three #D# lines, one #B# of four records, three #D# lines.
    assert (delivery.acknowledged, delivery.packets) == (10, 7)
    signals = [row[5] for row in stored_rows(node, SEALS["wialon"].seal_id)]
    assert signals == [0, 0, 0, STORED_BIT, STORED_BIT, STORED_BIT, STORED_BIT, 0, 0, 0]


def test_teltonika_packets_keep_to_the_protocols_size(
    node: Node, clock: ManualClock, broker: Broker
) -> None:
    release(node)
    track = corridor_track(seed=5, minutes=99, jitter=False)
    clock.advance(timedelta(hours=3))
    with listening(node, broker) as listeners:
        delivery = asyncio.run(
            device("teltonika", batch_size=100).send(
                listeners.tcp["teltonika"].address, track.fixes
            )
        )
    # 32 bytes a record: 39 fit in 1,280 bytes, so one batch of 100 goes as 39 + 39 + 22.
    assert (delivery.sent, delivery.acknowledged, delivery.packets) == (100, 100, 3)
    assert len(stored_rows(node, SEALS["teltonika"].seal_id)) == 100


def test_a_deviation_sent_over_egts_opens_and_closes_incident_03(
    node: Node, clock: ManualClock, broker: Broker
) -> None:
    reference = release(node)
    track = corridor_track(seed=3, minutes=40, jitter=False)
    track = deviate(track, track.fixes[10].time, track.fixes[20].time, 70.0, side="left")
    clock.advance(timedelta(hours=2))
    with listening(node, broker) as listeners:
        delivery = asyncio.run(device("egts").send(listeners.tcp["egts"].address, track.fixes))
    assert delivery.acknowledged == 41
    [deviation] = seals.list_incidents(
        node.seals, IncidentFilter(code=IncidentCode.DEVIATION, movement_reference=reference)
    )
    assert deviation.seal_id == SEALS["egts"].seal_id
    assert (deviation.opened_at, deviation.closed_at) == (
        track.fixes[10].time,
        track.fixes[20].time,
    )
    assert deviation.points == 10


# --- refusals ------------------------------------------------------------------------------------


def test_unregistered_devices_are_refused_with_the_protocols_answer(
    node: Node, clock: ManualClock, broker: Broker
) -> None:
    track = corridor_track(seed=1, minutes=3)
    strangers: list[tuple[str, Device, str]] = [
        ("egts", EgtsTerminal(STRANGER), "153 ID_NFOUND"),
        ("wialon", WialonTracker(STRANGER, WIALON_PASSWORD), "#AL#0"),
        ("wialon", WialonTracker(SEALS["wialon"].imei or "", "guess"), "#AL#01"),
        ("teltonika", TeltonikaTracker(STRANGER), "00"),
    ]
    clock.advance(timedelta(hours=1))
    with listening(node, broker) as listeners:
        for protocol, stranger, answer in strangers:
            with pytest.raises(DeviceRefused) as refused:
                asyncio.run(stranger.send(listeners.tcp[protocol].address, track.fixes))
            assert (refused.value.protocol, refused.value.answer) == (protocol, answer)
            assert refused.value.acknowledged == 0
            assert stranger.device_id in str(refused.value)
        stats = {protocol: listeners.tcp[protocol].stats for protocol in ("egts", "wialon")}
        assert stats["egts"].last_refusal == f"{STRANGER} is not registered"
        assert (stats["wialon"].refused_devices, stats["wialon"].refused_passwords) == (1, 1)
        assert listeners.tcp["teltonika"].stats.refused_devices == 1

        intruder = MqttSeal(SEALS["mqtt"].seal_id, "KZ", username="seals-kz", password="guess")
        with pytest.raises(DeviceRefused, match="broker refused seals-kz"):
            asyncio.run(intruder.send(broker, track.fixes))
    assert stored_count(node) == 0


def test_a_teltonika_tamper_is_refused_before_anything_is_sent(
    node: Node, clock: ManualClock, broker: Broker
) -> None:
    track = tamper(corridor_track(seed=2, minutes=3), START, IncidentCode.SEAL_BROKEN)
    clock.advance(timedelta(hours=1))
    with listening(node, broker) as listeners:
        listener = listeners.tcp["teltonika"]
        with pytest.raises(EventNotCarried, match=r"teltonika: fix 0 .* reports 01"):
            asyncio.run(device("teltonika").send(listener.address, track.fixes))
        assert listener.stats.connections == 0


def test_a_listener_that_is_not_there_is_no_answer_not_a_hang() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    track = corridor_track(seed=1, minutes=2)
    with pytest.raises(NoAnswer, match=f"cannot connect to 127.0.0.1:{port}"):
        asyncio.run(
            EgtsTerminal("356307042441013", timeout_s=2.0).send(("127.0.0.1", port), track.fixes)
        )


def test_a_batch_size_a_protocol_cannot_carry_is_refused() -> None:
    with pytest.raises(ValueError, match="teltonika: batch_size 256 must be 1 to 255"):
        TeltonikaTracker("864123456789013", batch_size=256)
    with pytest.raises(ValueError, match="egts: batch_size 0 must be 1 to 1000"):
        EgtsTerminal("356307042441013", batch_size=0)
