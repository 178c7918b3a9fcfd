"""The position a seal or tracker reports, normalised across device protocols.

A pure value type: device decoders produce it, the telemetry services consume it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["IoValue", "Position"]

IoValue = int | float | str


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
