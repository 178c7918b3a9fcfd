"""The Wialon IPS listener over a real TCP socket: the exact answer lines, and the sink."""

from __future__ import annotations

import asyncio

from tests.integration.listeners.harness import RecordingSink, device, recent, serving

from silkway.seals.devices import wialon
from silkway.seals.listeners import ListenerLimits

IMEI = "862462031234567"


def test_login_data_short_data_black_box_and_ping_v2() -> None:
    sink = RecordingSink()
    t1, t2, t3, t4 = recent(1), recent(2), recent(300), recent(301)
    short = wialon.sd_body(t1, 43.2567, 76.9286, speed_kmh=62, course=270, satellites=9)
    full = wialon.d_body(t2, 44.2, 80.3, speed_kmh=0, params={"battery_pct": 87.5})
    stored = [wialon.sd_body(t3, 45.0, 81.0), wialon.sd_body(t4, 45.1, 81.1)]

    async def scenario() -> None:
        async with serving("wialon", sink) as listener, device(listener) as tracker:
            await tracker.send(wialon.encode_login(IMEI))
            assert await tracker.line() == "#AL#1\r\n"
            await tracker.send(wialon.encode_sd(short))
            assert await tracker.line() == "#ASD#1\r\n"
            await tracker.send(wialon.encode_d(full))
            assert await tracker.line() == "#AD#1\r\n"
            await tracker.send(wialon.encode_black_box(stored))
            assert await tracker.line() == "#AB#2\r\n"
            await tracker.send(wialon.encode_ping())
            assert await tracker.line() == "#AP#\r\n"

    asyncio.run(scenario())
    positions = sink.positions
    assert [(p.device_id, p.time, p.stored) for p in positions] == [
        (IMEI, t1, False),
        (IMEI, t2, False),
        (IMEI, t3, True),
        (IMEI, t4, True),
    ]
    assert positions[0].course == 270
    assert positions[1].io["battery_pct"] == 87.5


def test_version_1_1_login_and_data_without_checksums() -> None:
    sink = RecordingSink()

    async def scenario() -> None:
        async with serving("wialon", sink) as listener, device(listener) as tracker:
            await tracker.send(wialon.encode_login(IMEI, "secret", version="1.1"))
            assert await tracker.line() == "#AL#1\r\n"
            await tracker.send(
                wialon.encode_sd(wialon.sd_body(recent(), 43.0, 76.0), version="1.1")
            )
            assert await tracker.line() == "#ASD#1\r\n"

    asyncio.run(scenario())
    assert len(sink.positions) == 1


def test_bad_checksum_and_bad_values_are_answered_and_the_connection_kept() -> None:
    sink = RecordingSink()
    line = wialon.encode_sd(wialon.sd_body(recent(), 43.0, 76.0))
    corrupt = line.replace(line[-6:-2], "0000" if line[-6:-2] != "0000" else "FFFF")

    async def scenario() -> None:
        async with serving("wialon", sink) as listener, device(listener) as tracker:
            await tracker.send(wialon.encode_login(IMEI))
            assert await tracker.line() == "#AL#1\r\n"
            await tracker.send(corrupt)
            assert await tracker.line() == "#ASD#13\r\n"
            await tracker.send(
                wialon.encode_sd(wialon.sd_body(recent(), 43.0, 76.0, speed_kmh=900))
            )
            assert await tracker.line() == "#ASD#11\r\n"
            await tracker.send(line)
            assert await tracker.line() == "#ASD#1\r\n"

    asyncio.run(scenario())
    assert len(sink.positions) == 1


def test_data_before_login_closes_without_an_answer() -> None:
    sink = RecordingSink()

    async def scenario() -> bytes:
        async with serving("wialon", sink) as listener, device(listener) as tracker:
            await tracker.send(wialon.encode_sd(wialon.sd_body(recent(), 43.0, 76.0)))
            return await tracker.rest_until_closed()

    assert asyncio.run(scenario()) == b""
    assert sink.batches == []


def test_a_line_over_the_limit_is_refused_and_the_connection_closed() -> None:
    sink = RecordingSink()
    limits = ListenerLimits(max_frame_bytes=200)

    async def scenario(prefix: str) -> bytes:
        async with serving("wialon", sink, limits) as listener, device(listener) as tracker:
            await tracker.send(wialon.encode_login(IMEI))
            assert await tracker.line() == "#AL#1\r\n"
            await tracker.send(prefix + "9" * 300)
            return await tracker.rest_until_closed()

    assert asyncio.run(scenario("#SD#")) == b"#ASD#-1\r\n"
    assert asyncio.run(scenario("#B#")) == b"#AB#0\r\n"
    assert sink.batches == []


def test_a_tracker_sending_byte_by_byte_is_answered() -> None:
    sink = RecordingSink()
    fix = recent()

    async def scenario() -> None:
        async with serving("wialon", sink) as listener, device(listener) as tracker:
            await tracker.send_slowly(wialon.encode_login(IMEI))
            assert await tracker.line() == "#AL#1\r\n"
            await tracker.send_slowly(wialon.encode_sd(wialon.sd_body(fix, 43.0, 76.0)))
            assert await tracker.line() == "#ASD#1\r\n"

    asyncio.run(scenario())
    assert [(p.device_id, p.time) for p in sink.positions] == [(IMEI, fix)]
