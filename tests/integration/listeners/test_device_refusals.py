"""Who may connect: the TCP listeners let in only the devices of the node's seal registry.

Real sockets, the real pipeline and the registry on SQLite and PostgreSQL. An unknown identity
is refused in the protocol's own way (Teltonika ``00``, Wialon IPS ``#AL#0``, EGTS a RESULT_CODE
of EGTS_PC_ID_NFOUND), a wrong Wialon password with ``#AL#01``; the connection is closed, the
refusal counted, and nothing the device sent is stored or acknowledged.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import func, select
from tests.auth import NodeClient
from tests.integration.listeners.harness import WAIT_S, device, recent

from silkway.bootstrap import Node
from silkway.node.clock import ManualClock
from silkway.seals import service as seals
from silkway.seals.db.tables import seal_positions
from silkway.seals.devices import egts, teltonika, wialon
from silkway.seals.devices.egts import PacketType, ResultCode, Service
from silkway.seals.devices.teltonika import AvlRecord
from silkway.seals.domain.seals import SealStatus
from silkway.seals.listeners import (
    DeviceBoard,
    DeviceListener,
    DeviceListeners,
    make_pipeline_sink,
    plan_from_settings,
    registry_gate,
    tcp_listener,
)
from silkway.settings import Settings
from silkway.web.app import create_node_app

IMEI = "864123456789012"
STRANGER = "864123456789099"


def stored(node: Node) -> int:
    with node.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(seal_positions)).scalar_one())


@asynccontextmanager
async def listening(
    node: Node, protocol: str, settings: Settings | None = None
) -> AsyncIterator[DeviceListener]:
    listener = tcp_listener(
        protocol,
        make_pipeline_sink(node.seals),
        clock=node.transit.clock.now,
        gate=registry_gate(node, settings or Settings()),
    )
    await listener.start("127.0.0.1", 0)
    try:
        yield listener
    finally:
        await listener.close()


def avl(clock: ManualClock) -> bytes:
    fix = AvlRecord(time=recent(5, clock=clock), lat=43.25, lon=76.95, satellites=8)
    return teltonika.encode_avl_packet([fix])


# --- Teltonika ------------------------------------------------------------------------------


def test_an_unknown_teltonika_imei_is_answered_00_and_closed(
    kz_node: Node, clock: ManualClock
) -> None:
    seals.register_seal(kz_node.seals, seal_id="KZNS2600000001", protocol="teltonika", imei=IMEI)

    async def scenario() -> None:
        async with listening(kz_node, "teltonika") as listener:
            async with device(listener) as stranger:
                # The handshake and a packet right behind it: neither is taken.
                await stranger.send(teltonika.encode_imei_handshake(STRANGER) + avl(clock))
                assert await stranger.rest_until_closed() == teltonika.IMEI_REJECT
            async with device(listener) as known:
                await known.send(teltonika.encode_imei_handshake(IMEI))
                assert await known.receive(1) == teltonika.IMEI_ACCEPT
                await known.send(avl(clock))
                assert await known.receive(4) == teltonika.encode_ack(1)
            stats = listener.stats
            assert (stats.refused_devices, stats.refused_passwords) == (1, 0)
            assert stats.last_refusal == f"{STRANGER} is not registered"
            assert listener.batcher.stats.positions == 1

    asyncio.run(scenario())
    assert stored(kz_node) == 1


def test_a_device_registered_while_the_listener_runs_is_let_in_at_once(
    kz_node: Node, clock: ManualClock
) -> None:
    async def scenario() -> None:
        async with listening(kz_node, "teltonika") as listener:
            async with device(listener) as early:
                await early.send(teltonika.encode_imei_handshake(IMEI))
                assert await early.rest_until_closed() == teltonika.IMEI_REJECT
            await asyncio.to_thread(
                seals.register_seal,
                kz_node.seals,
                seal_id="KZNS2600000001",
                protocol="teltonika",
                imei=IMEI,
            )
            async with device(listener) as registered:
                await registered.send(teltonika.encode_imei_handshake(IMEI))
                assert await registered.receive(1) == teltonika.IMEI_ACCEPT

    asyncio.run(scenario())


def test_a_device_of_another_protocol_or_retired_is_refused(
    kz_node: Node, clock: ManualClock
) -> None:
    seals.register_seal(kz_node.seals, seal_id="KZNS2600000001", protocol="egts", imei=IMEI)
    retired = seals.register_seal(
        kz_node.seals, seal_id="KZNS2600000002", protocol="teltonika", imei=STRANGER
    )
    assert retired.key is not None
    with kz_node.seals.uow() as uow:
        uow.seals.set_seal_status(retired.key, SealStatus.RETIRED, None)
        uow.commit()

    async def scenario() -> None:
        async with listening(kz_node, "teltonika") as listener:
            for imei in (IMEI, STRANGER):
                async with device(listener) as tracker:
                    await tracker.send(teltonika.encode_imei_handshake(imei))
                    assert await tracker.rest_until_closed() == teltonika.IMEI_REJECT
            assert listener.stats.refused_devices == 2
            assert listener.stats.last_refusal == f"{STRANGER} is retired"

    asyncio.run(scenario())


# --- Wialon IPS -----------------------------------------------------------------------------


def test_a_wrong_wialon_password_is_answered_AL01_and_closed(
    kz_node: Node, clock: ManualClock
) -> None:
    seals.register_seal(
        kz_node.seals, seal_id="KZNS2600000001", protocol="wialon", imei=IMEI, password="s3cret"
    )
    fix = wialon.encode_sd(wialon.sd_body(recent(3, clock=clock), 43.0, 76.0))

    async def scenario() -> None:
        async with listening(kz_node, "wialon") as listener:
            for wrong in ("guess", "NA"):
                async with device(listener) as tracker:
                    await tracker.send(wialon.encode_login(IMEI, wrong) + fix)
                    assert await tracker.rest_until_closed() == b"#AL#01\r\n"
            async with device(listener) as tracker:
                await tracker.send(wialon.encode_login(STRANGER, "s3cret"))
                assert await tracker.rest_until_closed() == b"#AL#0\r\n"
            async with device(listener) as tracker:
                await tracker.send(wialon.encode_login(IMEI, "s3cret"))
                assert await tracker.line() == "#AL#1\r\n"
                await tracker.send(fix)
                assert await tracker.line() == "#ASD#1\r\n"
            stats = listener.stats
            assert (stats.refused_passwords, stats.refused_devices) == (2, 1)
            assert stats.last_refusal == f"{STRANGER} is not registered"

    asyncio.run(scenario())
    assert stored(kz_node) == 1


def test_a_wialon_device_without_a_password_needs_passwords_to_be_optional(
    kz_node: Node, clock: ManualClock
) -> None:
    seals.register_seal(kz_node.seals, seal_id="KZNS2600000001", protocol="wialon", imei=IMEI)

    async def login(settings: Settings) -> bytes:
        async with listening(kz_node, "wialon", settings) as listener, device(listener) as unit:
            await unit.send(wialon.encode_login(IMEI))
            return (await unit.line()).encode("ascii")

    assert asyncio.run(login(Settings())) == b"#AL#01\r\n"  # required by default
    assert asyncio.run(login(Settings(device_passwords_required=False))) == b"#AL#1\r\n"


def test_prefixed_wialon_data_from_an_unknown_unit_is_closed_unanswered(
    kz_node: Node, clock: ManualClock
) -> None:
    body = wialon.sd_body(recent(3, clock=clock), 43.0, 76.0)

    async def scenario() -> None:
        async with listening(kz_node, "wialon") as listener, device(listener) as unit:
            await unit.send(wialon.encode_sd(body, prefix_imei=STRANGER))
            assert await unit.rest_until_closed() == b""
            assert listener.stats.refused_devices == 1

    asyncio.run(scenario())
    assert stored(kz_node) == 0


# --- EGTS -----------------------------------------------------------------------------------


def _identity_and_fix(imei: str, clock: ManualClock) -> bytes:
    """One packet as terminals open a connection: TERM_IDENTITY, and a fix in another record."""
    identity = egts.encode_term_identity(77, imei=imei)
    fix = egts.encode_pos_data(recent(4, clock=clock), 43.25, 76.95)
    return egts.encode_packet(
        1,
        [egts.encode_record(1, [identity], sst=Service.AUTH), egts.encode_record(2, [fix])],
    )


def _confirmations(rpid: int, pid: int, *records: tuple[int, int, int]) -> bytes:
    return egts.encode_packet(
        pid,
        [
            egts.encode_record(n, [egts.encode_record_response(crn, status)], sst=sst)
            for n, (crn, status, sst) in enumerate(records)
        ],
        pt=PacketType.RESPONSE,
        rpid=rpid,
    )


def test_an_unknown_egts_terminal_gets_id_not_found_and_is_closed(
    kz_node: Node, clock: ManualClock
) -> None:
    seals.register_seal(kz_node.seals, seal_id="KZNS2600000001", protocol="egts", imei=IMEI)

    async def scenario() -> tuple[bytes, bytes]:
        async with listening(kz_node, "egts") as listener:
            async with device(listener) as stranger:
                await stranger.send(_identity_and_fix(STRANGER, clock))
                refused = await stranger.rest_until_closed()
            async with device(listener) as terminal:
                await terminal.send(_identity_and_fix(IMEI, clock))
                expected = _confirmations(
                    1, 0, (1, ResultCode.OK, Service.AUTH), (2, ResultCode.OK, Service.TELEDATA)
                ) + egts.encode_auth_result(1, 1)
                accepted = await terminal.receive(len(expected))
            assert listener.stats.refused_devices == 1
            assert listener.stats.last_refusal == f"{STRANGER} is not registered"
            return refused, accepted

    refused, accepted = asyncio.run(scenario())
    # The AUTH record is confirmed, the fix refused (the terminal keeps it), then the verdict.
    assert refused == _confirmations(
        1, 0, (1, ResultCode.OK, Service.AUTH), (2, ResultCode.AUTH_DENIED, Service.TELEDATA)
    ) + egts.encode_auth_result(1, 1, ResultCode.ID_NFOUND)
    assert accepted.endswith(egts.encode_auth_result(1, 1))
    assert stored(kz_node) == 1


def test_egts_telemetry_before_the_terminal_names_itself_is_refused(
    kz_node: Node, clock: ManualClock
) -> None:
    fix = egts.encode_pos_data(recent(4, clock=clock), 43.25, 76.95)
    packet = egts.encode_packet(9, [egts.encode_record(1, [fix], oid=12345)])

    async def scenario() -> bytes:
        async with listening(kz_node, "egts") as listener, device(listener) as terminal:
            await terminal.send(packet)
            answer = await terminal.rest_until_closed()
            assert listener.stats.refused_devices == 1
            return answer

    refusal = egts.encode_packet(0, pt=PacketType.RESPONSE, rpid=9, pr=ResultCode.AUTH_DENIED)
    assert asyncio.run(scenario()) == refusal
    assert stored(kz_node) == 0


# --- what the API shows ---------------------------------------------------------------------


def test_refusals_are_counted_where_the_api_shows_the_listeners(kz_node: Node) -> None:
    seals.register_seal(
        kz_node.seals, seal_id="KZNS2600000001", protocol="wialon", imei=IMEI, password="s3cret"
    )
    board = DeviceBoard()
    client = NodeClient(create_node_app(kz_node, devices=board), kz_node)
    settings = Settings(egts_port=0, wialon_port=0, teltonika_port=0)
    listeners = DeviceListeners(plan_from_settings(settings, {"KZ": kz_node}))
    listeners.start()
    board.listeners = listeners
    try:
        for protocol, hello in (
            ("wialon", wialon.encode_login(IMEI, "guess").encode("ascii")),
            ("wialon", wialon.encode_login(STRANGER).encode("ascii")),
            ("teltonika", teltonika.encode_imei_handshake(STRANGER)),
        ):
            port = listeners.tcp[protocol].address[1]
            with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as conn:
                conn.sendall(hello)
                while conn.recv(64):
                    pass  # until the listener hangs up
        status = client.get("/api/v1/devices/listeners").json()
    finally:
        listeners.stop()
    wialon_counters = status["tcp"]["wialon"]["counters"]
    assert (wialon_counters["refused_passwords"], wialon_counters["refused_devices"]) == (1, 1)
    assert wialon_counters["last_refusal"] == f"{STRANGER} is not registered"
    assert status["tcp"]["teltonika"]["counters"]["refused_devices"] == 1
    assert status["tcp"]["egts"]["counters"]["refused_devices"] == 0
