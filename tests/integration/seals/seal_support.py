"""Helpers for the seal integration tests: a node, a released movement, tracks along it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from silkway.bootstrap import Node, build_node
from silkway.examples import example_declaration
from silkway.node.clock import ManualClock
from silkway.seals import service as seals
from silkway.seals.domain.route import plan_route
from silkway.seals.domain.telemetry import Position
from silkway.settings import Settings
from silkway.transit import service as transit
from silkway.transit.domain.movement import Accept, Movement, Release
from silkway.transit.security import QuotedSecurityGate

SEAL_ID = "KZNS2600045180"
IMEI = "356307042441013"


def seal_node(
    database_url: str, clock: ManualClock, folder: Path, settings: Settings | None = None
) -> Node:
    return build_node(
        "KZ",
        settings or Settings(data_dir=folder),
        database_url=database_url,
        clock=clock,
        security=QuotedSecurityGate(),
        migrate=False,
    )


def register(node: Node, seal_id: str = SEAL_ID, imei: str = IMEI) -> None:
    seals.register_seal(
        node.seals, seal_id=seal_id, protocol="egts", imei=imei, reporting_period_s=60
    )


def released_movement(node: Node, lrn: str = "LRN-SEAL-1") -> Movement:
    """Lodge and release the Western road example; its declared seal is activated at release."""
    clock = node.transit.clock
    declaration = example_declaration("western-road", clock.now().date()).model_copy(
        update={"lrn": lrn}
    )
    movement = transit.lodge_declaration(node.transit, declaration).movement
    transit.act(node.transit, movement.reference, Accept())
    return transit.act(
        node.transit,
        movement.reference,
        Release(declaration.security[0].reference, declaration.departure_office),
    )


def corridor_track(
    node: Node,
    start: datetime,
    *,
    count: int,
    from_km: float = 0.0,
    to_km: float | None = None,
    device: str = IMEI,
    deviate: range = range(0),
    speed: float = 70.0,
    step: timedelta = timedelta(minutes=1),
) -> list[Position]:
    """Fixes along the Western road corridor; those at indices ``deviate`` are 90 km north."""
    route = plan_route(example_declaration("western-road", start.date()), node.reference)
    corridor = node.seals.routes.geometry(route).corridor
    end = corridor.length_km if to_km is None else to_km
    progress = [from_km + (end - from_km) * i / max(count - 1, 1) for i in range(count)]
    lats, lons = corridor.points_at(progress)
    return [
        Position(
            device_id=device,
            time=start + step * i,
            lat=float(lats[i]) + (0.81 if i in deviate else 0.0),
            lon=float(lons[i]),
            speed_kmh=speed,
            course=90,
            altitude_m=None,
            satellites=12,
            valid=True,
            stored=False,
            io={"battery_pct": 90},
            protocol="egts",
        )
        for i in range(count)
    ]


def count_rows(node: Node, table: object) -> int:
    with node.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]
