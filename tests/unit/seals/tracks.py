"""Synthetic tracks along the Western road corridor, for the seal rule tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from silkway.examples import example_declaration
from silkway.reference import load_reference
from silkway.seals.domain.route import PlannedRoute, RouteGeometry, plan_route
from silkway.seals.domain.rules import Carriage, TrackBatch, to_ms
from silkway.seals.domain.telemetry import Position

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
REFERENCE = load_reference()


def western_route() -> PlannedRoute:
    return plan_route(example_declaration("western-road", START.date()), REFERENCE)


GEOMETRY = RouteGeometry(western_route())
CARRIAGE = Carriage(
    activation_id=1,
    movement_reference="SW26KZ000000000011",
    seal_id="KZNS2600045180",
    time_limit_end=datetime(2027, 6, 1, tzinfo=UTC),
)


@dataclass(frozen=True)
class Fix:
    minute: float
    lat: float
    lon: float
    speed: float = 60.0
    battery: float = float("nan")
    signals: int = 0


def on_route(km: float, minute: float, **extra: float) -> Fix:
    """A fix on the corridor ``km`` from its start."""
    lat, lon = GEOMETRY.corridor.point_at(km)
    return Fix(minute, lat, lon, **extra)  # type: ignore[arg-type]


def off_route(km: float, minute: float, north_km: float, **extra: float) -> Fix:
    """A fix ``north_km`` north of the corridor point at ``km``."""
    lat, lon = GEOMETRY.corridor.point_at(km)
    return Fix(minute, lat + north_km / 111.2, lon, **extra)  # type: ignore[arg-type]


def batch(fixes: Sequence[Fix], geometry: RouteGeometry = GEOMETRY) -> TrackBatch:
    ordered = sorted(fixes, key=lambda f: f.minute)
    lat = np.array([f.lat for f in ordered])
    lon = np.array([f.lon for f in ordered])
    located = geometry.corridor.locate(lat, lon)
    return TrackBatch(
        t_ms=np.array(
            [to_ms(START + timedelta(minutes=f.minute)) for f in ordered], dtype=np.int64
        ),
        lat=lat,
        lon=lon,
        speed_kmh=np.array([f.speed for f in ordered]),
        battery_pct=np.array([f.battery for f in ordered]),
        signals=np.array([f.signals for f in ordered], dtype=np.int64),
        distance_km=located.distance_km,
        progress_km=located.progress_km,
        segment=located.segment_index,
    )


def at(minute: float) -> datetime:
    return START + timedelta(minutes=minute)


def position(**changes: object) -> Position:
    """A plain EGTS fix at ``START``; ``changes`` override any field."""
    base: dict[str, object] = {
        "device_id": "356307042441013",
        "time": START,
        "lat": 50.0,
        "lon": 70.0,
        "speed_kmh": 60.0,
        "course": 0,
        "altitude_m": None,
        "satellites": None,
        "valid": True,
        "stored": False,
        "protocol": "egts",
    }
    return Position(**{**base, **changes})  # type: ignore[arg-type]
