"""What every TCP listener guarantees: no acknowledgement without the sink, isolation, limits."""

from __future__ import annotations

import asyncio

import pytest
from tests.integration.listeners.harness import (
    Device,
    RecordingSink,
    device,
    recent,
    serving,
    wait_until,
)

from silkway.seals.devices import egts, teltonika, wialon
from silkway.seals.devices.teltonika import AvlRecord
from silkway.seals.listeners import ListenerLimits

TELTONIKA_IMEI = "864123456789012"


def avl(minutes_ago: int = 1) -> bytes:
    fix = AvlRecord(time=recent(minutes_ago), lat=43.0, lon=76.0, satellites=7)
    return teltonika.encode_avl_packet([fix])


def egts_packet(pid: int = 1) -> bytes:
    pos = egts.encode_pos_data(recent(), 43.0, 76.0)
    return egts.encode_packet(pid, [egts.encode_record(1, [pos], oid=4242)])


async def _egts_data(terminal: Device) -> None:
    await terminal.send(egts_packet())


async def _wialon_data(tracker: Device) -> None:
    await tracker.send(wialon.encode_login("862462031234567"))
    assert await tracker.line() == "#AL#1\r\n"
    await tracker.send(wialon.encode_sd(wialon.sd_body(recent(), 43.0, 76.0)))


async def _teltonika_data(tracker: Device) -> None:
    await tracker.send(teltonika.encode_imei_handshake(TELTONIKA_IMEI))
    assert await tracker.receive(1) == b"\x01"
    await tracker.send(avl())


@pytest.mark.parametrize(
    ("protocol", "send_data"),
    [("egts", _egts_data), ("wialon", _wialon_data), ("teltonika", _teltonika_data)],
)
def test_a_failing_sink_means_no_acknowledgement(protocol: str, send_data: object) -> None:
    sink = RecordingSink(failures=1)

    async def scenario() -> bytes:
        async with serving(protocol, sink) as listener, device(listener) as dev:
            await send_data(dev)  # type: ignore[operator]
            rest = await dev.rest_until_closed()
            assert listener.stats.sink_failures == 1
            assert listener.stats.positions == 0
            return rest

    assert asyncio.run(scenario()) == b""
    assert len(sink.refused) == 1
    assert sink.batches == []


def test_the_device_resends_after_a_sink_failure_and_is_acknowledged() -> None:
    sink = RecordingSink(failures=1)
    packet = avl()

    async def scenario() -> None:
        async with serving("teltonika", sink) as listener:
            async with device(listener) as tracker:
                await tracker.send(teltonika.encode_imei_handshake(TELTONIKA_IMEI))
                assert await tracker.receive(1) == b"\x01"
                await tracker.send(packet)
                assert await tracker.rest_until_closed() == b""
            async with device(listener) as tracker:
                await tracker.send(teltonika.encode_imei_handshake(TELTONIKA_IMEI))
                assert await tracker.receive(1) == b"\x01"
                await tracker.send(packet)
                assert await tracker.receive(4) == bytes.fromhex("00000001")

    asyncio.run(scenario())
    assert len(sink.positions) == 1


def test_a_device_leaving_mid_frame_leaves_no_task_and_does_not_disturb_others() -> None:
    sink = RecordingSink()

    async def scenario() -> None:
        baseline = len(asyncio.all_tasks())
        async with serving("egts", sink) as listener:
            tasks_while_idle = len(asyncio.all_tasks())
            async with device(listener) as steady, device(listener) as leaving:
                await leaving.send(egts_packet(7)[:15])
                await wait_until(lambda: listener.stats.active == 2, "both connected")
                await leaving.close()
                await steady.send(egts_packet(8))
                confirmation = [egts.encode_record(0, [egts.encode_record_response(1)])]
                expected = egts.encode_packet(0, confirmation, pt=0, rpid=8)
                assert await steady.receive(len(expected)) == expected
            await wait_until(lambda: listener.stats.active == 0, "connections ended")
            assert len(asyncio.all_tasks()) == tasks_while_idle
        assert len(asyncio.all_tasks()) == baseline

    asyncio.run(scenario())
    assert [p.device_id for p in sink.positions] == ["4242"]


def test_two_devices_at_once_each_get_their_own_acknowledgements() -> None:
    sink = RecordingSink()

    async def one_device(listener_address: object, imei: str, count: int) -> None:
        async with device(listener_address) as tracker:  # type: ignore[arg-type]
            await tracker.send(teltonika.encode_imei_handshake(imei))
            assert await tracker.receive(1) == b"\x01"
            for n in range(count):
                await tracker.send(avl(n + 1))
                assert await tracker.receive(4) == bytes.fromhex("00000001")

    async def scenario() -> None:
        async with serving("teltonika", sink) as listener:
            await asyncio.gather(
                one_device(listener, "864123456789012", 5),
                one_device(listener, "864123456789013", 3),
            )

    asyncio.run(scenario())
    by_device: dict[str | None, int] = {}
    for position in sink.positions:
        by_device[position.device_id] = by_device.get(position.device_id, 0) + 1
    assert by_device == {"864123456789012": 5, "864123456789013": 3}


def test_packets_from_many_connections_share_one_sink_call() -> None:
    sink = RecordingSink()
    # The batch closes as soon as it holds three positions; the long delay only caps the wait.
    limits = ListenerLimits(batch_positions=3, batch_delay_s=30.0)

    async def one_device(listener: object, imei: str) -> None:
        async with device(listener) as tracker:  # type: ignore[arg-type]
            await tracker.send(teltonika.encode_imei_handshake(imei))
            assert await tracker.receive(1) == b"\x01"
            await tracker.send(avl())
            assert await tracker.receive(4) == bytes.fromhex("00000001")

    async def scenario() -> None:
        async with serving("teltonika", sink, limits) as listener:
            await asyncio.gather(*(one_device(listener, f"86412345678901{n}") for n in range(3)))
            assert listener.batcher.stats.batches == 1

    asyncio.run(scenario())
    assert len(sink.batches) == 1
    assert len(sink.batches[0][0]) == 3


def test_connections_over_the_limit_are_closed_and_the_others_served() -> None:
    sink = RecordingSink()

    async def scenario() -> None:
        async with serving("wialon", sink, ListenerLimits(max_connections=1)) as listener:
            async with device(listener) as first:
                await first.send(wialon.encode_ping())
                assert await first.line() == "#AP#\r\n"
                async with device(listener) as second:
                    assert await second.rest_until_closed() == b""
                await first.send(wialon.encode_ping())
                assert await first.line() == "#AP#\r\n"
            assert listener.stats.refused == 1

    asyncio.run(scenario())


def test_a_silent_connection_is_closed_after_the_idle_timeout() -> None:
    sink = RecordingSink()

    async def scenario() -> None:
        async with serving("egts", sink, ListenerLimits(idle_timeout_s=0.2)) as listener:
            async with device(listener) as silent:
                assert await silent.rest_until_closed() == b""
            assert listener.stats.idle_timeouts == 1

    asyncio.run(scenario())


def test_closing_the_listener_drops_its_connections() -> None:
    sink = RecordingSink()

    async def scenario() -> None:
        baseline = len(asyncio.all_tasks())
        async with serving("egts", sink) as listener, device(listener) as terminal:
            await wait_until(lambda: listener.stats.active == 1, "connected")
            await listener.close()
            assert await terminal.rest_until_closed() == b""
            assert len(asyncio.all_tasks()) == baseline

    asyncio.run(scenario())
