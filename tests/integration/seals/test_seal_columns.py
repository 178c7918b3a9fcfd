"""Positions as columns, on SQLite and PostgreSQL: EGTS frames decoded by ``decode_columns`` are
ingested as their positions would be, and the bulk writers store every value exactly."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select
from tests.integration.seals.seal_support import (
    IMEI,
    corridor_track,
    count_rows,
    register,
    released_movement,
)

from silkway.bootstrap import Node
from silkway.node.clock import ManualClock
from silkway.seals import ingest as telemetry
from silkway.seals import service as seals
from silkway.seals.db.repository import _copy_data
from silkway.seals.db.tables import seal_positions
from silkway.seals.devices import egts
from silkway.seals.domain.seals import IncidentCode
from silkway.seals.domain.signals import SIGNAL_BITS, STORED_BIT
from silkway.seals.domain.telemetry import Position
from silkway.seals.ports import NULL, IncidentFilter, PositionRows


def _frames(track: list[Position], per_frame: int) -> list[bytes]:
    """The track as a seal sends it: each frame its TERM_IDENTITY, then one record per fix."""
    frames = []
    for pid, first in enumerate(range(0, len(track), per_frame)):
        records = [egts.encode_record(1, [egts.encode_term_identity(7, imei=IMEI)], sst=1)]
        for k, p in enumerate(track[first : first + per_frame]):
            fix = egts.encode_pos_data(
                p.time,
                p.lat,
                p.lon,
                speed_kmh=p.speed_kmh or 0.0,
                course=p.course or 0,
                stored=first + k == 50,
                source=10 if first + k == 120 else 0,
            )
            records.append(egts.encode_record(k + 2, [fix]))
        frames.append(egts.encode_packet(pid, records))
    return frames


def test_decoded_columns_are_ingested_as_their_positions_would_be(
    node: Node, clock: ManualClock
) -> None:
    register(node)
    released_movement(node)
    track = corridor_track(node, clock.now(), count=400, deviate=range(200, 230))
    clock.advance(timedelta(days=1))
    frames = _frames(track, 40)
    decoded = egts.decode_columns(frames, now=clock.now())
    report = telemetry.ingest(node.seals, decoded.positions, source="egts")
    assert (report.accepted, report.duplicates, report.rejected) == (400, 0, [])
    opened = {i.code for i in seals.list_incidents(node.seals, IncidentFilter())}
    assert opened == {IncidentCode.DEVIATION, IncidentCode.HOUSING_OPENED}
    with node.engine.connect() as conn:
        rows = conn.execute(
            select(
                seal_positions.c.t_ms, seal_positions.c.lat_e6, seal_positions.c.signals
            ).order_by(seal_positions.c.t_ms)
        ).all()
    packets = [p for frame in frames for p in egts.decode_packet(frame).positions]
    assert [r.t_ms for r in rows] == [int(p.time.timestamp() * 1000) for p in packets]
    assert [r.lat_e6 for r in rows] == [round(p.lat * 1e6) for p in packets]
    assert rows[50].signals == STORED_BIT
    assert rows[120].signals == SIGNAL_BITS[IncidentCode.HOUSING_OPENED]
    # The same frames decoded one position at a time are the same points: all repeats.
    again = telemetry.ingest(node.seals, packets, source="egts")
    assert (again.accepted, again.duplicates) == (0, 400)


def _mixed_rows(start: int, count: int) -> PositionRows:
    """Rows in which some fields are NULL in some rows only, in several patterns."""
    index = np.arange(count, dtype=np.int64)
    ones = np.ones(count, dtype=np.int64)

    def sometimes(values: np.ndarray, every: int) -> np.ndarray:
        return np.where(index % every == 0, NULL, values)

    return PositionRows(
        seal_key=ones,
        t_ms=(start + index) * 1000 + 1_700_000_000_000,
        activation_id=sometimes(ones * 3, 2),
        lat_e6=-89_000_000 + index,
        lon_e6=179_000_000 - index,
        speed_dkmh=sometimes(index % 3000, 3),
        course=sometimes(index % 360, 5),
        battery_pct=ones * NULL,
        signals=index % 256,
        distance_m=sometimes(index * 1000, 7),
        progress_m=ones * 2_000_000_000,
    )


def test_bulk_writers_store_every_value_and_null_exactly(node: Node) -> None:
    register(node)
    rows = _mixed_rows(0, 300)
    with node.seals.uow() as uow:
        assert uow.seals.write_positions(rows) == 300
        uow.commit()
    with node.seals.uow() as uow:  # half repeats: the merge path on PostgreSQL
        assert uow.seals.write_positions(_mixed_rows(150, 300)) == 150
        uow.commit()
    assert count_rows(node, seal_positions) == 450
    names = PositionRows.COLUMNS
    with node.engine.connect() as conn:
        stored = conn.execute(
            select(*(seal_positions.c[n] for n in names)).order_by(seal_positions.c.t_ms)
        ).all()
    expected = [
        tuple(None if v == NULL else v for v in row)
        for row in zip(*(c.tolist() for c in rows.columns()), strict=True)
    ]
    assert [tuple(r) for r in stored[:300]] == expected


def test_copy_refuses_a_value_its_column_cannot_hold() -> None:
    rows = _mixed_rows(0, 10)
    too_fast = PositionRows(
        **{**{n: getattr(rows, n) for n in rows.COLUMNS}, "course": rows.course + 40_000}
    )
    with pytest.raises(ValueError, match="course"):
        _copy_data(too_fast)
