"""Navigation-seal use cases of one national operator: the registry, activation, tracks, incidents.

Each use case is one function and one transaction. Telemetry ingestion and the silence check
live in :mod:`silkway.seals.ingest`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from silkway.kernel.errors import DomainError, Violation
from silkway.node.ports import Clock, DuplicateKey
from silkway.reference.model import ReferenceData
from silkway.seals import activation as seal_activation
from silkway.seals.activation import SealActivations, activate_seals, deactivate_seals
from silkway.seals.domain.corridor import downsample, lateness
from silkway.seals.domain.route import PlannedRoute, RouteGeometry, StateLocator
from silkway.seals.domain.rules import from_ms
from silkway.seals.domain.seals import (
    Incident,
    IncidentStatus,
    MonitoringThresholds,
    Seal,
    SealStatus,
    SealTransitionForbidden,
    new_seal,
)
from silkway.seals.domain.signals import SignalMapping, events_in
from silkway.seals.passwords import hash_password
from silkway.seals.ports import Activation, HandoverRecord, IncidentFilter
from silkway.transit.domain.movement import Movement, MovementStatus
from silkway.unit_of_work import UnitOfWork

INCIDENT_SEQUENCE = "seal-incidents"
"""Counter whose value stamps every change of an incident (for the live stream)."""

_ROUTE_CACHE_SIZE = 4096


class SealNotFound(DomainError):
    code = "seal-not-found"


class SealExists(DomainError):
    code = "seal-exists"


class IncidentNotFound(DomainError):
    code = "incident-not-found"


class MovementUnknown(DomainError):
    code = "movement-not-found"


class RouteCache:
    """Route geometries built once per planned route and shared by every batch (thread-safe)."""

    def __init__(self, size: int = _ROUTE_CACHE_SIZE) -> None:
        self._size = size
        self._routes: OrderedDict[PlannedRoute, RouteGeometry] = OrderedDict()
        self._by_activation: OrderedDict[int, RouteGeometry] = OrderedDict()
        self._locator: StateLocator | None = None
        self._lock = threading.Lock()

    def geometry(self, route: PlannedRoute) -> RouteGeometry:
        with self._lock:
            found = self._routes.get(route)
            if found is not None:
                self._routes.move_to_end(route)
                return found
        built = RouteGeometry(route)
        with self._lock:
            self._routes[route] = built
            while len(self._routes) > self._size:
                self._routes.popitem(last=False)
        return built

    def for_activations(
        self, uow: UnitOfWork, activation_ids: Sequence[int]
    ) -> dict[int, RouteGeometry]:
        """The route geometry of each activation; routes not cached yet are read in one query."""
        found: dict[int, RouteGeometry] = {}
        with self._lock:
            for aid in activation_ids:
                geometry = self._by_activation.get(aid)
                if geometry is not None:
                    found[aid] = geometry
        missing = [aid for aid in activation_ids if aid not in found]
        if missing:
            for aid, (route, _plan) in uow.seals.activation_routes(missing).items():
                found[aid] = self.geometry(route)
            with self._lock:
                self._by_activation.update((aid, found[aid]) for aid in missing if aid in found)
                while len(self._by_activation) > self._size:
                    self._by_activation.popitem(last=False)
        return found

    def locator(self, reference: ReferenceData) -> StateLocator:
        if self._locator is None:
            self._locator = StateLocator.from_reference(reference)
        return self._locator


@dataclass(frozen=True, slots=True)
class SealContext:
    """What the navigation-seal use cases of one node need, built by the composition root."""

    state: str
    reference: ReferenceData
    clock: Clock
    uow: Callable[[], UnitOfWork]
    thresholds: MonitoringThresholds = field(default_factory=MonitoringThresholds)
    signals: SignalMapping = field(default_factory=SignalMapping)
    retention: timedelta = timedelta(days=400)
    """Positions older than this are purged (:func:`silkway.seals.ingest.purge_positions`)."""
    routes: RouteCache = field(default_factory=RouteCache, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class SealsFollowMovements:
    """The seals' observer of movements, plugged into transit by the composition root.

    It reads the node's thresholds when called, so seals activated at release are watched for
    silence exactly as those activated by a P.SO.01 message."""

    ctx: SealContext

    def movement_changed(
        self, uow: UnitOfWork, before: Movement, after: Movement, now: datetime
    ) -> None:
        seal_activation.movement_changed(
            uow,
            self.ctx.reference,
            self.ctx.state,
            before,
            after,
            now,
            silent_periods=self.ctx.thresholds.silent_periods,
        )


# --- registry ------------------------------------------------------------------------------------


def register_seal(
    ctx: SealContext,
    *,
    seal_id: str,
    protocol: str,
    imei: str | None = None,
    reporting_period_s: int = 300,
    password: str | None = None,
    battery_pct: int | None = None,
    firmware: str | None = None,
    operator: str | None = None,
    actor: str | None = None,
) -> Seal:
    """Register a seal with this node's operator (or record a seal of ``operator``).

    A Wialon IPS ``password`` is stored as its Argon2id hash only; a device registered with one
    must log in with it (see :mod:`silkway.seals.admission` for devices registered without).
    """
    seal = new_seal(
        seal_id=seal_id,
        operator=operator or ctx.state,
        protocol=protocol,
        device_id=imei,
        reporting_period_s=reporting_period_s,
        registered_at=ctx.clock.now(),
        password=password,
        hash_password=hash_password,
        battery_pct=battery_pct,
        firmware=firmware,
    )
    with ctx.uow() as uow:
        try:
            stored = uow.seals.add_seal(seal, actor or f"node:{ctx.state}")
        except DuplicateKey:
            raise SealExists(
                f"seal {seal_id} or device {seal.device_id} is already registered",
                [Violation("seal-exists", "/seal_id", "seal id or device identity taken")],
            ) from None
        uow.commit()
        return stored


def get_seal(ctx: SealContext, seal_id: str) -> Seal:
    with ctx.uow() as uow:
        seal = uow.seals.get_seal(seal_id)
    if seal is None:
        raise SealNotFound(f"no seal {seal_id!r} at the {ctx.state} operator")
    return seal


def list_seals(
    ctx: SealContext,
    *,
    operator: str | None = None,
    status: SealStatus | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[Seal]:
    with ctx.uow() as uow:
        return uow.seals.list_seals(operator=operator, status=status, offset=offset, limit=limit)


def activate_seal(
    ctx: SealContext, seal_id: str, movement_reference: str, *, actor: str | None = None
) -> SealActivations:
    """Activate one seal on a released movement (e.g. a seal replaced on the way)."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        movement = uow.movements.get(movement_reference)
        if movement is None:
            raise MovementUnknown(f"no movement {movement_reference!r} at the {ctx.state} node")
        if movement.status not in (MovementStatus.RELEASED, MovementStatus.IN_PASSAGE):
            raise SealTransitionForbidden(
                f"movement {movement_reference} is {movement.status.value}, not under way",
                [Violation("movement-not-under-way", "/movement_reference", "not released")],
            )
        if uow.seals.get_seal(seal_id) is None:
            raise SealNotFound(f"no seal {seal_id!r} at the {ctx.state} operator")
        result = activate_seals(
            uow,
            ctx.reference,
            ctx.state,
            movement,
            now,
            [seal_id],
            silent_periods=ctx.thresholds.silent_periods,
            actor=actor,
        )
        if seal_id in result.unresolved:
            reason = result.unresolved[seal_id]
            raise SealTransitionForbidden(
                f"seal {seal_id} cannot be activated: {reason}",
                [Violation(reason.split(":")[0], "/seal_id", reason)],
            )
        uow.commit()
        return result


def deactivate_movement_seals(ctx: SealContext, movement_reference: str) -> SealActivations:
    """End the tracking of a movement's seals (normally done at completion by transit)."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        movement = uow.movements.get(movement_reference)
        if movement is None:
            raise MovementUnknown(f"no movement {movement_reference!r} at the {ctx.state} node")
        result = deactivate_seals(uow, ctx.state, movement, now)
        uow.commit()
        return result


# --- tracks --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrackPoint:
    time: datetime
    lat: float
    lon: float
    speed_kmh: float | None
    distance_km: float | None
    events: list[str]


@dataclass(frozen=True, slots=True)
class MovementTrack:
    """Where a movement is: its downsampled track, progress, ETA, lateness and hand-overs."""

    movement_reference: str
    seals: list[str]
    points: list[TrackPoint]
    stored_points: int
    route_km: float | None
    progress_km: float | None
    remaining_km: float | None
    distance_km: float | None
    current_state: str | None
    eta: datetime | None
    time_limit_end: datetime | None
    late_by: timedelta | None
    handovers: list[HandoverRecord]
    activations: list[Activation]


def time_limit_end(time_limit: date) -> datetime:
    """The time limit is a date: the carriage is due by the end of that day (UTC)."""
    return datetime.combine(time_limit + timedelta(days=1), time.min, tzinfo=UTC)


def movement_track(
    ctx: SealContext, movement_reference: str, *, tolerance_km: float = 0.5
) -> MovementTrack:
    """The movement's track thinned for a map (every dropped point within ``tolerance_km``)."""
    with ctx.uow() as uow:
        activations = uow.seals.activations_for_movement(movement_reference)
        if not activations and uow.movements.get(movement_reference) is None:
            raise MovementUnknown(f"no movement {movement_reference!r} at the {ctx.state} node")
        track = uow.seals.track([a.id for a in activations])
        handovers = uow.seals.handovers_for_movement(movement_reference)
    keep = downsample(track.lat, track.lon, tolerance_km) if len(track.t_ms) else np.empty(0, int)
    points = [
        TrackPoint(
            time=from_ms(int(track.t_ms[i])),
            lat=float(track.lat[i]),
            lon=float(track.lon[i]),
            speed_kmh=None if np.isnan(track.speed_kmh[i]) else float(track.speed_kmh[i]),
            distance_km=None if np.isnan(track.distance_km[i]) else float(track.distance_km[i]),
            events=[c.value for c in events_in(int(track.signals[i]))],
        )
        for i in keep.tolist()
    ]
    latest = max(activations, key=lambda a: a.track.last_ms or -1, default=None)
    route_km = progress = remaining = None
    due = late_by = None
    if latest is not None:
        geometry = ctx.routes.geometry(latest.route)
        route_km = geometry.corridor.length_km
        progress = latest.track.progress_km
        if progress is not None:
            remaining = geometry.corridor.remaining_km(min(max(progress, 0.0), route_km))
        due = time_limit_end(latest.time_limit)
        if latest.track.eta is not None:
            late_by = lateness(latest.track.eta, due)
    return MovementTrack(
        movement_reference=movement_reference,
        seals=[a.seal_id for a in activations],
        points=points,
        stored_points=len(track.t_ms),
        route_km=route_km,
        progress_km=progress,
        remaining_km=remaining,
        distance_km=None if latest is None else latest.track.distance_km,
        current_state=None if latest is None else latest.track.current_state,
        eta=None if latest is None else latest.track.eta,
        time_limit_end=due,
        late_by=late_by,
        handovers=handovers,
        activations=activations,
    )


# --- incidents -----------------------------------------------------------------------------------


def list_incidents(
    ctx: SealContext, flt: IncidentFilter, *, offset: int = 0, limit: int = 100
) -> list[Incident]:
    """Incidents, newest first; ``flt.office`` gives a customs office's worklist."""
    with ctx.uow() as uow:
        return uow.seals.incidents(flt, offset=offset, limit=limit)


def incident_changes(ctx: SealContext, after_seq: int, *, limit: int = 500) -> list[Incident]:
    """Incidents changed after change number ``after_seq`` (what a live stream sends next)."""
    with ctx.uow() as uow:
        return uow.seals.incidents_after(after_seq, limit=limit)


def close_incident(
    ctx: SealContext, incident_id: int, *, note: str, actor: str | None = None
) -> Incident:
    """An officer closes an incident after inspection (seal events never close by themselves)."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        found = uow.seals.get_incident(incident_id)
        if found is None:
            raise IncidentNotFound(f"no incident {incident_id} at the {ctx.state} node")
        if found.status is IncidentStatus.CLOSED:
            return found
        closed = replace(
            found,
            status=IncidentStatus.CLOSED,
            closed_at=now,
            closed_by=actor or f"node:{ctx.state}",
            detail={**found.detail, "closure_note": note},
        )
        seq = uow.counters.next(INCIDENT_SEQUENCE)
        [saved] = uow.seals.save_incidents([closed], seq)
        uow.commit()
        return saved
