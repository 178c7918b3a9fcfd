"""Checksums against the catalogued check values and a bit-by-bit reference."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from silkway.seals.devices.crc import crc8_egts, crc16_arc, crc16_ccitt

CHECK_INPUT = b"123456789"


def _crc16_arc_bitwise(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _crc8_bitwise(data: bytes) -> int:
    crc = 0xFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def test_crc8_egts_check_value() -> None:
    assert crc8_egts(CHECK_INPUT) == 0xF7


def test_crc16_ccitt_false_check_value() -> None:
    assert crc16_ccitt(CHECK_INPUT) == 0x29B1


def test_crc16_arc_check_value() -> None:
    assert crc16_arc(CHECK_INPUT) == 0xBB3D


def test_empty_input_gives_the_initial_value() -> None:
    assert (crc8_egts(b""), crc16_ccitt(b""), crc16_arc(b"")) == (0xFF, 0xFFFF, 0x0000)


def test_crc16_arc_of_a_published_teltonika_packet() -> None:
    # Codec ID … Number of Data 2 of the Codec 8 example in the device documentation (CRC C7CF).
    data = bytes.fromhex(
        "08010000016B40D8EA30010000000000000000000000000000000105021503010101425E0F01F1"
        "0000601A014E000000000000000001"
    )
    assert crc16_arc(data) == 0xC7CF


@given(st.binary(max_size=300))
def test_tables_agree_with_bitwise_definitions(data: bytes) -> None:
    assert crc8_egts(data) == _crc8_bitwise(data)
    assert crc16_arc(data) == _crc16_arc_bitwise(data)
