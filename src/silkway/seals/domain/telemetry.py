"""The position a seal or tracker reports, normalised across device protocols.

Pure value types: device decoders produce them, the telemetry services consume them. A
:class:`Position` is one fix; a :class:`PositionBatch` holds many fixes as columns. The batch is
what crosses from every source into ingestion: decoders that read frames straight into columns
build it themselves, the others turn their positions into one with
:meth:`PositionBatch.from_positions`, the one conversion.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["IoValue", "Position", "PositionBatch"]

IoValue = int | float | str
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_V = TypeVar("_V")


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    """One fix reported by a seal or tracker, normalised across protocols.

    ``device_id`` is the identity the device gave (IMEI, or the seal id), ``None`` when the
    frame carried none. ``stored`` marks a record replayed from the device's black box rather
    than sent live. ``flags`` holds named boolean states (valid fix, moving, ignition…); ``io``
    holds the other sensor values under protocol-specific names. Not hashable (it carries dicts).
    """

    device_id: str | None
    time: datetime
    lat: float
    lon: float
    speed_kmh: float | None
    course: int | None
    altitude_m: float | None
    satellites: int | None
    valid: bool
    stored: bool
    flags: dict[str, bool] = field(default_factory=dict)
    io: dict[str, IoValue] = field(default_factory=dict)
    protocol: str

    def as_json(self) -> dict[str, Any]:
        """The record as JSON-able data, time in ISO 8601 UTC with millisecond precision and 'Z'."""
        stamp = self.time.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {
            "device_id": self.device_id,
            "time": stamp,
            "lat": self.lat,
            "lon": self.lon,
            "speed_kmh": self.speed_kmh,
            "course": self.course,
            "altitude_m": self.altitude_m,
            "satellites": self.satellites,
            "valid": self.valid,
            "stored": self.stored,
            "flags": dict(self.flags),
            "io": dict(self.io),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionBatch:
    """Fixes as columns, one entry per fix in arrival order: the fields of :class:`Position`.

    Numeric fields are numpy arrays, with NaN (floats) or -1 (``course``, ``satellites``) where
    the device did not say. ``t_ms`` is the fix time in milliseconds since the Unix epoch, UTC
    (finer fractions are rounded). A fix's identity is ``device_ids[device[i]]``; ``device_ids``
    may also hold identities no fix refers to. ``flags``, ``io`` and ``protocol`` stay plain
    lists, since their names and value types vary by protocol; a flag or io value a fix lacks
    (while another fix of the batch has it) is None.
    """

    device_ids: tuple[str | None, ...]
    device: IntArray
    t_ms: IntArray
    lat: FloatArray
    lon: FloatArray
    speed_kmh: FloatArray
    course: IntArray
    altitude_m: FloatArray
    satellites: IntArray
    valid: BoolArray
    stored: BoolArray
    flags: Mapping[str, Sequence[bool | None]]
    io: Mapping[str, Sequence[IoValue | None]]
    protocol: Sequence[str]

    def __len__(self) -> int:
        return len(self.t_ms)

    @classmethod
    def from_positions(cls, positions: Sequence[Position]) -> PositionBatch:
        """The batch of ``positions``; a time without a time zone is read as UTC.

        Listeners build one per packet, often of a single fix: the columns of each kind are
        made in one array call (a row each), so the cost hardly grows with the fields.
        """
        index: dict[str | None, int] = {}
        nan = math.nan
        reals = np.array(
            [
                [
                    (
                        p.time if p.time.utcoffset() is not None else p.time.replace(tzinfo=UTC)
                    ).timestamp()
                    for p in positions
                ],
                [p.lat for p in positions],
                [p.lon for p in positions],
                [nan if p.speed_kmh is None else p.speed_kmh for p in positions],
                [nan if p.altitude_m is None else p.altitude_m for p in positions],
            ],
            dtype=np.float64,
        ).reshape(5, len(positions))
        whole = np.array(
            [
                [index.setdefault(p.device_id, len(index)) for p in positions],
                [-1 if p.course is None else p.course for p in positions],
                [-1 if p.satellites is None else p.satellites for p in positions],
            ],
            dtype=np.int64,
        ).reshape(3, len(positions))
        states = np.array(
            [[p.valid for p in positions], [p.stored for p in positions]], dtype=np.bool_
        ).reshape(2, len(positions))
        return cls(
            device_ids=tuple(index),
            device=whole[0],
            t_ms=np.rint(reals[0] * 1000.0).astype(np.int64),
            lat=reals[1],
            lon=reals[2],
            speed_kmh=reals[3],
            course=whole[1],
            altitude_m=reals[4],
            satellites=whole[2],
            valid=states[0],
            stored=states[1],
            flags=_named([p.flags for p in positions]),
            io=_named([p.io for p in positions]),
            protocol=[p.protocol for p in positions],
        )

    @classmethod
    def of_device(
        cls,
        device_id: str,
        *,
        t_ms: IntArray,
        lat: FloatArray,
        lon: FloatArray,
        speed_kmh: FloatArray | None = None,
        course: IntArray | None = None,
        flags: Mapping[str, Sequence[bool | None]] | None = None,
        io: Mapping[str, Sequence[IoValue | None]] | None = None,
        protocol: str,
    ) -> PositionBatch:
        """One device's fixes given as columns (NaN or -1 where unknown), valid and live; what is
        not given is unknown, and each ``flags`` or ``io`` column holds a value per fix."""
        count = len(t_ms)
        return cls(
            device_ids=(device_id,),
            device=np.zeros(count, dtype=np.int64),
            t_ms=t_ms,
            lat=lat,
            lon=lon,
            speed_kmh=np.full(count, np.nan) if speed_kmh is None else speed_kmh,
            course=np.full(count, -1, dtype=np.int64) if course is None else course,
            altitude_m=np.full(count, np.nan),
            satellites=np.full(count, -1, dtype=np.int64),
            valid=np.ones(count, dtype=np.bool_),
            stored=np.zeros(count, dtype=np.bool_),
            flags=dict(flags or {}),
            io=dict(io or {}),
            protocol=[protocol] * count,
        )

    @classmethod
    def concat(cls, batches: Sequence[PositionBatch]) -> PositionBatch:
        """One batch holding the fixes of ``batches``, in order.

        The batcher joins one batch per packet, hundreds of them per sink call: each column is
        joined in one call, and identities are renumbered once over all the batches.
        """
        if len(batches) == 1:
            return batches[0]
        if not batches:
            return cls.from_positions([])
        index: dict[str | None, int] = {}
        renumbered = np.array(
            [index.setdefault(d, len(index)) for b in batches for d in b.device_ids],
            dtype=np.int64,
        )
        sizes = [len(b) for b in batches]
        first_id = np.cumsum([0, *(len(b.device_ids) for b in batches)])[:-1]
        local = np.concatenate([b.device for b in batches])
        device = renumbered[local + np.repeat(first_id, sizes)]

        def joined(column: str) -> Any:
            return np.concatenate([getattr(b, column) for b in batches])

        return cls(
            device_ids=tuple(index),
            device=device,
            t_ms=joined("t_ms"),
            lat=joined("lat"),
            lon=joined("lon"),
            speed_kmh=joined("speed_kmh"),
            course=joined("course"),
            altitude_m=joined("altitude_m"),
            satellites=joined("satellites"),
            valid=joined("valid"),
            stored=joined("stored"),
            flags=_joined([b.flags for b in batches], sizes),
            io=_joined([b.io for b in batches], sizes),
            protocol=list(chain.from_iterable(b.protocol for b in batches)),
        )

    def take(self, index: npt.NDArray[np.intp]) -> PositionBatch:
        """The fixes at ``index``, in that order."""
        rows = index.tolist()
        return PositionBatch(
            device_ids=self.device_ids,
            device=self.device[index],
            t_ms=self.t_ms[index],
            lat=self.lat[index],
            lon=self.lon[index],
            speed_kmh=self.speed_kmh[index],
            course=self.course[index],
            altitude_m=self.altitude_m[index],
            satellites=self.satellites[index],
            valid=self.valid[index],
            stored=self.stored[index],
            flags={name: [values[i] for i in rows] for name, values in self.flags.items()},
            io={name: [values[i] for i in rows] for name, values in self.io.items()},
            protocol=[self.protocol[i] for i in rows],
        )

    def positions(self) -> list[Position]:
        """One :class:`Position` per fix (for consumers that need objects, and for checks)."""
        flags: list[dict[str, bool]] = [
            {name: v for name, v in zip(self.flags, values, strict=True) if v is not None}
            for values in zip(*self.flags.values(), strict=True)
        ] or [{} for _ in range(len(self))]
        io: list[dict[str, IoValue]] = [
            {name: v for name, v in zip(self.io, values, strict=True) if v is not None}
            for values in zip(*self.io.values(), strict=True)
        ] or [{} for _ in range(len(self))]
        return [
            Position(
                device_id=self.device_ids[d],
                time=_EPOCH + timedelta(milliseconds=t),
                lat=lat,
                lon=lon,
                speed_kmh=None if math.isnan(speed) else speed,
                course=None if course < 0 else course,
                altitude_m=None if math.isnan(altitude) else altitude,
                satellites=None if satellites < 0 else satellites,
                valid=valid,
                stored=stored,
                flags=f,
                io=i,
                protocol=protocol,
            )
            for d, t, lat, lon, speed, course, altitude, satellites, valid, stored, f, i, protocol in zip(
                self.device.tolist(),
                self.t_ms.tolist(),
                self.lat.tolist(),
                self.lon.tolist(),
                self.speed_kmh.tolist(),
                self.course.tolist(),
                self.altitude_m.tolist(),
                self.satellites.tolist(),
                self.valid.tolist(),
                self.stored.tolist(),
                flags,
                io,
                self.protocol,
                strict=True,
            )
        ]


def _named(rows: Sequence[Mapping[str, _V]]) -> dict[str, list[_V | None]]:
    """Per-fix dictionaries as one list per name, None where a fix lacks the name."""
    columns: dict[str, list[_V | None]] = {}
    for i, row in enumerate(rows):
        for name, value in row.items():
            column = columns.get(name)
            if column is None:
                column = columns[name] = [None] * len(rows)
            column[i] = value
    return columns


def _joined(
    parts: list[Mapping[str, Sequence[_V | None]]], sizes: list[int]
) -> dict[str, list[_V | None]]:
    names = dict.fromkeys(chain.from_iterable(parts))
    return {
        name: list(
            chain.from_iterable(
                part.get(name) or [None] * size for part, size in zip(parts, sizes, strict=True)
            )
        )
        for name in names
    }
