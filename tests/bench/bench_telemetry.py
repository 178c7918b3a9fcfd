"""telemetry.pipeline: positions per second through decode + corridor + rules + storage.

Real EGTS frames (built with the EGTS encoders, one TERM_IDENTITY and 50 POS_DATA records per
frame) from many seals on released Western-road movements are decoded, one time slice at a
time (one frame per seal per slice), with ``egts.decode_columns``: every frame's header and data
checksums, lengths and fix plausibility checks, as ``egts.decode_packet`` does, positions as a
``PositionBatch``. Each slice's batch is handed to ``telemetry.ingest`` (locate every point on
the corridor, run every rule, store every row), on SQLite and on PostgreSQL. Every timed slice
is decoded afresh; nothing is carried from one run to the next. Measured in the same run, as
baselines:

- ``telemetry.corridor_only``: the vectorised corridor check alone (``CorridorGeometry.locate``)
  over the same points and slices;
- ``telemetry.raw_insert.{sqlite,postgres}``: the same number of rows written alone, in the same
  slices, straight through the driver (``executemany`` on SQLite, binary ``COPY`` on PostgreSQL).

``telemetry.ingest.*`` is the pipeline without the decoding (slices decoded before the clock
starts), against the raw insert; the pipeline is also shown against ``telemetry.decode_only``
(``egts.decode_columns`` alone over the same slices), the ceiling the decoder sets, which in turn
is shown against ``telemetry.decode_packet`` (the same frames through ``egts.decode_packet``, a
``Position`` object per fix). ``telemetry.listener.egts`` is the live path of the EGTS listener
without the socket: each seal's connection session (``EgtsSession``) fed its frame of each slice,
decoding it into columns and answering every record, against ``telemetry.decode_only``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from silkway.bootstrap import Node, build_node
from silkway.examples import example_declaration
from silkway.node.clock import ManualClock
from silkway.seals import ingest as telemetry
from silkway.seals import service as seals
from silkway.seals.devices import egts
from silkway.seals.domain.route import RouteGeometry, plan_route
from silkway.seals.domain.telemetry import PositionBatch
from silkway.seals.listeners.egts import EgtsSession
from silkway.settings import Settings
from silkway.transit import service as transit
from silkway.transit.domain.declaration import Seals
from silkway.transit.domain.movement import Accept, Release
from silkway.transit.security import QuotedSecurityGate
from tests import pg
from tests.bench.harness import Result

DEVICES = 100
PER_FRAME = 50
SLICES = 20
START = datetime(2026, 12, 1, 8, tzinfo=UTC)


def _imei(i: int) -> str:
    return f"35630704{i:07d}"


def _setup(node: Node) -> RouteGeometry:
    """Register DEVICES seals and release one Western-road movement under each."""
    base = example_declaration("western-road", START.date())
    for i in range(DEVICES):
        seal_id = f"KZNS26{i:08d}"
        seals.register_seal(
            node.seals, seal_id=seal_id, protocol="egts", imei=_imei(i), reporting_period_s=60
        )
        declaration = base.model_copy(
            update={
                "lrn": f"BENCH-{i:05d}",
                "seals": Seals(count=1, navigation_seal_ids=[seal_id]),
            }
        )
        m = transit.lodge_declaration(node.transit, declaration).movement
        transit.act(node.transit, m.reference, Accept())
        transit.act(
            node.transit,
            m.reference,
            Release(declaration.security[0].reference, declaration.departure_office),
        )
    return RouteGeometry(plan_route(base, node.reference))


def _frames(geometry: RouteGeometry) -> list[list[bytes]]:
    """Per slice, one EGTS frame per device: 50 fixes a minute apart, a few off the corridor."""
    total = SLICES * PER_FRAME
    corridor = geometry.corridor
    slices: list[list[bytes]] = [[] for _ in range(SLICES)]
    for device in range(DEVICES):
        offset = device * 7.0
        progress = np.minimum(offset + np.arange(total) * 1.2, corridor.length_km)
        lats, lons = corridor.points_at(progress)
        for s in range(SLICES):
            records = [
                egts.encode_record(
                    1,
                    [egts.encode_term_identity(device + 1, imei=_imei(device))],
                    sst=egts.Service.AUTH,
                )
            ]
            for k in range(PER_FRAME):
                i = s * PER_FRAME + k
                off = 0.85 if 400 <= i < 410 else 0.0  # one 95 km detour per seal
                pos = egts.encode_pos_data(
                    START + timedelta(minutes=i),
                    float(lats[i]) + off,
                    float(lons[i]),
                    speed_kmh=72.0,
                    course=270,
                    moving=True,
                    source=10 if i == 700 else 0,  # one housing-open event per seal
                )
                records.append(egts.encode_record(k + 2, [pos]))
            slices[s].append(egts.encode_packet(s * DEVICES + device, records))
    return slices


def _decode(frames: list[bytes]) -> PositionBatch:
    decoded = egts.decode_columns(frames)
    if any(f.error or f.rejected for f in decoded.frames):
        raise RuntimeError("bench frames refused by the decoder")
    return decoded.positions


def _decode_packets(frames: list[bytes]) -> int:
    return sum(len(egts.decode_packet(frame).positions) for frame in frames)


def _node(url: str, folder: Path) -> Node:
    return build_node(
        "KZ",
        Settings(data_dir=folder),
        database_url=url,
        clock=ManualClock(START),
        security=QuotedSecurityGate(),
    )


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _pipeline(url: str, folder: Path, slices: list[list[bytes]], decode: bool) -> float:
    node = _node(url, folder)
    _setup(node)
    decoded = None if decode else [_decode(frames) for frames in slices]
    count = 0

    def work() -> None:
        nonlocal count
        for s, frames in enumerate(slices):
            positions = _decode(frames) if decoded is None else decoded[s]
            report = telemetry.ingest(node.seals, positions, source="egts")
            count += report.accepted
            if report.unknown_device or report.rejected:
                raise RuntimeError(f"bench batch refused points: {report}")

    elapsed = _timed(work)
    opened = len(seals.list_incidents(node.seals, seals.IncidentFilter(), limit=1000))
    node.dispose()
    if opened < DEVICES:
        raise RuntimeError(f"expected incidents on every seal, got {opened}")
    return count / elapsed


def _corridor_only(geometry: RouteGeometry, slices: list[list[bytes]]) -> float:
    points = [(batch.lat, batch.lon) for batch in (_decode(frames) for frames in slices)]
    count = sum(len(lat) for lat, _ in points)
    elapsed = _timed(lambda: [geometry.corridor.locate(lat, lon) for lat, lon in points])
    return count / elapsed


def _decode_only(slices: list[list[bytes]]) -> float:
    start = time.perf_counter()
    count = sum(len(_decode(frames)) for frames in slices)
    return count / (time.perf_counter() - start)


def _decode_packet_only(slices: list[list[bytes]]) -> float:
    start = time.perf_counter()
    count = sum(_decode_packets(frames) for frames in slices)
    return count / (time.perf_counter() - start)


def _listener_only(slices: list[list[bytes]]) -> float:
    """Each seal's connection session fed its frame of every slice: positions and answers."""
    sessions = [EgtsSession() for _ in range(DEVICES)]
    count = 0
    start = time.perf_counter()
    for frames in slices:
        for session, frame in zip(sessions, frames, strict=True):
            reply = session.feed(frame, START)
            if reply.errors or reply.positions is None or not reply.answer:
                raise RuntimeError("bench frames refused by the listener")
            count += len(reply.positions)
    return count / (time.perf_counter() - start)


def _raw_insert(url: str, folder: Path) -> float:
    """The same rows in the same slices, straight through the driver."""
    node = _node(url, folder)
    rows_per_slice = DEVICES * PER_FRAME
    base = int(START.timestamp() * 1000)
    batches = []
    for s in range(SLICES):
        batches.append(
            [
                (
                    d + 1,
                    base + (s * PER_FRAME + k) * 60_000,
                    d + 1,
                    50_000_000 + k,
                    70_000_000 + k,
                    720,
                    270,
                    None,
                    0,
                    120,
                    1_000_000 + k,
                )
                for d in range(DEVICES)
                for k in range(PER_FRAME)
            ]
        )
    columns = (
        "seal_key, t_ms, activation_id, lat_e6, lon_e6, speed_dkmh, course, battery_pct,"
        " signals, distance_m, progress_m"
    )
    types = ["int4", "int8", "int4", "int4", "int4", "int2", "int2", "int2", "int2", "int4", "int4"]
    raw = node.engine.raw_connection()
    driver = raw.driver_connection
    postgres = node.engine.dialect.name == "postgresql"

    def work() -> None:
        for rows in batches:
            if postgres:
                with driver.cursor() as cur:  # type: ignore[union-attr]
                    copy_sql = f"COPY seal_positions ({columns}) FROM STDIN (FORMAT BINARY)"
                    with cur.copy(copy_sql) as copy:
                        copy.set_types(types)
                        for row in rows:
                            copy.write_row(row)
                driver.commit()  # type: ignore[union-attr]
            else:
                cur = driver.cursor()  # type: ignore[union-attr]
                cur.execute("BEGIN IMMEDIATE")
                cur.executemany(
                    f"INSERT OR IGNORE INTO seal_positions ({columns})"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
                cur.execute("COMMIT")
                cur.close()

    elapsed = _timed(work)
    raw.close()
    node.dispose()
    return rows_per_slice * SLICES / elapsed


def run() -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="silkway-bench-telemetry-") as tmp:
        folder = Path(tmp)
        probe = _node(f"sqlite:///{folder / 'probe.sqlite'}", folder)
        geometry = RouteGeometry(
            plan_route(example_declaration("western-road", START.date()), probe.reference)
        )
        probe.dispose()
        slices = _frames(geometry)
        corridor = _corridor_only(geometry, slices)
        decode = _decode_only(slices)
        decode_packet = _decode_packet_only(slices)
        listener = _listener_only(slices)
        targets = [("sqlite", lambda name: f"sqlite:///{folder / name}.sqlite")]
        server = pg.server_url()
        created: list[str] = []

        def postgres(name: str) -> str:
            db = pg.create_database(server)
            created.append(db)
            return pg.sqlalchemy_url(server, db)

        targets.append(("postgres", postgres))
        try:
            for label, url in targets:
                pipeline = _pipeline(url("pipeline"), folder, slices, decode=True)
                ingest_only = _pipeline(url("ingest"), folder, slices, decode=False)
                raw = _raw_insert(url("raw"), folder)
                results += [
                    Result(
                        f"telemetry.pipeline.{label}",
                        pipeline,
                        "positions/s",
                        "telemetry.corridor_only",
                        corridor,
                    ),
                    Result(
                        f"telemetry.pipeline.{label}",
                        pipeline,
                        "positions/s",
                        f"telemetry.raw_insert.{label}",
                        raw,
                    ),
                    Result(
                        f"telemetry.pipeline.{label}",
                        pipeline,
                        "positions/s",
                        "telemetry.decode_only",
                        decode,
                    ),
                    Result(
                        f"telemetry.ingest.{label}",
                        ingest_only,
                        "positions/s",
                        f"telemetry.raw_insert.{label}",
                        raw,
                    ),
                ]
        finally:
            for db in created:
                pg.drop_database(server, db)
    results.append(
        Result(
            "telemetry.listener.egts",
            listener,
            "positions/s",
            "telemetry.decode_only",
            decode,
        )
    )
    results.append(
        Result(
            "telemetry.decode_only",
            decode,
            "positions/s",
            "telemetry.decode_packet",
            decode_packet,
        )
    )
    return results
