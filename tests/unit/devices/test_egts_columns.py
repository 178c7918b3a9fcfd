"""EGTS frames decoded into columns give exactly what ``decode_packet`` gives, frame by frame."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.devices.test_egts import HAND_FRAME, _reframe
from tests.unit.devices.test_fuzz import EGTS_FRAME, _mutated

from silkway.seals.devices import DecodeError
from silkway.seals.devices.egts import (
    EgtsColumns,
    EgtsPacket,
    PacketType,
    ResultCode,
    Route,
    Service,
    SubrecordType,
    decode_columns,
    decode_packet,
    encode_ad_sensors_data,
    encode_auth_result,
    encode_ext_pos_data,
    encode_packet,
    encode_pos_data,
    encode_record,
    encode_response,
    encode_subrecord,
    encode_term_identity,
    peek_packet_id,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
IMEI = "864123456789012"


def _packet(frame: bytes, device_id: str | None, now: datetime | None) -> EgtsPacket | DecodeError:
    try:
        return decode_packet(frame, device_id=device_id, now=now)
    except DecodeError as error:
        return error


def _agrees(
    frames: Sequence[bytes], *, device_id: str | None = None, now: datetime | None = None
) -> EgtsColumns:
    """Decode ``frames`` both ways and check every outcome and position is the same."""
    columns = decode_columns(frames, device_id=device_id, now=now)
    assert len(columns.frames) == len(frames)
    expected = []
    for index, (frame, outcome) in enumerate(zip(frames, columns.frames, strict=True)):
        packet = _packet(frame, device_id, now)
        if isinstance(packet, DecodeError):
            assert outcome.error is not None
            assert (outcome.error.reason, outcome.error.code) == (packet.reason, packet.code)
            assert (outcome.pid, outcome.fixes, outcome.rejected) == (peek_packet_id(frame), 0, ())
            continue
        assert outcome.error is None
        assert (outcome.pid, outcome.pt) == (packet.pid, packet.pt)
        assert outcome.identity == packet.identity
        assert outcome.rejected == packet.rejected
        assert outcome.fixes == len(packet.positions)
        # The listener answers from the columns: byte for byte what decode_packet's answer is.
        answer = encode_response(packet, pid=index)
        assert columns.response(index, pid=index) == answer
        expected.extend(packet.positions)
    assert columns.positions.positions() == expected
    return columns


def _frame(*subrecords: bytes, pid: int = 1, rn: int = 1, **record: object) -> bytes:
    return encode_packet(pid, [encode_record(rn, list(subrecords), **record)])  # type: ignore[arg-type]


def _telemetry(pid: int, tid: int, count: int, start: datetime = T0) -> bytes:
    """A frame as seals send it: TERM_IDENTITY, then one POS_DATA record per fix."""
    records = [encode_record(1, [encode_term_identity(tid, imei=f"86412345678{tid:04d}")], sst=1)]
    for k in range(count):
        fix = encode_pos_data(
            start + timedelta(minutes=k),
            43.2 + k / 100,
            76.9 - k / 100,
            speed_kmh=60 + k % 7,
            course=(37 * k) % 360,
            moving=k % 2 == 0,
            source=10 if k == 3 else 0,
            odometer_km=1000 + k / 10,
        )
        records.append(encode_record(k + 2, [fix]))
    return encode_packet(pid, records)


class TestSameAsDecodePacket:
    def test_frames_of_many_seals(self) -> None:
        frames = [_telemetry(pid, tid, 50) for pid, tid in enumerate(range(1, 21))]
        columns = _agrees(frames)
        assert len(columns.positions) == 1000
        assert [f.fixes for f in columns.frames] == [50] * 20
        assert len(columns.positions.device_ids) == 20

    def test_the_hand_written_frame(self) -> None:
        _agrees([HAND_FRAME])
        _agrees([HAND_FRAME], device_id="abc")

    @pytest.mark.parametrize(
        "fix",
        [
            encode_pos_data(T0, 55.0, 37.0),
            encode_pos_data(T0, -12.5, -45.25, altitude_m=-28, stored=True, valid=False, pz90=True),
            encode_pos_data(T0, 0.0, 180.0, altitude_m=9999, fix_3d=False, digital_inputs=0xA5),
            encode_pos_data(T0, 89.9, -179.9, speed_kmh=500, course=359, source=255),
            encode_pos_data(T0, 1.0, 2.0, course=256, odometer_km=1677721.5),
            encode_subrecord(
                SubrecordType.POS_DATA, encode_pos_data(T0, 5.0, 6.0)[3:] + b"\x05\x01"
            ),
            encode_subrecord(
                SubrecordType.POS_DATA,
                encode_pos_data(T0, 5.0, 6.0, altitude_m=3)[3:] + b"\xff\xff",
            ),
        ],
        ids=["plain", "south-west", "altitude", "limits", "dirh", "srcd", "altitude-srcd"],
    )
    def test_one_fix(self, fix: bytes) -> None:
        (position,) = _agrees([_frame(fix)]).positions.positions()
        assert position == decode_packet(_frame(fix)).positions[0]

    def test_records_in_every_shape_keep_their_order(self) -> None:
        records = [
            encode_record(1, [encode_pos_data(T0, 1.0, 1.0)], oid=5),
            encode_record(
                2,
                [
                    encode_pos_data(T0, 2.0, 2.0),
                    encode_ext_pos_data(satellites=9, hdop=1.2),
                    encode_ad_sensors_data(digital_inputs={1: 3}, analog_inputs={2: 7}),
                ],
                oid=6,
                time=T0,
            ),
            encode_record(3, [encode_pos_data(T0, 3.0, 3.0), encode_pos_data(T0, 3.5, 3.5)]),
            encode_record(4, [encode_subrecord(99, b"\x01\x02"), encode_pos_data(T0, 4.0, 4.0)]),
            encode_record(5, [encode_pos_data(T0, 5.0, 5.0)], oid=7, evid=1, time=T0),
            encode_record(6, [encode_pos_data(T0, 6.0, 6.0, speed_kmh=900)], oid=8),
            encode_record(7, [encode_pos_data(T0, 7.0, 7.0), encode_ext_pos_data(pdop=2.5)]),
            encode_record(8, []),
        ]
        columns = _agrees([encode_packet(3, records)])
        assert [p.lat for p in columns.positions.positions()] == pytest.approx(
            [1.0, 2.0, 3.0, 3.5, 4.0, 5.0, 7.0], abs=1e-6
        )
        assert columns.positions.device_ids[columns.positions.device[0]] == "5"
        _agrees([encode_packet(3, records)], device_id="abc")

    def test_identity_in_one_frame_does_not_name_another(self) -> None:
        identified = encode_packet(
            1,
            [
                encode_record(1, [encode_term_identity(77, imei=IMEI)], sst=Service.AUTH),
                encode_record(2, [encode_pos_data(T0, 55.0, 37.0)], oid=77),
            ],
        )
        anonymous = _frame(encode_pos_data(T0, 56.0, 38.0), oid=9, pid=2)
        columns = _agrees([identified, anonymous])
        assert [p.device_id for p in columns.positions.positions()] == [IMEI, "9"]

    def test_a_bad_identity_falls_back_to_the_oid(self) -> None:
        frame = encode_packet(
            1,
            [
                encode_record(1, [encode_term_identity(77, imei="86412345678901X")], sst=1),
                encode_record(2, [encode_pos_data(T0, 55.0, 37.0)], oid=77),
            ],
        )
        (outcome,) = _agrees([frame]).frames
        assert outcome.identity is None
        assert "IMEI" in (outcome.rejected[0].reason or "")

    @pytest.mark.parametrize(
        "frame",
        [
            encode_packet(
                3, [encode_record(1, [encode_pos_data(T0, 5.0, 6.0)])], route=Route(1, 2, 3)
            ),
            encode_packet(
                3,
                [encode_record(1, [encode_pos_data(T0, 5.0, 6.0)])],
                pt=PacketType.SIGNED_APPDATA,
                signature=b"sig!",
            ),
            encode_packet(3),
            encode_auth_result(9, 1),
            encode_response(decode_packet(HAND_FRAME), pid=7),
        ],
        ids=["routed", "signed", "empty", "auth-result", "response"],
    )
    def test_packet_types(self, frame: bytes) -> None:
        _agrees([frame])

    def test_no_frames(self) -> None:
        columns = _agrees([])
        assert (columns.frames, len(columns.positions)) == ((), 0)

    @settings(max_examples=50)
    @given(
        lat=st.floats(-90, 90),
        lon=st.floats(-180, 180),
        speed=st.integers(0, 5000).map(lambda v: v / 10),
        course=st.integers(0, 359),
        altitude=st.none() | st.integers(-1000, 10000),
        seconds=st.integers(0, 20 * 365 * 86400),
        flags=st.booleans(),
    )
    def test_any_plausible_fix(
        self,
        lat: float,
        lon: float,
        speed: float,
        course: int,
        altitude: int | None,
        seconds: int,
        flags: bool,
    ) -> None:
        time = datetime(2010, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
        fix = encode_pos_data(
            time,
            lat,
            lon,
            speed_kmh=speed,
            course=course,
            altitude_m=altitude,
            valid=flags,
            stored=not flags,
            moving=flags,
        )
        _agrees([_frame(fix), _frame(fix, oid=4)])


class TestRefusals:
    @pytest.mark.parametrize(
        "fix",
        [
            encode_pos_data(T0, 55.0, 37.0, speed_kmh=900),
            encode_pos_data(T0, 55.0, 37.0, course=400),
            encode_pos_data(T0, 55.0, 37.0, altitude_m=12000),
            encode_pos_data(T0, 55.0, 37.0, altitude_m=-1500),
            encode_pos_data(T0 + timedelta(days=2), 55.0, 37.0),
            encode_subrecord(SubrecordType.POS_DATA, encode_pos_data(T0, 5.0, 6.0)[3:] + b"\x00"),
            encode_subrecord(SubrecordType.POS_DATA, encode_pos_data(T0, 5.0, 6.0)[3:20]),
            encode_subrecord(
                SubrecordType.POS_DATA, encode_pos_data(T0, 5.0, 6.0, altitude_m=3)[3:23]
            ),
        ],
        ids=["speed", "course", "high", "low", "future", "long", "short", "altitude-short"],
    )
    def test_a_bad_fix_refuses_its_record_with_the_same_reason(self, fix: bytes) -> None:
        good = encode_record(1, [encode_pos_data(T0, 1.0, 1.0)])
        bad = encode_record(2, [encode_pos_data(T0, 2.0, 2.0), fix])
        columns = _agrees([encode_packet(4, [good, bad])], now=T0)
        (outcome,) = columns.frames
        assert [(r.rn, r.result != ResultCode.OK) for r in outcome.rejected] == [(2, True)]
        assert len(columns.positions) == 1

    def test_the_future_is_checked_only_against_a_clock(self) -> None:
        frame = _frame(encode_pos_data(T0 + timedelta(days=1, seconds=1), 55.0, 37.0))
        assert len(_agrees([frame]).positions) == 1
        assert len(_agrees([frame], now=T0).positions) == 0
        assert len(_agrees([frame], now=T0 + timedelta(seconds=1)).positions) == 1

    @pytest.mark.parametrize("flip", [10, 20, len(HAND_FRAME) - 1])
    def test_checksums(self, flip: int) -> None:
        frame = bytearray(HAND_FRAME)
        frame[flip] ^= 0x01
        (outcome,) = _agrees([bytes(frame)]).frames
        assert outcome.error is not None
        assert outcome.error.code in (ResultCode.HEADERCRC_ERROR, ResultCode.DATACRC_ERROR)

    @pytest.mark.parametrize("cut", [0, 1, 5, 10, 11, 30, len(HAND_FRAME) - 1])
    def test_truncated(self, cut: int) -> None:
        _agrees([HAND_FRAME[:cut]])

    def test_lengths_that_do_not_add_up(self) -> None:
        sfrd = HAND_FRAME[11:-2]
        record_beyond = bytearray(sfrd)
        record_beyond[0] = 0x40
        subrecord_beyond = bytearray(sfrd)
        subrecord_beyond[12] = 0x30
        frames = [
            _reframe(HAND_FRAME, bytes(record_beyond)),
            _reframe(HAND_FRAME, bytes(subrecord_beyond)),
            _reframe(HAND_FRAME, sfrd + b"\x01"),
            HAND_FRAME + b"\x00",
        ]
        assert all(o.error is not None for o in _agrees(frames).frames)

    def test_a_refused_frame_leaves_the_others_whole(self) -> None:
        broken = bytearray(_telemetry(2, 2, 5))
        broken[-1] ^= 0xFF
        frames = [_telemetry(1, 1, 5), bytes(broken), _frame(encode_pos_data(T0, 1.0, 2.0), pid=3)]
        columns = _agrees(frames)
        assert [f.fixes for f in columns.frames] == [5, 0, 1]
        assert columns.frames[1].error is not None
        assert columns.frames[1].pid == 2
        assert np.all(columns.positions.t_ms[:5] == np.arange(5) * 60_000 + T0.timestamp() * 1000)


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash_and_agree(data: bytes) -> None:
    _agrees([data], now=T0)


@settings(max_examples=300)
@given(st.lists(_mutated([EGTS_FRAME, HAND_FRAME, _telemetry(1, 1, 3)]), max_size=4))
def test_mutated_frames_never_crash_and_agree(frames: list[bytes]) -> None:
    _agrees(frames, now=T0)
