"""Decoding one EGTS frame into objects, for answering the terminal record by record."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from silkway.seals.devices.crc import crc16_ccitt
from silkway.seals.devices.egts.frames import (
    ALT_LEN,
    FLG_ALTE,
    FLG_BB,
    FLG_CS,
    FLG_FIX,
    FLG_LAHS,
    FLG_LOHS,
    FLG_MV,
    FLG_VLD,
    HEADER,
    LAT_SCALE,
    LON_SCALE,
    MAX_NTM,
    NTM_EPOCH,
    POS,
    PROTOCOL,
    RECORD_HEAD,
    RESPONSE_HEAD,
    ROUTE,
    ROUTED_HEADER_LEN,
    SPD_ALTS,
    SPD_DIRH,
    SRCD_LEN,
    SRT_EXT_POS_DATA,
    SRT_POS_DATA,
    SUBRECORD_HEAD,
    U16,
    U32,
    AdSensorsData,
    EgtsPacket,
    ExtPosData,
    PacketType,
    RecordResponse,
    ResultCode,
    Route,
    ServiceRecord,
    Subrecord,
    SubrecordType,
    SubrecordValue,
    TermIdentity,
    fail,
    find_identity,
)
from silkway.seals.devices.egts.framing import frame_length
from silkway.seals.devices.records import (
    DecodeError,
    IoValue,
    Position,
    check_altitude,
    check_course,
    check_satellites,
    check_speed,
    check_time,
)


def decode_packet(
    data: bytes, *, device_id: str | None = None, now: datetime | None = None
) -> EgtsPacket:
    """Decode one complete EGTS frame.

    ``device_id`` is the identity the connection already established; without it positions take
    the IMEI (else TID) of a TERM_IDENTITY in the same packet, else the record's OID. ``now``
    enables the "more than a day in the future" check on fix times.
    """
    frame = open_frame(data)
    walk = Walk.empty()
    walk_records(frame.sfrd, frame.start, walk)
    records = tuple(decode_record(walk, i, frame.sfrd, now) for i in range(len(walk.rn)))
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


class Frame(NamedTuple):
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


def open_frame(data: bytes) -> Frame:
    length = frame_length(data, 0)
    if length is None:
        raise fail(f"truncated header ({len(data)} bytes)", ResultCode.INVDATALEN)
    if len(data) != length:
        raise fail(f"frame is {len(data)} bytes, header announces {length}", ResultCode.INVDATALEN)
    _prv, skid, flags, hl, he, fdl, pid, pt = HEADER.unpack_from(data, 0)
    if flags >> 6:
        raise fail(f"unsupported prefix PRF={flags >> 6}", ResultCode.UNS_PROTOCOL)
    if flags & 0x18:
        raise fail("encrypted frames are not supported", ResultCode.DECRYPT_ERROR)
    if flags & 0x04:
        raise fail("compressed frames are not supported", ResultCode.UNS_PROTOCOL)
    if he != 0:
        raise fail(f"unsupported header encoding {he}", ResultCode.INC_HEADERFORM)
    route = Route(*ROUTE.unpack_from(data, 10)) if hl == ROUTED_HEADER_LEN else None
    sfrd = bytes(data[hl : hl + fdl])
    if fdl:
        (sfrcs,) = U16.unpack_from(data, hl + fdl)
        computed = crc16_ccitt(sfrd)
        if sfrcs != computed:
            raise fail(
                f"data checksum {sfrcs:#06x}, computed {computed:#06x}", ResultCode.DATACRC_ERROR
            )
    rpid: int | None = None
    pr: int | None = None
    start = 0
    if pt == PacketType.RESPONSE:
        if fdl < RESPONSE_HEAD.size:
            raise fail(f"response too short ({fdl} bytes)", ResultCode.INVDATALEN)
        rpid, pr = RESPONSE_HEAD.unpack_from(sfrd, 0)
        start = RESPONSE_HEAD.size
    elif pt == PacketType.SIGNED_APPDATA:
        if fdl < 2:
            raise fail("signed frame without signature length", ResultCode.INVDATALEN)
        (sigl,) = U16.unpack_from(sfrd, 0)
        start = 2 + sigl
        if start > fdl:
            raise fail(f"signature length {sigl} exceeds frame data", ResultCode.INVDATALEN)
    elif pt != PacketType.APPDATA:
        raise fail(f"unknown packet type {pt}", ResultCode.UNS_TYPE)
    return Frame(pid, pt, skid, flags & 0x03, route, rpid, pr, sfrd, start)


class Walk(NamedTuple):
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
    def empty(cls) -> Walk:
        return cls([], [], [], [], [], [], [], [], [], [])

    def subrecords(self, record: int) -> range:
        stop = self.first[record + 1] if record + 1 < len(self.first) else len(self.srt)
        return range(self.first[record], stop)


def walk_records(sfrd: bytes, offset: int, walk: Walk, base: int = 0) -> None:
    """Append the records of ``sfrd`` from ``offset`` to ``walk``, subrecord offsets + ``base``.

    A frame whose lengths do not add up is refused; ``walk`` then holds part of it.
    """
    rns, ssts, rsts, oids, evids, tms, first, srts, offsets, srls = walk
    record_head, subrecord_head = RECORD_HEAD.unpack_from, SUBRECORD_HEAD.unpack_from
    end = len(sfrd)
    while offset < end:
        if end - offset < RECORD_HEAD.size:
            raise fail("truncated record header", ResultCode.INVDATALEN)
        rl, rn, rfl = record_head(sfrd, offset)
        offset += RECORD_HEAD.size
        if end - offset < 4 * (rfl & 0x07).bit_count() + 2:
            raise fail(f"truncated header of record {rn}", ResultCode.INVDATALEN)
        oid = evid = tm = None
        if rfl & 0x01:
            (oid,) = U32.unpack_from(sfrd, offset)
            offset += 4
        if rfl & 0x02:
            (evid,) = U32.unpack_from(sfrd, offset)
            offset += 4
        if rfl & 0x04:
            (tm,) = U32.unpack_from(sfrd, offset)
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
            raise fail(
                f"record {rn} announces {rl} bytes, {end - offset} remain", ResultCode.INVDATALEN
            )
        stop = offset + rl
        while offset < stop:
            if stop - offset < SUBRECORD_HEAD.size:
                raise fail(f"truncated subrecord header in record {rn}", ResultCode.INVDATALEN)
            srt, srl = subrecord_head(sfrd, offset)
            offset += SUBRECORD_HEAD.size
            if stop - offset < srl:
                raise fail(
                    f"subrecord {srt} of record {rn} announces {srl} bytes, {stop - offset} remain",
                    ResultCode.INVDATALEN,
                )
            srts.append(srt)
            offsets.append(base + offset)
            srls.append(srl)
            offset += srl


def decode_record(walk: Walk, record: int, sfrd: bytes, now: datetime | None) -> ServiceRecord:
    rn, sst, rst = walk.rn[record], walk.sst[record], walk.rst[record]
    oid, evid, tm = walk.oid[record], walk.evid[record], walk.tm[record]
    raw_subrecords = [
        (walk.srt[k], sfrd[walk.offset[k] : walk.offset[k] + walk.srl[k]])
        for k in walk.subrecords(record)
    ]
    try:
        time = ntm_time(tm) if tm is not None else None
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
    if srt == SRT_POS_DATA:
        return decode_pos_data(data, now)
    if srt == SRT_EXT_POS_DATA:
        return _decode_ext_pos_data(data)
    if srt == SubrecordType.TERM_IDENTITY:
        return _decode_term_identity(data)
    if srt == SubrecordType.AD_SENSORS_DATA:
        return _decode_ad_sensors_data(data)
    if srt == SubrecordType.RECORD_RESPONSE:
        _expect_length("RECORD_RESPONSE", data, 3)
        crn, status = RESPONSE_HEAD.unpack_from(data, 0)
        return RecordResponse(crn, status)
    if srt == SubrecordType.RESULT_CODE:
        _expect_length("RESULT_CODE", data, 1)
        return data[0]
    return None


def _expect_length(name: str, data: bytes, expected: int) -> None:
    if len(data) != expected:
        raise fail(f"{name} is {len(data)} bytes, expected {expected}", ResultCode.INC_DATAFORM)


def ntm_time(ntm: int) -> datetime:
    if ntm > MAX_NTM:
        raise fail(f"absurd value: time {ntm} s after 2010", ResultCode.INC_DATETIME)
    return NTM_EPOCH + timedelta(seconds=ntm)


def decode_pos_data(data: bytes, now: datetime | None) -> Position:
    if len(data) < POS.size:
        raise fail(f"POS_DATA is {len(data)} bytes, expected 21 or 24", ResultCode.INC_DATAFORM)
    ntm, lat_raw, lon_raw, flg, spd, direction, odm, din, src = POS.unpack_from(data, 0)
    expected = POS.size + (ALT_LEN if flg & FLG_ALTE else 0)
    # GOST 33472 allows an optional 2-byte SRCD after the fixed part; its presence is known
    # only from the subrecord length, so exactly +2 bytes is accepted and anything else is not.
    if len(data) not in (expected, expected + SRCD_LEN):
        raise fail(f"POS_DATA is {len(data)} bytes, expected {expected}", ResultCode.INC_DATAFORM)
    time = ntm_time(ntm)
    check_time(PROTOCOL, time, now, ResultCode.INC_DATETIME)
    lat = lat_raw * LAT_SCALE
    lon = lon_raw * LON_SCALE
    if flg & FLG_LAHS:
        lat = -lat
    if flg & FLG_LOHS:
        lon = -lon
    speed = (spd & 0x3FFF) / 10
    # DIRH is bit 15 of SPD and is bit 8 of the course, so it weighs 256, not 128.
    course = direction + (256 if spd & SPD_DIRH else 0)
    altitude: float | None = None
    if flg & FLG_ALTE:
        altitude = float(int.from_bytes(data[POS.size : POS.size + ALT_LEN], "little"))
        if spd & SPD_ALTS:
            altitude = -altitude
    check_speed(PROTOCOL, speed, ResultCode.INC_DATAFORM)
    check_course(PROTOCOL, course, ResultCode.INC_DATAFORM)
    check_altitude(PROTOCOL, altitude, ResultCode.INC_DATAFORM)
    io: dict[str, IoValue] = {
        "odometer_km": int.from_bytes(odm, "little") / 10,
        "digital_inputs": din,
        "source": src,
    }
    if len(data) == expected + SRCD_LEN:
        io["source_data"] = U16.unpack_from(data, expected)[0]
    return Position(
        device_id=None,
        time=time,
        lat=lat,
        lon=lon,
        speed_kmh=speed,
        course=course,
        altitude_m=altitude,
        satellites=None,
        valid=bool(flg & FLG_VLD),
        stored=bool(flg & FLG_BB),
        flags={
            "fix_3d": bool(flg & FLG_FIX),
            "pz90": bool(flg & FLG_CS),
            "moving": bool(flg & FLG_MV),
        },
        io=io,
        protocol=PROTOCOL,
    )


def _decode_ext_pos_data(data: bytes) -> ExtPosData:
    if not data:
        raise fail("EXT_POS_DATA is empty", ResultCode.INC_DATAFORM)
    flags = data[0]
    expected = 1 + 2 * (flags & 0x07).bit_count() + (1 if flags & 0x08 else 0)
    expected += 2 if flags & 0x10 else 0
    _expect_length("EXT_POS_DATA", data, expected)
    offset = 1
    dops: list[float | None] = []
    for bit in (0x01, 0x02, 0x04):
        if flags & bit:
            dops.append(U16.unpack_from(data, offset)[0] / 10)
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
        systems = U16.unpack_from(data, offset)[0]
    return ExtPosData(dops[0], dops[1], dops[2], satellites, systems)


# (flag bit, field size) in wire order; SSRA (bit 4) is a flag without a field.
TERM_IDENTITY_FIELDS = (
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
        raise fail(f"{name} is not ASCII", ResultCode.INC_DATAFORM) from None
    if not text.isprintable():
        raise fail(f"{name} holds control characters", ResultCode.INC_DATAFORM)
    return text


def _decode_term_identity(data: bytes) -> TermIdentity:
    if len(data) < 5:
        raise fail(f"TERM_IDENTITY is {len(data)} bytes", ResultCode.INC_DATAFORM)
    (tid,) = U32.unpack_from(data, 0)
    flags = data[4]
    expected = 5 + sum(size for bit, size in TERM_IDENTITY_FIELDS if flags & bit)
    _expect_length("TERM_IDENTITY", data, expected)
    fields: dict[int, bytes] = {}
    offset = 5
    for bit, size in TERM_IDENTITY_FIELDS:
        if flags & bit:
            fields[bit] = data[offset : offset + size]
            offset += size
    imei: str | None = None
    if 0x02 in fields:
        imei = _ascii_field("IMEI", fields[0x02])
        if len(imei) != 15 or not imei.isdigit():
            raise fail(f"IMEI {imei!r} is not 15 digits", ResultCode.INC_DATAFORM)
    return TermIdentity(
        tid=tid,
        imei=imei,
        imsi=_ascii_field("IMSI", fields[0x04]) if 0x04 in fields else None,
        hdid=U16.unpack_from(fields[0x01])[0] if 0x01 in fields else None,
        language=_ascii_field("LNGC", fields[0x08]) if 0x08 in fields else None,
        network_id=int.from_bytes(fields[0x20], "little") if 0x20 in fields else None,
        buffer_size=U16.unpack_from(fields[0x40])[0] if 0x40 in fields else None,
        msisdn=_ascii_field("MSISDN", fields[0x80]) if 0x80 in fields else None,
        ssra=bool(flags & 0x10),
    )


def _decode_ad_sensors_data(data: bytes) -> AdSensorsData:
    if len(data) < 3:
        raise fail(f"AD_SENSORS_DATA is {len(data)} bytes", ResultCode.INC_DATAFORM)
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


def packet_device(records: Sequence[ServiceRecord], device_id: str | None) -> str | None:
    """Whose positions these are: the connection's identity, else the packet's TERM_IDENTITY."""
    if device_id is None:
        identity = find_identity(records)
        if identity is not None:
            device_id = identity.imei or str(identity.tid)
    return device_id


def _collect_positions(
    records: Sequence[ServiceRecord], device_id: str | None
) -> tuple[Position, ...]:
    device_id = packet_device(records, device_id)
    positions: list[Position] = []
    for record in records:
        if record.result == ResultCode.OK:
            owner = device_id if device_id is not None else optional_str(record.oid)
            positions.extend(record_positions(record, owner))
    return tuple(positions)


def record_positions(record: ServiceRecord, owner: str | None) -> list[Position]:
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


def optional_str(value: int | None) -> str | None:
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
