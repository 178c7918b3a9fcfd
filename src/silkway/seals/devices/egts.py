"""EGTS (GOST R 54619-2011 / GOST 33472-2015) transport frames: decoding, responses, builders.

Pure functions over bytes. A frame is rejected as a whole (``DecodeError`` with the EGTS
processing result code) when its transport layer or record structure is broken; a record whose
content is implausible is marked with its own result code, so that the response tells the
terminal exactly which records were not accepted.

``decode_packet`` gives one frame as objects, for answering a terminal; ``decode_columns`` gives
many frames' positions as one ``PositionBatch`` for ingestion, with the same checks and errors.
Both walk frames with the same code and read POS_DATA through the same field layout.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from silkway.seals.devices.crc import crc8_egts, crc16_ccitt
from silkway.seals.devices.records import (
    EARLIEST_FIX,
    MAX_ALTITUDE_M,
    MAX_CLOCK_AHEAD,
    MAX_COURSE,
    MAX_SPEED_KMH,
    MIN_ALTITUDE_M,
    DecodeError,
    IoValue,
    Position,
    check_altitude,
    check_course,
    check_satellites,
    check_speed,
    check_time,
)
from silkway.seals.domain.telemetry import PositionBatch

__all__ = [
    "NTM_EPOCH",
    "AdSensorsData",
    "EgtsColumns",
    "EgtsPacket",
    "ExtPosData",
    "FrameOutcome",
    "PacketType",
    "RecordResponse",
    "ResultCode",
    "Route",
    "Service",
    "ServiceRecord",
    "Subrecord",
    "SubrecordType",
    "TermIdentity",
    "decode_columns",
    "decode_packet",
    "encode_ad_sensors_data",
    "encode_auth_result",
    "encode_ext_pos_data",
    "encode_packet",
    "encode_pos_data",
    "encode_record",
    "encode_record_response",
    "encode_response",
    "encode_subrecord",
    "encode_term_identity",
    "peek_packet_id",
    "split_frames",
]

PROTOCOL = "egts"
NTM_EPOCH = datetime(2010, 1, 1, tzinfo=UTC)
_MAX_NTM = (datetime(9999, 1, 1, tzinfo=UTC) - NTM_EPOCH).days * 86400


class ResultCode(IntEnum):
    """EGTS processing result codes (GOST 33472-2015, appendix B) used by this decoder."""

    OK = 0
    UNS_PROTOCOL = 128
    DECRYPT_ERROR = 129
    INC_HEADERFORM = 131
    INC_DATAFORM = 132
    UNS_TYPE = 133
    HEADERCRC_ERROR = 137
    DATACRC_ERROR = 138
    INVDATALEN = 139
    INC_DATETIME = 154


class PacketType(IntEnum):
    """Transport packet types (PT)."""

    RESPONSE = 0
    APPDATA = 1
    SIGNED_APPDATA = 2


class Service(IntEnum):
    """Services addressed by SST/RST."""

    AUTH = 1
    TELEDATA = 2
    COMMANDS = 4


class SubrecordType(IntEnum):
    """Subrecord types (SRT) this module decodes; others are kept as raw bytes."""

    RECORD_RESPONSE = 0
    TERM_IDENTITY = 1
    RESULT_CODE = 9
    POS_DATA = 16
    EXT_POS_DATA = 17
    AD_SENSORS_DATA = 18


@dataclass(frozen=True, slots=True)
class Route:
    """Routing fields present when RTE=1."""

    pra: int
    rca: int
    ttl: int


@dataclass(frozen=True, slots=True)
class TermIdentity:
    """EGTS_SR_TERM_IDENTITY: who the terminal says it is."""

    tid: int
    imei: str | None = None
    imsi: str | None = None
    hdid: int | None = None
    language: str | None = None
    network_id: int | None = None
    buffer_size: int | None = None
    msisdn: str | None = None
    ssra: bool = False


@dataclass(frozen=True, slots=True)
class RecordResponse:
    """EGTS_SR_RECORD_RESPONSE: confirmation of record ``crn`` with status ``rst``."""

    crn: int
    rst: int


@dataclass(frozen=True, slots=True)
class ExtPosData:
    """EGTS_SR_EXT_POS_DATA: dilution of precision (units of 0.1 on the wire) and satellites."""

    vdop: float | None = None
    hdop: float | None = None
    pdop: float | None = None
    satellites: int | None = None
    navigation_systems: int | None = None


@dataclass(frozen=True, slots=True)
class AdSensorsData:
    """EGTS_SR_AD_SENSORS_DATA: extra digital input octets, outputs and analog inputs."""

    digital_inputs: Mapping[int, int]
    digital_outputs: int
    analog_inputs: Mapping[int, int]


SubrecordValue = TermIdentity | RecordResponse | ExtPosData | AdSensorsData | Position | int


@dataclass(frozen=True, slots=True)
class Subrecord:
    """One subrecord: its type, raw data and the decoded value when the type is known."""

    srt: int
    data: bytes
    value: SubrecordValue | None = None


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    """One service data record; ``result`` is 0 when accepted, else the EGTS result code."""

    rn: int
    sst: int
    rst: int
    subrecords: tuple[Subrecord, ...]
    oid: int | None = None
    evid: int | None = None
    time: datetime | None = None
    result: int = ResultCode.OK
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class EgtsPacket:
    """A decoded transport packet; ``positions`` come from accepted records only."""

    pid: int
    pt: int
    skid: int
    priority: int
    records: tuple[ServiceRecord, ...]
    positions: tuple[Position, ...]
    route: Route | None = None
    rpid: int | None = None
    pr: int | None = None

    @property
    def identity(self) -> TermIdentity | None:
        """The first TERM_IDENTITY carried by the packet, if any."""
        return _find_identity(self.records)

    @property
    def rejected(self) -> tuple[ServiceRecord, ...]:
        """Records not accepted, each with its result code and reason."""
        return tuple(r for r in self.records if r.result != ResultCode.OK)


_HEADER = struct.Struct("<BBBBBHHB")
_ROUTE = struct.Struct("<HHB")
_RECORD_HEAD = struct.Struct("<HHB")
_SUBRECORD_HEAD = struct.Struct("<BH")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_RESPONSE_HEAD = struct.Struct("<HB")
# The fixed part of POS_DATA in wire order, read by struct (one fix) and numpy (many) alike.
_POS_LAYOUT = (
    ("ntm", "I"),  # seconds since 2010-01-01 UTC
    ("lat", "I"),  # |latitude| / 90 * 0xFFFFFFFF
    ("lon", "I"),  # |longitude| / 180 * 0xFFFFFFFF
    ("flg", "B"),
    ("spd", "H"),  # speed in 0.1 km/h (14 bits), ALTS, DIRH
    ("dir", "B"),  # course, low 8 bits
    ("odm", "3s"),  # odometer in 0.1 km
    ("din", "B"),
    ("src", "B"),
)
_NUMPY_FORMAT: dict[str, tuple[str] | tuple[str, tuple[int]]] = {
    "I": ("<u4",),
    "H": ("<u2",),
    "B": ("u1",),
    "3s": ("u1", (3,)),
}
_POS = struct.Struct("<" + "".join(code for _, code in _POS_LAYOUT))
_POS_DTYPE = np.dtype([(name, *_NUMPY_FORMAT[code]) for name, code in _POS_LAYOUT])
_ALT_LEN = 3
_SRCD_LEN = 2
_POS_MAX_LEN = _POS.size + _ALT_LEN + _SRCD_LEN
_SRT_POS_DATA = int(SubrecordType.POS_DATA)
_SRT_EXT_POS_DATA = int(SubrecordType.EXT_POS_DATA)
_SHORT_HEADER_LEN = 11
_ROUTED_HEADER_LEN = 16

_FLG_VLD, _FLG_CS, _FLG_FIX, _FLG_BB, _FLG_MV, _FLG_LAHS, _FLG_LOHS, _FLG_ALTE = (
    1 << bit for bit in range(8)
)
_SPD_ALTS = 1 << 14
_SPD_DIRH = 1 << 15
_LAT_SCALE = 90.0 / 0xFFFFFFFF
_LON_SCALE = 180.0 / 0xFFFFFFFF


def _fail(reason: str, code: int) -> DecodeError:
    return DecodeError(PROTOCOL, reason, code)


# ---------------------------------------------------------------------------------------------
# Framing


def _frame_length(buffer: bytes, offset: int) -> int | None:
    """Length of the frame at ``offset``, None while the header is incomplete."""
    available = len(buffer) - offset
    if available < 1:
        return None
    if buffer[offset] != 1:
        raise _fail(f"unsupported protocol version {buffer[offset]}", ResultCode.UNS_PROTOCOL)
    if available < 4:
        return None
    routed = buffer[offset + 2] & 0x20
    hl = buffer[offset + 3]
    expected = _ROUTED_HEADER_LEN if routed else _SHORT_HEADER_LEN
    if hl != expected:
        raise _fail(
            f"header length {hl}, expected {expected} (RTE={1 if routed else 0})",
            ResultCode.INC_HEADERFORM,
        )
    if available < hl:
        return None
    hcs = crc8_egts(buffer[offset : offset + hl - 1])
    if hcs != buffer[offset + hl - 1]:
        raise _fail(
            f"header checksum {buffer[offset + hl - 1]:#04x}, computed {hcs:#04x}",
            ResultCode.HEADERCRC_ERROR,
        )
    fdl: int = _U16.unpack_from(buffer, offset + 5)[0]
    return hl + fdl + (2 if fdl else 0)


def split_frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Cut complete frames off the front of a TCP byte stream; return them and the remainder.

    Raises ``DecodeError`` when a header cannot start a frame (wrong PRV, HL, or HCS): the
    stream is then out of step and the connection should be dropped.
    """
    frames: list[bytes] = []
    offset = 0
    while True:
        length = _frame_length(buffer, offset)
        if length is None or len(buffer) - offset < length:
            return frames, bytes(buffer[offset:])
        frames.append(bytes(buffer[offset : offset + length]))
        offset += length


def peek_packet_id(frame: bytes) -> int | None:
    """The PID of a frame whose header is at least long enough to hold one, else None.

    Lets a listener address an error response to a frame that failed to decode.
    """
    if len(frame) < 9:
        return None
    (pid,) = _U16.unpack_from(frame, 7)
    return int(pid)


# ---------------------------------------------------------------------------------------------
# Decoding


def decode_packet(
    data: bytes, *, device_id: str | None = None, now: datetime | None = None
) -> EgtsPacket:
    """Decode one complete EGTS frame.

    ``device_id`` is the identity the connection already established; without it positions take
    the IMEI (else TID) of a TERM_IDENTITY in the same packet, else the record's OID. ``now``
    enables the "more than a day in the future" check on fix times.
    """
    frame = _open_frame(data)
    walk = _Walk.empty()
    _walk_records(frame.sfrd, frame.start, walk)
    records = tuple(_decode_record(walk, i, frame.sfrd, now) for i in range(len(walk.rn)))
    return EgtsPacket(
        pid=frame.pid,
        pt=frame.pt,
        skid=frame.skid,
        priority=frame.priority,
        records=records,
        positions=_collect_positions(records, device_id),
        route=frame.route,
        rpid=frame.rpid,
        pr=frame.pr,
    )


class _Frame(NamedTuple):
    """A frame whose transport layer checked out: its header and its service frame data."""

    pid: int
    pt: int
    skid: int
    priority: int
    route: Route | None
    rpid: int | None
    pr: int | None
    sfrd: bytes
    start: int
    """Where the first record begins in ``sfrd``."""


def _open_frame(data: bytes) -> _Frame:
    length = _frame_length(data, 0)
    if length is None:
        raise _fail(f"truncated header ({len(data)} bytes)", ResultCode.INVDATALEN)
    if len(data) != length:
        raise _fail(f"frame is {len(data)} bytes, header announces {length}", ResultCode.INVDATALEN)
    _prv, skid, flags, hl, he, fdl, pid, pt = _HEADER.unpack_from(data, 0)
    if flags >> 6:
        raise _fail(f"unsupported prefix PRF={flags >> 6}", ResultCode.UNS_PROTOCOL)
    if flags & 0x18:
        raise _fail("encrypted frames are not supported", ResultCode.DECRYPT_ERROR)
    if flags & 0x04:
        raise _fail("compressed frames are not supported", ResultCode.UNS_PROTOCOL)
    if he != 0:
        raise _fail(f"unsupported header encoding {he}", ResultCode.INC_HEADERFORM)
    route = Route(*_ROUTE.unpack_from(data, 10)) if hl == _ROUTED_HEADER_LEN else None
    sfrd = bytes(data[hl : hl + fdl])
    if fdl:
        (sfrcs,) = _U16.unpack_from(data, hl + fdl)
        computed = crc16_ccitt(sfrd)
        if sfrcs != computed:
            raise _fail(
                f"data checksum {sfrcs:#06x}, computed {computed:#06x}", ResultCode.DATACRC_ERROR
            )
    rpid: int | None = None
    pr: int | None = None
    start = 0
    if pt == PacketType.RESPONSE:
        if fdl < _RESPONSE_HEAD.size:
            raise _fail(f"response too short ({fdl} bytes)", ResultCode.INVDATALEN)
        rpid, pr = _RESPONSE_HEAD.unpack_from(sfrd, 0)
        start = _RESPONSE_HEAD.size
    elif pt == PacketType.SIGNED_APPDATA:
        if fdl < 2:
            raise _fail("signed frame without signature length", ResultCode.INVDATALEN)
        (sigl,) = _U16.unpack_from(sfrd, 0)
        start = 2 + sigl
        if start > fdl:
            raise _fail(f"signature length {sigl} exceeds frame data", ResultCode.INVDATALEN)
    elif pt != PacketType.APPDATA:
        raise _fail(f"unknown packet type {pt}", ResultCode.UNS_TYPE)
    return _Frame(pid, pt, skid, flags & 0x03, route, rpid, pr, sfrd, start)


class _Walk(NamedTuple):
    """Records and their subrecords as parallel lists, subrecords not yet decoded.

    Lists of numbers rather than an object per record: they leave nothing for the garbage
    collector to trace, which matters at thousands of records a second.
    """

    rn: list[int]
    sst: list[int]
    rst: list[int]
    oid: list[int | None]
    evid: list[int | None]
    tm: list[int | None]
    first: list[int]
    """Index of each record's first subrecord."""
    srt: list[int]
    offset: list[int]
    """Where each subrecord's data starts."""
    srl: list[int]

    @classmethod
    def empty(cls) -> _Walk:
        return cls([], [], [], [], [], [], [], [], [], [])

    def subrecords(self, record: int) -> range:
        stop = self.first[record + 1] if record + 1 < len(self.first) else len(self.srt)
        return range(self.first[record], stop)


def _walk_records(sfrd: bytes, offset: int, walk: _Walk, base: int = 0) -> None:
    """Append the records of ``sfrd`` from ``offset`` to ``walk``, subrecord offsets + ``base``.

    A frame whose lengths do not add up is refused; ``walk`` then holds part of it.
    """
    rns, ssts, rsts, oids, evids, tms, first, srts, offsets, srls = walk
    record_head, subrecord_head = _RECORD_HEAD.unpack_from, _SUBRECORD_HEAD.unpack_from
    end = len(sfrd)
    while offset < end:
        if end - offset < _RECORD_HEAD.size:
            raise _fail("truncated record header", ResultCode.INVDATALEN)
        rl, rn, rfl = record_head(sfrd, offset)
        offset += _RECORD_HEAD.size
        if end - offset < 4 * (rfl & 0x07).bit_count() + 2:
            raise _fail(f"truncated header of record {rn}", ResultCode.INVDATALEN)
        oid = evid = tm = None
        if rfl & 0x01:
            (oid,) = _U32.unpack_from(sfrd, offset)
            offset += 4
        if rfl & 0x02:
            (evid,) = _U32.unpack_from(sfrd, offset)
            offset += 4
        if rfl & 0x04:
            (tm,) = _U32.unpack_from(sfrd, offset)
            offset += 4
        rns.append(rn)
        ssts.append(sfrd[offset])
        rsts.append(sfrd[offset + 1])
        oids.append(oid)
        evids.append(evid)
        tms.append(tm)
        first.append(len(srts))
        offset += 2
        if end - offset < rl:
            raise _fail(
                f"record {rn} announces {rl} bytes, {end - offset} remain", ResultCode.INVDATALEN
            )
        stop = offset + rl
        while offset < stop:
            if stop - offset < _SUBRECORD_HEAD.size:
                raise _fail(f"truncated subrecord header in record {rn}", ResultCode.INVDATALEN)
            srt, srl = subrecord_head(sfrd, offset)
            offset += _SUBRECORD_HEAD.size
            if stop - offset < srl:
                raise _fail(
                    f"subrecord {srt} of record {rn} announces {srl} bytes, {stop - offset} remain",
                    ResultCode.INVDATALEN,
                )
            srts.append(srt)
            offsets.append(base + offset)
            srls.append(srl)
            offset += srl


def _decode_record(walk: _Walk, record: int, sfrd: bytes, now: datetime | None) -> ServiceRecord:
    rn, sst, rst = walk.rn[record], walk.sst[record], walk.rst[record]
    oid, evid, tm = walk.oid[record], walk.evid[record], walk.tm[record]
    raw_subrecords = [
        (walk.srt[k], sfrd[walk.offset[k] : walk.offset[k] + walk.srl[k]])
        for k in walk.subrecords(record)
    ]
    try:
        time = _ntm_time(tm) if tm is not None else None
        subrecords = tuple(
            Subrecord(srt, data, _decode_subrecord(srt, data, now)) for srt, data in raw_subrecords
        )
    except DecodeError as error:
        code = error.code if isinstance(error.code, int) else ResultCode.INC_DATAFORM
        return ServiceRecord(
            rn=rn,
            sst=sst,
            rst=rst,
            subrecords=tuple(Subrecord(srt, data) for srt, data in raw_subrecords),
            oid=oid,
            evid=evid,
            result=code,
            reason=error.reason,
        )
    return ServiceRecord(
        rn=rn, sst=sst, rst=rst, subrecords=subrecords, oid=oid, evid=evid, time=time
    )


def _decode_subrecord(srt: int, data: bytes, now: datetime | None) -> SubrecordValue | None:
    if srt == _SRT_POS_DATA:
        return _decode_pos_data(data, now)
    if srt == _SRT_EXT_POS_DATA:
        return _decode_ext_pos_data(data)
    if srt == SubrecordType.TERM_IDENTITY:
        return _decode_term_identity(data)
    if srt == SubrecordType.AD_SENSORS_DATA:
        return _decode_ad_sensors_data(data)
    if srt == SubrecordType.RECORD_RESPONSE:
        _expect_length("RECORD_RESPONSE", data, 3)
        crn, status = _RESPONSE_HEAD.unpack_from(data, 0)
        return RecordResponse(crn, status)
    if srt == SubrecordType.RESULT_CODE:
        _expect_length("RESULT_CODE", data, 1)
        return data[0]
    return None


def _expect_length(name: str, data: bytes, expected: int) -> None:
    if len(data) != expected:
        raise _fail(f"{name} is {len(data)} bytes, expected {expected}", ResultCode.INC_DATAFORM)


def _ntm_time(ntm: int) -> datetime:
    if ntm > _MAX_NTM:
        raise _fail(f"absurd value: time {ntm} s after 2010", ResultCode.INC_DATETIME)
    return NTM_EPOCH + timedelta(seconds=ntm)


def _decode_pos_data(data: bytes, now: datetime | None) -> Position:
    if len(data) < _POS.size:
        raise _fail(f"POS_DATA is {len(data)} bytes, expected 21 or 24", ResultCode.INC_DATAFORM)
    ntm, lat_raw, lon_raw, flg, spd, direction, odm, din, src = _POS.unpack_from(data, 0)
    expected = _POS.size + (_ALT_LEN if flg & _FLG_ALTE else 0)
    # GOST 33472 allows an optional 2-byte SRCD after the fixed part; its presence is known
    # only from the subrecord length, so exactly +2 bytes is accepted and anything else is not.
    if len(data) not in (expected, expected + _SRCD_LEN):
        raise _fail(f"POS_DATA is {len(data)} bytes, expected {expected}", ResultCode.INC_DATAFORM)
    time = _ntm_time(ntm)
    check_time(PROTOCOL, time, now, ResultCode.INC_DATETIME)
    lat = lat_raw * _LAT_SCALE
    lon = lon_raw * _LON_SCALE
    if flg & _FLG_LAHS:
        lat = -lat
    if flg & _FLG_LOHS:
        lon = -lon
    speed = (spd & 0x3FFF) / 10
    # DIRH is bit 15 of SPD and is bit 8 of the course, so it weighs 256, not 128.
    course = direction + (256 if spd & _SPD_DIRH else 0)
    altitude: float | None = None
    if flg & _FLG_ALTE:
        altitude = float(int.from_bytes(data[_POS.size : _POS.size + _ALT_LEN], "little"))
        if spd & _SPD_ALTS:
            altitude = -altitude
    check_speed(PROTOCOL, speed, ResultCode.INC_DATAFORM)
    check_course(PROTOCOL, course, ResultCode.INC_DATAFORM)
    check_altitude(PROTOCOL, altitude, ResultCode.INC_DATAFORM)
    io: dict[str, IoValue] = {
        "odometer_km": int.from_bytes(odm, "little") / 10,
        "digital_inputs": din,
        "source": src,
    }
    if len(data) == expected + _SRCD_LEN:
        io["source_data"] = _U16.unpack_from(data, expected)[0]
    return Position(
        device_id=None,
        time=time,
        lat=lat,
        lon=lon,
        speed_kmh=speed,
        course=course,
        altitude_m=altitude,
        satellites=None,
        valid=bool(flg & _FLG_VLD),
        stored=bool(flg & _FLG_BB),
        flags={
            "fix_3d": bool(flg & _FLG_FIX),
            "pz90": bool(flg & _FLG_CS),
            "moving": bool(flg & _FLG_MV),
        },
        io=io,
        protocol=PROTOCOL,
    )


def _decode_ext_pos_data(data: bytes) -> ExtPosData:
    if not data:
        raise _fail("EXT_POS_DATA is empty", ResultCode.INC_DATAFORM)
    flags = data[0]
    expected = 1 + 2 * (flags & 0x07).bit_count() + (1 if flags & 0x08 else 0)
    expected += 2 if flags & 0x10 else 0
    _expect_length("EXT_POS_DATA", data, expected)
    offset = 1
    dops: list[float | None] = []
    for bit in (0x01, 0x02, 0x04):
        if flags & bit:
            dops.append(_U16.unpack_from(data, offset)[0] / 10)
            offset += 2
        else:
            dops.append(None)
    satellites: int | None = None
    systems: int | None = None
    if flags & 0x08:
        satellites = data[offset]
        offset += 1
        check_satellites(PROTOCOL, satellites, ResultCode.INC_DATAFORM)
    if flags & 0x10:
        systems = _U16.unpack_from(data, offset)[0]
    return ExtPosData(dops[0], dops[1], dops[2], satellites, systems)


# (flag bit, field size) in wire order; SSRA (bit 4) is a flag without a field.
_TERM_IDENTITY_FIELDS = (
    (0x01, 2),  # HDID
    (0x02, 15),  # IMEI
    (0x04, 16),  # IMSI
    (0x08, 3),  # LNGC
    (0x20, 3),  # NID
    (0x40, 2),  # BS
    (0x80, 15),  # MSISDN
)


def _ascii_field(name: str, raw: bytes) -> str:
    try:
        text = raw.decode("ascii").rstrip("\x00")
    except UnicodeDecodeError:
        raise _fail(f"{name} is not ASCII", ResultCode.INC_DATAFORM) from None
    if not text.isprintable():
        raise _fail(f"{name} holds control characters", ResultCode.INC_DATAFORM)
    return text


def _decode_term_identity(data: bytes) -> TermIdentity:
    if len(data) < 5:
        raise _fail(f"TERM_IDENTITY is {len(data)} bytes", ResultCode.INC_DATAFORM)
    (tid,) = _U32.unpack_from(data, 0)
    flags = data[4]
    expected = 5 + sum(size for bit, size in _TERM_IDENTITY_FIELDS if flags & bit)
    _expect_length("TERM_IDENTITY", data, expected)
    fields: dict[int, bytes] = {}
    offset = 5
    for bit, size in _TERM_IDENTITY_FIELDS:
        if flags & bit:
            fields[bit] = data[offset : offset + size]
            offset += size
    imei: str | None = None
    if 0x02 in fields:
        imei = _ascii_field("IMEI", fields[0x02])
        if len(imei) != 15 or not imei.isdigit():
            raise _fail(f"IMEI {imei!r} is not 15 digits", ResultCode.INC_DATAFORM)
    return TermIdentity(
        tid=tid,
        imei=imei,
        imsi=_ascii_field("IMSI", fields[0x04]) if 0x04 in fields else None,
        hdid=_U16.unpack_from(fields[0x01])[0] if 0x01 in fields else None,
        language=_ascii_field("LNGC", fields[0x08]) if 0x08 in fields else None,
        network_id=int.from_bytes(fields[0x20], "little") if 0x20 in fields else None,
        buffer_size=_U16.unpack_from(fields[0x40])[0] if 0x40 in fields else None,
        msisdn=_ascii_field("MSISDN", fields[0x80]) if 0x80 in fields else None,
        ssra=bool(flags & 0x10),
    )


def _decode_ad_sensors_data(data: bytes) -> AdSensorsData:
    if len(data) < 3:
        raise _fail(f"AD_SENSORS_DATA is {len(data)} bytes", ResultCode.INC_DATAFORM)
    dioe, dout, asfe = data[0], data[1], data[2]
    inputs = [n for n in range(8) if dioe >> n & 1]
    analog = [n for n in range(8) if asfe >> n & 1]
    _expect_length("AD_SENSORS_DATA", data, 3 + len(inputs) + 3 * len(analog))
    offset = 3
    digital: dict[int, int] = {}
    for n in inputs:
        digital[n + 1] = data[offset]
        offset += 1
    analog_values: dict[int, int] = {}
    for n in analog:
        analog_values[n + 1] = int.from_bytes(data[offset : offset + 3], "little")
        offset += 3
    return AdSensorsData(digital, dout, analog_values)


def _find_identity(records: Sequence[ServiceRecord]) -> TermIdentity | None:
    for record in records:
        for subrecord in record.subrecords:
            if isinstance(subrecord.value, TermIdentity):
                return subrecord.value
    return None


def _packet_device(records: Sequence[ServiceRecord], device_id: str | None) -> str | None:
    """Whose positions these are: the connection's identity, else the packet's TERM_IDENTITY."""
    if device_id is None:
        identity = _find_identity(records)
        if identity is not None:
            device_id = identity.imei or str(identity.tid)
    return device_id


def _collect_positions(
    records: Sequence[ServiceRecord], device_id: str | None
) -> tuple[Position, ...]:
    device_id = _packet_device(records, device_id)
    positions: list[Position] = []
    for record in records:
        if record.result == ResultCode.OK:
            owner = device_id if device_id is not None else _optional_str(record.oid)
            positions.extend(_record_positions(record, owner))
    return tuple(positions)


def _record_positions(record: ServiceRecord, owner: str | None) -> list[Position]:
    """The fixes of an accepted record, with what its other subrecords add to each."""
    fixes = [s.value for s in record.subrecords if isinstance(s.value, Position)]
    if not fixes:
        return []
    satellites: int | None = None
    extra: dict[str, IoValue] = {}
    for subrecord in record.subrecords:
        value = subrecord.value
        if isinstance(value, ExtPosData):
            satellites = value.satellites
            extra.update(_ext_pos_io(value))
        elif isinstance(value, AdSensorsData):
            extra.update(_ad_sensors_io(value))
    # Built field by field: dataclasses.replace costs several times more per position.
    return [
        Position(
            device_id=owner,
            time=fix.time,
            lat=fix.lat,
            lon=fix.lon,
            speed_kmh=fix.speed_kmh,
            course=fix.course,
            altitude_m=fix.altitude_m,
            satellites=satellites,
            valid=fix.valid,
            stored=fix.stored,
            flags=dict(fix.flags),
            io={**fix.io, **extra},
            protocol=PROTOCOL,
        )
        for fix in fixes
    ]


def _optional_str(value: int | None) -> str | None:
    return None if value is None else str(value)


def _ext_pos_io(value: ExtPosData) -> dict[str, IoValue]:
    io: dict[str, IoValue] = {}
    for name, item in (
        ("vdop", value.vdop),
        ("hdop", value.hdop),
        ("pdop", value.pdop),
        ("navigation_systems", value.navigation_systems),
    ):
        if item is not None:
            io[name] = item
    return io


def _ad_sensors_io(value: AdSensorsData) -> dict[str, IoValue]:
    io: dict[str, IoValue] = {"dout": value.digital_outputs}
    io.update({f"adio{n}": v for n, v in value.digital_inputs.items()})
    io.update({f"ans{n}": v for n, v in value.analog_inputs.items()})
    return io


# ---------------------------------------------------------------------------------------------
# Decoding into columns

_IntArray = npt.NDArray[np.int64]
_Index = npt.NDArray[np.intp]
_NTM_EPOCH_S = int(NTM_EPOCH.timestamp())
_EARLIEST_S = int(EARLIEST_FIX.timestamp())
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Subrecords only the per-record path decodes: a record holding one is decoded that way.
_PER_RECORD_SRT = np.array(
    [
        SubrecordType.RECORD_RESPONSE,
        SubrecordType.TERM_IDENTITY,
        SubrecordType.RESULT_CODE,
        SubrecordType.EXT_POS_DATA,
        SubrecordType.AD_SENSORS_DATA,
    ],
    dtype=np.int64,
)


class _Refused(NamedTuple):
    pid: int | None
    error: DecodeError


@dataclass(frozen=True, slots=True)
class FrameOutcome:
    """What became of one frame given to :func:`decode_columns`."""

    pid: int | None
    """None when the frame is too short to hold one."""
    pt: int | None
    """None when the frame was refused."""
    identity: TermIdentity | None
    rejected: tuple[ServiceRecord, ...]
    """The records not accepted, each with its result code and reason."""
    fixes: int
    """How many of the batch's positions are this frame's (they follow the order of frames)."""
    error: DecodeError | None = None
    """Why the whole frame was refused: what :func:`decode_packet` raises for it."""


@dataclass(frozen=True, slots=True)
class EgtsColumns:
    """Frames decoded for ingestion: their positions as one batch, and what became of each."""

    frames: tuple[FrameOutcome, ...]
    positions: PositionBatch


def decode_columns(
    frames: Sequence[bytes], *, device_id: str | None = None, now: datetime | None = None
) -> EgtsColumns:
    """Decode complete EGTS frames, each as :func:`decode_packet` does, positions as columns.

    Each frame goes through the same checks: one that :func:`decode_packet` refuses is reported
    with the same error, and its records with the same result codes and reasons. ``positions``
    holds, in order, the positions :func:`decode_packet` gives for every frame. Records holding
    only POS_DATA, the bulk of telemetry, are read together with numpy; any other record (an
    identity, extended position or sensor data, a fix that fails a check) is decoded on its own
    by :func:`decode_packet`'s path.
    """
    scan = _Scan(device_id, now)
    for data in frames:
        scan.add(data)
    return scan.finish()


class _Scan:
    """The frames of one :func:`decode_columns` call: walked one by one, decoded together."""

    def __init__(self, device_id: str | None, now: datetime | None) -> None:
        self.device_id = device_id
        self.now = now
        self.heads: list[_Frame | _Refused] = []
        self.records: list[int] = []
        """How many records each frame holds."""
        self.walk = _Walk.empty()
        """Every record of every frame, subrecord offsets into the frames' data joined."""
        self.data: list[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> None:
        walk = self.walk
        columns: tuple[list[Any], ...] = walk
        marks = [len(column) for column in columns]
        try:
            frame = _open_frame(data)
            _walk_records(frame.sfrd, frame.start, walk, self.size)
        except DecodeError as error:
            # A refused frame leaves nothing behind.
            for column, mark in zip(columns, marks, strict=True):
                del column[mark:]
            self.heads.append(_Refused(peek_packet_id(data), error))
            self.records.append(0)
            return
        self.heads.append(frame)
        self.records.append(len(walk.rn) - marks[0])
        self.data.append(frame.sfrd)
        self.size += len(frame.sfrd)

    def finish(self) -> EgtsColumns:
        walk, data = self.walk, b"".join(self.data)
        frame_of = np.repeat(np.arange(len(self.heads)), self.records)
        srt = np.array(walk.srt, dtype=np.int64)
        record_of_sub = np.repeat(np.arange(len(walk.rn)), np.diff([*walk.first, len(srt)]))
        # Records of POS_DATA alone are read together; any other is decoded on its own.
        alone = np.array([t is not None and t > _MAX_NTM for t in walk.tm], dtype=np.bool_)
        alone[record_of_sub[np.isin(srt, _PER_RECORD_SRT)]] = True
        fix = (srt == _SRT_POS_DATA) & ~alone[record_of_sub]
        record_of = record_of_sub[fix]
        offsets = np.array(walk.offset, dtype=np.intp)[fix]
        fixes = _pos_columns(data, offsets, np.array(walk.srl, dtype=np.intp)[fix], self.now)
        if fixes.bad.any():
            # A fix that fails a check refuses its whole record: decoded on its own, the record
            # gets the result code and reason decode_packet gives it.
            failed = np.unique(record_of[fixes.bad])
            alone[failed] = True
            keep = ~np.isin(record_of, failed)
            fixes = _Fixes._make(column[keep] for column in fixes)
            record_of = record_of[keep]
        decoded = {
            number: _decode_record(walk, number, data, self.now)
            for number in np.flatnonzero(alone).tolist()
        }
        by_frame: list[list[ServiceRecord]] = [[] for _ in self.heads]
        for number, record in decoded.items():
            by_frame[frame_of[number]].append(record)
        device_ids, owner = self._owners(frame_of, by_frame)
        positions = _fix_batch(fixes, device_ids, owner[record_of])
        late: list[Position] = []
        late_record: list[int] = []
        for number, record in decoded.items():
            if record.result == ResultCode.OK:
                found = _record_positions(record, device_ids[owner[number]])
                late.extend(found)
                late_record.extend([number] * len(found))
        if late:
            # Back into the order of records, as decode_packet lists them.
            merged = PositionBatch.concat([positions, PositionBatch.from_positions(late)])
            record_of = np.concatenate([record_of, np.array(late_record, dtype=np.intp)])
            order = np.argsort(record_of, kind="stable")
            positions, record_of = merged.take(order), record_of[order]
        counts = np.bincount(frame_of[record_of], minlength=len(self.heads)).tolist()
        return EgtsColumns(
            frames=tuple(map(_outcome, self.heads, by_frame, counts)),
            positions=positions,
        )

    def _owners(
        self, frame_of: _Index, by_frame: list[list[ServiceRecord]]
    ) -> tuple[tuple[str | None, ...], _IntArray]:
        """Whose each record's fixes are: the frame's identity, else the record's OID."""
        names: dict[str | None, int] = {}
        devices = (_packet_device(decoded, self.device_id) for decoded in by_frame)
        of_frame = np.array(
            [-1 if d is None else names.setdefault(d, len(names)) for d in devices],
            dtype=np.int64,
        )
        owner = of_frame[frame_of]
        for number in np.flatnonzero(owner < 0).tolist():
            owner[number] = names.setdefault(_optional_str(self.walk.oid[number]), len(names))
        return tuple(names), owner


def _outcome(head: _Frame | _Refused, decoded: list[ServiceRecord], fixes: int) -> FrameOutcome:
    if isinstance(head, _Refused):
        return FrameOutcome(head.pid, None, None, (), 0, head.error)
    rejected = tuple(r for r in decoded if r.result != ResultCode.OK)
    return FrameOutcome(head.pid, head.pt, _find_identity(decoded), rejected, fixes)


class _Fixes(NamedTuple):
    """POS_DATA subrecords as columns, and which of them fail a check."""

    seconds: _IntArray
    """Fix time, seconds since the Unix epoch."""
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    speed: npt.NDArray[np.float64]
    course: _IntArray
    altitude: npt.NDArray[np.float64]
    """NaN when ALTE is not set."""
    flg: npt.NDArray[np.uint8]
    odometer: npt.NDArray[np.float64]
    din: npt.NDArray[np.uint8]
    src: npt.NDArray[np.uint8]
    source_data: _IntArray
    """-1 when the subrecord carries no SRCD."""
    bad: npt.NDArray[np.bool_]


def _pos_columns(sfrd: bytes, offsets: _Index, sizes: _Index, now: datetime | None) -> _Fixes:
    """The POS_DATA subrecords at ``offsets`` read at once, with the checks of _decode_pos_data."""
    wire = np.frombuffer(sfrd + bytes(_POS_MAX_LEN), dtype=np.uint8)
    raw = wire[offsets[:, None] + np.arange(_POS_MAX_LEN)]
    head = np.ascontiguousarray(raw[:, : _POS.size]).view(_POS_DTYPE)[:, 0]
    flg, spd = head["flg"], head["spd"]
    alte = (flg & _FLG_ALTE) != 0
    expected = np.where(alte, _POS.size + _ALT_LEN, _POS.size)
    has_srcd = sizes == expected + _SRCD_LEN
    bad = (sizes != expected) & ~has_srcd
    ntm = head["ntm"].astype(np.int64)
    seconds = ntm + _NTM_EPOCH_S
    # As _ntm_time and check_time (an NTM, counted from 2010, is never before 2000).
    bad |= (ntm > _MAX_NTM) | (seconds < _EARLIEST_S)
    if now is not None:
        limit_us = (now + MAX_CLOCK_AHEAD - _UNIX_EPOCH) // timedelta(microseconds=1)
        bad |= seconds * 1_000_000 > limit_us
    lat = head["lat"] * _LAT_SCALE
    lon = head["lon"] * _LON_SCALE
    np.negative(lat, out=lat, where=(flg & _FLG_LAHS) != 0)
    np.negative(lon, out=lon, where=(flg & _FLG_LOHS) != 0)
    speed = (spd & 0x3FFF) / 10
    course = head["dir"].astype(np.int64) + np.where(spd & _SPD_DIRH, 256, 0)
    altitude = _le_uint(raw[:, _POS.size : _POS.size + _ALT_LEN]).astype(np.float64)
    np.negative(altitude, out=altitude, where=(spd & _SPD_ALTS) != 0)
    altitude[~alte] = np.nan
    bad |= (speed > MAX_SPEED_KMH) | (course > MAX_COURSE)
    bad |= alte & ~((altitude >= MIN_ALTITUDE_M) & (altitude <= MAX_ALTITUDE_M))
    rows = np.arange(len(offsets))
    source_data = (
        raw[rows, expected].astype(np.int64) | raw[rows, expected + 1].astype(np.int64) << 8
    )
    return _Fixes(
        seconds=seconds,
        lat=lat,
        lon=lon,
        speed=speed,
        course=course,
        altitude=altitude,
        flg=flg,
        odometer=_le_uint(head["odm"]) / 10,
        din=head["din"],
        src=head["src"],
        source_data=np.where(has_srcd, source_data, -1),
        bad=bad,
    )


def _le_uint(octets: npt.NDArray[np.uint8]) -> _IntArray:
    """Little-endian unsigned integers from rows of octets."""
    value = np.zeros(len(octets), dtype=np.int64)
    for k in range(octets.shape[1]):
        value |= octets[:, k].astype(np.int64) << (8 * k)
    return value


def _fix_batch(
    fixes: _Fixes, device_ids: tuple[str | None, ...], device: _IntArray
) -> PositionBatch:
    """The fixes as a batch; ``device`` indexes ``device_ids``."""
    flg = fixes.flg
    count = len(flg)
    io: dict[str, list[IoValue | None]] = {
        "odometer_km": fixes.odometer.tolist(),
        "digital_inputs": fixes.din.tolist(),
        "source": fixes.src.tolist(),
    }
    if (fixes.source_data >= 0).any():
        io["source_data"] = [None if v < 0 else v for v in fixes.source_data.tolist()]
    return PositionBatch(
        device_ids=device_ids,
        device=device,
        t_ms=fixes.seconds * 1000,
        lat=fixes.lat,
        lon=fixes.lon,
        speed_kmh=fixes.speed,
        course=fixes.course,
        altitude_m=fixes.altitude,
        satellites=np.full(count, -1, dtype=np.int64),
        valid=(flg & _FLG_VLD) != 0,
        stored=(flg & _FLG_BB) != 0,
        flags={
            "fix_3d": ((flg & _FLG_FIX) != 0).tolist(),
            "pz90": ((flg & _FLG_CS) != 0).tolist(),
            "moving": ((flg & _FLG_MV) != 0).tolist(),
        },
        io=io,
        protocol=[PROTOCOL] * count,
    )


# ---------------------------------------------------------------------------------------------
# Encoding


def encode_packet(
    pid: int,
    records: Sequence[bytes] = (),
    *,
    pt: int = PacketType.APPDATA,
    skid: int = 0,
    priority: int = 0,
    route: Route | None = None,
    rpid: int | None = None,
    pr: int = ResultCode.OK,
    signature: bytes | None = None,
) -> bytes:
    """A complete transport frame around encoded ``records``.

    For ``pt=RESPONSE`` pass ``rpid`` (and ``pr``); for ``pt=SIGNED_APPDATA`` pass ``signature``.
    """
    body = b"".join(records)
    if pt == PacketType.RESPONSE:
        if rpid is None:
            raise ValueError("a response needs the acknowledged packet id (rpid)")
        body = _RESPONSE_HEAD.pack(rpid, pr) + body
    elif pt == PacketType.SIGNED_APPDATA:
        sig = signature or b""
        body = _U16.pack(len(sig)) + sig + body
    flags = (0x20 if route else 0) | (priority & 0x03)
    hl = _ROUTED_HEADER_LEN if route else _SHORT_HEADER_LEN
    header = _HEADER.pack(1, skid, flags, hl, 0, len(body), pid, pt)
    if route:
        header += _ROUTE.pack(route.pra, route.rca, route.ttl)
    header += bytes([crc8_egts(header)])
    if not body:
        return header
    return header + body + _U16.pack(crc16_ccitt(body))


def encode_record(
    rn: int,
    subrecords: Sequence[bytes],
    *,
    sst: int = Service.TELEDATA,
    rst: int | None = None,
    oid: int | None = None,
    evid: int | None = None,
    time: datetime | None = None,
) -> bytes:
    """One service data record holding already-encoded ``subrecords``."""
    data = b"".join(subrecords)
    rfl = (0x01 if oid is not None else 0) | (0x02 if evid is not None else 0)
    rfl |= 0x04 if time is not None else 0
    head = _RECORD_HEAD.pack(len(data), rn, rfl)
    if oid is not None:
        head += _U32.pack(oid)
    if evid is not None:
        head += _U32.pack(evid)
    if time is not None:
        head += _U32.pack(_to_ntm(time))
    return head + bytes([sst, sst if rst is None else rst]) + data


def encode_subrecord(srt: int, data: bytes) -> bytes:
    """A subrecord: SRT, SRL and data."""
    return _SUBRECORD_HEAD.pack(srt, len(data)) + data


def _to_ntm(time: datetime) -> int:
    return int((time - NTM_EPOCH).total_seconds())


def encode_pos_data(
    time: datetime,
    lat: float,
    lon: float,
    *,
    speed_kmh: float = 0.0,
    course: int = 0,
    altitude_m: float | None = None,
    valid: bool = True,
    stored: bool = False,
    moving: bool = False,
    fix_3d: bool = True,
    pz90: bool = False,
    odometer_km: float = 0.0,
    digital_inputs: int = 0,
    source: int = 0,
) -> bytes:
    """A POS_DATA subrecord (SRT 16) for one fix."""
    if not 0 <= course <= 511:
        raise ValueError(f"course {course} does not fit 9 bits")
    flg = (_FLG_VLD if valid else 0) | (_FLG_CS if pz90 else 0) | (_FLG_FIX if fix_3d else 0)
    flg |= (_FLG_BB if stored else 0) | (_FLG_MV if moving else 0)
    flg |= (_FLG_LAHS if lat < 0 else 0) | (_FLG_LOHS if lon < 0 else 0)
    spd = round(speed_kmh * 10) & 0x3FFF
    spd |= _SPD_DIRH if course & 0x100 else 0
    tail = b""
    if altitude_m is not None:
        flg |= _FLG_ALTE
        spd |= _SPD_ALTS if altitude_m < 0 else 0
        tail = round(abs(altitude_m)).to_bytes(3, "little")
    data = _POS.pack(
        _to_ntm(time),
        round(abs(lat) / 90 * 0xFFFFFFFF),
        round(abs(lon) / 180 * 0xFFFFFFFF),
        flg,
        spd,
        course & 0xFF,
        round(odometer_km * 10).to_bytes(3, "little"),
        digital_inputs,
        source,
    )
    return encode_subrecord(SubrecordType.POS_DATA, data + tail)


def encode_ext_pos_data(
    *,
    vdop: float | None = None,
    hdop: float | None = None,
    pdop: float | None = None,
    satellites: int | None = None,
    navigation_systems: int | None = None,
) -> bytes:
    """An EXT_POS_DATA subrecord (SRT 17)."""
    flags = 0
    data = b""
    for bit, dop in ((0x01, vdop), (0x02, hdop), (0x04, pdop)):
        if dop is not None:
            flags |= bit
            data += _U16.pack(round(dop * 10))
    if satellites is not None:
        flags |= 0x08
        data += bytes([satellites])
    if navigation_systems is not None:
        flags |= 0x10
        data += _U16.pack(navigation_systems)
    return encode_subrecord(SubrecordType.EXT_POS_DATA, bytes([flags]) + data)


def encode_term_identity(
    tid: int,
    *,
    imei: str | None = None,
    imsi: str | None = None,
    hdid: int | None = None,
    buffer_size: int | None = None,
    msisdn: str | None = None,
) -> bytes:
    """A TERM_IDENTITY subrecord (SRT 1)."""
    flags = 0
    fields: dict[int, bytes] = {}
    if hdid is not None:
        fields[0x01] = _U16.pack(hdid)
    if imei is not None:
        fields[0x02] = imei.encode("ascii").ljust(15, b"\x00")[:15]
    if imsi is not None:
        fields[0x04] = imsi.encode("ascii").ljust(16, b"\x00")[:16]
    if buffer_size is not None:
        fields[0x40] = _U16.pack(buffer_size)
    if msisdn is not None:
        fields[0x80] = msisdn.encode("ascii").ljust(15, b"\x00")[:15]
    data = b""
    for bit, _size in _TERM_IDENTITY_FIELDS:
        if bit in fields:
            flags |= bit
            data += fields[bit]
    return encode_subrecord(SubrecordType.TERM_IDENTITY, _U32.pack(tid) + bytes([flags]) + data)


def encode_ad_sensors_data(
    *,
    digital_inputs: Mapping[int, int] | None = None,
    digital_outputs: int = 0,
    analog_inputs: Mapping[int, int] | None = None,
) -> bytes:
    """An AD_SENSORS_DATA subrecord (SRT 18); keys are input numbers 1–8."""
    inputs = dict(sorted((digital_inputs or {}).items()))
    analog = dict(sorted((analog_inputs or {}).items()))
    dioe = sum(1 << (n - 1) for n in inputs)
    asfe = sum(1 << (n - 1) for n in analog)
    data = bytes([dioe, digital_outputs, asfe]) + bytes(inputs.values())
    data += b"".join(v.to_bytes(3, "little") for v in analog.values())
    return encode_subrecord(SubrecordType.AD_SENSORS_DATA, data)


def encode_record_response(crn: int, status: int = ResultCode.OK) -> bytes:
    """A RECORD_RESPONSE subrecord (SRT 0) confirming record ``crn``."""
    return encode_subrecord(SubrecordType.RECORD_RESPONSE, _RESPONSE_HEAD.pack(crn, status))


def encode_response(packet: EgtsPacket, result_code: int = ResultCode.OK, *, pid: int = 0) -> bytes:
    """The PT=0 answer to ``packet``: RPID/PR and, when PR is OK, a RECORD_RESPONSE per record.

    Each RECORD_RESPONSE carries that record's own result, so rejected records are reported
    while the others are confirmed. ``pid`` is the server's own packet counter.
    """
    records: list[bytes] = []
    if result_code == ResultCode.OK:
        records = [
            encode_record(
                number,
                [encode_record_response(record.rn, record.result)],
                sst=record.rst,
                rst=record.sst,
            )
            for number, record in enumerate(packet.records)
        ]
    return encode_packet(pid, records, pt=PacketType.RESPONSE, rpid=packet.pid, pr=result_code)


def encode_auth_result(pid: int, rn: int, result_code: int = ResultCode.OK) -> bytes:
    """The AUTH service RESULT_CODE packet a server sends after a TERM_IDENTITY."""
    subrecord = encode_subrecord(SubrecordType.RESULT_CODE, bytes([result_code]))
    return encode_packet(pid, [encode_record(rn, [subrecord], sst=Service.AUTH)])
