"""Monitoring rules over a batch of one seal's positions on one movement, vectorised with numpy.

:func:`evaluate` takes the points of a batch (sorted by time, duplicates removed, already located
against the corridor), what was known before the batch (:class:`TrackState`) and the incidents
still open, and returns the new state, every incident it opened, updated or closed, and the
hand-overs between national operators it detected. It is pure: the same inputs give the same
outcome, which is what makes a flood of repeated points harmless.

Points newer than the last known one ("fresh", a suffix of the sorted batch) drive everything
that depends on order: closing an incident, stops, hand-overs, ETA. Late points (black-box
records replayed out of order) still open or widen incidents for what they show, and an
incident opened only by late points is closed at once when a later point already showed the
condition cleared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from silkway.seals.domain.corridor import EARTH_RADIUS_KM, FloatArray, IndexArray, eta, lateness
from silkway.seals.domain.route import RouteGeometry, StateLocator
from silkway.seals.domain.seals import Incident, IncidentCode, IncidentStatus, MonitoringThresholds
from silkway.seals.domain.signals import SIGNAL_BITS

IntArray = npt.NDArray[np.int64]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_ms(ms: int) -> datetime:
    """An aware UTC datetime from milliseconds since the Unix epoch."""
    return _EPOCH + timedelta(milliseconds=int(ms))


def to_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware datetime."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class TrackState:
    """What is known about a carriage after the points seen so far (stored with the activation)."""

    last_ms: int | None = None
    lat: float | None = None
    lon: float | None = None
    distance_km: float | None = None
    progress_km: float | None = None
    current_state: str | None = None
    """The member state the carriage is in, along the route."""
    stop_since_ms: int | None = None
    stop_lat: float | None = None
    stop_lon: float | None = None
    battery_pct: float | None = None
    speed_kmh: float | None = None
    """Mean speed over the recent window, for the ETA."""
    eta: datetime | None = None
    points: int = 0


@dataclass(frozen=True, slots=True)
class TrackBatch:
    """One activation's points in a batch: sorted by time, no duplicates, located on the route."""

    t_ms: IntArray
    lat: FloatArray
    lon: FloatArray
    speed_kmh: FloatArray
    """NaN when the device did not say."""
    battery_pct: FloatArray
    """NaN when the position does not carry it."""
    signals: IntArray
    distance_km: FloatArray
    progress_km: FloatArray
    segment: IndexArray

    def __len__(self) -> int:
        return len(self.t_ms)


@dataclass(frozen=True, slots=True)
class Carriage:
    """The activation the rules run for: a seal on a movement, with its time limit."""

    activation_id: int
    movement_reference: str
    seal_id: str
    time_limit_end: datetime


@dataclass(frozen=True, slots=True)
class Handover:
    """The carriage entered the next member state: its operator takes over the tracking."""

    activation_id: int
    movement_reference: str
    seal_id: str
    from_state: str
    to_state: str
    at: datetime
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Outcome:
    state: TrackState
    incidents: list[Incident] = field(default_factory=list)
    """Every incident opened (``id`` None), updated or closed by the batch."""
    handovers: list[Handover] = field(default_factory=list)


class _Book:
    """The incidents of one activation while a batch is evaluated."""

    def __init__(self, carriage: Carriage, open_incidents: dict[IncidentCode, Incident]) -> None:
        self.carriage = carriage
        self.current = dict(open_incidents)
        self.touched: set[IncidentCode] = set()

    def record(
        self,
        code: IncidentCode,
        batch: TrackBatch,
        where: IndexArray,
        worst: float | None,
        *,
        lowest: bool = False,
        detail: dict[str, str | float | int | None] | None = None,
    ) -> None:
        """Open ``code`` on the points ``where``, or widen the open one."""
        times = batch.t_ms[where]
        first, last = int(times.min()), int(times.max())
        found = self.current.get(code)
        if found is None or found.status is IncidentStatus.CLOSED:
            c = self.carriage
            at = int(where[0])
            self.current[code] = Incident(
                code=code,
                activation_id=c.activation_id,
                movement_reference=c.movement_reference,
                seal_id=c.seal_id,
                opened_at=from_ms(first),
                last_at=from_ms(last),
                points=len(where),
                lat=float(batch.lat[at]),
                lon=float(batch.lon[at]),
                worst=worst,
                detail=detail or {},
            )
        else:
            self.current[code] = replace(
                found,
                opened_at=min(found.opened_at, from_ms(first)),
                last_at=max(found.last_at, from_ms(last)),
                points=found.points + len(where),
                worst=_combine(found.worst, worst, lowest),
                detail={**found.detail, **(detail or {})},
            )
        self.touched.add(code)

    def close(self, code: IncidentCode, at_ms: int | None) -> None:
        """Close ``code`` when a point at ``at_ms``, after its last sighting, shows it cleared."""
        found = self.current.get(code)
        if found is None or found.status is IncidentStatus.CLOSED or at_ms is None:
            return
        if from_ms(at_ms) <= found.last_at:
            return
        self.current[code] = replace(found, status=IncidentStatus.CLOSED, closed_at=from_ms(at_ms))
        self.touched.add(code)

    def changes(self) -> list[Incident]:
        return [self.current[c] for c in sorted(self.touched)]


def _combine(old: float | None, new: float | None, lowest: bool) -> float | None:
    if old is None or new is None:
        return new if old is None else old
    return min(old, new) if lowest else max(old, new)


def evaluate(
    batch: TrackBatch,
    state: TrackState,
    open_incidents: dict[IncidentCode, Incident],
    carriage: Carriage,
    geometry: RouteGeometry,
    locator: StateLocator,
    thresholds: MonitoringThresholds,
) -> Outcome:
    """Apply every position rule to one activation's batch."""
    if not len(batch):
        return Outcome(state)
    book = _Book(carriage, open_incidents)
    fresh_from = (
        0 if state.last_ms is None else int(batch.t_ms.searchsorted(state.last_ms, "right"))
    )
    has_fresh = fresh_from < len(batch)
    last = len(batch) - 1
    latest_ms = int(batch.t_ms[last]) if has_fresh else state.last_ms

    _seal_events(batch, book)
    _silence_ends(batch, book)
    latest_distance = float(batch.distance_km[last]) if has_fresh else state.distance_km
    _deviation(batch, book, thresholds, latest_ms, latest_distance)
    latest_battery = _latest(batch.battery_pct[fresh_from:], state.battery_pct)
    _battery(batch, book, thresholds, latest_ms, latest_battery)
    _state_off_route(batch, book, thresholds, geometry, locator, latest_ms, latest_distance)
    if not has_fresh:
        return Outcome(replace(state, points=state.points + len(batch)), book.changes())

    fresh = slice(fresh_from, len(batch))
    stop = _stops(batch, fresh, state, book, thresholds, geometry)
    current_state, handovers = _handovers(batch, fresh, state, carriage, geometry, thresholds)
    speed = _recent_speed(batch, fresh, thresholds, state.speed_kmh)
    expected = _eta_and_lateness(batch, book, thresholds, geometry, carriage, speed)
    new_state = TrackState(
        last_ms=int(batch.t_ms[last]),
        lat=float(batch.lat[last]),
        lon=float(batch.lon[last]),
        distance_km=float(batch.distance_km[last]),
        progress_km=float(batch.progress_km[last]),
        current_state=current_state,
        stop_since_ms=stop[0],
        stop_lat=stop[1],
        stop_lon=stop[2],
        battery_pct=latest_battery,
        speed_kmh=speed,
        eta=expected,
        points=state.points + len(batch),
    )
    return Outcome(new_state, book.changes(), handovers)


def _where(mask: npt.NDArray[np.bool_] | IntArray) -> IndexArray:
    """Indices of the true (non-zero) entries: ``np.flatnonzero`` without its wrappers, which
    cost more than the work on a carriage's few dozen points."""
    found: IndexArray = mask.nonzero()[0]
    return found


def _cleared_at(batch: TrackBatch, showing: IndexArray, latest_ms: int | None) -> int | None:
    """When the condition was first seen cleared: the point after the last one showing it."""
    if latest_ms is None:
        return None
    after = int(showing[-1]) + 1 if len(showing) else 0
    if after < len(batch) and int(batch.t_ms[after]) <= latest_ms:
        return int(batch.t_ms[after])
    return latest_ms


def _latest(values: FloatArray, previous: float | None) -> float | None:
    known = _where(~np.isnan(values))
    return float(values[known[-1]]) if len(known) else previous


def _seal_events(batch: TrackBatch, book: _Book) -> None:
    if not batch.signals.any():
        return
    for code, bit in SIGNAL_BITS.items():
        where = _where(batch.signals & bit)
        if len(where):
            book.record(code, batch, where, None)


def _silence_ends(batch: TrackBatch, book: _Book) -> None:
    # Any message at all proves the seal talks again (the batch is in time order).
    book.close(IncidentCode.SILENCE, int(batch.t_ms[-1]))


def _deviation(
    batch: TrackBatch,
    book: _Book,
    th: MonitoringThresholds,
    latest_ms: int | None,
    latest_distance: float | None,
) -> None:
    away = _where(batch.distance_km > th.deviation_km)
    if len(away):
        book.record(
            IncidentCode.DEVIATION, batch, away, float(batch.distance_km[away].max()), detail={}
        )
    if latest_distance is not None and latest_distance <= th.deviation_km:
        book.close(IncidentCode.DEVIATION, _cleared_at(batch, away, latest_ms))


def _battery(
    batch: TrackBatch,
    book: _Book,
    th: MonitoringThresholds,
    latest_ms: int | None,
    latest_battery: float | None,
) -> None:
    low = _where(batch.battery_pct < th.battery_pct)
    if len(low):
        worst = float(batch.battery_pct[low].min())
        book.record(IncidentCode.BATTERY_LOW, batch, low, worst, lowest=True)
    if latest_battery is not None and latest_battery >= th.battery_pct:
        book.close(IncidentCode.BATTERY_LOW, _cleared_at(batch, low, latest_ms))


def _state_off_route(
    batch: TrackBatch,
    book: _Book,
    th: MonitoringThresholds,
    geometry: RouteGeometry,
    locator: StateLocator,
    latest_ms: int | None,
    latest_distance: float | None,
) -> None:
    far = _where(batch.distance_km > th.off_route_state_km)
    allowed = set(geometry.route.states)
    where = far[:0]
    if len(far):
        located = locator.states(batch.lat[far], batch.lon[far])
        outside = [i for i, s in enumerate(located) if s not in allowed]
        if outside:
            where = far[outside]
            book.record(
                IncidentCode.STATE_OFF_ROUTE,
                batch,
                where,
                float(batch.distance_km[where].max()),
                detail={"state": located[outside[0]]},
            )
    if latest_distance is not None and latest_distance <= th.off_route_state_km:
        book.close(IncidentCode.STATE_OFF_ROUTE, _cleared_at(batch, where, latest_ms))


def _km_between(
    lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray
) -> FloatArray:
    """Great-circle distance of already validated coordinates (haversine, no checks)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    km: FloatArray = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return km


def _runs(stationary: npt.NDArray[np.bool_], carried: bool) -> IndexArray:
    """For each point, the index where its stationary run began (-1: the run carried over)."""
    before = np.concatenate([[carried], stationary[:-1]])
    starts = stationary & ~before
    marks = np.where(starts, np.arange(len(stationary)), -1)
    run: IndexArray = np.maximum.accumulate(marks)
    return run


def _stops(
    batch: TrackBatch,
    fresh: slice,
    state: TrackState,
    book: _Book,
    th: MonitoringThresholds,
    geometry: RouteGeometry,
) -> tuple[int | None, float | None, float | None]:
    """Unplanned stops over the fresh points; returns the stop still under way, if any."""
    t = batch.t_ms[fresh]
    lat, lon = batch.lat[fresh], batch.lon[fresh]
    stationary = batch.speed_kmh[fresh] < th.stop_speed_kmh
    carried = state.stop_since_ms is not None and state.stop_lat is not None
    if not stationary.any():
        book.close(IncidentCode.UNPLANNED_STOP, int(t[0]))
        return None, None, None
    carried_lat = state.stop_lat if state.stop_lat is not None else 0.0
    carried_lon = state.stop_lon if state.stop_lon is not None else 0.0
    run = _runs(stationary, carried)
    # A slow crawl that drifts away from where it stopped is traffic, not a stop.
    origin = np.maximum(run, 0)
    origin_lat = np.where(run >= 0, lat[origin], carried_lat)
    origin_lon = np.where(run >= 0, lon[origin], carried_lon)
    drift = _km_between(origin_lat, origin_lon, lat, lon) > th.stop_radius_km
    if (drift & stationary).any():
        stationary &= ~drift
        run = _runs(stationary, carried and bool(stationary[:1].all()))
        origin = np.maximum(run, 0)
        origin_lat = np.where(run >= 0, lat[origin], carried_lat)
        origin_lon = np.where(run >= 0, lon[origin], carried_lon)
    carried_since = state.stop_since_ms if state.stop_since_ms is not None else 0
    since = np.where(run >= 0, t[origin], carried_since)
    stopped_for = t - since
    long = stationary & (stopped_for >= th.stop_after // timedelta(milliseconds=1))
    if long.any():
        away = geometry.km_to_stop_place(origin_lat[long], origin_lon[long])
        where = _where(long)[away > th.stop_place_radius_km]
        if len(where):
            minutes = float(stopped_for[where].max()) / 60_000.0
            book.record(
                IncidentCode.UNPLANNED_STOP,
                batch,
                where + (fresh.start or 0),
                minutes,
                detail={"stopped_since": from_ms(int(since[where[0]])).isoformat()},
            )
    if stationary[-1]:
        return int(since[-1]), float(origin_lat[-1]), float(origin_lon[-1])
    still = _where(stationary)
    book.close(IncidentCode.UNPLANNED_STOP, int(t[int(still[-1]) + 1 if len(still) else 0]))
    return None, None, None


def _handovers(
    batch: TrackBatch,
    fresh: slice,
    state: TrackState,
    carriage: Carriage,
    geometry: RouteGeometry,
    th: MonitoringThresholds,
) -> tuple[str | None, list[Handover]]:
    """Entries into the next member state of the route, from the fresh points near it."""
    near = _where(batch.distance_km[fresh] <= th.off_route_state_km) + (fresh.start or 0)
    if not len(near):
        return state.current_state, []
    # Only changes matter, and most points stay in the same state: visit the changes alone.
    indices = geometry.state_indices_at(batch.segment[near], batch.progress_km[near])
    changed = np.empty(len(indices), dtype=np.bool_)
    changed[0] = True
    np.not_equal(indices[1:], indices[:-1], out=changed[1:])
    changes = _where(changed)
    codes = geometry.state_codes
    states = [codes[k] for k in indices[changes].tolist()]
    order = geometry.member_rank
    current = state.current_state
    found: list[Handover] = []
    for i, s in zip(near[changes].tolist(), states, strict=True):
        rank = order.get(s)
        if rank is None or s == current:
            continue
        if current is not None and current in order and rank <= order[current]:
            continue  # jitter at a frontier never hands the carriage back
        if current is not None:
            found.append(
                Handover(
                    activation_id=carriage.activation_id,
                    movement_reference=carriage.movement_reference,
                    seal_id=carriage.seal_id,
                    from_state=current,
                    to_state=s,
                    at=from_ms(int(batch.t_ms[i])),
                    lat=float(batch.lat[i]),
                    lon=float(batch.lon[i]),
                )
            )
        current = s
    return current, found


def _recent_speed(
    batch: TrackBatch, fresh: slice, th: MonitoringThresholds, previous: float | None
) -> float | None:
    t = batch.t_ms[fresh]
    # Times are sorted: the window is the tail from the first point inside it.
    since = int(t.searchsorted(t[-1] - th.recent_speed_window // timedelta(milliseconds=1)))
    speeds = batch.speed_kmh[fresh][since:]
    speeds = speeds[~np.isnan(speeds)]
    # The sum over the count is what mean computes, without its Python-level wrappers.
    return float(speeds.sum() / len(speeds)) if len(speeds) else previous


def _eta_and_lateness(
    batch: TrackBatch,
    book: _Book,
    th: MonitoringThresholds,
    geometry: RouteGeometry,
    carriage: Carriage,
    speed: float | None,
) -> datetime | None:
    last = len(batch) - 1
    if speed is None or not math.isfinite(speed):
        return None
    remaining = geometry.corridor.remaining_km(float(batch.progress_km[last]))
    at = from_ms(int(batch.t_ms[last]))
    expected = eta(remaining, speed, at)
    if expected is None:
        return None
    late_by = lateness(expected, carriage.time_limit_end)
    if late_by > th.lateness_grace:
        hours = late_by.total_seconds() / 3600.0
        book.record(
            IncidentCode.LATE,
            batch,
            np.array([last], dtype=np.intp),
            hours,
            detail={"eta": expected.isoformat()},
        )
    else:
        book.close(IncidentCode.LATE, int(batch.t_ms[last]))
    return expected
