"""SQLAlchemy Core storage of the navigation-seal registry, positions and incidents.

Positions are the hot path: they go in as one bulk statement per batch, through the driver
itself rather than SQLAlchemy's per-row parameter handling: ``executemany`` of one prepared
``INSERT OR IGNORE`` on SQLite, ``COPY … FROM STDIN`` (binary, the stream built with numpy a
column at a time) on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from silkway.node.db.values import utc, utc_or_none
from silkway.node.ports import DuplicateKey
from silkway.seals.db.tables import (
    seal_activations,
    seal_handovers,
    seal_incidents,
    seal_positions,
    seals,
)
from silkway.seals.domain.route import OperatorPlan, PlannedRoute
from silkway.seals.domain.rules import Handover, TrackState
from silkway.seals.domain.seals import (
    DeviceProtocol,
    Incident,
    IncidentCode,
    IncidentStatus,
    Seal,
    SealStatus,
)
from silkway.seals.ports import (
    NULL,
    Activation,
    HandoverRecord,
    IncidentFilter,
    Int64Array,
    Monitored,
    NewActivation,
    PositionRows,
    Track,
    TrackUpdate,
)
from silkway.transit.db.tables import movement_offices

_POSITION_COLUMNS = ", ".join(PositionRows.COLUMNS)
_SQLITE_INSERT = (
    f"INSERT OR IGNORE INTO seal_positions ({_POSITION_COLUMNS})"
    f" VALUES ({', '.join('?' * len(PositionRows.COLUMNS))})"
)
_PG_TYPES = ["int4", "int8", "int4", "int4", "int4", "int2", "int2", "int2", "int2", "int4", "int4"]
_PG_BINARY: dict[str, np.dtype[np.signedinteger[Any]]] = {
    "int2": np.dtype(">i2"),
    "int4": np.dtype(">i4"),
    "int8": np.dtype(">i8"),
}
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no header extension
_COPY_TRAILER = b"\xff\xff"
_PG_COPY = f"COPY seal_positions ({_POSITION_COLUMNS}) FROM STDIN (FORMAT BINARY)"
_PG_STAGE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS seal_positions_stage"
    " (LIKE seal_positions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_PG_COPY_STAGE = f"COPY seal_positions_stage ({_POSITION_COLUMNS}) FROM STDIN (FORMAT BINARY)"
_PG_FROM_STAGE = (
    f"INSERT INTO seal_positions ({_POSITION_COLUMNS})"
    f" SELECT {_POSITION_COLUMNS} FROM seal_positions_stage ON CONFLICT DO NOTHING"
)

_INSERT_SEAL = insert(seals)
_SEAL_BY_ID = select(seals).where(seals.c.seal_id == bindparam("seal_id"))
_SET_SEAL_STATUS = (
    update(seals)
    .where(seals.c.id == bindparam("key"))
    .values(status=bindparam("status"), movement_reference=bindparam("ref"))
)
_INSERT_ACTIVATION = insert(seal_activations).returning(seal_activations.c.id)
_ACTIVATION_COLUMNS = (*seal_activations.c, seals.c.seal_id)
_ACTIVATIONS = select(*_ACTIVATION_COLUMNS).join(seals, seals.c.id == seal_activations.c.seal_key)
_MONITORED = select(
    seal_activations.c.id,
    seal_activations.c.seal_key,
    seals.c.seal_id,
    seal_activations.c.movement_reference,
    seal_activations.c.time_limit,
    seal_activations.c.reporting_period_s,
    seal_activations.c.track,
).join(seals, seals.c.id == seal_activations.c.seal_key)
_SAVE_TRACK = (
    update(seal_activations)
    .where(seal_activations.c.id == bindparam("aid"))
    .values(
        track=bindparam("track_json", type_=seal_activations.c.track.type),
        last_ms=bindparam("last"),
        silent_after_ms=bindparam("silent_after"),
    )
)
_END_ACTIVATION = (
    update(seal_activations)
    .where(seal_activations.c.id == bindparam("aid"))
    .values(status="ended", ended_at=bindparam("at"), silent_after_ms=None)
)
_INSERT_INCIDENT = insert(seal_incidents).returning(seal_incidents.c.id)
_UPDATE_INCIDENT = (
    update(seal_incidents)
    .where(seal_incidents.c.id == bindparam("iid"))
    .values(
        status=bindparam("status"),
        opened_at=bindparam("opened_at"),
        last_at=bindparam("last_at"),
        closed_at=bindparam("closed_at"),
        closed_by=bindparam("closed_by"),
        points=bindparam("points"),
        worst=bindparam("worst"),
        detail=bindparam("detail", type_=seal_incidents.c.detail.type),
        seq=bindparam("seq"),
    )
)


def _seal(row: Any) -> Seal:
    return Seal(
        seal_id=row.seal_id,
        operator=row.operator,
        protocol=DeviceProtocol(row.protocol),
        device_id=row.device_id,
        reporting_period_s=row.reporting_period_s,
        registered_at=utc(row.registered_at),
        password_hash=row.password_hash,
        battery_pct=row.battery_pct,
        firmware=row.firmware,
        status=SealStatus(row.status),
        movement_reference=row.movement_reference,
        key=row.id,
    )


def track_to_json(track: TrackState) -> dict[str, Any]:
    return {
        "last_ms": track.last_ms,
        "lat": track.lat,
        "lon": track.lon,
        "distance_km": track.distance_km,
        "progress_km": track.progress_km,
        "current_state": track.current_state,
        "stop_since_ms": track.stop_since_ms,
        "stop_lat": track.stop_lat,
        "stop_lon": track.stop_lon,
        "battery_pct": track.battery_pct,
        "speed_kmh": track.speed_kmh,
        "eta": None if track.eta is None else track.eta.isoformat(),
        "points": track.points,
    }


def track_from_json(data: dict[str, Any]) -> TrackState:
    stamp = data.get("eta")
    return TrackState(
        last_ms=data.get("last_ms"),
        lat=data.get("lat"),
        lon=data.get("lon"),
        distance_km=data.get("distance_km"),
        progress_km=data.get("progress_km"),
        current_state=data.get("current_state"),
        stop_since_ms=data.get("stop_since_ms"),
        stop_lat=data.get("stop_lat"),
        stop_lon=data.get("stop_lon"),
        battery_pct=data.get("battery_pct"),
        speed_kmh=data.get("speed_kmh"),
        eta=None if stamp is None else datetime.fromisoformat(stamp),
        points=int(data.get("points", 0)),
    )


def _activation(row: Any) -> Activation:
    return Activation(
        id=row.id,
        seal_key=row.seal_key,
        seal_id=row.seal_id,
        movement_reference=row.movement_reference,
        active=row.status == "active",
        activated_at=utc(row.activated_at),
        time_limit=row.time_limit,
        reporting_period_s=row.reporting_period_s,
        route=PlannedRoute.from_json(row.route),
        operators=OperatorPlan.from_json(row.operators),
        track=track_from_json(row.track),
        ended_at=utc_or_none(row.ended_at),
    )


def _incident(row: Any) -> Incident:
    return Incident(
        code=IncidentCode(row.code),
        activation_id=row.activation_id,
        movement_reference=row.movement_reference,
        seal_id=row.seal_id,
        opened_at=utc(row.opened_at),
        last_at=utc(row.last_at),
        points=row.points,
        lat=row.lat,
        lon=row.lon,
        worst=row.worst,
        status=IncidentStatus(row.status),
        closed_at=utc_or_none(row.closed_at),
        closed_by=row.closed_by,
        detail=dict(row.detail),
        id=row.id,
        seq=row.seq,
    )


def _incident_values(incident: Incident, seq: int) -> dict[str, Any]:
    return {
        "status": incident.status.value,
        "opened_at": incident.opened_at,
        "last_at": incident.last_at,
        "closed_at": incident.closed_at,
        "closed_by": incident.closed_by,
        "points": incident.points,
        "worst": incident.worst,
        "detail": incident.detail,
        "seq": seq,
    }


def _rows(rows: PositionRows) -> list[tuple[int | None, ...]]:
    """Python tuples for the driver, with :data:`NULL` turned into None."""
    return list(zip(*(_values(column) for column in rows.columns()), strict=True))


def _values(column: Int64Array) -> list[int | None]:
    nulls = column == NULL
    if not nulls.any():
        values: list[int | None] = column.tolist()
        return values
    if nulls.all():  # a value no fix carried (battery, for most devices)
        return [None] * len(column)
    return [None if v == NULL else v for v in column.tolist()]


def _copy_data(rows: PositionRows) -> bytes:
    """The rows in PostgreSQL's binary COPY format, built a column at a time.

    A row is its field count, then each field's length and big-endian value, or length -1 for
    NULL. Rows are grouped by which of their fields are NULL, so that each group has one fixed
    layout and is written as one numpy record array; the order of rows does not matter to COPY.
    """
    columns = rows.columns()
    types = [_PG_BINARY[name] for name in _PG_TYPES]
    nulls = np.stack([column == NULL for column in columns], axis=1)
    for name, column, null, dtype in zip(rows.COLUMNS, columns, nulls.T, types, strict=True):
        limits = np.iinfo(dtype)
        if ((column < limits.min) | (column > limits.max))[~null].any():
            raise ValueError(f"seal_positions.{name}: a value does not fit {dtype.name}")
    pattern = nulls @ (1 << np.arange(len(columns)))
    parts = [_COPY_HEADER]
    for code in np.unique(pattern).tolist():
        members = np.flatnonzero(pattern == code)
        present = [not (code >> k) & 1 for k in range(len(columns))]
        layout: list[tuple[str, np.dtype[Any]]] = [("fields", np.dtype(">i2"))]
        for k, dtype in enumerate(types):
            layout.append((f"length{k}", np.dtype(">i4")))
            if present[k]:
                layout.append((f"value{k}", dtype))
        out = np.empty(len(members), dtype=layout)
        out["fields"] = len(columns)
        for k, (column, dtype) in enumerate(zip(columns, types, strict=True)):
            out[f"length{k}"] = dtype.itemsize if present[k] else -1
            if present[k]:
                out[f"value{k}"] = column[members]
        parts.append(out.tobytes())
    parts.append(_COPY_TRAILER)
    return b"".join(parts)


class SqlSealRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- registry --------------------------------------------------------------------------

    def add_seal(self, seal: Seal, actor: str) -> Seal:
        try:
            with self._conn.begin_nested():
                result = self._conn.execute(
                    _INSERT_SEAL.returning(seals.c.id),
                    {
                        "seal_id": seal.seal_id,
                        "operator": seal.operator,
                        "protocol": seal.protocol.value,
                        "device_id": seal.device_id,
                        "password_hash": seal.password_hash,
                        "reporting_period_s": seal.reporting_period_s,
                        "battery_pct": seal.battery_pct,
                        "firmware": seal.firmware,
                        "status": seal.status.value,
                        "movement_reference": seal.movement_reference,
                        "registered_at": seal.registered_at,
                        "registered_by": actor,
                    },
                )
                key = int(result.scalar_one())
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from exc
        return Seal(**{**_fields(seal), "key": key})

    def get_seal(self, seal_id: str) -> Seal | None:
        row = self._conn.execute(_SEAL_BY_ID, {"seal_id": seal_id}).first()
        return None if row is None else _seal(row)

    def list_seals(
        self, *, operator: str | None, status: SealStatus | None, offset: int, limit: int
    ) -> list[Seal]:
        query = select(seals).order_by(seals.c.id).offset(offset).limit(limit)
        if operator is not None:
            query = query.where(seals.c.operator == operator)
        if status is not None:
            query = query.where(seals.c.status == status.value)
        return [_seal(r) for r in self._conn.execute(query)]

    def seals_for_devices(self, identities: Sequence[str]) -> list[Seal]:
        if not identities:
            return []
        wanted = list(identities)
        rows = self._conn.execute(
            select(seals).where(seals.c.device_id.in_(wanted) | seals.c.seal_id.in_(wanted))
        )
        return [_seal(r) for r in rows]

    def set_seal_status(self, key: int, status: SealStatus, movement_reference: str | None) -> None:
        self._conn.execute(
            _SET_SEAL_STATUS, {"key": key, "status": status.value, "ref": movement_reference}
        )

    # --- activations -----------------------------------------------------------------------

    def add_activation(self, activation: NewActivation) -> int:
        result = self._conn.execute(
            _INSERT_ACTIVATION,
            {
                "seal_key": activation.seal_key,
                "movement_reference": activation.movement_reference,
                "status": "active",
                "activated_at": activation.activated_at,
                "time_limit": activation.time_limit,
                "reporting_period_s": activation.reporting_period_s,
                "route": activation.route.as_json(),
                "operators": activation.operators.as_json(),
                "track": track_to_json(TrackState()),
                "last_ms": None,
                "silent_after_ms": activation.silent_after_ms,
                "activated_by": activation.actor,
            },
        )
        return int(result.scalar_one())

    def active_activations(self, seal_keys: Sequence[int]) -> list[Monitored]:
        if not seal_keys:
            return []
        query = (
            _MONITORED.where(
                seal_activations.c.seal_key.in_(list(seal_keys)),
                seal_activations.c.status == "active",
            )
            .order_by(seal_activations.c.id)
            .with_for_update(of=seal_activations)
        )
        return [
            Monitored(
                id=r.id,
                seal_key=r.seal_key,
                seal_id=r.seal_id,
                movement_reference=r.movement_reference,
                time_limit=r.time_limit,
                reporting_period_s=r.reporting_period_s,
                track=track_from_json(r.track),
            )
            for r in self._conn.execute(query)
        ]

    def activation_routes(
        self, activation_ids: Sequence[int]
    ) -> dict[int, tuple[PlannedRoute, OperatorPlan]]:
        if not activation_ids:
            return {}
        rows = self._conn.execute(
            select(
                seal_activations.c.id, seal_activations.c.route, seal_activations.c.operators
            ).where(seal_activations.c.id.in_(list(activation_ids)))
        )
        return {
            r.id: (PlannedRoute.from_json(r.route), OperatorPlan.from_json(r.operators))
            for r in rows
        }

    def activations_for_movement(self, reference: str) -> list[Activation]:
        query = _ACTIVATIONS.where(seal_activations.c.movement_reference == reference).order_by(
            seal_activations.c.id
        )
        return [_activation(r) for r in self._conn.execute(query)]

    def end_activation(self, activation_id: int, at: datetime) -> None:
        self._conn.execute(_END_ACTIVATION, {"aid": activation_id, "at": at})

    def save_tracks(self, updates: Sequence[TrackUpdate]) -> None:
        if not updates:
            return
        self._conn.execute(
            _SAVE_TRACK,
            [
                {
                    "aid": u.activation_id,
                    "track_json": track_to_json(u.track),
                    "last": u.track.last_ms,
                    "silent_after": u.silent_after_ms,
                }
                for u in updates
            ],
        )

    def silent_activations(self, now_ms: int, *, limit: int) -> list[Activation]:
        query = (
            _ACTIVATIONS.where(
                seal_activations.c.status == "active",
                seal_activations.c.silent_after_ms <= now_ms,
            )
            .order_by(seal_activations.c.silent_after_ms)
            .limit(limit)
        )
        return [_activation(r) for r in self._conn.execute(query)]

    # --- positions -------------------------------------------------------------------------

    def existing_positions(self, seal_keys: Int64Array, t_ms: Int64Array) -> Int64Array:
        if not len(t_ms):
            return np.empty(0, dtype=np.int64)
        pairs = list(zip(seal_keys.tolist(), t_ms.tolist(), strict=True))
        found: set[tuple[int, int]] = set()
        for start in range(0, len(pairs), 500):
            chunk = pairs[start : start + 500]
            rows = self._conn.execute(
                select(seal_positions.c.seal_key, seal_positions.c.t_ms).where(
                    tuple_(seal_positions.c.seal_key, seal_positions.c.t_ms).in_(chunk)
                )
            )
            found.update((int(r[0]), int(r[1])) for r in rows)
        return np.array([i for i, p in enumerate(pairs) if p in found], dtype=np.int64)

    def write_positions(self, rows: PositionRows) -> int:
        if not len(rows):
            return 0
        driver = self._conn.connection.driver_connection
        if self._conn.dialect.name == "postgresql":
            return self._copy(driver, _copy_data(rows), len(rows))
        cursor = driver.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(_SQLITE_INSERT, _rows(rows))
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _copy(self, driver: Any, data: bytes, count: int) -> int:
        # COPY straight into the table; a repeated point (a race with another batch of the same
        # seal) fails the COPY, and only then are the rows staged and merged skipping repeats.
        try:
            with self._conn.begin_nested(), driver.cursor() as cursor:
                self._copy_in(cursor, _PG_COPY, data)
            return count
        except IntegrityError:
            pass
        except Exception as exc:  # psycopg raises its own UniqueViolation from COPY
            if getattr(exc, "sqlstate", None) != "23505":
                raise
        with driver.cursor() as cursor:
            cursor.execute(_PG_STAGE)
            self._copy_in(cursor, _PG_COPY_STAGE, data)
            cursor.execute(_PG_FROM_STAGE)
            inserted = int(cursor.rowcount)
            cursor.execute("DELETE FROM seal_positions_stage")
        return inserted

    @staticmethod
    def _copy_in(cursor: Any, statement: str, data: bytes) -> None:
        with cursor.copy(statement) as copy:
            copy.write(data)

    def track(self, activation_ids: Sequence[int]) -> Track:
        rows = self._conn.execute(
            select(
                seal_positions.c.t_ms,
                seal_positions.c.lat_e6,
                seal_positions.c.lon_e6,
                seal_positions.c.speed_dkmh,
                seal_positions.c.signals,
                seal_positions.c.distance_m,
            )
            .where(
                # The seal keys lead the primary key, so this reads index ranges only.
                seal_positions.c.seal_key.in_(
                    select(seal_activations.c.seal_key).where(
                        seal_activations.c.id.in_(list(activation_ids))
                    )
                ),
                seal_positions.c.activation_id.in_(list(activation_ids)),
            )
            .order_by(seal_positions.c.t_ms)
        ).all()
        if not rows:
            empty = np.empty(0)
            return Track(
                np.empty(0, dtype=np.int64), empty, empty, empty, empty.astype(np.int64), empty
            )
        t, lat, lon, speed, signals, distance = (list(c) for c in zip(*rows, strict=True))
        as_float = np.array(
            [[np.nan if v is None else v for v in col] for col in (speed, distance)],
            dtype=np.float64,
        )
        return Track(
            t_ms=np.array(t, dtype=np.int64),
            lat=np.array(lat, dtype=np.float64) / 1e6,
            lon=np.array(lon, dtype=np.float64) / 1e6,
            speed_kmh=as_float[0] / 10.0,
            signals=np.array(signals, dtype=np.int64),
            distance_km=as_float[1] / 1000.0,
        )

    def purge_positions(self, before_ms: int) -> int:
        result = self._conn.execute(
            seal_positions.delete().where(seal_positions.c.t_ms < before_ms)
        )
        return int(result.rowcount)

    # --- incidents and hand-overs ----------------------------------------------------------

    def open_incidents(self, activation_ids: Sequence[int]) -> list[Incident]:
        if not activation_ids:
            return []
        rows = self._conn.execute(
            select(seal_incidents).where(
                seal_incidents.c.activation_id.in_(list(activation_ids)),
                seal_incidents.c.status == IncidentStatus.OPEN.value,
            )
        )
        return [_incident(r) for r in rows]

    def save_incidents(self, incidents: Sequence[Incident], seq: int) -> list[Incident]:
        saved: list[Incident] = []
        updates = [i for i in incidents if i.id is not None]
        if updates:
            self._conn.execute(
                _UPDATE_INCIDENT, [{"iid": i.id, **_incident_values(i, seq)} for i in updates]
            )
        for incident in incidents:
            if incident.id is None:
                new_id = self._conn.execute(
                    _INSERT_INCIDENT,
                    {
                        "activation_id": incident.activation_id,
                        "movement_reference": incident.movement_reference,
                        "seal_id": incident.seal_id,
                        "code": incident.code.value,
                        "lat": incident.lat,
                        "lon": incident.lon,
                        **_incident_values(incident, seq),
                    },
                ).scalar_one()
                saved.append(Incident(**{**_fields(incident), "id": int(new_id), "seq": seq}))
            else:
                saved.append(Incident(**{**_fields(incident), "seq": seq}))
        return saved

    def get_incident(self, incident_id: int) -> Incident | None:
        row = self._conn.execute(
            select(seal_incidents).where(seal_incidents.c.id == incident_id)
        ).first()
        return None if row is None else _incident(row)

    def incidents(self, flt: IncidentFilter, *, offset: int, limit: int) -> list[Incident]:
        query = select(seal_incidents)
        if flt.status is not None:
            query = query.where(seal_incidents.c.status == flt.status.value)
        if flt.code is not None:
            query = query.where(seal_incidents.c.code == flt.code.value)
        if flt.movement_reference is not None:
            query = query.where(seal_incidents.c.movement_reference == flt.movement_reference)
        if flt.seal_id is not None:
            query = query.where(seal_incidents.c.seal_id == flt.seal_id)
        if flt.office is not None:
            concerned = select(movement_offices.c.movement_reference).where(
                movement_offices.c.office == flt.office
            )
            query = query.where(seal_incidents.c.movement_reference.in_(concerned))
        query = query.order_by(seal_incidents.c.id.desc()).offset(offset).limit(limit)
        return [_incident(r) for r in self._conn.execute(query)]

    def incidents_after(self, seq: int, *, limit: int) -> list[Incident]:
        rows = self._conn.execute(
            select(seal_incidents)
            .where(seal_incidents.c.seq > seq)
            .order_by(seal_incidents.c.seq, seal_incidents.c.id)
            .limit(limit)
        )
        return [_incident(r) for r in rows]

    def add_handovers(self, records: Sequence[HandoverRecord]) -> list[HandoverRecord]:
        added: list[HandoverRecord] = []
        for record in records:
            h = record.handover
            try:
                with self._conn.begin_nested():
                    self._conn.execute(
                        insert(seal_handovers),
                        {
                            "activation_id": h.activation_id,
                            "movement_reference": h.movement_reference,
                            "seal_id": h.seal_id,
                            "kind": record.kind,
                            "from_state": h.from_state,
                            "to_state": h.to_state,
                            "at": h.at,
                            "lat": h.lat,
                            "lon": h.lon,
                            "message_id": record.message_id,
                            "payload": record.payload,
                        },
                    )
                added.append(record)
            except IntegrityError:
                continue  # recorded before: a hand-over happens once per state
        return added

    def handovers_for_movement(self, reference: str) -> list[HandoverRecord]:
        rows = self._conn.execute(
            select(seal_handovers)
            .where(seal_handovers.c.movement_reference == reference)
            .order_by(seal_handovers.c.id)
        )
        return [
            HandoverRecord(
                kind=r.kind,
                handover=Handover(
                    activation_id=r.activation_id,
                    movement_reference=r.movement_reference,
                    seal_id=r.seal_id,
                    from_state=r.from_state,
                    to_state=r.to_state,
                    at=utc(r.at),
                    lat=r.lat,
                    lon=r.lon,
                ),
                payload=dict(r.payload),
                message_id=r.message_id,
            )
            for r in rows
        ]


def _fields(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__dataclass_fields__}
