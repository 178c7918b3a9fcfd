"""A movement's planned route as seal monitoring needs it.

The route polyline is the declared corridor's waypoints when the declaration names one,
otherwise the departure → intermediate → destination offices. Each route point carries its
state, so a position's state along the route (for the hand-over between national operators) is
the state of the nearer end of the leg it projects on. Stop places are the customs offices and
border points of the route, where stopping is expected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from silkway.kernel.errors import DomainError, Violation
from silkway.reference.model import MEMBER_STATES, ReferenceData
from silkway.seals.domain.corridor import EARTH_RADIUS_KM, CorridorGeometry, FloatArray, IndexArray
from silkway.transit.domain.declaration import TransitDeclaration


class RouteUnavailable(DomainError):
    """No route polyline can be built for the movement (unknown corridor or offices)."""

    code = "route-unavailable"


@dataclass(frozen=True, slots=True)
class RoutePoint:
    name: str
    state: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class OperatorPlan:
    """The national seal operators concerned by one carriage (EEC Board Decision 139 roles)."""

    registration: str
    """Where the seal is registered."""
    tracking: str
    """The operator that activated the seal at release (this node)."""
    passage: tuple[str, ...]
    """Member states crossed after the departure state, in travel order."""
    completion: str | None
    """The state of the office of destination when it is a member state."""

    def as_json(self) -> dict[str, Any]:
        return {
            "registration": self.registration,
            "tracking": self.tracking,
            "passage": list(self.passage),
            "completion": self.completion,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OperatorPlan:
        return cls(
            registration=str(data["registration"]),
            tracking=str(data["tracking"]),
            passage=tuple(str(s) for s in data["passage"]),
            completion=None if data.get("completion") is None else str(data["completion"]),
        )


@dataclass(frozen=True, slots=True)
class PlannedRoute:
    """What an activation keeps about the route: enough to rebuild the geometry at any time."""

    corridor_id: str | None
    points: tuple[RoutePoint, ...]
    stop_places: tuple[RoutePoint, ...]
    states: tuple[str, ...]
    """Every state the declared route may cross (third countries included), travel order."""

    @property
    def member_states(self) -> tuple[str, ...]:
        """Member states along the route, travel order."""
        return tuple(s for s in self.states if s in MEMBER_STATES)

    def as_json(self) -> dict[str, Any]:
        return {
            "corridor": self.corridor_id,
            "points": [[p.name, p.state, p.lat, p.lon] for p in self.points],
            "stop_places": [[p.name, p.state, p.lat, p.lon] for p in self.stop_places],
            "states": list(self.states),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlannedRoute:
        def points(raw: Sequence[Sequence[Any]]) -> tuple[RoutePoint, ...]:
            return tuple(RoutePoint(str(n), str(s), float(la), float(lo)) for n, s, la, lo in raw)

        return cls(
            corridor_id=data.get("corridor"),
            points=points(data["points"]),
            stop_places=points(data["stop_places"]),
            states=tuple(data["states"]),
        )


def plan_route(declaration: TransitDeclaration, reference: ReferenceData) -> PlannedRoute:
    """The planned route of a declaration, from its corridor or else from its offices."""
    offices = [
        declaration.departure_office,
        *declaration.intermediate_offices,
        declaration.destination_office,
    ]
    known = [reference.offices[o] for o in offices if o in reference.offices]
    corridor = reference.corridors.get(declaration.corridor) if declaration.corridor else None
    if declaration.corridor and corridor is None:
        raise RouteUnavailable(
            f"unknown corridor {declaration.corridor!r}",
            [Violation("corridor-unknown", "/corridor", f"no corridor {declaration.corridor!r}")],
        )
    if corridor is not None:
        points = tuple(RoutePoint(w.name, w.state, w.lat, w.lon) for w in corridor.waypoints)
        border_ids = [*corridor.border_points, *declaration.border_points]
        states = _unique([*declaration.route, *corridor.states, *(o.state for o in known)])
    else:
        points = tuple(RoutePoint(o.name, o.state, o.lat, o.lon) for o in known)
        border_ids = list(declaration.border_points)
        states = _unique([*declaration.route, *(o.state for o in known)])
        distinct = {(p.lat, p.lon) for p in points}
        if len(distinct) < 2:
            raise RouteUnavailable(
                "the route needs two distinct known offices or a corridor",
                [Violation("route-too-short", "/intermediate_offices", "not enough offices")],
            )
    places = [RoutePoint(o.name, o.state, o.lat, o.lon) for o in known]
    for bp_id in _unique(border_ids):
        bp = reference.border_points.get(bp_id)
        if bp is not None:
            side = bp.states[0] if bp.states[0] in MEMBER_STATES else bp.states[1]
            places.append(RoutePoint(bp.name, side, bp.lat, bp.lon))
        places.extend(
            RoutePoint(o.name, o.state, o.lat, o.lon)
            for o in reference.offices.values()
            if o.border_point == bp_id and o.code not in offices
        )
    return PlannedRoute(
        corridor_id=corridor.id if corridor is not None else None,
        points=points,
        stop_places=tuple(places),
        states=tuple(states),
    )


def operator_plan(
    route: PlannedRoute, *, registration: str, tracking: str, destination_state: str | None
) -> OperatorPlan:
    """Who registers, tracks, passes and completes the carriage along ``route``."""
    passage = tuple(s for s in route.member_states if s != tracking)
    completion = destination_state if destination_state in MEMBER_STATES else None
    return OperatorPlan(
        registration=registration, tracking=tracking, passage=passage, completion=completion
    )


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _unit(lat: npt.ArrayLike, lon: npt.ArrayLike) -> FloatArray:
    la = np.radians(np.asarray(lat, dtype=np.float64))
    lo = np.radians(np.asarray(lon, dtype=np.float64))
    c = np.cos(la)
    return np.stack([c * np.cos(lo), c * np.sin(lo), np.sin(la)], axis=-1)


def _chord_to_km(dot: FloatArray) -> FloatArray:
    km: FloatArray = EARTH_RADIUS_KM * np.arccos(np.clip(dot, -1.0, 1.0))
    return km


class RouteGeometry:
    """A planned route ready for batched queries: corridor distance, state, stop places."""

    __slots__ = ("_member_rank", "_places", "_state_codes", "_waypoint_state", "corridor", "route")

    def __init__(self, route: PlannedRoute) -> None:
        self.route = route
        self.corridor = CorridorGeometry([(p.lat, p.lon) for p in route.points])
        self._state_codes: tuple[str, ...] = tuple(_unique([p.state for p in route.points]))
        index = {s: i for i, s in enumerate(self._state_codes)}
        self._waypoint_state = np.array([index[p.state] for p in route.points], dtype=np.intp)
        self._member_rank = MappingProxyType({s: i for i, s in enumerate(route.member_states)})
        self._places = (
            _unit([p.lat for p in route.stop_places], [p.lon for p in route.stop_places])
            if route.stop_places
            else np.empty((0, 3))
        )

    def states_at(self, segment: IndexArray, progress_km: FloatArray) -> list[str]:
        """The state along the route at each (leg, chainage): the nearer end of the leg."""
        codes = self._state_codes
        return [codes[i] for i in self.state_indices_at(segment, progress_km).tolist()]

    def state_indices_at(self, segment: IndexArray, progress_km: FloatArray) -> IndexArray:
        """:meth:`states_at` as indices into :attr:`state_codes`, for comparing whole arrays."""
        cumulative = self.corridor.waypoint_progress_km
        start = cumulative[segment]
        end = cumulative[np.minimum(segment + 1, len(cumulative) - 1)]
        nearer_end = (progress_km - start) * 2.0 > (end - start)
        chosen: IndexArray = self._waypoint_state[np.where(nearer_end, segment + 1, segment)]
        return chosen

    @property
    def state_codes(self) -> tuple[str, ...]:
        """The states of the route's waypoints, each once, in route order."""
        return self._state_codes

    @property
    def member_rank(self) -> Mapping[str, int]:
        """Each member state of the route with its place in travel order (read-only)."""
        return self._member_rank

    def km_to_stop_place(self, lats: npt.ArrayLike, lons: npt.ArrayLike) -> FloatArray:
        """Distance from each point to the nearest customs office or border point of the route."""
        points = _unit(lats, lons)
        if not len(self._places):
            return np.full(points.shape[:-1], np.inf)
        return _chord_to_km(np.max(points @ self._places.T, axis=-1))


class StateLocator:
    """Which state a point lies in, approximated by the nearest labelled reference point.

    Silkway ships no border polygons: every corridor waypoint and customs office carries its
    state, and their nearest neighbour is a fair answer away from a frontier. It is used only
    for points well off the corridor, to tell a detour inside a route state from one into a
    state the route does not cross.
    """

    __slots__ = ("_states", "_vectors")

    def __init__(self, labelled: Sequence[tuple[str, float, float]]) -> None:
        if not labelled:
            raise ValueError("a state locator needs labelled points")
        self._states = [s for s, _, _ in labelled]
        self._vectors = _unit([la for _, la, _ in labelled], [lo for _, _, lo in labelled])

    @classmethod
    def from_reference(cls, reference: ReferenceData) -> StateLocator:
        labelled = [(o.state, o.lat, o.lon) for o in reference.offices.values()]
        labelled += [
            (w.state, w.lat, w.lon) for c in reference.corridors.values() for w in c.waypoints
        ]
        return cls(labelled)

    def states(self, lats: npt.ArrayLike, lons: npt.ArrayLike) -> list[str]:
        points = _unit(lats, lons).reshape(-1, 3)
        if not len(points):
            return []
        nearest = np.argmax(points @ self._vectors.T, axis=-1)
        return [self._states[i] for i in nearest.tolist()]
