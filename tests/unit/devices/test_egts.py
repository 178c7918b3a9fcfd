"""EGTS transport frames: decoding, framing, responses and rejections."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from silkway.seals.devices import DecodeError, decode
from silkway.seals.devices.crc import crc8_egts, crc16_ccitt
from silkway.seals.devices.egts import (
    EgtsPacket,
    PacketType,
    RecordResponse,
    ResultCode,
    Route,
    Service,
    SubrecordType,
    TermIdentity,
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
    split_frames,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

# Written field by field from the specification, not by the encoder:
# one TELEDATA record (RN 1, OID 123456) with POS_DATA + EXT_POS_DATA.
HAND_FRAME = bytes.fromhex(
    # PRV SKID flags HL HE FDL=45 PID=42 PT=1 HCS
    "01 00 00 0b 00 2d00 2a00 01 88"
    # RL=34 RN=1 RFL=OBFE OID=123456 SST=2 RST=2
    "2200 0100 01 40e20100 02 02"
    # POS_DATA SRL=24: NTM=2024-05-01T12:00Z, LAT 51.1694, LONG 71.4491,
    # FLG=VLD|FIX|MV|ALTE, SPD=72.5 km/h with DIRH, DIR=44 (course 300),
    # ODM=123.4 km, DIN=1, SRC=0, ALT=347 m
    "10 1800 c0f3f41a 836b8c91 ccd29d65 95 d582 2c d20400 01 00 5b0100"
    # EXT_POS_DATA SRL=4: HFE|SFE, HDOP=1.2, SAT=9
    "11 0400 0a 0c00 09"
    # SFRCS
    "3eed"
)


def _frame(*subrecords: bytes, pid: int = 1, rn: int = 1, **record: object) -> bytes:
    return encode_packet(pid, [encode_record(rn, list(subrecords), **record)])  # type: ignore[arg-type]


def _with_hcs(header_without_hcs: bytes) -> bytes:
    return header_without_hcs + bytes([crc8_egts(header_without_hcs)])


def _reframe(frame: bytes, sfrd: bytes) -> bytes:
    """A frame with the same header fields around different data, with correct checksums."""
    header = bytearray(frame[:10])
    header[5:7] = struct.pack("<H", len(sfrd))
    return _with_hcs(bytes(header)) + sfrd + struct.pack("<H", crc16_ccitt(sfrd))


class TestHandWrittenFrame:
    def test_position_fields(self) -> None:
        packet = decode_packet(HAND_FRAME)
        (position,) = packet.positions
        assert packet.pid == 42
        assert packet.pt == PacketType.APPDATA
        assert position.device_id == "123456"
        assert position.time == T0
        assert position.lat == pytest.approx(51.1694, abs=1e-6)
        assert position.lon == pytest.approx(71.4491, abs=1e-6)
        assert position.speed_kmh == 72.5
        assert position.course == 300
        assert position.altitude_m == 347.0
        assert position.satellites == 9
        assert position.valid is True
        assert position.stored is False
        assert position.flags == {"fix_3d": True, "pz90": False, "moving": True}
        assert position.io == {
            "odometer_km": 123.4,
            "digital_inputs": 1,
            "source": 0,
            "hdop": 1.2,
        }

    def test_record_header(self) -> None:
        (record,) = decode_packet(HAND_FRAME).records
        assert (record.rn, record.oid, record.sst, record.rst) == (1, 123456, 2, 2)
        assert [s.srt for s in record.subrecords] == [16, 17]

    def test_top_level_decode_returns_json_records(self) -> None:
        (record,) = decode("egts", HAND_FRAME.hex(" "))
        assert record["time"] == "2024-05-01T12:00:00.000Z"
        assert record["course"] == 300
        assert record["device_id"] == "123456"

    def test_response_confirms_the_record(self) -> None:
        response = encode_response(decode_packet(HAND_FRAME), pid=7)
        # Hand-computed SFRD: RPID=42 PR=0, then one record (RL=6, RN=0, RFL=0, SST=RST=2)
        # holding RECORD_RESPONSE (SRT 0, SRL 3) with CRN=1, RST=0.
        sfrd = bytes.fromhex("2a00 00 0600 0000 00 02 02 00 0300 0100 00")
        assert response[11:-2] == sfrd
        assert response[:10] == bytes.fromhex("01 00 00 0b 00 1000 0700 00")
        decoded = decode_packet(response)
        assert (decoded.pt, decoded.rpid, decoded.pr) == (PacketType.RESPONSE, 42, 0)
        assert decoded.records[0].subrecords[0].value == RecordResponse(crn=1, rst=0)


class TestPosData:
    @pytest.mark.parametrize("course", [0, 1, 255, 256, 300, 359])
    def test_course_round_trips_through_dirh(self, course: int) -> None:
        subrecord = encode_pos_data(T0, 43.2, 76.9, course=course)
        spd, direction = struct.unpack_from("<HB", subrecord, 3 + 13)
        assert direction == course & 0xFF
        assert bool(spd & 0x8000) == (course >= 256)
        (position,) = decode_packet(_frame(subrecord)).positions
        assert position.course == course

    def test_dirh_weighs_256_not_128(self) -> None:
        subrecord = bytearray(encode_pos_data(T0, 43.2, 76.9, course=44))
        subrecord[3 + 14] |= 0x80  # set DIRH, the top bit of SPD
        (position,) = decode_packet(_frame(bytes(subrecord))).positions
        assert position.course == 300

    def test_hemispheres_altitude_sign_and_black_box(self) -> None:
        subrecord = encode_pos_data(
            T0, -12.5, -45.25, altitude_m=-28, stored=True, valid=False, pz90=True
        )
        (position,) = decode_packet(_frame(subrecord)).positions
        assert position.lat == pytest.approx(-12.5, abs=1e-7)
        assert position.lon == pytest.approx(-45.25, abs=1e-7)
        assert position.altitude_m == -28.0
        assert position.stored is True
        assert position.valid is False
        assert position.flags["pz90"] is True

    def test_without_altitude(self) -> None:
        subrecord = encode_pos_data(T0, 55.0, 37.0)
        assert len(subrecord) == 3 + 21
        (position,) = decode_packet(_frame(subrecord)).positions
        assert position.altitude_m is None

    @given(
        lat=st.floats(-90, 90),
        lon=st.floats(-180, 180),
        speed=st.integers(0, 5000).map(lambda v: v / 10),
        course=st.integers(0, 359),
        seconds=st.integers(0, 20 * 365 * 86400),
    )
    def test_round_trip(
        self, lat: float, lon: float, speed: float, course: int, seconds: int
    ) -> None:
        time = datetime(2010, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
        subrecord = encode_pos_data(time, lat, lon, speed_kmh=speed, course=course)
        (position,) = decode_packet(_frame(subrecord)).positions
        assert position.time == time
        assert position.lat == pytest.approx(lat, abs=1e-7)
        assert position.lon == pytest.approx(lon, abs=1e-7)
        assert position.speed_kmh == speed
        assert position.course == course

    def test_optional_source_data_is_read(self) -> None:
        subrecord = encode_pos_data(T0, 55.0, 37.0)
        extended = encode_subrecord(SubrecordType.POS_DATA, subrecord[3:] + b"\x05\x00")
        (position,) = decode_packet(_frame(extended)).positions
        assert position.io["source_data"] == 5

    def test_wrong_length_rejects_the_record(self) -> None:
        subrecord = encode_pos_data(T0, 55.0, 37.0)
        packet = decode_packet(_frame(encode_subrecord(16, subrecord[3:] + b"\x00")))
        assert packet.positions == ()
        assert packet.records[0].result == ResultCode.INC_DATAFORM


class TestIdentityAndSensors:
    def test_term_identity_gives_the_device_id(self) -> None:
        auth = encode_record(
            1, [encode_term_identity(77, imei="864123456789012", buffer_size=1024)], sst=1
        )
        data = encode_record(2, [encode_pos_data(T0, 55.0, 37.0)], oid=77)
        packet = decode_packet(encode_packet(5, [auth, data]))
        assert packet.identity == TermIdentity(tid=77, imei="864123456789012", buffer_size=1024)
        assert packet.positions[0].device_id == "864123456789012"

    def test_session_device_id_wins(self) -> None:
        packet = decode_packet(_frame(encode_pos_data(T0, 55.0, 37.0), oid=9), device_id="abc")
        assert packet.positions[0].device_id == "abc"

    def test_bad_imei_rejects_the_record(self) -> None:
        frame = _frame(encode_term_identity(77, imei="86412345678901X"), sst=Service.AUTH)
        (record,) = decode_packet(frame).rejected
        assert record.result == ResultCode.INC_DATAFORM
        assert "IMEI" in (record.reason or "")

    def test_ad_sensors_and_ext_pos_data_land_in_io(self) -> None:
        frame = _frame(
            encode_pos_data(T0, 55.0, 37.0),
            encode_ext_pos_data(satellites=12, pdop=2.5, navigation_systems=3),
            encode_ad_sensors_data(
                digital_inputs={2: 0x81}, digital_outputs=4, analog_inputs={1: 12800, 3: 5}
            ),
        )
        (position,) = decode_packet(frame).positions
        assert position.satellites == 12
        assert position.io["pdop"] == 2.5
        assert position.io["navigation_systems"] == 3
        assert (position.io["adio2"], position.io["dout"]) == (0x81, 4)
        assert (position.io["ans1"], position.io["ans3"]) == (12800, 5)


class TestPacketTypes:
    def test_routed_header(self) -> None:
        record = encode_record(1, [encode_pos_data(T0, 55.0, 37.0)])
        frame = encode_packet(3, [record], route=Route(pra=10, rca=20, ttl=5))
        assert frame[3] == 16
        packet = decode_packet(frame)
        assert packet.route == Route(10, 20, 5)
        assert len(packet.positions) == 1

    def test_signed_application_data(self) -> None:
        record = encode_record(1, [encode_pos_data(T0, 55.0, 37.0)])
        frame = encode_packet(3, [record], pt=PacketType.SIGNED_APPDATA, signature=b"sig!")
        assert len(decode_packet(frame).positions) == 1

    def test_empty_frame_has_no_checksum(self) -> None:
        frame = encode_packet(3)
        assert len(frame) == 11
        assert decode_packet(frame).records == ()

    def test_auth_result(self) -> None:
        packet = decode_packet(encode_auth_result(9, 1))
        (record,) = packet.records
        assert record.sst == Service.AUTH
        assert record.subrecords[0].value == 0

    def test_peek_packet_id(self) -> None:
        assert peek_packet_id(HAND_FRAME) == 42
        assert peek_packet_id(HAND_FRAME[:5]) is None


class TestRejectedFrames:
    def test_bad_header_checksum(self) -> None:
        frame = bytearray(HAND_FRAME)
        frame[10] ^= 0x01
        with pytest.raises(DecodeError) as caught:
            decode_packet(bytes(frame))
        assert caught.value.code == 137  # EGTS_PC_HEADERCRC_ERROR

    def test_bad_data_checksum(self) -> None:
        frame = bytearray(HAND_FRAME)
        frame[-1] ^= 0x01
        with pytest.raises(DecodeError) as caught:
            decode_packet(bytes(frame))
        assert caught.value.code == 138  # EGTS_PC_DATACRC_ERROR

    def test_corrupted_data_is_caught_by_the_data_checksum(self) -> None:
        frame = bytearray(HAND_FRAME)
        frame[30] ^= 0x40
        with pytest.raises(DecodeError) as caught:
            decode_packet(bytes(frame))
        assert caught.value.code == ResultCode.DATACRC_ERROR

    @pytest.mark.parametrize("cut", [1, 5, 10, 11, 30, len(HAND_FRAME) - 1])
    def test_truncated(self, cut: int) -> None:
        with pytest.raises(DecodeError) as caught:
            decode_packet(HAND_FRAME[:cut])
        assert caught.value.code == ResultCode.INVDATALEN

    def test_trailing_bytes(self) -> None:
        with pytest.raises(DecodeError) as caught:
            decode_packet(HAND_FRAME + b"\x00")
        assert caught.value.code == ResultCode.INVDATALEN

    def test_wrong_protocol_version(self) -> None:
        frame = _with_hcs(b"\x02" + HAND_FRAME[1:10]) + HAND_FRAME[11:]
        with pytest.raises(DecodeError) as caught:
            decode_packet(frame)
        assert caught.value.code == ResultCode.UNS_PROTOCOL

    def test_header_length_not_11_or_16(self) -> None:
        with pytest.raises(DecodeError) as caught:
            decode_packet(HAND_FRAME[:3] + b"\x0c" + HAND_FRAME[4:])
        assert caught.value.code == ResultCode.INC_HEADERFORM

    def test_unknown_packet_type(self) -> None:
        frame = _with_hcs(HAND_FRAME[:9] + b"\x07") + HAND_FRAME[11:]
        with pytest.raises(DecodeError) as caught:
            decode_packet(frame)
        assert caught.value.code == ResultCode.UNS_TYPE

    def test_encrypted_frame(self) -> None:
        frame = _with_hcs(HAND_FRAME[:2] + b"\x08" + HAND_FRAME[3:10]) + HAND_FRAME[11:]
        with pytest.raises(DecodeError) as caught:
            decode_packet(frame)
        assert caught.value.code == ResultCode.DECRYPT_ERROR

    def test_record_length_beyond_the_frame(self) -> None:
        sfrd = bytearray(HAND_FRAME[11:-2])
        sfrd[0] = 0x40  # RL 64 > the 34 bytes present
        with pytest.raises(DecodeError) as caught:
            decode_packet(_reframe(HAND_FRAME, bytes(sfrd)))
        assert caught.value.code == ResultCode.INVDATALEN

    def test_subrecord_length_beyond_the_record(self) -> None:
        sfrd = bytearray(HAND_FRAME[11:-2])
        sfrd[12] = 0x30  # POS_DATA SRL 48 > the record
        with pytest.raises(DecodeError) as caught:
            decode_packet(_reframe(HAND_FRAME, bytes(sfrd)))
        assert caught.value.code == ResultCode.INVDATALEN

    def test_bad_hex(self) -> None:
        with pytest.raises(DecodeError, match="hex"):
            decode("egts", "01 00 0G")
        with pytest.raises(DecodeError, match="hex"):
            decode("egts", "010")


class TestAbsurdValues:
    def test_speed_rejects_only_that_record(self) -> None:
        good = encode_record(1, [encode_pos_data(T0, 55.0, 37.0)])
        fast = encode_record(2, [encode_pos_data(T0, 55.0, 37.0, speed_kmh=900)])
        packet = decode_packet(encode_packet(4, [good, fast]))
        assert len(packet.positions) == 1
        (rejected,) = packet.rejected
        assert (rejected.rn, rejected.result) == (2, ResultCode.INC_DATAFORM)
        assert "speed" in (rejected.reason or "")
        statuses = [r.subrecords[0].value for r in decode_packet(encode_response(packet)).records]
        assert statuses == [RecordResponse(1, 0), RecordResponse(2, ResultCode.INC_DATAFORM)]

    def test_course_above_359(self) -> None:
        packet = decode_packet(_frame(encode_pos_data(T0, 55.0, 37.0, course=400)))
        assert packet.rejected[0].result == ResultCode.INC_DATAFORM

    def test_time_far_in_the_future(self) -> None:
        frame = _frame(encode_pos_data(T0 + timedelta(days=2), 55.0, 37.0))
        assert decode_packet(frame).positions  # no clock given: no future check
        packet = decode_packet(frame, now=T0)
        assert packet.rejected[0].result == 154  # EGTS_PC_INC_DATETIME

    def test_satellites_above_64(self) -> None:
        frame = _frame(encode_pos_data(T0, 55.0, 37.0), encode_ext_pos_data(satellites=99))
        assert decode_packet(frame).rejected[0].result == ResultCode.INC_DATAFORM

    def test_top_level_decode_raises_on_a_rejected_record(self) -> None:
        frame = _frame(encode_pos_data(T0, 55.0, 37.0, speed_kmh=900))
        with pytest.raises(DecodeError) as caught:
            decode("egts", frame.hex())
        assert caught.value.code == ResultCode.INC_DATAFORM

    def test_packet_error_response_has_no_records(self) -> None:
        packet = EgtsPacket(pid=5, pt=1, skid=0, priority=0, records=(), positions=())
        response = decode_packet(encode_response(packet, ResultCode.DATACRC_ERROR))
        assert (response.rpid, response.pr, response.records) == (5, 138, ())


class TestSplitFrames:
    def test_complete_frames_and_remainder(self) -> None:
        other = _frame(encode_pos_data(T0, 55.0, 37.0), pid=2)
        frames, rest = split_frames(HAND_FRAME + other + HAND_FRAME[:20])
        assert frames == [HAND_FRAME, other]
        assert rest == HAND_FRAME[:20]

    def test_byte_by_byte_stream(self) -> None:
        stream = HAND_FRAME * 3
        buffer = b""
        frames: list[bytes] = []
        for byte in stream:
            found, buffer = split_frames(buffer + bytes([byte]))
            frames.extend(found)
        assert frames == [HAND_FRAME] * 3
        assert buffer == b""

    def test_out_of_step_stream(self) -> None:
        with pytest.raises(DecodeError) as caught:
            split_frames(b"\x07" + HAND_FRAME)
        assert caught.value.code == ResultCode.UNS_PROTOCOL

    def test_bad_header_checksum_in_stream(self) -> None:
        frame = bytearray(HAND_FRAME)
        frame[10] ^= 0xFF
        with pytest.raises(DecodeError) as caught:
            split_frames(bytes(frame))
        assert caught.value.code == ResultCode.HEADERCRC_ERROR

    def test_routing_flag_with_short_header(self) -> None:
        with pytest.raises(DecodeError) as caught:
            split_frames(b"\x01\x00\x20\x0b")
        assert caught.value.code == ResultCode.INC_HEADERFORM
