"""Telemetry ingestion: every device protocol feeds one pipeline, one batch per transaction.

A batch is handled as columns, not as records: it arrives as a ``PositionBatch`` (the device
listeners decode into one, the MQTT subscriber and the exchange's forwarded points build one;
only the HTTP endpoint and tests hand positions, which become one in :func:`_as_batch`), seal
events and battery charge are read a column at a time, the seals and their active movements are loaded with one
query each, every point of a corridor is located in one vectorised call, the rules run per
carriage over array slices, and the rows go to the database in one bulk write (COPY on
PostgreSQL).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from silkway.seals import handover as seal_handover
from silkway.seals.domain.corridor import FloatArray
from silkway.seals.domain.rules import (
    Carriage,
    Handover,
    TrackBatch,
    TrackState,
    evaluate,
    from_ms,
    to_ms,
)
from silkway.seals.domain.seals import Incident, IncidentCode, SealStatus
from silkway.seals.domain.telemetry import Position, PositionBatch
from silkway.seals.messages import Forwarded
from silkway.seals.ports import NULL, Monitored, PositionRows, TrackUpdate
from silkway.seals.service import INCIDENT_SEQUENCE, SealContext, time_limit_end
from silkway.unit_of_work import UnitOfWork

__all__ = [
    "SOURCES",
    "IngestReport",
    "check_silence",
    "ingest",
    "ingest_within",
    "purge_positions",
]

SOURCES = ("egts", "wialon", "teltonika", "mqtt", "http", "exchange")
"""Where positions come from; ``exchange`` is another operator forwarding a carriage's points."""

_EARLIEST_MS = to_ms(datetime(2000, 1, 1, tzinfo=UTC))
_MAX_AHEAD = timedelta(days=1)
_IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What became of one batch of positions."""

    accepted: int = 0
    duplicates: int = 0
    unknown_device: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    """(index in the batch, reason) of each position refused."""
    incidents_opened: int = 0
    incidents_closed: int = 0
    handovers: int = 0


@dataclass(slots=True)
class _Columns:
    """The batch as arrays, indexed like the batch; a fix's identity is ``identities[device]``."""

    identities: tuple[str | None, ...]
    device: _IntArray
    t_ms: _IntArray
    lat: FloatArray
    lon: FloatArray
    speed: FloatArray
    course: _IntArray
    battery: FloatArray
    signals: _IntArray


def _columns(ctx: SealContext, batch: PositionBatch) -> _Columns:
    mapping = ctx.signals
    return _Columns(
        identities=batch.device_ids,
        device=batch.device,
        t_ms=batch.t_ms,
        lat=batch.lat,
        lon=batch.lon,
        speed=batch.speed_kmh,
        course=np.where(batch.course < 0, NULL, batch.course),
        battery=mapping.battery(batch),
        signals=mapping.signals(batch),
    )


def _checks(cols: _Columns, naive: list[int], now_ms: int) -> dict[int, str]:
    """Positions refused before any lookup, by index."""
    refused: dict[int, str] = dict.fromkeys(naive, "time has no time zone")
    with np.errstate(invalid="ignore"):
        bad_place = ~(
            np.isfinite(cols.lat)
            & np.isfinite(cols.lon)
            & (np.abs(cols.lat) <= 90.0)
            & (np.abs(cols.lon) <= 180.0)
        )
        bad_speed = cols.speed < 0.0
    for i in np.flatnonzero(bad_place).tolist():
        refused.setdefault(i, "coordinates out of range")
    for i in np.flatnonzero(bad_speed).tolist():
        refused.setdefault(i, "negative speed")
    for i in np.flatnonzero(cols.t_ms < _EARLIEST_MS).tolist():
        refused.setdefault(i, "time before 2000")
    for i in np.flatnonzero(cols.t_ms > now_ms + _MAX_AHEAD // timedelta(milliseconds=1)).tolist():
        refused.setdefault(i, "time more than a day in the future")
    anonymous = [k for k, identity in enumerate(cols.identities) if not identity]
    for i in np.flatnonzero(np.isin(cols.device, anonymous)).tolist():
        refused.setdefault(i, "no device identity")
    return refused


def ingest(
    ctx: SealContext, batch: PositionBatch | Sequence[Position], *, source: str
) -> IngestReport:
    """Take one batch of positions from ``source``: store, check against the corridor, raise incidents.

    The batch comes as columns; positions (the HTTP endpoint's, tests') are turned into columns
    first. A fix's identity is the device's (IMEI) or the seal id. Positions of unknown
    devices are counted and skipped; refused ones are listed with their index and reason;
    neither affects the rest of the batch. Repeated points (same seal, same time) are counted
    as duplicates and stored once. Late and out-of-order points (black-box records) are accepted.
    """
    prepared = _prepare(ctx, batch, source)
    if prepared is None:
        return IngestReport()
    with ctx.uow() as uow:
        report = _ingest(ctx, uow, *prepared)
        uow.commit()
    return report


def ingest_within(
    ctx: SealContext,
    uow: UnitOfWork,
    batch: PositionBatch | Sequence[Position],
    *,
    source: str,
) -> IngestReport:
    """:func:`ingest` inside a transaction the caller owns (positions forwarded by another
    operator arrive in the exchange's receiving transaction)."""
    prepared = _prepare(ctx, batch, source)
    return IngestReport() if prepared is None else _ingest(ctx, uow, *prepared)


def _prepare(
    ctx: SealContext, given: PositionBatch | Sequence[Position], source: str
) -> tuple[_Columns, dict[int, str], datetime] | None:
    """The batch as columns and the positions refused before any lookup; None when empty."""
    if source not in SOURCES:
        raise ValueError(f"unknown telemetry source {source!r}; expected one of {SOURCES}")
    if not len(given):
        return None
    now = ctx.clock.now()
    batch, naive = (given, []) if isinstance(given, PositionBatch) else _as_batch(given)
    cols = _columns(ctx, batch)
    return cols, _checks(cols, naive, to_ms(now)), now


def _as_batch(positions: Sequence[Position]) -> tuple[PositionBatch, list[int]]:
    """Positions as columns, and the index of each whose time has no zone (refused: a batch
    reads such a time as UTC, which would be a guess)."""
    naive = [i for i, p in enumerate(positions) if p.time.utcoffset() is None]
    return PositionBatch.from_positions(positions), naive


def _ingest(
    ctx: SealContext,
    uow: UnitOfWork,
    cols: _Columns,
    refused: dict[int, str],
    now: datetime,
) -> IngestReport:
    used = np.unique(cols.device).tolist()
    identities = [d for d in (cols.identities[k] for k in used) if d]
    seals = uow.seals.seals_for_devices(list(dict.fromkeys(identities)))
    key_of: dict[str, int] = {}
    for seal in seals:
        if seal.key is None:
            continue
        if seal.status is SealStatus.RETIRED:
            key_of[seal.device_id] = key_of[seal.seal_id] = -2
        else:
            key_of[seal.device_id] = key_of[seal.seal_id] = seal.key
    keys = np.array([key_of.get(d, -1) if d else -1 for d in cols.identities], dtype=np.int64)
    seal_key = keys[cols.device]
    for i in np.flatnonzero(seal_key == -2).tolist():
        refused.setdefault(i, "seal retired")
    unknown = sum(1 for i in np.flatnonzero(seal_key == -1).tolist() if i not in refused)
    ok = seal_key >= 0
    if refused:
        ok[list(refused)] = False
    rejected = sorted(refused.items())
    kept = np.flatnonzero(ok)
    if not len(kept):
        return IngestReport(unknown_device=unknown, rejected=rejected)

    # Sort by seal then time, and drop repeats inside the batch.
    order = kept[np.lexsort((cols.t_ms[kept], seal_key[kept]))]
    keys, times = seal_key[order], cols.t_ms[order]
    repeat = np.zeros(len(order), dtype=bool)
    repeat[1:] = (keys[1:] == keys[:-1]) & (times[1:] == times[:-1])
    duplicates = int(repeat.sum())
    order = order[~repeat]

    # Looked up once per seal, then spread over its points.
    distinct, of_point = np.unique(seal_key[order], return_inverse=True)
    activations = uow.seals.active_activations(distinct.tolist())
    by_seal = {a.seal_key: a for a in activations}
    found = [by_seal.get(k) for k in distinct.tolist()]
    activation_ids = np.array([NULL if a is None else a.id for a in found], dtype=np.int64)[
        of_point
    ]

    # Points at or before what a carriage already reported may be stored repeats: ask once.
    last_known = np.array(
        [a.track.last_ms if a is not None and a.track.last_ms else -1 for a in found],
        dtype=np.int64,
    )[of_point]
    stale = np.flatnonzero(cols.t_ms[order] <= last_known)
    if len(stale):
        stored = uow.seals.existing_positions(seal_key[order][stale], cols.t_ms[order][stale])
        if len(stored):
            duplicates += len(stored)
            drop = np.zeros(len(order), dtype=bool)
            drop[stale[stored]] = True
            order, activation_ids = order[~drop], activation_ids[~drop]
    if not len(order):
        return IngestReport(duplicates=duplicates, unknown_device=unknown, rejected=rejected)

    distance = np.full(len(order), np.nan)
    progress = np.full(len(order), np.nan)
    segment = np.zeros(len(order), dtype=np.intp)
    starts = np.flatnonzero(np.r_[True, activation_ids[1:] != activation_ids[:-1]])
    bounds = list(zip(starts.tolist(), [*starts[1:].tolist(), len(order)], strict=True))
    activation_by_id = {a.id: a for a in activations}
    geometries = ctx.routes.for_activations(uow, list(activation_by_id))
    # Every point on the same route is located in one vectorised call.
    groups: dict[int, list[int]] = defaultdict(list)
    for start, stop in bounds:
        aid = int(activation_ids[start])
        if aid != NULL:
            groups[id(geometries[aid])].extend(range(start, stop))
    for members in groups.values():
        idx = np.array(members, dtype=np.intp)
        geometry = geometries[int(activation_ids[idx[0]])]
        located = geometry.corridor.locate(cols.lat[order[idx]], cols.lon[order[idx]])
        distance[idx], progress[idx], segment[idx] = located

    incidents: list[Incident] = []
    handovers: list[Handover] = []
    updates: list[TrackUpdate] = []
    locator = ctx.routes.locator(ctx.reference)
    thresholds = ctx.thresholds
    open_by_activation: dict[int, dict[IncidentCode, Incident]] = defaultdict(dict)
    for incident in uow.seals.open_incidents(list(activation_by_id)):
        open_by_activation[incident.activation_id][incident.code] = incident
    # Gathered in batch order once, so that each carriage's points are slices, not copies.
    t_ms, lat, lon = cols.t_ms[order], cols.lat[order], cols.lon[order]
    speed, battery, signals = cols.speed[order], cols.battery[order], cols.signals[order]
    course = cols.course[order]
    forwards: list[Forwarded] = []
    for start, stop in bounds:
        aid = int(activation_ids[start])
        if aid == NULL:
            continue
        activation = activation_by_id[aid]
        batch = TrackBatch(
            t_ms=t_ms[start:stop],
            lat=lat[start:stop],
            lon=lon[start:stop],
            speed_kmh=speed[start:stop],
            battery_pct=battery[start:stop],
            signals=signals[start:stop],
            distance_km=distance[start:stop],
            progress_km=progress[start:stop],
            segment=segment[start:stop],
        )
        outcome = evaluate(
            batch,
            activation.track,
            open_by_activation[aid],
            _carriage(activation),
            geometries[aid],
            locator,
            thresholds,
        )
        incidents.extend(outcome.incidents)
        handovers.extend(outcome.handovers)
        before = activation.track.current_state
        if (outcome.handovers or before not in (None, ctx.state)) and seal_handover.tracked_here(
            ctx, activation.movement_reference
        ):
            for to_state, rows in seal_handover.owners(ctx, before, outcome.handovers, batch.t_ms):
                forwards.append(
                    Forwarded(
                        to_state=to_state,
                        movement_reference=activation.movement_reference,
                        seal_id=activation.seal_id,
                        t_ms=batch.t_ms[rows],
                        lat=batch.lat[rows],
                        lon=batch.lon[rows],
                        speed_kmh=batch.speed_kmh[rows],
                        course=course[start:stop][rows],
                        battery_pct=batch.battery_pct[rows],
                        signals=batch.signals[rows],
                    )
                )
        updates.append(
            TrackUpdate(aid, outcome.state, _silent_after(ctx, activation, outcome.state))
        )

    inserted = uow.seals.write_positions(
        _rows(cols, order, seal_key, activation_ids, distance, progress)
    )
    duplicates += len(order) - inserted
    uow.seals.save_tracks(updates)
    opened = sum(1 for i in incidents if i.id is None)
    closed = sum(1 for i in incidents if i.closed_at is not None)
    if incidents:
        uow.seals.save_incidents(incidents, uow.counters.next(INCIDENT_SEQUENCE))
    if handovers:
        seal_handover.record_handovers(ctx, uow, handovers, now)
    if forwards:
        seal_handover.forward_positions(uow, forwards, now)
    return IngestReport(
        accepted=inserted,
        duplicates=duplicates,
        unknown_device=unknown,
        rejected=rejected,
        incidents_opened=opened,
        incidents_closed=closed,
        handovers=len(handovers),
    )


def _carriage(activation: Monitored) -> Carriage:
    return Carriage(
        activation_id=activation.id,
        movement_reference=activation.movement_reference,
        seal_id=activation.seal_id,
        time_limit_end=time_limit_end(activation.time_limit),
    )


def _silent_after(ctx: SealContext, activation: Monitored, track: TrackState) -> int | None:
    # Silence (06) is the tracking operator's check: the seal reports to it, and a passage
    # operator only sees the points forwarded while the carriage is in its state.
    if track.last_ms is None or not seal_handover.tracked_here(ctx, activation.movement_reference):
        return None
    return track.last_ms + ctx.thresholds.silent_periods * activation.reporting_period_s * 1000


def _scaled(values: FloatArray, factor: float) -> _IntArray:
    out = np.full(len(values), NULL, dtype=np.int64)
    known = ~np.isnan(values)
    out[known] = np.rint(values[known] * factor).astype(np.int64)
    return out


def _rows(
    cols: _Columns,
    order: npt.NDArray[np.intp],
    seal_key: _IntArray,
    activation_ids: _IntArray,
    distance: FloatArray,
    progress: FloatArray,
) -> PositionRows:
    speed = cols.speed[order]
    return PositionRows(
        seal_key=seal_key[order],
        t_ms=cols.t_ms[order],
        activation_id=activation_ids,
        lat_e6=np.rint(cols.lat[order] * 1e6).astype(np.int64),
        lon_e6=np.rint(cols.lon[order] * 1e6).astype(np.int64),
        speed_dkmh=_scaled(np.minimum(speed, 3000.0), 10.0),
        course=cols.course[order],
        battery_pct=_scaled(cols.battery[order], 1.0),
        signals=cols.signals[order],
        distance_m=_scaled(np.minimum(distance, 2.0e6), 1000.0),
        progress_m=_scaled(progress, 1000.0),
    )


def check_silence(
    ctx: SealContext, now: datetime | None = None, *, limit: int = 1000
) -> list[Incident]:
    """Open incident 06 for every active seal silent for the configured reporting periods.

    Run periodically (the node's scheduler, ``silkway seals check-silence`` or the API). Each
    silent carriage is flagged once; its next message closes the incident and re-arms the check.
    """
    moment = now or ctx.clock.now()
    now_ms = to_ms(moment)
    with ctx.uow() as uow:
        silent = uow.seals.silent_activations(now_ms, limit=limit)
        if not silent:
            return []
        already = {
            i.activation_id
            for i in uow.seals.open_incidents([a.id for a in silent])
            if i.code is IncidentCode.SILENCE
        }
        opened: list[Incident] = []
        updates: list[TrackUpdate] = []
        periods = ctx.thresholds.silent_periods
        for activation in silent:
            updates.append(TrackUpdate(activation.id, activation.track, None))
            if activation.id in already:
                continue
            track = activation.track
            last_contact = (
                track.last_ms if track.last_ms is not None else to_ms(activation.activated_at)
            )
            opened.append(
                Incident(
                    code=IncidentCode.SILENCE,
                    activation_id=activation.id,
                    movement_reference=activation.movement_reference,
                    seal_id=activation.seal_id,
                    opened_at=from_ms(
                        last_contact + periods * activation.reporting_period_s * 1000
                    ),
                    last_at=moment,
                    points=0,
                    lat=track.lat,
                    lon=track.lon,
                    worst=(now_ms - last_contact) / 60_000.0,
                    detail={"last_contact": from_ms(last_contact).isoformat()},
                )
            )
        uow.seals.save_tracks(updates)
        saved = (
            uow.seals.save_incidents(opened, uow.counters.next(INCIDENT_SEQUENCE)) if opened else []
        )
        uow.commit()
        return saved


def purge_positions(ctx: SealContext, now: datetime | None = None) -> int:
    """Delete positions older than the retention period; returns how many were deleted."""
    cutoff = (now or ctx.clock.now()) - ctx.retention
    with ctx.uow() as uow:
        deleted = uow.seals.purge_positions(to_ms(cutoff))
        uow.commit()
        return deleted
