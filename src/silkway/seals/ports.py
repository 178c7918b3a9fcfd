"""What the navigation-seal registry, positions and incidents services need from storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from silkway.seals.domain.route import OperatorPlan, PlannedRoute
from silkway.seals.domain.rules import Handover, TrackState
from silkway.seals.domain.seals import Incident, IncidentCode, IncidentStatus, Seal, SealStatus

Int64Array = npt.NDArray[np.int64]

NULL = -(2**31)
"""Marks a missing value in the integer columns of :class:`PositionRows`."""


@dataclass(frozen=True, slots=True)
class Activation:
    """A seal on a movement, from release to completion, with its tracking state."""

    id: int
    seal_key: int
    seal_id: str
    movement_reference: str
    active: bool
    activated_at: datetime
    time_limit: date
    reporting_period_s: int
    route: PlannedRoute
    operators: OperatorPlan
    track: TrackState
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Monitored:
    """What ingestion needs of an active activation each batch (its route is cached apart)."""

    id: int
    seal_key: int
    seal_id: str
    movement_reference: str
    time_limit: date
    reporting_period_s: int
    track: TrackState


@dataclass(frozen=True, slots=True)
class NewActivation:
    seal_key: int
    movement_reference: str
    activated_at: datetime
    time_limit: date
    reporting_period_s: int
    route: PlannedRoute
    operators: OperatorPlan
    silent_after_ms: int | None
    """When the seal counts as silent if it never reports."""
    actor: str
    """Who activated it: an operator or officer, or the node at release."""


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    activation_id: int
    track: TrackState
    silent_after_ms: int | None
    """When the seal counts as silent if nothing more arrives (None: already flagged)."""


@dataclass(frozen=True, slots=True)
class HandoverRecord:
    """A hand-over (or completion notice) as stored, with the message owed for it."""

    kind: str
    """``handover`` or ``completion``."""
    handover: Handover
    payload: dict[str, object]
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class PositionRows:
    """Positions ready to store, one numpy column each; :data:`NULL` marks a missing value."""

    seal_key: Int64Array
    t_ms: Int64Array
    activation_id: Int64Array
    lat_e6: Int64Array
    lon_e6: Int64Array
    speed_dkmh: Int64Array
    course: Int64Array
    battery_pct: Int64Array
    signals: Int64Array
    distance_m: Int64Array
    progress_m: Int64Array

    COLUMNS = (
        "seal_key",
        "t_ms",
        "activation_id",
        "lat_e6",
        "lon_e6",
        "speed_dkmh",
        "course",
        "battery_pct",
        "signals",
        "distance_m",
        "progress_m",
    )

    def __len__(self) -> int:
        return len(self.t_ms)

    def columns(self) -> list[Int64Array]:
        return [getattr(self, name) for name in self.COLUMNS]


@dataclass(frozen=True, slots=True)
class Track:
    """A stored track in time order (coordinates in degrees, NaN for unknown values)."""

    t_ms: Int64Array
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    speed_kmh: npt.NDArray[np.float64]
    signals: Int64Array
    distance_km: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    status: IncidentStatus | None = None
    code: IncidentCode | None = None
    movement_reference: str | None = None
    office: str | None = None
    """Only movements that concern this customs office (any role)."""
    seal_id: str | None = None


class SealRepository(Protocol):
    """Storage of the navigation-seal registry, positions and incidents, inside the node's unit of work."""

    # registry
    def add_seal(self, seal: Seal, actor: str) -> Seal:
        """Store a new seal registered by ``actor``; raises DuplicateKey when its id or device
        identity is taken."""
        ...

    def get_seal(self, seal_id: str) -> Seal | None: ...

    def list_seals(
        self, *, operator: str | None, status: SealStatus | None, offset: int, limit: int
    ) -> list[Seal]: ...

    def seals_for_devices(self, identities: Sequence[str]) -> list[Seal]:
        """Seals whose device identity or seal id is among ``identities`` (one query)."""
        ...

    def set_seal_status(
        self, key: int, status: SealStatus, movement_reference: str | None
    ) -> None: ...

    # activations
    def add_activation(self, activation: NewActivation) -> int: ...

    def active_activations(self, seal_keys: Sequence[int]) -> list[Monitored]:
        """The active activations of these seals, locked until the transaction ends."""
        ...

    def activation_routes(
        self, activation_ids: Sequence[int]
    ) -> dict[int, tuple[PlannedRoute, OperatorPlan]]:
        """The planned route and operators of each activation (they never change)."""
        ...

    def activations_for_movement(self, reference: str) -> list[Activation]: ...

    def end_activation(self, activation_id: int, at: datetime) -> None: ...

    def save_tracks(self, updates: Sequence[TrackUpdate]) -> None: ...

    def silent_activations(self, now_ms: int, *, limit: int) -> list[Activation]:
        """Active activations whose seal should have reported by ``now_ms`` and did not."""
        ...

    # positions
    def existing_positions(self, seal_keys: Int64Array, t_ms: Int64Array) -> Int64Array:
        """Indices of the given (seal, time) pairs that are already stored."""
        ...

    def write_positions(self, rows: PositionRows) -> int:
        """Store positions in bulk; returns how many were new (repeats are skipped)."""
        ...

    def track(self, activation_ids: Sequence[int]) -> Track: ...

    def purge_positions(self, before_ms: int) -> int: ...

    # incidents and hand-overs
    def open_incidents(self, activation_ids: Sequence[int]) -> list[Incident]: ...

    def save_incidents(self, incidents: Sequence[Incident], seq: int) -> list[Incident]:
        """Insert new incidents (``id`` None) and update the others; returns them with ids."""
        ...

    def get_incident(self, incident_id: int) -> Incident | None: ...

    def incidents(self, flt: IncidentFilter, *, offset: int, limit: int) -> list[Incident]: ...

    def incidents_after(self, seq: int, *, limit: int) -> list[Incident]:
        """Incidents changed after change number ``seq``, oldest change first."""
        ...

    def add_handovers(self, records: Sequence[HandoverRecord]) -> list[HandoverRecord]:
        """Store hand-overs and return those stored; one already recorded (same activation,
        kind and state) is skipped."""
        ...

    def handovers_for_movement(self, reference: str) -> list[HandoverRecord]: ...
