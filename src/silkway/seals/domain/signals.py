"""What a position says about the seal itself: tamper and fault events, battery charge.

Device protocols carry these in different places, so they are read into one compact form: a
bit set of seal events per position (:data:`SIGNAL_BITS`) and a battery percentage.

Where each protocol puts them (configuration, not law: the Union's seal data formats are not
published, so the defaults follow common tracker practice and can be overridden):

- any protocol (HTTP/MQTT JSON, Wialon params, EGTS or Teltonika via a gateway): a flag or a
  non-zero io value named ``seal_opened`` (01), ``housing_opened`` (02), ``malfunction`` (04),
  ``unauthorised`` (07); ``battery_pct`` for the charge;
- EGTS: the POS_DATA ``source`` (SRC, the reason for the fix) per :data:`EGTS_SOURCE_EVENTS`;
- Teltonika: AVL io 113 (battery level, %).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from silkway.seals.domain.seals import IncidentCode
from silkway.seals.domain.telemetry import FloatArray, IntArray, PositionBatch

SIGNAL_BITS: Mapping[IncidentCode, int] = MappingProxyType(
    {
        IncidentCode.SEAL_BROKEN: 1,
        IncidentCode.HOUSING_OPENED: 2,
        IncidentCode.MALFUNCTION: 4,
        IncidentCode.UNAUTHORISED: 8,
    }
)
"""The bit of each seal-reported event in a position's signal set (stored as a small integer)."""

STORED_BIT = 64
"""Set in the stored signal set when the record came from the device's black box."""
INVALID_FIX_BIT = 128
"""Set when the device flagged its fix as not valid."""

GENERIC_EVENT_NAMES: Mapping[str, IncidentCode] = MappingProxyType(
    {
        "seal_opened": IncidentCode.SEAL_BROKEN,
        "housing_opened": IncidentCode.HOUSING_OPENED,
        "malfunction": IncidentCode.MALFUNCTION,
        "unauthorised": IncidentCode.UNAUTHORISED,
    }
)

EGTS_SOURCE_EVENTS: Mapping[int, IncidentCode] = MappingProxyType(
    {
        10: IncidentCode.HOUSING_OPENED,  # housing-open sensor triggered
        19: IncidentCode.MALFUNCTION,  # backup power source fault
        22: IncidentCode.MALFUNCTION,  # navigation module fault
        24: IncidentCode.MALFUNCTION,  # GSM antenna fault
        25: IncidentCode.MALFUNCTION,  # navigation antenna fault
    }
)
"""EGTS POS_DATA SRC values that are seal events (GOST 33472 fix reasons; unconfirmed)."""


@dataclass(frozen=True, slots=True)
class SignalMapping:
    """Where to read seal events and battery charge in a position's flags and io values."""

    event_names: Mapping[str, IncidentCode] = field(default_factory=lambda: GENERIC_EVENT_NAMES)
    egts_sources: Mapping[int, IncidentCode] = field(default_factory=lambda: EGTS_SOURCE_EVENTS)
    battery_names: tuple[str, ...] = ("battery_pct", "113")

    def signals(self, batch: PositionBatch) -> IntArray:
        """The bit set of seal events (and stored/invalid markers) of every fix in ``batch``."""
        signals = np.where(batch.stored, STORED_BIT, 0).astype(np.int64)
        signals[~batch.valid] |= INVALID_FIX_BIT
        for name, code in self.event_names.items():
            # Most fixes carry none of the names: only the columns present are walked.
            marked = [i for i, v in enumerate(batch.flags.get(name, ())) if v]
            marked += [
                i for i, v in enumerate(batch.io.get(name, ())) if v is not None and _truthy(v)
            ]
            signals[marked] |= SIGNAL_BITS[code]
        bits = {source: SIGNAL_BITS[code] for source, code in self.egts_sources.items() if source}
        sources = batch.io.get("source")
        if sources is not None and bits:
            signals |= np.array(
                [
                    bits.get(value, 0) if protocol == "egts" and isinstance(value, int) else 0
                    for protocol, value in zip(batch.protocol, sources, strict=True)
                ],
                dtype=np.int64,
            )
        return signals

    def battery(self, batch: PositionBatch) -> FloatArray:
        """The battery charge in % of every fix: the first plausible value under the battery
        names, NaN when a fix carries none."""
        battery = np.full(len(batch), math.nan)
        columns = [batch.io[name] for name in self.battery_names if name in batch.io]
        if not columns:
            return battery
        for i, values in enumerate(zip(*columns, strict=True)):
            for value in values:
                if isinstance(value, int | float) and not isinstance(value, bool):
                    pct = float(value)
                    if 0.0 <= pct <= 100.0:
                        battery[i] = pct
                        break
        return battery


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def events_in(signals: int) -> list[IncidentCode]:
    """The seal events a signal set holds."""
    return [code for code, bit in SIGNAL_BITS.items() if signals & bit]
