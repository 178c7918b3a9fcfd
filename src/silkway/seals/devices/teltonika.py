"""Teltonika Codec 8 / Codec 8 Extended over TCP: handshake, AVL packets, acknowledgements.

Pure functions over bytes, plus a small ``TeltonikaSession`` that holds one connection's state
(IMEI, unread bytes) and answers the way the device expects: ``01``/``00`` to the handshake and
the number of accepted records as a big-endian u32 to each packet (0 when it is rejected, so
that the device sends it again).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from silkway.seals.devices.crc import crc16_arc
from silkway.seals.devices.records import (
    DecodeError,
    IoValue,
    Position,
    check_altitude,
    check_coordinates,
    check_course,
    check_satellites,
    check_speed,
    check_time,
    utc_from_unix_ms,
)

__all__ = [
    "CODEC_8",
    "CODEC_8E",
    "IMEI_ACCEPT",
    "IMEI_REJECT",
    "IO_NAMES",
    "KEEP_ALIVE",
    "MAX_PACKET_BYTES",
    "AvlPacket",
    "AvlRecord",
    "TeltonikaSession",
    "decode_avl_packet",
    "decode_imei_handshake",
    "encode_ack",
    "encode_avl_packet",
    "encode_imei_handshake",
    "read_handshake",
    "split_frames",
]

PROTOCOL = "teltonika"
CODEC_8 = 0x08
CODEC_8E = 0x8E
# The device documentation caps an AVL packet at 1,280 bytes; a larger length field means the
# stream is out of step, and trusting it would make a listener buffer arbitrary amounts.
MAX_PACKET_BYTES = 1280
KEEP_ALIVE = 0xFF
IMEI_ACCEPT = b"\x01"
IMEI_REJECT = b"\x00"
# Every rejection acknowledges no record, so the device keeps the data and sends it again.
_REJECTED = 0

IO_NAMES: Mapping[int, str] = {
    1: "din1",
    16: "odometer_m",
    21: "gsm_signal",
    66: "external_voltage_mv",
    67: "battery_mv",
    239: "ignition",
    240: "movement",
    246: "towing",
    247: "crash",
    252: "unplug",
}
# IO elements that are states; they are also exposed as flags (240 as "moving", like EGTS MV).
_FLAG_IO: Mapping[int, str] = {
    239: "ignition",
    240: "moving",
    246: "towing",
    247: "crash",
    252: "unplug",
}

_GPS = struct.Struct(">QBiihHBH")
_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_FRAME_HEAD = struct.Struct(">II")
_VALUE_STRUCTS = {1: _U8, 2: _U16, 4: _U32, 8: _U64}
_FRAME_OVERHEAD = 12  # preamble, data field length, CRC


@dataclass(frozen=True, slots=True)
class AvlPacket:
    """A decoded AVL data packet: codec and one position per AVL record."""

    codec: int
    records: tuple[Position, ...]


@dataclass(frozen=True, slots=True)
class AvlRecord:
    """One AVL record to encode. ``io`` maps an IO id to (value size in bytes, value)."""

    time: datetime
    lat: float
    lon: float
    altitude_m: int = 0
    angle: int = 0
    satellites: int = 0
    speed_kmh: int = 0
    priority: int = 0
    event_io_id: int = 0
    io: Mapping[int, tuple[int, int]] = field(default_factory=dict)
    variable_io: Mapping[int, bytes] = field(default_factory=dict)


def _fail(reason: str) -> DecodeError:
    return DecodeError(PROTOCOL, reason, _REJECTED)


# ---------------------------------------------------------------------------------------------
# Handshake and framing


def decode_imei_handshake(data: bytes) -> str:
    """The IMEI from the opening message: a u16 length (15) and 15 ASCII digits."""
    if len(data) < 2:
        raise _fail(f"handshake truncated ({len(data)} bytes)")
    (length,) = _U16.unpack_from(data, 0)
    if length != 15:
        raise _fail(f"handshake announces {length} IMEI bytes, expected 15")
    if len(data) != 2 + length:
        raise _fail(f"handshake is {len(data)} bytes, expected {2 + length}")
    imei = data[2:]
    if not all(0x30 <= byte <= 0x39 for byte in imei):
        raise _fail("IMEI is not 15 ASCII digits")
    return imei.decode("ascii")


def read_handshake(buffer: bytes) -> tuple[str | None, bytes]:
    """The IMEI of the handshake at the start of ``buffer`` (keep-alive bytes before it skipped)
    and the bytes after it; (None, the bytes still to read) while it is incomplete.

    Raises ``DecodeError`` when the bytes cannot be a handshake.
    """
    buffer = buffer.lstrip(bytes([KEEP_ALIVE]))
    if len(buffer) < 2:
        return None, buffer
    (length,) = _U16.unpack_from(buffer, 0)
    if length == 15 and len(buffer) < 17:
        return None, buffer
    return decode_imei_handshake(buffer[:17]), buffer[17:]


def split_frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Cut complete AVL packets off a TCP stream; return them and the unread remainder.

    Keep-alive bytes (0xFF) between packets are dropped. Raises ``DecodeError`` when the bytes
    cannot start a packet (non-zero preamble, impossible length): the stream is out of step.
    """
    frames: list[bytes] = []
    offset = 0
    size = len(buffer)
    while True:
        while offset < size and buffer[offset] == KEEP_ALIVE:
            offset += 1
        available = size - offset
        if any(buffer[offset : offset + 4]):
            raise _fail("packet does not start with the 00000000 preamble")
        if available < 8:
            return frames, bytes(buffer[offset:])
        (length,) = _U32.unpack_from(buffer, offset + 4)
        _check_data_length(length)
        total = length + _FRAME_OVERHEAD
        if available < total:
            return frames, bytes(buffer[offset:])
        frames.append(bytes(buffer[offset : offset + total]))
        offset += total


def _check_data_length(length: int) -> None:
    if length < 3:
        raise _fail(f"data field length {length} is too short for a packet")
    if length + _FRAME_OVERHEAD > MAX_PACKET_BYTES:
        raise _fail(f"data field length {length} exceeds the {MAX_PACKET_BYTES}-byte packet limit")


# ---------------------------------------------------------------------------------------------
# Decoding


def decode_avl_packet(
    data: bytes, *, device_id: str | None = None, now: datetime | None = None
) -> AvlPacket:
    """Decode one complete Codec 8 or 8E packet, checking lengths, counts and the CRC.

    ``now`` enables the "more than a day in the future" check on record times.
    """
    if len(data) < _FRAME_OVERHEAD + 3:
        raise _fail(f"packet truncated ({len(data)} bytes)")
    preamble, length = _FRAME_HEAD.unpack_from(data, 0)
    if preamble != 0:
        raise _fail("packet does not start with the 00000000 preamble")
    _check_data_length(length)
    if len(data) != length + _FRAME_OVERHEAD:
        raise _fail(f"packet is {len(data)} bytes, data field length announces {length}")
    (crc_field,) = _U32.unpack_from(data, 8 + length)
    computed = crc16_arc(data[8 : 8 + length])
    if crc_field >> 16:
        raise _fail(f"CRC field {crc_field:#010x} has non-zero upper bytes")
    if crc_field != computed:
        raise _fail(f"CRC {crc_field:#06x}, computed {computed:#06x}")
    codec = data[8]
    if codec not in (CODEC_8, CODEC_8E):
        raise _fail(f"unsupported codec {codec:#04x}")
    count, count_2 = data[9], data[8 + length - 1]
    if count != count_2:
        raise _fail(f"number of data 1 ({count}) differs from number of data 2 ({count_2})")
    if count == 0:
        raise _fail("packet holds no record")
    body = memoryview(data)[10 : 8 + length - 1]
    records: list[Position] = []
    offset = 0
    try:
        for _ in range(count):
            position, offset = _decode_record(body, offset, codec, device_id, now)
            records.append(position)
    except (struct.error, IndexError):
        raise _fail(f"record {len(records) + 1} of {count} is truncated") from None
    if offset != len(body):
        raise _fail(f"{len(body) - offset} bytes left after {count} records")
    return AvlPacket(codec, tuple(records))


def _decode_record(
    body: memoryview, offset: int, codec: int, device_id: str | None, now: datetime | None
) -> tuple[Position, int]:
    timestamp, priority, lon_raw, lat_raw, altitude, angle, satellites, speed = _GPS.unpack_from(
        body, offset
    )
    offset += _GPS.size
    extended = codec == CODEC_8E
    small = _U16 if extended else _U8
    (event_io,) = small.unpack_from(body, offset)
    (total,) = small.unpack_from(body, offset + small.size)
    offset += 2 * small.size
    io: dict[str, IoValue] = {"priority": priority, "event_io_id": event_io}
    flags: dict[str, bool] = {}
    seen = 0
    for value_size, value_struct in _VALUE_STRUCTS.items():
        (n,) = small.unpack_from(body, offset)
        offset += small.size
        for _ in range(n):
            (io_id,) = small.unpack_from(body, offset)
            (value,) = value_struct.unpack_from(body, offset + small.size)
            offset += small.size + value_size
            _store_io(io, flags, io_id, value)
        seen += n
    if extended:
        (n,) = _U16.unpack_from(body, offset)
        offset += 2
        for _ in range(n):
            io_id, length = struct.unpack_from(">HH", body, offset)
            offset += 4
            raw = bytes(body[offset : offset + length])
            if len(raw) != length:
                raise IndexError("variable-length IO value truncated")
            offset += length
            io[str(io_id)] = raw.hex()
        seen += n
    if seen != total:
        raise _fail(f"IO total count {total} differs from the {seen} elements present")
    time = utc_from_unix_ms(PROTOCOL, timestamp, _REJECTED)
    lat, lon = lat_raw / 1e7, lon_raw / 1e7
    check_time(PROTOCOL, time, now, _REJECTED)
    check_coordinates(PROTOCOL, lat, lon, _REJECTED)
    check_speed(PROTOCOL, speed, _REJECTED)
    check_course(PROTOCOL, angle, _REJECTED)
    check_altitude(PROTOCOL, altitude, _REJECTED)
    check_satellites(PROTOCOL, satellites, _REJECTED)
    if priority > 2:
        raise _fail(f"absurd value: priority {priority}")
    position = Position(
        device_id=device_id,
        time=time,
        lat=lat,
        lon=lon,
        speed_kmh=float(speed),
        course=angle,
        altitude_m=float(altitude),
        satellites=satellites,
        # Without a fix the device repeats the last coordinates with zero satellites.
        valid=satellites > 0,
        stored=False,
        flags=flags,
        io=io,
        protocol=PROTOCOL,
    )
    return position, offset


def _store_io(io: dict[str, IoValue], flags: dict[str, bool], io_id: int, value: int) -> None:
    io[str(io_id)] = value
    name = IO_NAMES.get(io_id)
    if name is not None:
        io[name] = value
    flag = _FLAG_IO.get(io_id)
    if flag is not None:
        flags[flag] = value != 0


# ---------------------------------------------------------------------------------------------
# Encoding


def encode_ack(count: int) -> bytes:
    """The server's acknowledgement: number of accepted records as a big-endian u32."""
    return _U32.pack(count)


def encode_imei_handshake(imei: str) -> bytes:
    """The device's opening message for ``imei``."""
    raw = imei.encode("ascii")
    return _U16.pack(len(raw)) + raw


def encode_avl_packet(records: Sequence[AvlRecord], codec: int = CODEC_8) -> bytes:
    """A complete AVL packet (preamble, length, records, CRC) in Codec 8 or 8E."""
    if codec not in (CODEC_8, CODEC_8E):
        raise ValueError(f"unsupported codec {codec:#04x}")
    count = bytes([len(records)])
    data = bytes([codec]) + count + b"".join(_encode_record(r, codec) for r in records) + count
    return _FRAME_HEAD.pack(0, len(data)) + data + _U32.pack(crc16_arc(data))


def _encode_record(record: AvlRecord, codec: int) -> bytes:
    extended = codec == CODEC_8E
    small = _U16 if extended else _U8
    millis = round((record.time - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)
    out = _GPS.pack(
        millis,
        record.priority,
        round(record.lon * 1e7),
        round(record.lat * 1e7),
        record.altitude_m,
        record.angle,
        record.satellites,
        record.speed_kmh,
    )
    total = len(record.io) + (len(record.variable_io) if extended else 0)
    out += small.pack(record.event_io_id) + small.pack(total)
    for value_size, value_struct in _VALUE_STRUCTS.items():
        group = [(i, v) for i, (size, v) in record.io.items() if size == value_size]
        out += small.pack(len(group))
        out += b"".join(small.pack(i) + value_struct.pack(v) for i, v in group)
    if extended:
        out += _U16.pack(len(record.variable_io))
        out += b"".join(_U16.pack(i) + _U16.pack(len(v)) + v for i, v in record.variable_io.items())
    return out


# ---------------------------------------------------------------------------------------------
# Session


class TeltonikaSession:
    """One TCP connection: handshake first, then AVL packets and keep-alives.

    ``feed`` returns the bytes to send back and the positions decoded. After a fatal error
    (rejected handshake, stream out of step) ``closed`` is True and the connection should be
    dropped once the reply is sent; ``last_error`` says why the last packet was not accepted.
    """

    def __init__(self, *, accept_imei: Callable[[str], bool] | None = None) -> None:
        self.imei: str | None = None
        self.closed = False
        self.last_error: DecodeError | None = None
        self._accept_imei = accept_imei
        self._buffer = b""

    def feed(self, chunk: bytes, *, now: datetime | None = None) -> tuple[bytes, list[Position]]:
        """Consume bytes received from the device."""
        if self.closed:
            raise DecodeError(PROTOCOL, "connection already closed", _REJECTED)
        self.last_error = None
        self._buffer += chunk
        if self.imei is None:
            return self._handshake(), []
        return self._packets(now)

    def _handshake(self) -> bytes:
        try:
            imei, rest = read_handshake(self._buffer)
        except DecodeError as error:
            return self._close(error, IMEI_REJECT)
        if imei is None:
            self._buffer = rest
            return b""
        if self._accept_imei is not None and not self._accept_imei(imei):
            return self._close(DecodeError(PROTOCOL, f"IMEI {imei} not accepted"), IMEI_REJECT)
        self.imei = imei
        self._buffer = rest
        return IMEI_ACCEPT

    def _packets(self, now: datetime | None) -> tuple[bytes, list[Position]]:
        try:
            frames, self._buffer = split_frames(self._buffer)
        except DecodeError as error:
            return self._close(error, b""), []
        reply = b""
        positions: list[Position] = []
        for frame in frames:
            try:
                packet = decode_avl_packet(frame, device_id=self.imei, now=now)
            except DecodeError as error:
                self.last_error = error
                reply += encode_ack(_REJECTED)
                continue
            positions.extend(packet.records)
            reply += encode_ack(len(packet.records))
        return reply, positions

    def _close(self, error: DecodeError, reply: bytes) -> bytes:
        self.closed = True
        self.last_error = error
        self._buffer = b""
        return reply
