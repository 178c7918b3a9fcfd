"""The Teltonika listener over a real TCP socket: handshake, acknowledgements, keep-alives."""

from __future__ import annotations

import asyncio

from tests.integration.listeners.harness import RecordingSink, device, recent, serving

from silkway.seals.devices import teltonika
from silkway.seals.devices.teltonika import CODEC_8E, AvlRecord

IMEI = "864123456789012"


def record(minutes_ago: int, lat: float = 43.25, lon: float = 76.95) -> AvlRecord:
    return AvlRecord(
        time=recent(minutes_ago),
        lat=lat,
        lon=lon,
        satellites=9,
        speed_kmh=61,
        angle=90,
        io={240: (1, 1), 66: (2, 12850)},
    )


def test_handshake_codec_8_and_8e_packets_and_keep_alives() -> None:
    sink = RecordingSink()
    first, second, third = record(1), record(2, 44.0, 80.0), record(3)

    async def scenario() -> None:
        async with serving("teltonika", sink) as listener, device(listener) as tracker:
            await tracker.send(teltonika.encode_imei_handshake(IMEI))
            assert await tracker.receive(1) == b"\x01"
            await tracker.send(b"\xff" + teltonika.encode_avl_packet([first, second]))
            assert await tracker.receive(4) == bytes.fromhex("00000002")
            await tracker.send(b"\xff\xff")
            await tracker.send(teltonika.encode_avl_packet([third], codec=CODEC_8E))
            assert await tracker.receive(4) == bytes.fromhex("00000001")

    asyncio.run(scenario())
    positions = sink.positions
    assert [(p.device_id, p.time, p.protocol) for p in positions] == [
        (IMEI, first.time, "teltonika"),
        (IMEI, second.time, "teltonika"),
        (IMEI, third.time, "teltonika"),
    ]
    assert positions[1].lat == 44.0
    assert positions[0].flags["moving"] is True
    assert positions[0].io["external_voltage_mv"] == 12850


def test_bad_crc_is_acknowledged_with_zero_and_the_connection_kept() -> None:
    sink = RecordingSink()
    packet = teltonika.encode_avl_packet([record(1)])
    corrupt = packet[:-1] + bytes([packet[-1] ^ 0xFF])

    async def scenario() -> None:
        async with serving("teltonika", sink) as listener, device(listener) as tracker:
            await tracker.send(teltonika.encode_imei_handshake(IMEI))
            assert await tracker.receive(1) == b"\x01"
            await tracker.send(corrupt)
            assert await tracker.receive(4) == bytes(4)
            await tracker.send(packet)
            assert await tracker.receive(4) == bytes.fromhex("00000001")

    asyncio.run(scenario())
    assert len(sink.positions) == 1


def test_a_bad_handshake_is_refused_and_closed() -> None:
    sink = RecordingSink()

    async def scenario() -> bytes:
        async with serving("teltonika", sink) as listener, device(listener) as tracker:
            await tracker.send(b"\x00\x0f" + b"86412345678901X")
            return await tracker.rest_until_closed()

    assert asyncio.run(scenario()) == b"\x00"


def test_bytes_that_cannot_start_a_packet_close_the_connection() -> None:
    sink = RecordingSink()

    async def scenario() -> bytes:
        async with serving("teltonika", sink) as listener, device(listener) as tracker:
            await tracker.send(teltonika.encode_imei_handshake(IMEI))
            assert await tracker.receive(1) == b"\x01"
            await tracker.send(b"\x01\x02\x03\x04\x05\x06\x07\x08")
            return await tracker.rest_until_closed()

    assert asyncio.run(scenario()) == b""
    assert sink.batches == []


def test_a_device_sending_byte_by_byte_is_acknowledged() -> None:
    sink = RecordingSink()
    fix = record(5)

    async def scenario() -> None:
        async with serving("teltonika", sink) as listener, device(listener) as tracker:
            await tracker.send_slowly(teltonika.encode_imei_handshake(IMEI))
            assert await tracker.receive(1) == b"\x01"
            await tracker.send_slowly(teltonika.encode_avl_packet([fix]))
            assert await tracker.receive(4) == bytes.fromhex("00000001")

    asyncio.run(scenario())
    assert [p.time for p in sink.positions] == [fix.time]
