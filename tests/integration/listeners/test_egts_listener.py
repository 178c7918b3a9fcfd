"""The EGTS listener over a real TCP socket: answers byte for byte, and what reaches the sink."""

from __future__ import annotations

import asyncio

from tests.integration.listeners.harness import RecordingSink, device, recent, serving

from silkway.seals.devices import egts
from silkway.seals.devices.egts import PacketType, ResultCode, Service

IMEI = "356307042441013"


def auth_frame(pid: int, rn: int) -> bytes:
    identity = egts.encode_term_identity(77, imei=IMEI)
    return egts.encode_packet(pid, [egts.encode_record(rn, [identity], sst=Service.AUTH)])


def pos_frame(pid: int, *fixes: tuple[int, dict[str, object]]) -> bytes:
    """A TELEDATA packet with one record per (rn, POS_DATA fields)."""
    records = [
        egts.encode_record(rn, [egts.encode_pos_data(**fields)])  # type: ignore[arg-type]
        for rn, fields in fixes
    ]
    return egts.encode_packet(pid, records)


def response(rpid: int, pid: int, *records: tuple[int, int, int], pr: int = 0) -> bytes:
    """The expected PT=0 answer: (record number, confirmed RN, status) per record."""
    confirmations = [
        egts.encode_record(number, [egts.encode_record_response(crn, status)], sst=sst)
        for number, (crn, status, sst) in enumerate(records)
    ]
    return egts.encode_packet(pid, confirmations, pt=PacketType.RESPONSE, rpid=rpid, pr=pr)


def test_auth_then_live_and_stored_positions() -> None:
    sink = RecordingSink()
    live, stored = recent(2), recent(90)

    async def scenario() -> None:
        async with serving("egts", sink) as listener, device(listener) as terminal:
            await terminal.send(auth_frame(pid=1, rn=1))
            expected = response(1, 0, (1, 0, Service.AUTH)) + egts.encode_auth_result(1, 1)
            assert await terminal.receive(len(expected)) == expected

            await terminal.send(
                pos_frame(
                    2,
                    (10, {"time": live, "lat": 43.25, "lon": 76.95, "speed_kmh": 62.5}),
                    (11, {"time": stored, "lat": 44.21, "lon": 80.32, "stored": True}),
                )
            )
            expected = response(2, 2, (10, 0, Service.TELEDATA), (11, 0, Service.TELEDATA))
            assert await terminal.receive(len(expected)) == expected

    asyncio.run(scenario())
    assert [source for _batch, source in sink.batches] == ["egts"]
    first, second = sink.positions
    assert (first.device_id, first.time, first.stored, first.speed_kmh) == (
        IMEI,
        live,
        False,
        62.5,
    )
    assert (second.device_id, second.time, second.stored) == (IMEI, stored, True)
    assert round(second.lat, 5) == 44.21


def test_implausible_record_is_refused_and_the_others_confirmed() -> None:
    sink = RecordingSink()

    async def scenario() -> None:
        async with serving("egts", sink) as listener, device(listener) as terminal:
            await terminal.send(
                pos_frame(
                    5,
                    (1, {"time": recent(), "lat": 43.0, "lon": 76.0, "speed_kmh": 900.0}),
                    (2, {"time": recent(), "lat": 43.0, "lon": 76.0}),
                )
            )
            expected = response(
                5,
                0,
                (1, ResultCode.INC_DATAFORM, Service.TELEDATA),
                (2, 0, Service.TELEDATA),
            )
            assert await terminal.receive(len(expected)) == expected

    asyncio.run(scenario())
    assert len(sink.positions) == 1


def test_bad_data_checksum_is_answered_and_the_connection_kept() -> None:
    sink = RecordingSink()
    good = pos_frame(8, (1, {"time": recent(), "lat": 43.0, "lon": 76.0}))
    corrupt = good[:-1] + bytes([good[-1] ^ 0xFF])

    async def scenario() -> None:
        async with serving("egts", sink) as listener, device(listener) as terminal:
            await terminal.send(corrupt)
            refusal = response(8, 0, pr=ResultCode.DATACRC_ERROR)
            assert await terminal.receive(len(refusal)) == refusal
            await terminal.send(good)
            expected = response(8, 1, (1, 0, Service.TELEDATA))
            assert await terminal.receive(len(expected)) == expected
            assert listener.stats.errors == 1

    asyncio.run(scenario())
    assert len(sink.positions) == 1


def test_bad_header_checksum_is_answered_then_the_connection_closed() -> None:
    sink = RecordingSink()
    good = pos_frame(9, (1, {"time": recent(), "lat": 43.0, "lon": 76.0}))
    corrupt = good[:10] + bytes([good[10] ^ 0xFF]) + good[11:]

    async def scenario() -> bytes:
        async with serving("egts", sink) as listener, device(listener) as terminal:
            await terminal.send(corrupt)
            return await terminal.rest_until_closed()

    assert asyncio.run(scenario()) == response(9, 0, pr=ResultCode.HEADERCRC_ERROR)
    assert sink.batches == []


def test_bytes_that_cannot_be_framed_close_the_connection() -> None:
    sink = RecordingSink()

    async def scenario() -> bytes:
        async with serving("egts", sink) as listener, device(listener) as terminal:
            await terminal.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            return await terminal.rest_until_closed()

    assert asyncio.run(scenario()) == b""
    assert sink.batches == []


def test_frames_arriving_together_are_each_answered() -> None:
    sink = RecordingSink()

    async def scenario() -> None:
        async with serving("egts", sink) as listener, device(listener) as terminal:
            await terminal.send(
                auth_frame(1, 1)
                + pos_frame(2, (1, {"time": recent(3), "lat": 43.0, "lon": 76.0}))
                + pos_frame(3, (2, {"time": recent(4), "lat": 43.1, "lon": 76.1}))
            )
            expected = (
                response(1, 0, (1, 0, Service.AUTH))
                + egts.encode_auth_result(1, 1)
                + response(2, 2, (1, 0, Service.TELEDATA))
                + response(3, 3, (2, 0, Service.TELEDATA))
            )
            assert await terminal.receive(len(expected)) == expected

    asyncio.run(scenario())
    assert [p.device_id for p in sink.positions] == [IMEI, IMEI]
