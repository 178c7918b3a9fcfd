"""Corridor geometry on the sphere: distance from a declared route, chainage, ETA, map thinning.

A route is a polyline of waypoints joined by great-circle arcs. Points are handled as 3-D unit
vectors, so cross-track and along-track distances are exact on the sphere over thousands of
kilometres, across the antimeridian and near the poles, with no map projection.

Every query is vectorised over points x segments with numpy and processed in chunks so that a
batch of telemetry never allocates more than a bounded working set.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple, overload

import numpy as np
import numpy.typing as npt

from silkway.kernel.errors import DomainError, Violation
from silkway.reference.model import Corridor

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG), the sphere every distance here is measured on."""

MIN_ETA_SPEED_KMH = 5.0
"""Below this recent speed a carriage is treated as stopped: no ETA is given."""

MAX_ETA_SPEED_KMH = 200.0
"""Above this recent speed the reading is treated as a positioning glitch: no ETA is given.

No road carriage or freight train on the Union's corridors sustains it.
"""

MAX_SEGMENT_KM = 19_000.0
"""Longest accepted arc between consecutive waypoints.

Near-antipodal waypoints do not define a unique great circle, so such a leg is refused.
"""

DEFAULT_CHUNK_CELLS = 1 << 16
"""Points x legs evaluated at once: small enough for the scratch arrays to stay in cache."""

_MAX_REPORTED_VIOLATIONS = 10
_PROGRESS_SLACK_KM = 1e-6


class GeometryInvalid(DomainError):
    """Coordinates, a route or a geometric argument are out of range or malformed."""

    code = "geometry-invalid"


class Location(NamedTuple):
    """Where points lie relative to a route, one entry per point."""

    distance_km: FloatArray
    """Great-circle distance to the nearest point of the route."""
    progress_km: FloatArray
    """Chainage of that nearest point, from the first waypoint."""
    segment_index: IndexArray
    """Index ``i`` of the leg from waypoint ``i`` to waypoint ``i + 1`` holding that point."""


# --- coordinates ---------------------------------------------------------------------------------


def _as_float_array(values: npt.ArrayLike, name: str) -> FloatArray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise GeometryInvalid(
            f"{name} must be numbers",
            [Violation("not-a-number", f"/{name}", f"{name} must be numbers")],
        ) from exc


def _out_of_range(values: FloatArray, limit: float, name: str) -> list[Violation]:
    bad = ~(np.isfinite(values) & (np.abs(values) <= limit))
    flat = bad.ravel()
    return [
        Violation(
            "coordinate-out-of-range",
            f"/{name}/{int(i)}",
            f"{name} must be finite and within ±{limit:g} degrees, got {values.ravel()[i]!r}",
        )
        for i in np.flatnonzero(flat)[:_MAX_REPORTED_VIOLATIONS]
    ]


def _paired(lats: npt.ArrayLike, lons: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    lat = _as_float_array(lats, "lats")
    lon = _as_float_array(lons, "lons")
    if lat.shape != lon.shape:
        raise GeometryInvalid(
            f"lats has shape {lat.shape} but lons has shape {lon.shape}",
            [Violation("shape-mismatch", "/lons", "lats and lons must have the same shape")],
        )
    return lat, lon


def checked_coordinates(lats: npt.ArrayLike, lons: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """``lats`` and ``lons`` as float arrays of one shape, in degrees, or :class:`GeometryInvalid`.

    Latitudes must lie in [-90, 90] and longitudes in [-180, 180]; NaN and infinities are refused.
    """
    lat, lon = _paired(lats, lons)
    violations = _out_of_range(lat, 90.0, "lats") + _out_of_range(lon, 180.0, "lons")
    if violations:
        raise GeometryInvalid("coordinates out of range", violations)
    return lat, lon


def valid_coordinates_mask(lats: npt.ArrayLike, lons: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """True where a (lat, lon) pair is usable, so a batch can drop bad fixes instead of failing."""
    lat, lon = _paired(lats, lons)
    mask: npt.NDArray[np.bool_] = (
        np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0)
    )
    return mask


def _unit_vectors(lat_deg: FloatArray, lon_deg: FloatArray) -> FloatArray:
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    cos_lat = np.cos(lat)
    return np.stack([cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)], axis=-1)


def _lat_lon(vectors: FloatArray) -> tuple[FloatArray, FloatArray]:
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    return np.degrees(np.arctan2(z, np.hypot(x, y))), np.degrees(np.arctan2(y, x))


# --- point to point ------------------------------------------------------------------------------


@overload
def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float: ...
@overload
def haversine_km(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> FloatArray: ...
def haversine_km(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> float | FloatArray:
    """Great-circle distance in km between points given in degrees; broadcasts like numpy.

    All-scalar arguments give a ``float``; any array argument gives an array.
    """
    la1, lo1 = checked_coordinates(lat1, lon1)
    la2, lo2 = checked_coordinates(lat2, lon2)
    phi1, phi2 = np.radians(la1), np.radians(la2)
    half_dphi = (phi2 - phi1) / 2.0
    half_dlam = np.radians(lo2 - lo1) / 2.0
    a = np.sin(half_dphi) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(half_dlam) ** 2
    # Rounding can push ``a`` a hair past 1 for antipodal points.
    distance: FloatArray = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    if distance.ndim == 0:
        return float(distance)
    return distance


# --- arcs ----------------------------------------------------------------------------------------


class _Arcs(NamedTuple):
    """Great-circle arcs as orthonormal frames: start ``a``, direction ``u``, pole ``n``."""

    a: FloatArray
    u: FloatArray
    n: FloatArray
    angle: FloatArray
    """Arc length in radians, in [0, pi]."""
    cos_angle: FloatArray
    sin_angle: FloatArray
    degenerate: npt.NDArray[np.bool_]
    """True for zero-length (or antipodal) arcs, whose frame is arbitrary."""
    frames: FloatArray
    """``a``, ``u`` and ``n`` side by side as columns, shape (3, 3 * arcs)."""


_DEGENERATE_ARC_RAD = 1e-14
"""Arcs shorter than this (about 64 nanometres) are treated as a single point."""


def _cross(
    lat_a: FloatArray, lon_a: FloatArray, lat_b: FloatArray, lon_b: FloatArray
) -> FloatArray:
    """``a x b`` for points in radians, from sums and differences of their coordinates.

    Subtracting nearly equal unit vectors would leave the pole of a leg a few metres long with
    only a few correct digits; these products of half-angle sines stay exact at any length.
    """
    lat_sum, lat_diff = np.sin(lat_a + lat_b), np.sin(lat_b - lat_a)
    mid_lon, half_dlon = (lon_a + lon_b) / 2.0, (lon_b - lon_a) / 2.0
    cos_mid, sin_mid = np.cos(mid_lon), np.sin(mid_lon)
    cos_half, sin_half = np.cos(half_dlon), np.sin(half_dlon)
    return np.stack(
        [
            lat_diff * sin_mid * cos_half - lat_sum * cos_mid * sin_half,
            -lat_diff * cos_mid * cos_half - lat_sum * sin_mid * sin_half,
            np.cos(lat_a) * np.cos(lat_b) * np.sin(lon_b - lon_a),
        ],
        axis=-1,
    )


def _arcs(lat_a: FloatArray, lon_a: FloatArray, lat_b: FloatArray, lon_b: FloatArray) -> _Arcs:
    """Frames of the arcs from (lat_a, lon_a) to (lat_b, lon_b), in degrees."""
    starts, ends = _unit_vectors(lat_a, lon_a), _unit_vectors(lat_b, lon_b)
    cross = _cross(np.radians(lat_a), np.radians(lon_a), np.radians(lat_b), np.radians(lon_b))
    sin_angle = np.linalg.norm(cross, axis=-1)
    cos_angle = np.einsum("ij,ij->i", starts, ends)
    angle = np.arctan2(sin_angle, cos_angle)
    degenerate = (sin_angle < _DEGENERATE_ARC_RAD) | (angle < _DEGENERATE_ARC_RAD)
    # A zero-length (or antipodal) arc has no unique plane: any pole perpendicular to its start
    # gives a frame in which the distance formulas below still hold.
    axis = np.zeros_like(starts)
    axis[np.arange(len(starts)), np.argmin(np.abs(starts), axis=-1)] = 1.0
    pole = np.where(degenerate[:, None], np.cross(starts, axis), cross)
    pole /= np.linalg.norm(pole, axis=-1, keepdims=True)
    # Remove the start's share of the pole so that the frame is orthonormal to the last bit.
    pole -= starts * np.einsum("ij,ij->i", pole, starts)[:, None]
    pole /= np.linalg.norm(pole, axis=-1, keepdims=True)
    direction = np.cross(pole, starts)
    angle = np.where(degenerate & (cos_angle > 0.0), 0.0, angle)
    frames = np.ascontiguousarray(np.concatenate([starts, direction, pole]).T)
    return _Arcs(starts, direction, pole, angle, np.cos(angle), np.sin(angle), degenerate, frames)


class _Nearest(NamedTuple):
    """For each point: the nearest arc, the angular distance to it and the along-track angle."""

    arc: IndexArray
    distance: FloatArray
    along: FloatArray


class _Workspace:
    """Scratch arrays for :func:`_nearest`, reused across the chunks of one batch.

    Fresh multi-megabyte arrays for every chunk would cost more in page faults than the
    arithmetic itself.
    """

    __slots__ = ("flag", "key", "other_flag", "scratch", "squares", "start_key", "xyz")

    def __init__(self, rows: int, arcs: int) -> None:
        self.xyz = np.empty((rows, 3 * arcs))
        self.squares = np.empty((rows, arcs))
        self.scratch = np.empty((rows, arcs))
        self.start_key = np.empty((rows, arcs))
        self.key = np.empty((rows, arcs))
        self.flag = np.empty((rows, arcs), dtype=bool)
        self.other_flag = np.empty((rows, arcs), dtype=bool)


def _vertex_key(cos_d: FloatArray, sin2_d: FloatArray) -> FloatArray:
    """Turn ``sin² d`` in place into a key increasing with the angle d over [0, pi].

    ``sin² d`` up to a quarter turn, ``2 - sin² d`` beyond. Unlike ``-cos d`` it keeps full
    precision for small d, which is what telemetry near the route is.
    """
    np.copysign(sin2_d, cos_d, out=sin2_d)
    beyond = np.signbit(sin2_d)
    # Points a quarter turn (10,000 km) from a vertex are rare: fold only when there are some.
    if beyond.any():
        sin2_d[beyond] += 2.0
    return sin2_d


def _nearest(points: FloatArray, arcs: _Arcs, work: _Workspace | None = None) -> _Nearest:
    """The nearest of contiguous ``arcs`` (each ending where the next starts) to each point.

    Over points x arcs only products, sums and comparisons are evaluated, in place; the angles
    are computed once per point, for the arc it is nearest to. ``x, y, z`` are a point's
    coordinates in an arc's frame: ``z`` is the sine of the cross-track angle and
    ``atan2(y, x)`` the along-track angle from the arc's start. Distances are ranked by the
    squared sine, which is exact near the route where ``cos`` would lose half the digits.
    """
    rows, count = len(points), len(arcs.angle)
    if work is None:
        work = _Workspace(rows, count)
    xyz = np.matmul(points, arcs.frames, out=work.xyz[:rows])
    x, y, z = xyz[:, :count], xyz[:, count : 2 * count], xyz[:, 2 * count :]
    scratch = work.scratch[:rows]
    z2 = np.multiply(z, z, out=work.squares[:rows])
    # The foot lies on the arc when the along-track angle is within [0, angle]: y >= 0 says it is
    # past the start, y cos(angle) <= x sin(angle) that it is before the end (arcs are shorter
    # than a half turn).
    outside = np.less(y, 0.0, out=work.flag[:rows])
    np.multiply(y, arcs.cos_angle, out=scratch)
    key = np.multiply(x, arcs.sin_angle, out=work.key[:rows])
    outside |= np.greater(scratch, key, out=work.other_flag[:rows])
    outside |= arcs.degenerate
    start_key = np.multiply(y, y, out=work.start_key[:rows])
    start_key += z2
    _vertex_key(x, start_key)
    x_last = x[:, -1] * arcs.cos_angle[-1] + y[:, -1] * arcs.sin_angle[-1]
    y_last = y[:, -1] * arcs.cos_angle[-1] - x[:, -1] * arcs.sin_angle[-1]
    last_key = _vertex_key(x_last, y_last * y_last + z2[:, -1])
    np.minimum(start_key[:, :-1], start_key[:, 1:], out=key[:, :-1])
    np.minimum(start_key[:, -1], last_key, out=key[:, -1])
    # Within the arc the cross-track angle is at most a quarter turn, so z² ranks it below any
    # vertex; outside, it is pushed beyond every vertex key (which never exceeds 2).
    cross_key = np.multiply(outside, 4.0, out=scratch)
    cross_key += z2
    np.minimum(key, cross_key, out=key)
    arc = np.argmin(key, axis=1)

    row = np.arange(rows)
    xb, yb, zb = x[row, arc], y[row, arc], np.abs(z[row, arc])
    cos_b, sin_b = arcs.cos_angle[arc], arcs.sin_angle[arc]
    xb_end = xb * cos_b + yb * sin_b
    yb_end = yb * cos_b - xb * sin_b
    end_key = np.where(arc == count - 1, last_key, start_key[row, np.minimum(arc + 1, count - 1)])
    at_start = start_key[row, arc] <= end_key
    on_arc = ~outside[row, arc]
    distance = np.where(
        on_arc,
        np.arctan2(zb, np.hypot(xb, yb)),
        np.where(
            at_start, np.arctan2(np.hypot(yb, zb), xb), np.arctan2(np.hypot(yb_end, zb), xb_end)
        ),
    )
    foot = np.clip(np.arctan2(yb, xb), 0.0, arcs.angle[arc])
    along = np.where(on_arc, foot, np.where(at_start, 0.0, arcs.angle[arc]))
    return _Nearest(arc, distance, along)


# --- the route -----------------------------------------------------------------------------------


def _route_points(route: Corridor | Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    if isinstance(route, Corridor):
        return [(w.lat, w.lon) for w in route.waypoints]
    try:
        points = [(lat, lon) for lat, lon in route]
    except (TypeError, ValueError) as exc:
        raise GeometryInvalid(
            "a route must be a Corridor or a sequence of (lat, lon) pairs",
            [Violation("route-malformed", "/waypoints", "expected (lat, lon) pairs")],
        ) from exc
    return points


def _waypoint_pointer(pointer: str) -> str:
    """``/lats/3`` as ``/waypoints/3/lat``: errors point into the route as it was given."""
    parts = pointer.strip("/").split("/")
    if len(parts) == 2 and parts[0] in ("lats", "lons"):
        return f"/waypoints/{parts[1]}/{parts[0][:-1]}"
    return "/waypoints"


class CorridorGeometry:
    """A declared route as great-circle legs, ready for batched distance and chainage queries."""

    __slots__ = ("_arcs", "_chunk_rows", "_cumulative")

    def __init__(
        self,
        route: Corridor | Iterable[tuple[float, float]],
        *,
        chunk_cells: int = DEFAULT_CHUNK_CELLS,
    ) -> None:
        """Precompute the legs of ``route``: a :class:`Corridor` or (lat, lon) pairs in degrees.

        ``chunk_cells`` bounds points x legs evaluated at once by :meth:`locate`.
        """
        points = _route_points(route)
        if len(points) < 2:
            raise GeometryInvalid(
                "a route needs at least two waypoints",
                [Violation("route-too-short", "/waypoints", "at least two waypoints required")],
            )
        if chunk_cells < 1:
            raise GeometryInvalid(
                "chunk_cells must be positive",
                [Violation("chunk-invalid", "/chunk_cells", "must be at least 1")],
            )
        try:
            lat, lon = checked_coordinates([p[0] for p in points], [p[1] for p in points])
        except GeometryInvalid as exc:
            raise GeometryInvalid(
                f"waypoints: {exc.message}",
                [
                    Violation(v.code, _waypoint_pointer(v.pointer), v.message)
                    for v in exc.violations
                ],
            ) from exc
        arcs = _arcs(lat[:-1], lon[:-1], lat[1:], lon[1:])
        legs_km = arcs.angle * EARTH_RADIUS_KM
        too_long = np.flatnonzero(legs_km > MAX_SEGMENT_KM)
        if too_long.size:
            raise GeometryInvalid(
                "consecutive waypoints are nearly antipodal",
                [
                    Violation(
                        "segment-too-long",
                        f"/waypoints/{int(i) + 1}",
                        f"leg {int(i)} is {legs_km[i]:.0f} km; add an intermediate waypoint",
                    )
                    for i in too_long[:_MAX_REPORTED_VIOLATIONS]
                ],
            )
        cumulative = np.concatenate([[0.0], np.cumsum(legs_km)])
        if cumulative[-1] <= 0.0:
            raise GeometryInvalid(
                "a route must have a positive length",
                [Violation("route-zero-length", "/waypoints", "all waypoints coincide")],
            )
        for array in (cumulative, *arcs):
            array.flags.writeable = False
        self._arcs = arcs
        self._cumulative = cumulative
        self._chunk_rows = max(1, chunk_cells // len(legs_km))

    @classmethod
    def from_corridor(cls, corridor: Corridor) -> CorridorGeometry:
        """The geometry of a reference corridor's waypoints."""
        return cls(corridor)

    @property
    def length_km(self) -> float:
        """Length of the route along its legs."""
        return float(self._cumulative[-1])

    @property
    def segment_count(self) -> int:
        return len(self._cumulative) - 1

    @property
    def waypoint_progress_km(self) -> FloatArray:
        """Chainage of each waypoint (read-only)."""
        return self._cumulative

    def locate(self, lats: npt.ArrayLike, lons: npt.ArrayLike) -> Location:
        """Distance to the route, chainage and leg of the nearest route point, for each point.

        Arrays keep the shape of ``lats``; scalars give 0-d arrays.
        """
        lat, lon = checked_coordinates(lats, lons)
        shape = lat.shape
        points = _unit_vectors(lat.ravel(), lon.ravel())
        count = len(points)
        distance = np.empty(count)
        progress = np.empty(count)
        segment = np.empty(count, dtype=np.intp)
        work = _Workspace(min(count, self._chunk_rows), self.segment_count)
        for start in range(0, count, self._chunk_rows):
            stop = min(start + self._chunk_rows, count)
            nearest = _nearest(points[start:stop], self._arcs, work)
            distance[start:stop] = nearest.distance
            progress[start:stop] = self._cumulative[nearest.arc] + EARTH_RADIUS_KM * nearest.along
            segment[start:stop] = nearest.arc
        return Location(
            (distance * EARTH_RADIUS_KM).reshape(shape),
            progress.reshape(shape),
            segment.reshape(shape),
        )

    def distance_km(self, lats: npt.ArrayLike, lons: npt.ArrayLike) -> FloatArray:
        """Shortest great-circle distance from each point to the route."""
        return self.locate(lats, lons).distance_km

    def progress_km(self, lats: npt.ArrayLike, lons: npt.ArrayLike) -> FloatArray:
        """Chainage of the route point nearest to each point."""
        return self.locate(lats, lons).progress_km

    def _checked_progress(self, progress_km: npt.ArrayLike) -> FloatArray:
        progress = _as_float_array(progress_km, "progress_km")
        length = self.length_km
        bad = ~(
            np.isfinite(progress)
            & (progress >= -_PROGRESS_SLACK_KM)
            & (progress <= length + _PROGRESS_SLACK_KM)
        )
        if bad.any():
            raise GeometryInvalid(
                f"progress must lie within the route, 0 to {length:.3f} km",
                [
                    Violation(
                        "progress-out-of-range",
                        f"/progress_km/{int(i)}" if progress.ndim else "/progress_km",
                        f"got {progress.ravel()[i]!r}, route is {length:.3f} km",
                    )
                    for i in np.flatnonzero(bad.ravel())[:_MAX_REPORTED_VIOLATIONS]
                ],
            )
        clipped: FloatArray = np.clip(progress, 0.0, length)
        return clipped

    @overload
    def remaining_km(self, progress_km: float) -> float: ...
    @overload
    def remaining_km(self, progress_km: npt.NDArray[Any]) -> FloatArray: ...
    def remaining_km(self, progress_km: float | npt.NDArray[Any]) -> float | FloatArray:
        """Distance left along the route from chainage ``progress_km`` to the last waypoint."""
        length = self.length_km
        if isinstance(progress_km, float) and (
            -_PROGRESS_SLACK_KM <= progress_km <= length + _PROGRESS_SLACK_KM
        ):
            # One chainage (each carriage's ETA): plain floats, without a 0-d array round trip.
            # Anything else, NaN included, takes the array path and its error.
            return length - min(max(progress_km, 0.0), length)
        remaining: FloatArray = length - self._checked_progress(progress_km)
        if remaining.ndim == 0:
            return float(remaining)
        return remaining

    def points_at(self, progress_km: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Latitudes and longitudes of the route points at the given chainages."""
        progress = self._checked_progress(progress_km)
        segment = np.clip(
            np.searchsorted(self._cumulative, progress, side="right") - 1,
            0,
            self.segment_count - 1,
        )
        along = np.clip(
            (progress - self._cumulative[segment]) / EARTH_RADIUS_KM, 0.0, self._arcs.angle[segment]
        )
        vectors = (
            self._arcs.a[segment] * np.cos(along)[..., None]
            + self._arcs.u[segment] * np.sin(along)[..., None]
        )
        return _lat_lon(vectors)

    def point_at(self, progress_km: float) -> tuple[float, float]:
        """Latitude and longitude of the route point at chainage ``progress_km``."""
        lat, lon = self.points_at(progress_km)
        return float(lat), float(lon)


# --- time ----------------------------------------------------------------------------------------


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise GeometryInvalid(
            f"{name} must carry a time zone",
            [Violation("naive-datetime", f"/{name}", "a timezone-aware datetime is required")],
        )


def eta(remaining_km: float, recent_speed_kmh: float, now: datetime) -> datetime | None:
    """Expected arrival if the carriage keeps its recent speed, or None when that is meaningless.

    None when the speed is below :data:`MIN_ETA_SPEED_KMH` (stopped, queuing at a border), above
    :data:`MAX_ETA_SPEED_KMH` or not a number (a positioning glitch), or when the arrival would
    fall beyond the calendar. ``remaining_km`` must be finite and not negative; ``now`` must be
    timezone-aware.
    """
    if not (math.isfinite(remaining_km) and remaining_km >= 0.0):
        raise GeometryInvalid(
            "remaining distance must be finite and not negative",
            [Violation("remaining-invalid", "/remaining_km", f"got {remaining_km!r}")],
        )
    _require_aware(now, "now")
    if not MIN_ETA_SPEED_KMH <= recent_speed_kmh <= MAX_ETA_SPEED_KMH:
        return None
    try:
        return now + timedelta(hours=remaining_km / recent_speed_kmh)
    except OverflowError:
        return None


def lateness(eta: datetime, time_limit_end: datetime) -> timedelta:
    """How far ``eta`` falls after ``time_limit_end``: positive when late, negative when early."""
    _require_aware(eta, "eta")
    _require_aware(time_limit_end, "time_limit_end")
    return eta - time_limit_end


# --- maps ----------------------------------------------------------------------------------------


def downsample(lats: npt.ArrayLike, lons: npt.ArrayLike, tolerance_km: float) -> IndexArray:
    """Indices of the points to keep so that a track drawn through them stays within tolerance.

    Douglas-Peucker on the sphere: every dropped point lies within ``tolerance_km`` of the
    great-circle arc between the kept points around it. The first and last points are always
    kept; indices come back in increasing order. Measuring on the sphere rather than on a local
    projection keeps the guarantee over a whole 8,000 km corridor.
    """
    if not (math.isfinite(tolerance_km) and tolerance_km >= 0.0):
        raise GeometryInvalid(
            "tolerance must be finite and not negative",
            [Violation("tolerance-invalid", "/tolerance_km", f"got {tolerance_km!r}")],
        )
    lat, lon = checked_coordinates(lats, lons)
    if lat.ndim != 1:
        raise GeometryInvalid(
            "downsample takes one-dimensional tracks",
            [Violation("shape-invalid", "/lats", f"expected 1-D, got shape {lat.shape}")],
        )
    count = len(lat)
    if count <= 2:
        return np.arange(count, dtype=np.intp)
    points = _unit_vectors(lat, lon)
    tolerance = tolerance_km / EARTH_RADIUS_KM
    longest = MAX_SEGMENT_KM / EARTH_RADIUS_KM
    keep = np.zeros(count, dtype=bool)
    keep[[0, -1]] = True
    pending = [(0, count - 1)]
    while pending:
        first, last = pending.pop()
        if last - first < 2:
            continue
        arc = _arcs(
            lat[first : first + 1],
            lon[first : first + 1],
            lat[last : last + 1],
            lon[last : last + 1],
        )
        if arc.angle[0] > longest:
            # The arc between near-antipodal points is ambiguous: split without measuring.
            split = (first + last) // 2
        else:
            distance = _nearest(points[first + 1 : last], arc).distance
            worst = int(np.argmax(distance))
            if distance[worst] <= tolerance:
                continue
            split = first + 1 + worst
        keep[split] = True
        pending.extend(((first, split), (split, last)))
    kept: IndexArray = np.flatnonzero(keep)
    return kept
