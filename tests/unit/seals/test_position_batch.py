"""Positions as columns: the batch round-trips its positions, and ``SignalMapping`` reads the
seal events and battery charge of a whole batch exactly as a plain per-position reading does."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.seals.tracks import position

from silkway.seals.domain.seals import IncidentCode
from silkway.seals.domain.signals import INVALID_FIX_BIT, SIGNAL_BITS, STORED_BIT, SignalMapping
from silkway.seals.domain.telemetry import IoValue, Position, PositionBatch


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def signals_of(mapping: SignalMapping, p: Position) -> int:
    """The reading one position at a time, written plainly: the oracle for the columns."""
    bits = (STORED_BIT if p.stored else 0) | (0 if p.valid else INVALID_FIX_BIT)
    for name, code in mapping.event_names.items():
        if p.flags.get(name) or (name in p.io and _truthy(p.io[name])):
            bits |= SIGNAL_BITS[code]
    source = p.io.get("source")
    if p.protocol == "egts" and source and isinstance(source, int):
        event = mapping.egts_sources.get(source)
        if event is not None:
            bits |= SIGNAL_BITS[event]
    return bits


def battery_of(mapping: SignalMapping, p: Position) -> float:
    for name in mapping.battery_names:
        value = p.io.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100:
            return float(value)
    return math.nan


NOW = datetime(2026, 12, 1, tzinfo=UTC)


MIXED = [
    position(),
    position(
        device_id=None,
        time=NOW + timedelta(milliseconds=1500),
        speed_kmh=None,
        course=None,
        altitude_m=-12.0,
        satellites=7,
        valid=False,
        stored=True,
        flags={"seal_opened": True},
        io={"battery_pct": 14, "note": "x"},
        protocol="wialon",
    ),
    position(device_id="other", lat=-1.5, lon=-179.0, io={"source": 10}, flags={"moving": False}),
]


def test_positions_round_trip() -> None:
    batch = PositionBatch.from_positions(MIXED)
    assert len(batch) == 3
    assert batch.positions() == MIXED
    assert batch.device_ids == ("356307042441013", None, "other")
    assert batch.flags["seal_opened"] == [None, True, None]
    assert batch.course.tolist() == [0, -1, 0]
    assert math.isnan(batch.speed_kmh[1])


def test_a_time_without_zone_is_read_as_utc() -> None:
    batch = PositionBatch.from_positions([position(time=NOW.replace(tzinfo=None))])
    assert batch.t_ms.tolist() == [int(NOW.timestamp() * 1000)]


def test_concat_and_take_keep_every_field() -> None:
    parts = [PositionBatch.from_positions(MIXED[:2]), PositionBatch.from_positions(MIXED[2:])]
    batch = PositionBatch.concat(parts)
    assert batch.positions() == MIXED
    assert batch.take(np.array([2, 0], dtype=np.intp)).positions() == [MIXED[2], MIXED[0]]
    assert len(PositionBatch.concat([PositionBatch.from_positions([]), parts[1]])) == 1


def test_one_devices_columns_make_the_batch_its_positions_make() -> None:
    stamps = [NOW, NOW + timedelta(seconds=61)]
    expected = [
        Position(
            device_id="RUNS000000042",
            time=stamps[0],
            lat=43.25,
            lon=76.95,
            speed_kmh=62.5,
            course=None,
            altitude_m=None,
            satellites=None,
            valid=True,
            stored=False,
            flags={"housing_opened": True},
            protocol="exchange",
        ),
        Position(
            device_id="RUNS000000042",
            time=stamps[1],
            lat=-1.5,
            lon=-179.0,
            speed_kmh=None,
            course=270,
            altitude_m=None,
            satellites=None,
            valid=True,
            stored=False,
            io={"battery_pct": 14},
            protocol="exchange",
        ),
    ]
    batch = PositionBatch.of_device(
        "RUNS000000042",
        t_ms=np.array([int(t.timestamp() * 1000) for t in stamps], dtype=np.int64),
        lat=np.array([43.25, -1.5]),
        lon=np.array([76.95, -179.0]),
        speed_kmh=np.array([62.5, math.nan]),
        course=np.array([-1, 270], dtype=np.int64),
        flags={"housing_opened": [True, None]},
        io={"battery_pct": [None, 14]},
        protocol="exchange",
    )
    assert batch.positions() == expected
    made = PositionBatch.from_positions(expected)
    assert batch.device_ids == made.device_ids
    assert batch.flags == made.flags
    assert batch.io == made.io
    bare = PositionBatch.of_device("S1", t_ms=made.t_ms, lat=made.lat, lon=made.lon, protocol="x")
    assert [(p.speed_kmh, p.course, p.flags, p.io) for p in bare.positions()] == [
        (None, None, {}, {})
    ] * 2


NAMES = ["seal_opened", "housing_opened", "unauthorised", "source", "battery_pct", "113", "adio1"]
VALUES: st.SearchStrategy[IoValue] = st.one_of(
    st.booleans(),
    st.sampled_from([0, 1, 3, 10, 19, -5, 14, 101]),  # EGTS fix reasons among them
    st.sampled_from([0.0, 0.5, 3.0, 10.0, 14.5, 100.0, 100.5, math.nan, -0.0]),
    st.sampled_from(["1", "true", " Yes ", "on", "0", "no", "", "10"]),
)
POSITIONS = st.builds(
    position,
    valid=st.booleans(),
    stored=st.booleans(),
    flags=st.dictionaries(st.sampled_from(NAMES), st.booleans(), max_size=3),
    io=st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=4),
    protocol=st.sampled_from(["egts", "wialon", "mqtt"]),
)
MAPPINGS = [
    SignalMapping(),
    SignalMapping(
        event_names={"adio1": IncidentCode.SEAL_BROKEN, "source": IncidentCode.MALFUNCTION},
        egts_sources={0: IncidentCode.UNAUTHORISED, 3: IncidentCode.HOUSING_OPENED},
        battery_names=("113", "battery_pct", "adio1"),
    ),
]


@settings(max_examples=300)
@given(positions=st.lists(POSITIONS, max_size=12), which=st.sampled_from([0, 1]))
def test_columns_read_what_the_mapping_reads(positions: list[Position], which: int) -> None:
    mapping = MAPPINGS[which]
    batch = PositionBatch.from_positions(positions)
    assert mapping.signals(batch).tolist() == [signals_of(mapping, p) for p in positions]
    expected = np.array([battery_of(mapping, p) for p in positions], dtype=np.float64)
    np.testing.assert_array_equal(mapping.battery(batch), expected)


EDGES = [
    position(io={"source": 10}),
    position(io={"source": 10}, protocol="wialon"),
    position(io={"source": 10.0}),
    position(io={"source": True}),
    position(io={"source": "10"}),
    position(io={"source": 0}),
    position(io={"source": 3}),
    position(io={"seal_opened": " Yes "}, flags={"seal_opened": False}),
    position(io={"seal_opened": "no", "unauthorised": math.nan}),
    position(io={"housing_opened": 0.0}, flags={"housing_opened": True}),
    position(io={"battery_pct": True, "113": 50}),
    position(io={"battery_pct": 101, "113": 14.5}),
    position(io={"battery_pct": 20, "113": 50}),
    position(io={"battery_pct": "50", "113": math.nan}),
    position(io={"adio1": 1}, stored=True, valid=False),
]


def test_columns_read_what_the_mapping_reads_at_the_edges() -> None:
    batch = PositionBatch.from_positions(EDGES)
    for mapping in MAPPINGS:
        assert mapping.signals(batch).tolist() == [signals_of(mapping, p) for p in EDGES]
        expected = np.array([battery_of(mapping, p) for p in EDGES], dtype=np.float64)
        np.testing.assert_array_equal(mapping.battery(batch), expected)
