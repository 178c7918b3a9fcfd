"""Decoders for the wire protocols of navigation seals and trackers: EGTS, Wialon IPS, Teltonika.

``decode`` turns one captured payload into JSON-able position records; it backs
``silkway devices decode``. The protocol modules hold the streaming and answering pieces a
listener needs.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from silkway.seals.devices import egts, teltonika, wialon
from silkway.seals.devices.records import DecodeError, Position

__all__ = ["PROTOCOLS", "DecodeError", "Position", "decode", "decode_hex"]

PROTOCOLS = ("egts", "wialon", "teltonika")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*", re.ASCII)


def decode_hex(protocol: str, payload: str) -> bytes:
    """Bytes from a hex dump; whitespace between digits is ignored."""
    compact = "".join(payload.split())
    if not compact:
        raise DecodeError(protocol, "empty hex payload")
    if not _HEX.fullmatch(compact):
        raise DecodeError(protocol, "payload is not an even number of hex digits")
    return bytes.fromhex(compact)


def decode(protocol: str, payload: str, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Decode a captured payload into JSON-able position records.

    ``payload`` is hex for ``egts`` and ``teltonika`` (a Teltonika capture may start with the
    IMEI handshake) and the text line(s) for ``wialon``. Anything not accepted, including a
    single rejected record, raises ``DecodeError``.
    """
    if protocol == "wialon":
        positions = wialon.decode_lines(payload, now=now)
    elif protocol == "egts":
        positions = _decode_egts(decode_hex(protocol, payload), now)
    elif protocol == "teltonika":
        positions = _decode_teltonika(decode_hex(protocol, payload), now)
    else:
        raise DecodeError(protocol, f"unknown protocol; expected one of {', '.join(PROTOCOLS)}")
    return [p.as_json() for p in positions]


def _decode_egts(data: bytes, now: datetime | None) -> list[Position]:
    frames, rest = egts.split_frames(data)
    if rest:
        raise DecodeError("egts", f"{len(rest)} trailing bytes do not form a complete frame")
    positions: list[Position] = []
    device_id: str | None = None
    for frame in frames:
        packet = egts.decode_packet(frame, device_id=device_id, now=now)
        if packet.rejected:
            record = packet.rejected[0]
            raise DecodeError("egts", f"record {record.rn}: {record.reason}", record.result)
        identity = packet.identity
        if identity is not None and device_id is None:
            device_id = identity.imei or str(identity.tid)
        positions.extend(packet.positions)
    return positions


def _decode_teltonika(data: bytes, now: datetime | None) -> list[Position]:
    device_id: str | None = None
    if data[:2] == b"\x00\x0f":
        device_id = teltonika.decode_imei_handshake(data[:17])
        data = data[17:]
    frames, rest = teltonika.split_frames(data)
    if rest:
        raise DecodeError(
            "teltonika", f"{len(rest)} trailing bytes do not form a complete packet", 0
        )
    if not frames:
        if device_id is None:
            raise DecodeError("teltonika", "no AVL packet in payload", 0)
        return []
    positions: list[Position] = []
    for frame in frames:
        positions.extend(teltonika.decode_avl_packet(frame, device_id=device_id, now=now).records)
    return positions
