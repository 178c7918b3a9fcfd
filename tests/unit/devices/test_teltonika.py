"""Teltonika Codec 8 / 8E: handshake, AVL packets, framing, session answers."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from silkway.seals.devices import DecodeError, decode
from silkway.seals.devices.crc import crc16_arc
from silkway.seals.devices.teltonika import (
    CODEC_8,
    CODEC_8E,
    IMEI_ACCEPT,
    IMEI_REJECT,
    AvlRecord,
    TeltonikaSession,
    decode_avl_packet,
    decode_imei_handshake,
    encode_ack,
    encode_avl_packet,
    encode_imei_handshake,
    split_frames,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
IMEI = "864123456789012"

# The Codec 8 example of the device documentation: one record, no fix, five IO elements.
VENDOR_CODEC_8 = bytes.fromhex(
    "000000000000003608010000016B40D8EA30010000000000000000000000000000000105021503010101425E"
    "0F01F10000601A014E0000000000000000010000C7CF"
)

# Written field by field from the specification, not by the encoder: Codec 8E, one record.
HAND_CODEC_8E = bytes.fromhex(
    "00000000 00000039"  # preamble, data field length 57
    "8e 01"  # codec 8E, one record
    "0000018f34069efa"  # 2024-05-01T12:00:00.250Z
    "01"  # priority high
    "2a964478 1e7fd4b0"  # lon 71.4491, lat 51.1694
    "015b 012c 0a 0048"  # altitude 347 m, angle 300, 10 satellites, 72 km/h
    "00ef 0004"  # event IO 239, 4 IO elements
    "0002 00ef01 00f001"  # 1-byte: ignition on, movement on
    "0001 00423232"  # 2-byte: external voltage 12850 mV
    "0000 0000"  # no 4- or 8-byte values
    "0001 0100 0002 beef"  # variable: id 256, 2 bytes
    "01"  # number of data 2
    "000000b9"  # CRC-16/IBM
)

# Codec 8 with southern and western coordinates in two's complement and a crash event.
HAND_CODEC_8_SOUTH_WEST = bytes.fromhex(
    "00000000 00000023"
    "08 01 0000018f34069efa 00"
    "d5e0b878 ec101a58"  # lon -70.6693, lat -33.4489
    "0226 005a 07 0000"  # 550 m, 90 degrees, 7 satellites, 0 km/h
    "00 01 01 f701 00 00 00"  # event 0, 1 element: crash = 1
    "01 000067c4"
)


def _record(**overrides: object) -> AvlRecord:
    fields: dict[str, object] = {
        "time": T0,
        "lat": 43.2567,
        "lon": 76.9286,
        "altitude_m": 800,
        "angle": 90,
        "satellites": 9,
        "speed_kmh": 60,
    }
    fields.update(overrides)
    return AvlRecord(**fields)  # type: ignore[arg-type]


def _patch(packet: bytes, offset: int, value: bytes, *, fix_crc: bool = True) -> bytes:
    """``packet`` with bytes replaced at ``offset``, CRC recomputed unless told otherwise."""
    out = bytearray(packet)
    out[offset : offset + len(value)] = value
    if fix_crc:
        (length,) = struct.unpack_from(">I", out, 4)
        out[8 + length :] = struct.pack(">I", crc16_arc(bytes(out[8 : 8 + length])))
    return bytes(out)


class TestReferenceFrames:
    def test_vendor_example(self) -> None:
        packet = decode_avl_packet(VENDOR_CODEC_8)
        (position,) = packet.records
        assert packet.codec == CODEC_8
        assert position.time == datetime(2019, 6, 10, 10, 4, 46, tzinfo=UTC)
        assert position.valid is False  # no satellites
        assert position.io == {
            "priority": 1,
            "event_io_id": 1,
            "21": 3,
            "gsm_signal": 3,
            "1": 1,
            "din1": 1,
            "66": 24079,
            "external_voltage_mv": 24079,
            "241": 24602,
            "78": 0,
        }

    def test_hand_written_codec_8e(self) -> None:
        (position,) = decode_avl_packet(HAND_CODEC_8E, device_id=IMEI).records
        assert position.device_id == IMEI
        assert position.time == T0 + timedelta(milliseconds=250)
        assert (position.lat, position.lon) == (51.1694, 71.4491)
        assert (position.altitude_m, position.course) == (347.0, 300)
        assert (position.satellites, position.speed_kmh, position.valid) == (10, 72.0, True)
        assert position.flags == {"ignition": True, "moving": True}
        assert position.io["239"] == position.io["ignition"] == 1
        assert position.io["external_voltage_mv"] == 12850
        assert position.io["256"] == "beef"
        assert position.io["priority"] == 1

    def test_hand_written_southern_western_codec_8(self) -> None:
        (position,) = decode_avl_packet(HAND_CODEC_8_SOUTH_WEST).records
        assert (position.lat, position.lon) == (-33.4489, -70.6693)
        assert position.flags == {"crash": True}
        assert position.io["crash"] == 1

    def test_top_level_decode_with_handshake(self) -> None:
        payload = (encode_imei_handshake(IMEI) + HAND_CODEC_8E).hex()
        (record,) = decode("teltonika", payload)
        assert record["device_id"] == IMEI
        assert record["time"] == "2024-05-01T12:00:00.250Z"


class TestRoundTrip:
    @pytest.mark.parametrize("codec", [CODEC_8, CODEC_8E])
    def test_several_records(self, codec: int) -> None:
        records = [
            _record(io={239: (1, 1), 66: (2, 13200), 16: (4, 123456), 78: (8, 2**40)}),
            _record(time=T0 + timedelta(seconds=30), lat=-1.5, lon=-2.25, event_io_id=247),
        ]
        packet = decode_avl_packet(encode_avl_packet(records, codec))
        first, second = packet.records
        assert packet.codec == codec
        assert first.io["odometer_m"] == 123456
        assert first.io["78"] == 2**40
        assert first.io["external_voltage_mv"] == 13200
        assert (second.lat, second.lon) == (-1.5, -2.25)
        assert second.io["event_io_id"] == 247

    def test_variable_length_values_in_codec_8e(self) -> None:
        frame = encode_avl_packet([_record(variable_io={385: b"\x01\x02\x03"})], CODEC_8E)
        assert decode_avl_packet(frame).records[0].io["385"] == "010203"

    @given(
        lat=st.integers(-900_000_000, 900_000_000),
        lon=st.integers(-1_800_000_000, 1_800_000_000),
        angle=st.integers(0, 359),
        speed=st.integers(0, 500),
        ms=st.integers(946_684_800_000, 4_102_444_800_000),
    )
    def test_gps_element(self, lat: int, lon: int, angle: int, speed: int, ms: int) -> None:
        time = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
        record = _record(time=time, lat=lat / 1e7, lon=lon / 1e7, angle=angle, speed_kmh=speed)
        (position,) = decode_avl_packet(encode_avl_packet([record])).records
        assert (position.lat, position.lon) == (lat / 1e7, lon / 1e7)
        assert (position.course, position.speed_kmh, position.time) == (angle, speed, time)


class TestRejectedPackets:
    def _reason(self, packet: bytes, **kwargs: object) -> str:
        with pytest.raises(DecodeError) as caught:
            decode_avl_packet(packet, **kwargs)  # type: ignore[arg-type]
        assert caught.value.code == 0
        return caught.value.reason

    def test_bad_crc(self) -> None:
        bad = _patch(HAND_CODEC_8E, len(HAND_CODEC_8E) - 1, b"\x00", fix_crc=False)
        assert "CRC" in self._reason(bad)

    def test_crc_upper_bytes_must_be_zero(self) -> None:
        bad = _patch(HAND_CODEC_8E, len(HAND_CODEC_8E) - 4, b"\x00\x01", fix_crc=False)
        assert "upper" in self._reason(bad)

    def test_corrupted_record_is_caught_by_the_crc(self) -> None:
        assert "CRC" in self._reason(_patch(HAND_CODEC_8E, 30, b"\xff", fix_crc=False))

    def test_record_counts_differ(self) -> None:
        bad = _patch(HAND_CODEC_8E, len(HAND_CODEC_8E) - 5, b"\x02")
        assert "number of data" in self._reason(bad)

    def test_length_field_inconsistent(self) -> None:
        bad = _patch(HAND_CODEC_8E, 4, b"\x00\x00\x00\x38", fix_crc=False)
        assert "announces" in self._reason(bad)

    @pytest.mark.parametrize("cut", [3, 14, 40, len(HAND_CODEC_8E) - 1])
    def test_truncated(self, cut: int) -> None:
        self._reason(HAND_CODEC_8E[:cut])

    def test_records_shorter_than_announced(self) -> None:
        # Claim two records in both counters: the second one runs out of bytes.
        bad = _patch(_patch(HAND_CODEC_8E, 9, b"\x02"), len(HAND_CODEC_8E) - 5, b"\x02")
        assert "truncated" in self._reason(bad)

    def test_io_total_count_inconsistent(self) -> None:
        assert "IO total" in self._reason(_patch(HAND_CODEC_8E, 36, b"\x00\x05"))

    def test_unsupported_codec(self) -> None:
        assert "codec" in self._reason(_patch(HAND_CODEC_8E, 8, b"\x10"))

    def test_no_record(self) -> None:
        assert "no record" in self._reason(encode_avl_packet([]))

    def test_packet_above_1280_bytes(self) -> None:
        records = [_record(io={n: (8, n) for n in range(1, 100)})] * 2
        assert "1280" in self._reason(encode_avl_packet(records))

    @pytest.mark.parametrize(
        ("overrides", "word"),
        [
            ({"lat": 91.0}, "latitude"),
            ({"lon": -181.0}, "longitude"),
            ({"speed_kmh": 700}, "speed"),
            ({"satellites": 80}, "satellites"),
            ({"angle": 400}, "course"),
            ({"priority": 3}, "priority"),
            ({"altitude_m": 15000}, "altitude"),
            ({"time": datetime(1999, 12, 31, tzinfo=UTC)}, "before 2000"),
        ],
    )
    def test_absurd_values(self, overrides: dict[str, object], word: str) -> None:
        reason = self._reason(encode_avl_packet([_record(**overrides)]))
        assert "absurd" in reason
        assert word in reason

    def test_time_far_in_the_future_when_now_is_given(self) -> None:
        packet = encode_avl_packet([_record(time=T0 + timedelta(days=2))])
        assert decode_avl_packet(packet).records
        assert "future" in self._reason(packet, now=T0)

    def test_bad_hex(self) -> None:
        with pytest.raises(DecodeError, match="hex"):
            decode("teltonika", "zz")


class TestHandshake:
    def test_imei(self) -> None:
        assert decode_imei_handshake(bytes.fromhex("000f") + IMEI.encode()) == IMEI

    @pytest.mark.parametrize(
        "data",
        [
            b"\x00",
            b"\x00\x0e" + IMEI[:14].encode(),
            b"\x00\x0f" + IMEI[:14].encode(),
            b"\x00\x0f" + b"86412345678901A",
        ],
    )
    def test_rejected(self, data: bytes) -> None:
        with pytest.raises(DecodeError):
            decode_imei_handshake(data)


class TestFraming:
    def test_keep_alives_and_partial_packets(self) -> None:
        stream = b"\xff" + HAND_CODEC_8E + b"\xff\xff" + VENDOR_CODEC_8 + HAND_CODEC_8E[:20]
        frames, rest = split_frames(stream)
        assert frames == [HAND_CODEC_8E, VENDOR_CODEC_8]
        assert rest == HAND_CODEC_8E[:20]

    def test_out_of_step(self) -> None:
        with pytest.raises(DecodeError, match="preamble"):
            split_frames(b"\x00\x01" + HAND_CODEC_8E)

    def test_impossible_length(self) -> None:
        with pytest.raises(DecodeError, match="1280"):
            split_frames(b"\x00\x00\x00\x00\x00\x10\x00\x00")

    def test_ack(self) -> None:
        assert encode_ack(3) == b"\x00\x00\x00\x03"


class TestSession:
    def test_handshake_in_pieces_then_packets(self) -> None:
        session = TeltonikaSession()
        handshake = encode_imei_handshake(IMEI)
        assert session.feed(handshake[:5]) == (b"", [])
        assert session.feed(handshake[5:] + HAND_CODEC_8E[:10]) == (IMEI_ACCEPT, [])
        assert session.imei == IMEI
        reply, positions = session.feed(HAND_CODEC_8E[10:] + b"\xff" + VENDOR_CODEC_8)
        assert reply == encode_ack(1) + encode_ack(1)
        assert [p.device_id for p in positions] == [IMEI, IMEI]

    def test_bad_crc_acknowledges_nothing(self) -> None:
        session = TeltonikaSession()
        session.feed(encode_imei_handshake(IMEI))
        reply, positions = session.feed(_patch(HAND_CODEC_8E, 30, b"\xff", fix_crc=False))
        assert (reply, positions) == (encode_ack(0), [])
        assert session.last_error is not None
        assert not session.closed

    def test_unknown_imei_is_rejected(self) -> None:
        session = TeltonikaSession(accept_imei=lambda imei: imei != IMEI)
        assert session.feed(encode_imei_handshake(IMEI)) == (IMEI_REJECT, [])
        assert session.closed
        with pytest.raises(DecodeError):
            session.feed(HAND_CODEC_8E)

    def test_stream_out_of_step_closes(self) -> None:
        session = TeltonikaSession()
        session.feed(encode_imei_handshake(IMEI))
        assert session.feed(b"\x01\x02\x03\x04") == (b"", [])
        assert session.closed
