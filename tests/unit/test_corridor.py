"""Corridor geometry: distances on the sphere, chainage, ETA and map thinning.

Expected values are computed here independently of the code under test: the spherical law of
cosines and Vincenty's formula for point-to-point distances, and the classic bearing-based
cross-track / along-track formulas (aviation formulary) for point-to-arc distances.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from silkway.reference.model import Corridor, TransportMode, Waypoint
from silkway.seals.domain.corridor import (
    EARTH_RADIUS_KM,
    MAX_ETA_SPEED_KMH,
    MIN_ETA_SPEED_KMH,
    CorridorGeometry,
    GeometryInvalid,
    checked_coordinates,
    downsample,
    eta,
    haversine_km,
    lateness,
    valid_coordinates_mask,
)

R = EARTH_RADIUS_KM

# The Western road corridor, Nur Zholy (Khorgos) to Kozlovichi (Brest), through real towns.
WESTERN_ROAD: list[tuple[float, float]] = [
    (44.21, 80.36), (44.16, 80.0), (43.6, 78.25), (43.24, 76.93), (43.88, 77.07),
    (46.85, 74.98), (49.8, 73.1), (51.17, 71.45), (51.81, 68.36), (53.21, 63.62),
    (54.03, 61.63), (54.09, 61.56), (55.16, 61.4), (55.05, 60.1), (55.17, 59.65),
    (54.73, 55.96), (54.48, 53.47), (53.2, 50.15), (53.51, 49.42), (53.16, 48.47),
    (53.12, 46.6), (53.2, 45.02), (54.03, 41.71), (54.63, 39.74), (55.08, 38.78),
    (55.76, 37.62), (55.21, 34.29), (54.78, 32.05), (54.56, 31.43), (54.51, 30.42),
    (54.23, 28.5), (53.9, 27.56), (53.13, 26.01), (52.71, 25.34), (52.21, 24.36),
    (52.1, 23.73), (52.06, 23.62),
]  # fmt: skip


# --- independent reference formulas --------------------------------------------------------------


def law_of_cosines_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    cos_c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(
        math.radians(lon2 - lon1)
    )
    return R * math.acos(max(-1.0, min(1.0, cos_c)))


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Vincenty's formula on the sphere: accurate at every distance, unlike acos near 0."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    across = math.hypot(
        math.cos(p2) * math.sin(dl),
        math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl),
    )
    along = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return R * math.atan2(across, along)


def bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    return math.atan2(
        math.sin(dl) * math.cos(p2),
        math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl),
    )


def reference_arc_km(
    point: tuple[float, float], a: tuple[float, float], b: tuple[float, float]
) -> tuple[float, float]:
    """(distance to the arc a-b, along-track distance of its nearest point from a)."""
    length = great_circle_km(*a, *b)
    d_a = great_circle_km(*a, *point)
    d_b = great_circle_km(*b, *point)
    if length == 0.0:
        return d_a, 0.0
    delta = bearing(*a, *point) - bearing(*a, *b)
    cross = math.asin(math.sin(d_a / R) * math.sin(delta)) * R
    along = math.acos(max(-1.0, min(1.0, math.cos(d_a / R) / math.cos(cross / R)))) * R
    if math.cos(delta) < 0.0:
        along = -along
    if 0.0 <= along <= length:
        return abs(cross), along
    return (d_a, 0.0) if d_a <= d_b else (d_b, length)


def reference_locate(
    route: list[tuple[float, float]], point: tuple[float, float]
) -> tuple[float, float]:
    """(distance, progress) by brute force over the legs of ``route``."""
    best = (math.inf, 0.0)
    chainage = 0.0
    for a, b in itertools.pairwise(route):
        distance, along = reference_arc_km(point, a, b)
        if distance < best[0]:
            best = (distance, chainage + along)
        chainage += great_circle_km(*a, *b)
    return best


def unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    p, q = math.radians(lat), math.radians(lon)
    return (math.cos(p) * math.cos(q), math.cos(p) * math.sin(q), math.sin(p))


def wrap_lon(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


# --- haversine -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "approx_km", "rel"),
    [
        ((55.7558, 37.6173), (59.9343, 30.3351), 634.0, 0.005),  # Moscow - St Petersburg
        ((43.2389, 76.8897), (51.1605, 71.4704), 970.0, 0.005),  # Almaty - Astana
        ((44.21, 80.32), (52.08, 23.66), 4182.0, 0.005),  # Khorgos - Brest
    ],
)
def test_haversine_matches_known_distances(
    a: tuple[float, float], b: tuple[float, float], approx_km: float, rel: float
) -> None:
    distance = haversine_km(*a, *b)
    assert isinstance(distance, float)
    assert distance == pytest.approx(law_of_cosines_km(*a, *b), rel=1e-9)
    assert distance == pytest.approx(approx_km, rel=rel)


def test_haversine_is_symmetric_and_exact_at_the_extremes() -> None:
    assert haversine_km(52.08, 23.66, 44.21, 80.32) == haversine_km(44.21, 80.32, 52.08, 23.66)
    assert haversine_km(51.1, 71.4, 51.1, 71.4) == 0.0
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * R, rel=1e-12)
    assert haversine_km(90.0, 0.0, -90.0, 0.0) == pytest.approx(math.pi * R, rel=1e-12)


def test_haversine_broadcasts_over_arrays() -> None:
    lats = np.array([55.7558, 43.2389, 44.21])
    lons = np.array([37.6173, 76.8897, 80.32])
    distances = haversine_km(lats, lons, 52.08, 23.66)
    assert isinstance(distances, np.ndarray)
    assert distances.shape == (3,)
    expected = [law_of_cosines_km(la, lo, 52.08, 23.66) for la, lo in zip(lats, lons, strict=True)]
    np.testing.assert_allclose(distances, expected, rtol=1e-9)


def test_haversine_rejects_out_of_range_coordinates() -> None:
    with pytest.raises(GeometryInvalid) as caught:
        haversine_km(91.0, 0.0, 0.0, 0.0)
    assert caught.value.code == "geometry-invalid"
    assert caught.value.violations[0].pointer == "/lats/0"


# --- coordinates ---------------------------------------------------------------------------------


def test_checked_coordinates_names_every_bad_value() -> None:
    with pytest.raises(GeometryInvalid) as caught:
        checked_coordinates([10.0, math.nan, 95.0], [0.0, 0.0, 181.0])
    pointers = [v.pointer for v in caught.value.violations]
    assert pointers == ["/lats/1", "/lats/2", "/lons/2"]
    assert {v.code for v in caught.value.violations} == {"coordinate-out-of-range"}


@pytest.mark.parametrize(
    ("lats", "lons", "code"),
    [
        ([1.0, 2.0], [1.0], "shape-mismatch"),
        (["north"], [1.0], "not-a-number"),
        ([1.0], [math.inf], "coordinate-out-of-range"),
    ],
)
def test_checked_coordinates_refuses_malformed_input(
    lats: list[object], lons: list[float], code: str
) -> None:
    with pytest.raises(GeometryInvalid) as caught:
        checked_coordinates(lats, lons)  # type: ignore[arg-type]
    assert caught.value.violations[0].code == code


def test_valid_coordinates_mask_flags_unusable_fixes() -> None:
    mask = valid_coordinates_mask([0.0, 90.0, 90.5, math.nan, 10.0], [0.0, -180.0, 0.0, 0.0, 200.0])
    assert mask.tolist() == [True, True, False, False, False]


# --- building a route ----------------------------------------------------------------------------


def test_length_is_the_sum_of_the_legs() -> None:
    route = CorridorGeometry(WESTERN_ROAD)
    legs = [law_of_cosines_km(*a, *b) for a, b in itertools.pairwise(WESTERN_ROAD)]
    assert route.segment_count == len(WESTERN_ROAD) - 1
    assert route.length_km == pytest.approx(sum(legs), rel=1e-9)
    np.testing.assert_allclose(route.waypoint_progress_km[1:], np.cumsum(legs), rtol=1e-9)
    with pytest.raises(ValueError, match="read-only"):
        route.waypoint_progress_km[0] = 1.0


def test_a_reference_corridor_gives_the_same_geometry_as_its_points() -> None:
    corridor = Corridor(
        id="WESTERN_ROAD",
        name="Western corridor by road",
        mode=TransportMode.ROAD,
        states=("KZ", "RU", "BY"),
        border_points=(),
        waypoints=tuple(
            Waypoint(name=f"w{i}", state="KZ", lat=lat, lon=lon)
            for i, (lat, lon) in enumerate(WESTERN_ROAD)
        ),
    )
    from_corridor = CorridorGeometry.from_corridor(corridor)
    assert from_corridor.length_km == CorridorGeometry(WESTERN_ROAD).length_km
    assert CorridorGeometry(corridor).length_km == from_corridor.length_km


@pytest.mark.parametrize(
    ("route", "code"),
    [
        ([(44.21, 80.36)], "route-too-short"),
        ([], "route-too-short"),
        ([(44.0, 80.0), (44.0, 80.0)], "route-zero-length"),
        ([(10.0, 20.0), (-10.0, -160.0)], "segment-too-long"),
        ([(10.0, 20.0), (10.0, 20.0, 3.0)], "route-malformed"),
        ([(10.0, 20.0), (95.0, 20.0)], "coordinate-out-of-range"),
    ],
)
def test_bad_routes_are_refused(route: list[tuple[float, ...]], code: str) -> None:
    with pytest.raises(GeometryInvalid) as caught:
        CorridorGeometry(route)  # type: ignore[arg-type]
    assert caught.value.violations[0].code == code


def test_a_bad_waypoint_is_named() -> None:
    with pytest.raises(GeometryInvalid) as caught:
        CorridorGeometry([(10.0, 20.0), (11.0, 20.0), (12.0, 200.0)])
    assert caught.value.violations[0].pointer == "/waypoints/2/lon"


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(GeometryInvalid):
        CorridorGeometry(WESTERN_ROAD, chunk_cells=0)


def test_repeated_waypoints_are_harmless() -> None:
    doubled = [*WESTERN_ROAD[:5], WESTERN_ROAD[4], *WESTERN_ROAD[5:]]
    plain, with_repeat = CorridorGeometry(WESTERN_ROAD), CorridorGeometry(doubled)
    lats, lons = np.array([46.0, 44.5, 55.0]), np.array([76.0, 78.0, 40.0])
    np.testing.assert_allclose(
        with_repeat.distance_km(lats, lons), plain.distance_km(lats, lons), atol=1e-9
    )
    np.testing.assert_allclose(
        with_repeat.progress_km(lats, lons), plain.progress_km(lats, lons), atol=1e-6
    )


# --- distance and progress -----------------------------------------------------------------------


@pytest.mark.parametrize("offset_km", [0.5, 12.0, 50.0, 400.0])
@pytest.mark.parametrize("lon", [3.0, 20.0, 39.5])
def test_a_point_north_of_an_equator_leg_is_exactly_that_far(offset_km: float, lon: float) -> None:
    route = CorridorGeometry([(0.0, 0.0), (0.0, 40.0)])
    north = math.degrees(offset_km / R)
    located = route.locate(north, lon)
    assert float(located.distance_km) == pytest.approx(offset_km, rel=1e-12)
    assert float(located.progress_km) == pytest.approx(math.radians(lon) * R, rel=1e-12)
    assert float(route.distance_km(-north, lon)) == pytest.approx(offset_km, rel=1e-12)


@pytest.mark.parametrize("offset_km", [0.05, 3.0, 50.0, 300.0])
def test_a_point_off_a_long_high_latitude_leg_is_exactly_that_far(offset_km: float) -> None:
    # At 66°N an east-west leg of 60° of longitude bulges north of the parallel; at its middle
    # it runs due east, so the meridian there is perpendicular to it.
    a, b = (66.0, 30.0), (66.0, 90.0)
    route = CorridorGeometry([a, b])
    ua, ub = unit_vector(*a), unit_vector(*b)
    mx, my, mz = (p + q for p, q in zip(ua, ub, strict=True))
    mid_lat = math.degrees(math.atan2(mz, math.hypot(mx, my)))
    mid_lon = math.degrees(math.atan2(my, mx))
    assert mid_lat > 66.0
    shift = math.degrees(offset_km / R)
    for lat in (mid_lat + shift, mid_lat - shift):
        located = route.locate(lat, mid_lon)
        assert float(located.distance_km) == pytest.approx(offset_km, rel=1e-9)
        assert float(located.progress_km) == pytest.approx(route.length_km / 2, rel=1e-12)


def test_points_beyond_the_ends_measure_to_the_end_waypoints() -> None:
    route = CorridorGeometry([(0.0, 0.0), (0.0, 10.0), (5.0, 12.0)])
    lats, lons = np.array([0.0, 3.0, 9.0, 7.0]), np.array([-5.0, -2.0, 13.0, 12.5])
    located = route.locate(lats, lons)
    expected = [
        law_of_cosines_km(0.0, 0.0, 0.0, -5.0),
        law_of_cosines_km(0.0, 0.0, 3.0, -2.0),
        law_of_cosines_km(5.0, 12.0, 9.0, 13.0),
        law_of_cosines_km(5.0, 12.0, 7.0, 12.5),
    ]
    np.testing.assert_allclose(located.distance_km, expected, rtol=1e-9)
    np.testing.assert_allclose(
        located.progress_km, [0.0, 0.0, route.length_km, route.length_km], atol=1e-9
    )
    assert located.segment_index.tolist() == [0, 0, 1, 1]


def test_progress_is_monotone_along_the_route() -> None:
    route = CorridorGeometry(WESTERN_ROAD)
    chainage = np.linspace(0.0, route.length_km, 2_000)
    lats, lons = route.points_at(chainage)
    located = route.locate(lats, lons)
    np.testing.assert_allclose(located.distance_km, 0.0, atol=1e-6)
    np.testing.assert_allclose(located.progress_km, chainage, atol=1e-6)
    assert np.all(np.diff(located.progress_km) > 0.0)
    assert np.all(np.diff(located.segment_index) >= 0)


def test_reversing_the_route_keeps_distances_and_mirrors_progress() -> None:
    forward = CorridorGeometry(WESTERN_ROAD)
    backward = CorridorGeometry(WESTERN_ROAD[::-1])
    rng = np.random.default_rng(7)
    lats, lons = rng.uniform(40.0, 58.0, 500), rng.uniform(20.0, 85.0, 500)
    there, back = forward.locate(lats, lons), backward.locate(lats, lons)
    np.testing.assert_allclose(there.distance_km, back.distance_km, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(there.progress_km, forward.length_km - back.progress_km, atol=1e-6)


def test_distance_and_progress_match_the_bearing_formulas() -> None:
    route = CorridorGeometry(WESTERN_ROAD)
    rng = np.random.default_rng(11)
    lats, lons = rng.uniform(38.0, 60.0, 300), rng.uniform(15.0, 90.0, 300)
    located = route.locate(lats, lons)
    reference = [
        reference_locate(WESTERN_ROAD, (la, lo)) for la, lo in zip(lats, lons, strict=True)
    ]
    # acos in the reference formulas limits them to about a metre.
    np.testing.assert_allclose(located.distance_km, [r[0] for r in reference], atol=1e-3)
    np.testing.assert_allclose(located.progress_km, [r[1] for r in reference], atol=1e-3)


def test_routes_across_the_antimeridian_and_the_pole() -> None:
    across = [(64.0, 170.0), (66.0, -175.0), (65.0, -160.0)]
    over_pole = [(80.0, 0.0), (80.0, 180.0)]
    probes = [(65.5, 179.5), (66.5, -175.0), (62.0, 175.0), (88.0, 90.0), (85.0, -10.0)]
    for route_points in (across, over_pole):
        route = CorridorGeometry(route_points)
        for lat, lon in probes:
            expected = reference_locate(route_points, (lat, lon))[0]
            assert float(route.distance_km(lat, lon)) == pytest.approx(expected, abs=1e-3)


def test_far_side_of_the_earth_still_finds_the_nearest_vertex() -> None:
    route = CorridorGeometry([(44.21, 80.36), (52.06, 23.62)])
    lat, lon = -50.0, -120.0
    expected = reference_locate([(44.21, 80.36), (52.06, 23.62)], (lat, lon))[0]
    assert expected > R * math.pi / 2
    assert float(route.distance_km(lat, lon)) == pytest.approx(expected, abs=1e-3)


def test_results_keep_the_shape_of_the_input() -> None:
    route = CorridorGeometry(WESTERN_ROAD)
    grid_lat, grid_lon = np.meshgrid(np.linspace(45, 55, 4), np.linspace(30, 70, 3))
    located = route.locate(grid_lat, grid_lon)
    assert located.distance_km.shape == located.progress_km.shape == (3, 4)
    assert located.segment_index.shape == (3, 4)
    assert route.distance_km(50.0, 50.0).shape == ()
    assert route.distance_km([], []).shape == (0,)


def test_a_batch_gives_the_same_answer_as_point_by_point() -> None:
    rng = np.random.default_rng(2024)
    waypoints = list(
        zip(
            np.linspace(44.0, 52.0, 201) + rng.normal(0.0, 0.3, 201),
            np.linspace(80.0, 23.0, 201),
            strict=True,
        )
    )
    route = CorridorGeometry(waypoints)
    small_chunks = CorridorGeometry(waypoints, chunk_cells=1_000)
    lats, lons = rng.uniform(40.0, 56.0, 10_000), rng.uniform(20.0, 85.0, 10_000)
    batch = route.locate(lats, lons)
    chunked = small_chunks.locate(lats, lons)
    one_by_one = [route.locate(la, lo) for la, lo in zip(lats, lons, strict=True)]
    single_distance = np.array([float(p.distance_km) for p in one_by_one])
    single_progress = np.array([float(p.progress_km) for p in one_by_one])
    single_segment = np.array([int(p.segment_index) for p in one_by_one])
    for located in (batch, chunked):
        np.testing.assert_allclose(located.distance_km, single_distance, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(located.progress_km, single_progress, rtol=1e-12, atol=1e-9)
        np.testing.assert_array_equal(located.segment_index, single_segment)


def test_locate_refuses_bad_points() -> None:
    route = CorridorGeometry(WESTERN_ROAD)
    with pytest.raises(GeometryInvalid) as caught:
        route.locate([50.0, 50.0, math.nan], [40.0, 40.0, 40.0])
    assert caught.value.violations[0].pointer == "/lats/2"


_coordinate = st.tuples(
    st.floats(-80.0, 80.0, allow_nan=False), st.floats(-180.0, 180.0, allow_nan=False)
)
_step = st.tuples(st.floats(-15.0, 15.0), st.floats(-25.0, 25.0))


@st.composite
def _routes(draw: st.DrawFn) -> list[tuple[float, float]]:
    lat, lon = draw(_coordinate)
    points = [(lat, lon)]
    for d_lat, d_lon in draw(st.lists(_step, min_size=1, max_size=6)):
        lat, lon = max(-89.0, min(89.0, lat + d_lat)), wrap_lon(lon + d_lon)
        points.append((lat, lon))
    if sum(great_circle_km(*a, *b) for a, b in itertools.pairwise(points)) < 1.0:
        points.append((lat + 1.0 if lat < 0 else lat - 1.0, lon))
    return points


@settings(deadline=None)
@given(route_points=_routes(), point=_coordinate, fraction=st.floats(0.0, 1.0))
def test_the_route_is_never_farther_than_its_vertices_or_any_of_its_points(
    route_points: list[tuple[float, float]], point: tuple[float, float], fraction: float
) -> None:
    route = CorridorGeometry(route_points)
    located = route.locate(*point)
    distance = float(located.distance_km)
    nearest_vertex = min(great_circle_km(*point, *v) for v in route_points)
    on_route = route.point_at(fraction * route.length_km)
    assert distance >= 0.0
    assert distance <= nearest_vertex + 1e-6
    assert distance <= great_circle_km(*point, *on_route) + 1e-6
    assert 0.0 <= float(located.progress_km) <= route.length_km
    # The nearest point found is itself that far away.
    nearest = route.point_at(float(located.progress_km))
    assert great_circle_km(*point, *nearest) == pytest.approx(distance, abs=1e-3)


@settings(deadline=None)
@given(route_points=_routes(), fraction=st.floats(0.0, 1.0))
def test_points_on_the_route_are_at_distance_zero(
    route_points: list[tuple[float, float]], fraction: float
) -> None:
    route = CorridorGeometry(route_points)
    lat, lon = route.point_at(fraction * route.length_km)
    assert float(route.distance_km(lat, lon)) == pytest.approx(0.0, abs=1e-6)


# --- chainage helpers ----------------------------------------------------------------------------


def test_point_at_interpolates_along_the_great_circle() -> None:
    route = CorridorGeometry([(0.0, 0.0), (0.0, 90.0), (90.0, 0.0)])
    quarter = math.pi / 2 * R
    assert route.point_at(0.0) == pytest.approx((0.0, 0.0), abs=1e-12)
    assert route.point_at(quarter / 3) == pytest.approx((0.0, 30.0), abs=1e-9)
    assert route.point_at(quarter) == pytest.approx((0.0, 90.0), abs=1e-9)
    assert route.point_at(quarter * 1.5)[0] == pytest.approx(45.0, abs=1e-9)
    assert route.point_at(route.length_km)[0] == pytest.approx(90.0, abs=1e-9)
    lats, lons = route.points_at(np.array([0.0, quarter / 3]))
    np.testing.assert_allclose(lats, [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(lons, [0.0, 30.0], atol=1e-9)


def test_remaining_distance_is_what_is_left_of_the_route() -> None:
    route = CorridorGeometry(WESTERN_ROAD)
    assert route.remaining_km(0.0) == route.length_km
    assert route.remaining_km(route.length_km) == 0.0
    assert route.remaining_km(1_000.0) == pytest.approx(route.length_km - 1_000.0)
    remaining = route.remaining_km(np.array([0.0, 500.0]))
    np.testing.assert_allclose(remaining, [route.length_km, route.length_km - 500.0])


@pytest.mark.parametrize("progress", [-1.0, 1e9, math.nan])
def test_chainage_outside_the_route_is_refused(progress: float) -> None:
    route = CorridorGeometry(WESTERN_ROAD)
    with pytest.raises(GeometryInvalid) as caught:
        route.point_at(progress)
    assert caught.value.violations[0].code == "progress-out-of-range"
    with pytest.raises(GeometryInvalid):
        route.remaining_km(progress)


# --- ETA and lateness ----------------------------------------------------------------------------

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_eta_extrapolates_the_recent_speed() -> None:
    assert eta(100.0, 50.0, NOW) == NOW + timedelta(hours=2)
    assert eta(0.0, 60.0, NOW) == NOW
    assert eta(10.0, MIN_ETA_SPEED_KMH, NOW) == NOW + timedelta(hours=2)
    assert eta(400.0, MAX_ETA_SPEED_KMH, NOW) == NOW + timedelta(hours=2)


@pytest.mark.parametrize("speed", [0.0, 4.99, -30.0, math.nan, 250.0, math.inf])
def test_no_eta_when_stopped_or_the_speed_is_absurd(speed: float) -> None:
    assert eta(500.0, speed, NOW) is None


def test_no_eta_beyond_the_calendar() -> None:
    assert eta(1e12, MIN_ETA_SPEED_KMH, NOW) is None


@pytest.mark.parametrize("remaining", [-1.0, math.nan, math.inf])
def test_eta_refuses_a_bad_remaining_distance(remaining: float) -> None:
    with pytest.raises(GeometryInvalid):
        eta(remaining, 50.0, NOW)


def test_eta_and_lateness_need_timezone_aware_times() -> None:
    naive = datetime(2026, 3, 1, 8, 0)
    with pytest.raises(GeometryInvalid) as caught:
        eta(100.0, 50.0, naive)
    assert caught.value.violations[0].pointer == "/now"
    with pytest.raises(GeometryInvalid):
        lateness(naive, NOW)
    with pytest.raises(GeometryInvalid):
        lateness(NOW, naive)


def test_lateness_is_positive_when_late_and_negative_when_early() -> None:
    limit = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)
    assert lateness(limit + timedelta(hours=3), limit) == timedelta(hours=3)
    assert lateness(limit - timedelta(days=1), limit) == -timedelta(days=1)
    almaty = timezone(timedelta(hours=5))
    assert lateness(datetime(2026, 3, 5, 23, 30, tzinfo=almaty), limit) == timedelta(minutes=30)


# --- downsampling --------------------------------------------------------------------------------


def assert_within_tolerance(
    lats: np.ndarray, lons: np.ndarray, kept: np.ndarray, tolerance_km: float
) -> None:
    """Every point lies within tolerance of the arc between the kept points around it."""
    for left, right in itertools.pairwise(kept):
        a, b = (lats[left], lons[left]), (lats[right], lons[right])
        for i in range(left + 1, right):
            distance, _ = reference_arc_km((lats[i], lons[i]), a, b)
            assert distance <= tolerance_km + 1e-3


def test_downsample_keeps_the_ends_and_stays_within_tolerance() -> None:
    rng = np.random.default_rng(5)
    route = CorridorGeometry(WESTERN_ROAD)
    lats, lons = route.points_at(np.linspace(0.0, route.length_km, 3_000))
    lats, lons = lats + rng.normal(0.0, 0.005, 3_000), lons + rng.normal(0.0, 0.005, 3_000)
    kept = downsample(lats, lons, 5.0)
    assert kept[0] == 0
    assert kept[-1] == 2_999
    assert np.all(np.diff(kept) > 0)
    assert len(kept) < 100
    thinned = CorridorGeometry(list(zip(lats[kept], lons[kept], strict=True)))
    assert float(thinned.distance_km(lats, lons).max()) <= 5.0 + 1e-9
    assert_within_tolerance(lats, lons, kept, 5.0)


def test_downsample_collapses_a_great_circle_to_its_ends() -> None:
    route = CorridorGeometry([(44.21, 80.32), (52.08, 23.66)])
    lats, lons = route.points_at(np.linspace(0.0, route.length_km, 500))
    assert downsample(lats, lons, 0.001).tolist() == [0, 499]


def test_downsample_with_zero_tolerance_keeps_every_corner() -> None:
    lats, lons = np.array([0.0, 1.0, 0.0, 1.0]), np.array([0.0, 1.0, 2.0, 3.0])
    assert downsample(lats, lons, 0.0).tolist() == [0, 1, 2, 3]


def test_downsample_splits_tracks_whose_ends_are_antipodal() -> None:
    lons = np.linspace(0.0, 180.0, 19)
    lats = np.where(np.arange(19) % 2 == 0, 0.0, 0.5)
    kept = downsample(lats, lons, 100.0)
    assert kept[0] == 0
    assert kept[-1] == 18
    assert len(kept) > 2
    assert_within_tolerance(lats, lons, kept, 100.0)


@pytest.mark.parametrize("count", [0, 1, 2])
def test_downsample_keeps_short_tracks_whole(count: int) -> None:
    assert downsample([10.0] * count, [20.0] * count, 1.0).tolist() == list(range(count))


def test_downsample_refuses_bad_arguments() -> None:
    with pytest.raises(GeometryInvalid) as caught:
        downsample([0.0, 1.0], [0.0, 1.0], -1.0)
    assert caught.value.violations[0].code == "tolerance-invalid"
    with pytest.raises(GeometryInvalid) as caught:
        downsample([[0.0, 1.0]], [[0.0, 1.0]], 1.0)
    assert caught.value.violations[0].code == "shape-invalid"


@settings(deadline=None)
@given(
    track=st.lists(_coordinate, min_size=0, max_size=40),
    tolerance_km=st.floats(0.0, 2_000.0),
)
def test_downsample_property(track: list[tuple[float, float]], tolerance_km: float) -> None:
    lats = np.array([p[0] for p in track])
    lons = np.array([p[1] for p in track])
    kept = downsample(lats, lons, tolerance_km)
    if track:
        assert kept[0] == 0
        assert kept[-1] == len(track) - 1
    assert np.all(np.diff(kept) > 0)
    assert_within_tolerance(lats, lons, kept, tolerance_km)
