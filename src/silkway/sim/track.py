"""What a simulated navigation seal reports: its fixes along a corridor, and the faults in them.

Pure: no I/O and no clock. :func:`make_track` drives a journey (a start time, speeds along the
corridor, rest stops) over the corridor's great-circle legs and reports a fix every reporting
period, with the speed and course of that moment; jitter comes from ``random.Random(seed)``, so
one journey always gives the same track. The faults the simulator schedules are functions from
a track to a track: :func:`deviate`, :func:`unplanned_stop`, :func:`silence` and :func:`tamper`.

Fix times are whole seconds and coordinates are rounded to a millionth of a degree, the
resolution of EGTS and Wialon IPS times and of the node's stored positions.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from silkway.reference.model import Corridor
from silkway.seals.devices.records import MAX_SPEED_KMH
from silkway.seals.domain.corridor import EARTH_RADIUS_KM, CorridorGeometry
from silkway.seals.domain.seals import IncidentCode
from silkway.seals.domain.signals import SIGNAL_BITS

__all__ = [
    "SEAL_EVENTS",
    "Fix",
    "Journey",
    "RestStop",
    "Stretch",
    "Track",
    "TrackError",
    "deviate",
    "make_track",
    "silence",
    "tamper",
    "unplanned_stop",
]

SEAL_EVENTS = frozenset(SIGNAL_BITS)
"""The events a seal reports itself (01 seal broken, 02 housing opened, 04 malfunction,
07 unauthorised); the other incidents are the node's own findings."""

MIN_SPEED_KMH = 1.0
"""A moving carriage never reports less, however the jitter falls."""

_COURSE_STEP_KM = 0.1
_END_OF_TIME = datetime.max.replace(tzinfo=UTC)


class TrackError(ValueError):
    """A journey or a fault that cannot be simulated; the message names the field."""


@dataclass(frozen=True, slots=True)
class Fix:
    """One report of the seal: where and how fast it was at ``time``."""

    time: datetime
    lat: float
    lon: float
    speed_kmh: float
    course: int
    """Degrees clockwise from north, 0-359."""
    satellites: int = 12
    stored: bool = False
    """Sent from the device's memory after a gap rather than live (the black box)."""
    events: frozenset[IncidentCode] = frozenset()
    """Seal events reported with this fix (``SEAL_EVENTS``)."""


@dataclass(frozen=True, slots=True)
class Stretch:
    """The speed from chainage ``from_km`` on, until the next stretch begins."""

    from_km: float
    speed_kmh: float


@dataclass(frozen=True, slots=True)
class RestStop:
    """A stop the carrier plans: stationary at chainage ``at_km`` for ``duration``."""

    at_km: float
    duration: timedelta


@dataclass(frozen=True, slots=True)
class Journey:
    """How the carriage travels the corridor, from ``from_km`` to ``to_km`` (its end if None)."""

    start: datetime
    speeds: tuple[Stretch, ...] = (Stretch(0.0, 70.0),)
    stops: tuple[RestStop, ...] = ()
    period: timedelta = timedelta(minutes=5)
    """The seal's reporting period: one fix each."""
    from_km: float = 0.0
    to_km: float | None = None
    speed_jitter_kmh: float = 0.0
    """Each period's speed varies by up to this much either way."""
    position_jitter_m: float = 0.0
    """Standard deviation of the receiver's error, north and east."""
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Track:
    """A seal's fixes, oldest first, one every ``period`` unless a fault says otherwise."""

    period: timedelta
    fixes: tuple[Fix, ...]

    def __len__(self) -> int:
        return len(self.fixes)

    def __iter__(self) -> Iterator[Fix]:
        return iter(self.fixes)


# --- the journey ---------------------------------------------------------------------------------


def make_track(route: CorridorGeometry | Corridor, journey: Journey) -> Track:
    """The fixes of ``journey`` along ``route`` (a reference corridor or its geometry).

    A fix is reported at ``journey.start`` and every period after, the last one at the first
    report after the carriage reached ``to_km``. Speed is 0 while resting and on arrival.
    """
    geometry = route if isinstance(route, CorridorGeometry) else CorridorGeometry(route)
    end_km = _check_journey(journey, geometry.length_km)
    rng = random.Random(journey.seed)
    stops = sorted(journey.stops, key=lambda s: s.at_km)
    bounds = [s.from_km for s in journey.speeds[1:]]
    period_s = journey.period.total_seconds()
    km = journey.from_km
    resting = 0.0
    next_stop = 0
    while next_stop < len(stops) and stops[next_stop].at_km <= km:
        resting += stops[next_stop].duration.total_seconds()
        next_stop += 1
    fixes: list[Fix] = []
    arrived = False
    k = 0
    while True:
        offset = rng.uniform(-journey.speed_jitter_kmh, journey.speed_jitter_kmh)
        speed = 0.0 if arrived or resting > 0 else _speed(journey.speeds, km, offset)
        lat, lon = geometry.point_at(km)
        if journey.position_jitter_m > 0:
            north = rng.gauss(0.0, journey.position_jitter_m) / 1000.0
            east = rng.gauss(0.0, journey.position_jitter_m) / 1000.0
            lat, lon = _offset(lat, lon, 0.0, north)
            lat, lon = _offset(lat, lon, 90.0, east)
        fixes.append(
            Fix(
                time=journey.start + k * journey.period,
                lat=round(lat, 6),
                lon=round(lon, 6),
                speed_kmh=round(speed, 1),
                course=_course(geometry, km),
            )
        )
        if arrived:
            return Track(journey.period, tuple(fixes))
        left = period_s
        while left > 0 and (km < end_km or resting > 0):
            if resting > 0:
                used = min(left, resting)
                resting -= used
                left -= used
                continue
            stop_km = stops[next_stop].at_km if next_stop < len(stops) else math.inf
            target = min(stop_km, end_km, *(b for b in bounds if b > km))
            speed = _speed(journey.speeds, km, offset)
            needed = (target - km) / speed * 3600.0
            if needed > left:
                km += speed * left / 3600.0
                break
            km = target
            left -= needed
            while next_stop < len(stops) and stops[next_stop].at_km <= km:
                resting += stops[next_stop].duration.total_seconds()
                next_stop += 1
        arrived = km >= end_km and resting <= 0
        k += 1


def _speed(speeds: Sequence[Stretch], km: float, offset: float) -> float:
    base = speeds[0].speed_kmh
    for stretch in speeds:
        if stretch.from_km <= km:
            base = stretch.speed_kmh
    return max(MIN_SPEED_KMH, base + offset)


def _check_journey(journey: Journey, length_km: float) -> float:
    """The chainage where the journey ends; ``TrackError`` for anything that cannot be."""
    _check_moment(journey.start, "journey.start")
    _check_span(journey.period, "journey.period", positive=True)
    end_km = length_km if journey.to_km is None else journey.to_km
    if not (math.isfinite(journey.from_km) and 0.0 <= journey.from_km < length_km):
        raise TrackError(
            f"journey.from_km: {journey.from_km} is not on the corridor (0 to {length_km:.3f} km)"
        )
    if not (math.isfinite(end_km) and journey.from_km < end_km <= length_km):
        raise TrackError(
            f"journey.to_km: {end_km} must lie after from_km {journey.from_km} and within the"
            f" corridor ({length_km:.3f} km)"
        )
    if not journey.speeds:
        raise TrackError("journey.speeds: at least one stretch is needed")
    if journey.speeds[0].from_km > journey.from_km:
        raise TrackError(
            f"journey.speeds/0/from_km: the first stretch starts at {journey.speeds[0].from_km},"
            f" after the journey does ({journey.from_km})"
        )
    for n, stretch in enumerate(journey.speeds):
        if not (math.isfinite(stretch.speed_kmh) and 0.0 < stretch.speed_kmh <= MAX_SPEED_KMH):
            raise TrackError(
                f"journey.speeds/{n}/speed_kmh: {stretch.speed_kmh} is not a speed above 0 and"
                f" up to {MAX_SPEED_KMH} km/h"
            )
        if n and not stretch.from_km > journey.speeds[n - 1].from_km:
            raise TrackError(
                f"journey.speeds/{n}/from_km: {stretch.from_km} does not follow the stretch"
                f" before it ({journey.speeds[n - 1].from_km})"
            )
    for n, stop in enumerate(journey.stops):
        if not (math.isfinite(stop.at_km) and journey.from_km <= stop.at_km <= end_km):
            raise TrackError(
                f"journey.stops/{n}/at_km: {stop.at_km} is not on the journey"
                f" ({journey.from_km} to {end_km} km)"
            )
        _check_span(stop.duration, f"journey.stops/{n}/duration", positive=False)
    for name, value in (
        ("speed_jitter_kmh", journey.speed_jitter_kmh),
        ("position_jitter_m", journey.position_jitter_m),
    ):
        if not (math.isfinite(value) and value >= 0.0):
            raise TrackError(f"journey.{name}: {value} must be zero or more")
    return end_km


def _check_moment(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise TrackError(f"{name}: {moment.isoformat()} carries no time zone")
    if moment.microsecond:
        raise TrackError(
            f"{name}: {moment.isoformat()} is not a whole second (EGTS and Wialon IPS carry"
            " whole seconds)"
        )


def _check_span(span: timedelta, name: str, *, positive: bool) -> None:
    if span.microseconds or span < timedelta(0) or (positive and not span):
        kind = "positive" if positive else "zero or more"
        raise TrackError(f"{name}: {span} must be {kind} whole seconds")


# --- geometry on the sphere ----------------------------------------------------------------------


def _bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle course from the first point to the second, degrees from north."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dlam = math.radians(lon2 - lon1)
    y = math.sin(dlam) * math.cos(phi2)
    x = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dlam)
    return math.degrees(math.atan2(y, x)) % 360.0


def _course(geometry: CorridorGeometry, km: float) -> int:
    """The corridor's direction of travel at chainage ``km``."""
    ahead = min(km + _COURSE_STEP_KM, geometry.length_km)
    behind = ahead - _COURSE_STEP_KM if ahead - km < _COURSE_STEP_KM else km
    a, b = geometry.point_at(max(behind, 0.0)), geometry.point_at(ahead)
    return round(_bearing(a[0], a[1], b[0], b[1])) % 360


def _offset(lat: float, lon: float, bearing_deg: float, km: float) -> tuple[float, float]:
    """The point ``km`` from (lat, lon) along the great circle leaving it at ``bearing_deg``."""
    delta = km / EARTH_RADIUS_KM
    theta = math.radians(bearing_deg)
    phi1, lam1 = math.radians(lat), math.radians(lon)
    phi2 = math.asin(
        math.sin(phi1) * math.cos(delta) + math.cos(phi1) * math.sin(delta) * math.cos(theta)
    )
    lam2 = lam1 + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(phi1),
        math.cos(delta) - math.sin(phi1) * math.sin(phi2),
    )
    return math.degrees(phi2), (math.degrees(lam2) + 540.0) % 360.0 - 180.0


# --- faults --------------------------------------------------------------------------------------


def _window(track: Track, start: datetime, end: datetime, fault: str) -> list[int]:
    """Indices of the fixes from ``start`` (included) to ``end`` (excluded); at least one."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise TrackError(f"{fault}: {start.isoformat()} carries no time zone")
    if not track.fixes:
        raise TrackError(f"{fault}: the track has no fix")
    if end <= start:
        raise TrackError(f"{fault}: the window ends ({end.isoformat()}) before it starts")
    inside = [i for i, fix in enumerate(track.fixes) if start <= fix.time < end]
    if not inside:
        first, last = track.fixes[0].time, track.fixes[-1].time
        raise TrackError(
            f"{fault}: no fix from {start.isoformat()} to {end.isoformat()}"
            f" (the track runs from {first.isoformat()} to {last.isoformat()})"
        )
    return inside


def deviate(
    track: Track,
    start: datetime,
    end: datetime,
    km: float,
    *,
    side: Literal["left", "right"] = "right",
) -> Track:
    """The carriage ``km`` off the corridor, to the ``side`` of its course, for the fixes from
    ``start`` to ``end`` (excluded)."""
    if not (math.isfinite(km) and km > 0.0):
        raise TrackError(f"deviate.km: {km} must be a distance above 0")
    if side not in ("left", "right"):
        raise TrackError(f"deviate.side: {side!r} is neither 'left' nor 'right'")
    turn = 90.0 if side == "right" else -90.0
    fixes = list(track.fixes)
    for i in _window(track, start, end, "deviate"):
        fix = fixes[i]
        lat, lon = _offset(fix.lat, fix.lon, fix.course + turn, km)
        fixes[i] = replace(fix, lat=round(lat, 6), lon=round(lon, 6))
    return Track(track.period, tuple(fixes))


def unplanned_stop(track: Track, at: datetime, duration: timedelta) -> Track:
    """The carriage stationary from the first fix at or after ``at`` for ``duration`` (rounded up
    to whole reporting periods), where that fix was; the journey then goes on as before, later
    by the stop."""
    _check_span(duration, "unplanned_stop.duration", positive=True)
    first = _window(track, at, _END_OF_TIME, "unplanned_stop")[0]
    periods = -(-duration // track.period)
    shift = periods * track.period
    halted = track.fixes[first]
    stationary = [
        replace(halted, time=halted.time + n * track.period, speed_kmh=0.0, events=frozenset())
        for n in range(periods)
    ]
    after = [replace(fix, time=fix.time + shift) for fix in track.fixes[first:]]
    return Track(track.period, (*track.fixes[:first], *stationary, *after))


def silence(track: Track, start: datetime, duration: timedelta, *, replay: bool = False) -> Track:
    """No fix reaches the listener from ``start`` for ``duration``: the fixes are lost, or with
    ``replay`` kept in the device's memory and marked ``stored`` (sent when it reports again)."""
    _check_span(duration, "silence.duration", positive=True)
    gap = set(_window(track, start, start + duration, "silence"))
    if replay:
        fixes = tuple(replace(f, stored=True) if i in gap else f for i, f in enumerate(track))
    else:
        fixes = tuple(f for i, f in enumerate(track) if i not in gap)
    return Track(track.period, fixes)


def tamper(track: Track, at: datetime, event: IncidentCode = IncidentCode.SEAL_BROKEN) -> Track:
    """The seal reports ``event`` (one of ``SEAL_EVENTS``) with its first fix at or after
    ``at``."""
    if event not in SEAL_EVENTS:
        raise TrackError(
            f"tamper.event: {event.value} is not an event a seal reports; expected one of"
            f" {', '.join(sorted(code.value for code in SEAL_EVENTS))}"
        )
    first = _window(track, at, _END_OF_TIME, "tamper")[0]
    fixes = list(track.fixes)
    fixes[first] = replace(fixes[first], events=fixes[first].events | {event})
    return Track(track.period, tuple(fixes))
