"""Checksums used by the device protocols (EGTS, Wialon IPS 2.0, Teltonika)."""

from __future__ import annotations

import binascii

__all__ = ["crc8_egts", "crc16_arc", "crc16_ccitt"]


def _crc8_table(poly: int) -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ poly) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


def _crc16_reflected_table(poly: int) -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC8_TABLE = _crc8_table(0x31)
_ARC_TABLE = _crc16_reflected_table(0xA001)


def crc8_egts(data: bytes) -> int:
    """CRC-8 of the EGTS transport header: poly 0x31, init 0xFF, no reflection, no xorout."""
    crc = 0xFF
    table = _CRC8_TABLE
    for byte in data:
        crc = table[crc ^ byte]
    return crc


def crc16_ccitt(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of the EGTS service frame data."""
    return binascii.crc_hqx(data, 0xFFFF)


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC, also called CRC-16/IBM (poly 0x8005 reflected, init 0), for Wialon and Teltonika."""
    crc = 0
    table = _ARC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc
