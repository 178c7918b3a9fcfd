"""Decoding many EGTS frames' positions straight into one columnar batch, with the same checks and
errors as :func:`decode_packet`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from silkway.seals.devices.egts.decode import (
    Frame,
    Walk,
    decode_record,
    open_frame,
    optional_str,
    packet_device,
    record_positions,
    walk_records,
)
from silkway.seals.devices.egts.encode import encode_record_results
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
    LAT_SCALE,
    LON_SCALE,
    MAX_NTM,
    NTM_EPOCH,
    POS,
    POS_DTYPE,
    POS_MAX_LEN,
    PROTOCOL,
    SPD_ALTS,
    SPD_DIRH,
    SRCD_LEN,
    SRT_POS_DATA,
    ResultCode,
    Service,
    ServiceRecord,
    SubrecordType,
    TermIdentity,
    find_identity,
)
from silkway.seals.devices.egts.framing import peek_packet_id
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
)
from silkway.seals.domain.telemetry import PositionBatch

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
    records: range = range(0)
    """Where this frame's records are in :attr:`EgtsColumns.records`."""


class RecordResults(NamedTuple):
    """Every record of the frames, in order: its number, services and result (0 accepted)."""

    rn: list[int]
    sst: list[int]
    rst: list[int]
    result: list[int]


@dataclass(frozen=True, slots=True)
class EgtsColumns:
    """Frames decoded for ingestion: their positions as one batch, and what became of each."""

    frames: tuple[FrameOutcome, ...]
    positions: PositionBatch
    records: RecordResults

    def response(self, frame: int, *, pid: int, refused: int | None = None) -> bytes:
        """The PT=0 answer to frame ``frame``, a RECORD_RESPONSE per record with its own result,
        the bytes :func:`encode_response` gives for the same frame decoded by
        :func:`decode_packet`. ``pid`` is the server's own packet counter.

        With ``refused`` (a result code), records that were accepted are answered with it instead,
        except those of the AUTH service: the terminal keeps their data and sends it again.
        """
        outcome = self.frames[frame]
        if outcome.pid is None or outcome.error is not None:
            raise ValueError(f"frame {frame} was refused as a whole; it has no record answers")
        span = outcome.records
        rn, sst, rst, result = (column[span.start : span.stop] for column in self.records)
        if refused is not None:
            result = [
                refused if code == ResultCode.OK and service != Service.AUTH else code
                for code, service in zip(result, sst, strict=True)
            ]
        return encode_record_results(outcome.pid, zip(rn, sst, rst, result, strict=True), pid=pid)


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
        self.heads: list[Frame | _Refused] = []
        self.records: list[int] = []
        """How many records each frame holds."""
        self.walk = Walk.empty()
        """Every record of every frame, subrecord offsets into the frames' data joined."""
        self.data: list[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> None:
        walk = self.walk
        columns: tuple[list[Any], ...] = walk
        marks = [len(column) for column in columns]
        try:
            frame = open_frame(data)
            walk_records(frame.sfrd, frame.start, walk, self.size)
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
        alone = np.array([t is not None and t > MAX_NTM for t in walk.tm], dtype=np.bool_)
        alone[record_of_sub[np.isin(srt, _PER_RECORD_SRT)]] = True
        fix = (srt == SRT_POS_DATA) & ~alone[record_of_sub]
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
            number: decode_record(walk, number, data, self.now)
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
                found = record_positions(record, device_ids[owner[number]])
                late.extend(found)
                late_record.extend([number] * len(found))
        if late:
            # Back into the order of records, as decode_packet lists them.
            merged = PositionBatch.concat([positions, PositionBatch.from_positions(late)])
            record_of = np.concatenate([record_of, np.array(late_record, dtype=np.intp)])
            order = np.argsort(record_of, kind="stable")
            positions, record_of = merged.take(order), record_of[order]
        counts = np.bincount(frame_of[record_of], minlength=len(self.heads)).tolist()
        results = [int(ResultCode.OK)] * len(walk.rn)
        for number, record in decoded.items():
            results[number] = record.result
        ends = np.cumsum(self.records).tolist()
        spans = [range(end - n, end) for n, end in zip(self.records, ends, strict=True)]
        return EgtsColumns(
            frames=tuple(map(_outcome, self.heads, by_frame, counts, spans)),
            positions=positions,
            records=RecordResults(walk.rn, walk.sst, walk.rst, results),
        )

    def _owners(
        self, frame_of: _Index, by_frame: list[list[ServiceRecord]]
    ) -> tuple[tuple[str | None, ...], _IntArray]:
        """Whose each record's fixes are: the frame's identity, else the record's OID."""
        names: dict[str | None, int] = {}
        devices = (packet_device(decoded, self.device_id) for decoded in by_frame)
        of_frame = np.array(
            [-1 if d is None else names.setdefault(d, len(names)) for d in devices],
            dtype=np.int64,
        )
        owner = of_frame[frame_of]
        for number in np.flatnonzero(owner < 0).tolist():
            owner[number] = names.setdefault(optional_str(self.walk.oid[number]), len(names))
        return tuple(names), owner


def _outcome(
    head: Frame | _Refused, decoded: list[ServiceRecord], fixes: int, records: range
) -> FrameOutcome:
    if isinstance(head, _Refused):
        return FrameOutcome(head.pid, None, None, (), 0, head.error)
    rejected = tuple(r for r in decoded if r.result != ResultCode.OK)
    return FrameOutcome(head.pid, head.pt, find_identity(decoded), rejected, fixes, None, records)


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
    """The POS_DATA subrecords at ``offsets`` read at once, with the checks of decode_pos_data."""
    wire = np.frombuffer(sfrd + bytes(POS_MAX_LEN), dtype=np.uint8)
    raw = wire[offsets[:, None] + np.arange(POS_MAX_LEN)]
    head = np.ascontiguousarray(raw[:, : POS.size]).view(POS_DTYPE)[:, 0]
    flg, spd = head["flg"], head["spd"]
    alte = (flg & FLG_ALTE) != 0
    expected = np.where(alte, POS.size + ALT_LEN, POS.size)
    has_srcd = sizes == expected + SRCD_LEN
    bad = (sizes != expected) & ~has_srcd
    ntm = head["ntm"].astype(np.int64)
    seconds = ntm + _NTM_EPOCH_S
    # As ntm_time and check_time (an NTM, counted from 2010, is never before 2000).
    bad |= (ntm > MAX_NTM) | (seconds < _EARLIEST_S)
    if now is not None:
        limit_us = (now + MAX_CLOCK_AHEAD - _UNIX_EPOCH) // timedelta(microseconds=1)
        bad |= seconds * 1_000_000 > limit_us
    lat = head["lat"] * LAT_SCALE
    lon = head["lon"] * LON_SCALE
    np.negative(lat, out=lat, where=(flg & FLG_LAHS) != 0)
    np.negative(lon, out=lon, where=(flg & FLG_LOHS) != 0)
    speed = (spd & 0x3FFF) / 10
    course = head["dir"].astype(np.int64) + np.where(spd & SPD_DIRH, 256, 0)
    altitude = _le_uint(raw[:, POS.size : POS.size + ALT_LEN]).astype(np.float64)
    np.negative(altitude, out=altitude, where=(spd & SPD_ALTS) != 0)
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
        valid=(flg & FLG_VLD) != 0,
        stored=(flg & FLG_BB) != 0,
        flags={
            "fix_3d": ((flg & FLG_FIX) != 0).tolist(),
            "pz90": ((flg & FLG_CS) != 0).tolist(),
            "moving": ((flg & FLG_MV) != 0).tolist(),
        },
        io=io,
        protocol=[PROTOCOL] * count,
    )
