"""Building EGTS frames: packets, records, subrecords and the responses a terminal expects."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from silkway.seals.devices.crc import crc8_egts, crc16_ccitt
from silkway.seals.devices.egts.decode import TERM_IDENTITY_FIELDS
from silkway.seals.devices.egts.frames import (
    FLG_ALTE,
    FLG_BB,
    FLG_CS,
    FLG_FIX,
    FLG_LAHS,
    FLG_LOHS,
    FLG_MV,
    FLG_VLD,
    HEADER,
    NTM_EPOCH,
    POS,
    RECORD_HEAD,
    RESPONSE_HEAD,
    ROUTE,
    ROUTED_HEADER_LEN,
    SHORT_HEADER_LEN,
    SPD_ALTS,
    SPD_DIRH,
    SUBRECORD_HEAD,
    U16,
    U32,
    EgtsPacket,
    PacketType,
    ResultCode,
    Route,
    Service,
    SubrecordType,
)


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
        body = RESPONSE_HEAD.pack(rpid, pr) + body
    elif pt == PacketType.SIGNED_APPDATA:
        sig = signature or b""
        body = U16.pack(len(sig)) + sig + body
    flags = (0x20 if route else 0) | (priority & 0x03)
    hl = ROUTED_HEADER_LEN if route else SHORT_HEADER_LEN
    header = HEADER.pack(1, skid, flags, hl, 0, len(body), pid, pt)
    if route:
        header += ROUTE.pack(route.pra, route.rca, route.ttl)
    header += bytes([crc8_egts(header)])
    if not body:
        return header
    return header + body + U16.pack(crc16_ccitt(body))


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
    head = RECORD_HEAD.pack(len(data), rn, rfl)
    if oid is not None:
        head += U32.pack(oid)
    if evid is not None:
        head += U32.pack(evid)
    if time is not None:
        head += U32.pack(_to_ntm(time))
    return head + bytes([sst, sst if rst is None else rst]) + data


def encode_subrecord(srt: int, data: bytes) -> bytes:
    """A subrecord: SRT, SRL and data."""
    return SUBRECORD_HEAD.pack(srt, len(data)) + data


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
    flg = (FLG_VLD if valid else 0) | (FLG_CS if pz90 else 0) | (FLG_FIX if fix_3d else 0)
    flg |= (FLG_BB if stored else 0) | (FLG_MV if moving else 0)
    flg |= (FLG_LAHS if lat < 0 else 0) | (FLG_LOHS if lon < 0 else 0)
    spd = round(speed_kmh * 10) & 0x3FFF
    spd |= SPD_DIRH if course & 0x100 else 0
    tail = b""
    if altitude_m is not None:
        flg |= FLG_ALTE
        spd |= SPD_ALTS if altitude_m < 0 else 0
        tail = round(abs(altitude_m)).to_bytes(3, "little")
    data = POS.pack(
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
            data += U16.pack(round(dop * 10))
    if satellites is not None:
        flags |= 0x08
        data += bytes([satellites])
    if navigation_systems is not None:
        flags |= 0x10
        data += U16.pack(navigation_systems)
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
        fields[0x01] = U16.pack(hdid)
    if imei is not None:
        fields[0x02] = imei.encode("ascii").ljust(15, b"\x00")[:15]
    if imsi is not None:
        fields[0x04] = imsi.encode("ascii").ljust(16, b"\x00")[:16]
    if buffer_size is not None:
        fields[0x40] = U16.pack(buffer_size)
    if msisdn is not None:
        fields[0x80] = msisdn.encode("ascii").ljust(15, b"\x00")[:15]
    data = b""
    for bit, _size in TERM_IDENTITY_FIELDS:
        if bit in fields:
            flags |= bit
            data += fields[bit]
    return encode_subrecord(SubrecordType.TERM_IDENTITY, U32.pack(tid) + bytes([flags]) + data)


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
    return encode_subrecord(SubrecordType.RECORD_RESPONSE, RESPONSE_HEAD.pack(crn, status))


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


# One confirmation record, whole: RL, RN, RFL (no OID, EVID or TM), SST, RST, then its one
# RECORD_RESPONSE subrecord (SRT, SRL, CRN, RST). Packed at once, as a live listener answers
# every record of every packet.
_CONFIRMATION = struct.Struct("<HHBBBBHHB")
_CONFIRMATION_DATA = SUBRECORD_HEAD.size + RESPONSE_HEAD.size


def encode_record_results(
    rpid: int, records: Iterable[tuple[int, int, int, int]], *, pid: int = 0
) -> bytes:
    """What :func:`encode_response` gives for a packet ``rpid`` accepted as a whole, whose
    records are (RN, SST, RST, result) in order: a RECORD_RESPONSE per record, with its result."""
    pack = _CONFIRMATION.pack
    body = b"".join(
        [
            pack(
                _CONFIRMATION_DATA,
                number,
                0,
                rst,
                sst,
                SubrecordType.RECORD_RESPONSE,
                3,
                rn,
                result,
            )
            for number, (rn, sst, rst, result) in enumerate(records)
        ]
    )
    return encode_packet(pid, [body], pt=PacketType.RESPONSE, rpid=rpid)


def encode_auth_result(pid: int, rn: int, result_code: int = ResultCode.OK) -> bytes:
    """The AUTH service RESULT_CODE packet a server sends after a TERM_IDENTITY."""
    subrecord = encode_subrecord(SubrecordType.RESULT_CODE, bytes([result_code]))
    return encode_packet(pid, [encode_record(rn, [subrecord], sst=Service.AUTH)])
