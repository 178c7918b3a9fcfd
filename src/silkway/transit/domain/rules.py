"""The customs rules a transit declaration must meet before release, one named rule each.

Each rule is a small function registered in :data:`RULES` under a stable kebab-case code; it
yields ``(pointer, message)`` pairs, and :func:`validate_declaration` turns them into
:class:`~silkway.kernel.errors.Violation` values carrying the rule's code and a JSON pointer
(RFC 6901) into the declaration, e.g. ``/items/2/net_mass_kg``.

A rule that needs a resolved reference (an office, a border point, a corridor) skips values
that another rule already reports as unknown, so one mistake gives one violation.

Thresholds that are Silkway's judgement rather than law are constants here: the bulk package
kinds, the plausibility ceilings on mass and value, the same-day distance, and the time-limit
ceiling of 2,000 km per month, which DOMAIN.md §3 marks unconfirmed and which callers can
therefore override with ``km_per_month``.
"""

from __future__ import annotations

import inspect
import math
from calendar import monthrange
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property, lru_cache
from itertools import pairwise

from silkway.kernel.codes import validate_certificate_number, validate_commodity_code, validate_grn
from silkway.kernel.errors import DeclarationInvalid, Violation
from silkway.reference.model import (
    Corridor,
    CustomsOffice,
    ExemptParty,
    OfficeRole,
    ReferenceData,
    TransportMode,
)
from silkway.transit.domain.declaration import DocumentKind, Party, SecurityKind, TransitDeclaration

__all__ = [
    "BULK_PACKAGE_KINDS",
    "DEFAULT_KM_PER_MONTH",
    "DOCUMENT_MODES",
    "EXEMPTION_NOT_APPLICABLE",
    "EXEMPTION_UNKNOWN",
    "MAX_ITEM_MASS_KG",
    "MAX_ITEM_VALUE",
    "PARTY_IDENTIFICATION_FORMATS",
    "RULES",
    "SAME_DAY_MAX_KM",
    "Rule",
    "RuleCheck",
    "RuleContext",
    "describe_rules",
    "exemption_refusals",
    "exemption_violations",
    "require_valid_declaration",
    "route_length_km",
    "time_limit_ceiling",
    "validate_declaration",
]

DEFAULT_KM_PER_MONTH = 2000.0
"""Time-limit ceiling: one month per this many kilometres of route (unconfirmed, DOMAIN.md §3)."""

MAX_ITEM_MASS_KG = Decimal(1_000_000)
"""Gross mass above which one goods item is taken for a typing error (a full block train)."""

MAX_ITEM_VALUE = Decimal(10) ** 11
"""Value above which one goods item is taken for a typing error, in any currency."""

SAME_DAY_MAX_KM = 500.0
"""Longest route for which a time limit expiring on the day of release is plausible."""

BULK_PACKAGE_KINDS = frozenset({"VG", "VL", "VO", "VQ", "VR", "VS", "VY"})
"""UN/ECE Recommendation 21 bulk codes: the goods have no packages, so 0 packages is allowed."""

PARTY_IDENTIFICATION_FORMATS: dict[str, tuple[str, frozenset[int]]] = {
    "AM": ("TIN", frozenset({8})),
    "BY": ("UNP", frozenset({9})),
    "KG": ("INN", frozenset({14})),
    "KZ": ("BIN/IIN", frozenset({12})),
    "RU": ("INN", frozenset({10, 12})),
}
"""Taxpayer numbers of the member states: name and allowed digit counts. Other countries: free."""

DOCUMENT_MODES: dict[DocumentKind, TransportMode] = {
    DocumentKind.CMR: TransportMode.ROAD,
    DocumentKind.TIR: TransportMode.ROAD,
    DocumentKind.SMGS: TransportMode.RAIL,
    DocumentKind.AWB: TransportMode.AIR,
    DocumentKind.BL: TransportMode.SEA,
}
"""Transport documents and the mode of carriage each one evidences (an invoice is not one)."""

_EARTH_RADIUS_KM = 6371.0088


# --- the registry ----------------------------------------------------------------------------

Finding = tuple[str, str]
"""A rule's finding: JSON pointer and message."""


class RuleContext:
    """What a rule sees: the declaration, the reference data, today, and the lookups several
    rules share, resolved once and lazily."""

    def __init__(
        self, decl: TransitDeclaration, ref: ReferenceData, today: date, km_per_month: float
    ) -> None:
        self.decl = decl
        self.ref = ref
        self.today = today
        self.km_per_month = km_per_month

    @cached_property
    def departure(self) -> CustomsOffice | None:
        return self.ref.offices.get(self.decl.departure_office)

    @cached_property
    def destination(self) -> CustomsOffice | None:
        return self.ref.offices.get(self.decl.destination_office)

    @cached_property
    def intermediates(self) -> list[CustomsOffice | None]:
        return [self.ref.offices.get(code) for code in self.decl.intermediate_offices]

    @cached_property
    def modes(self) -> frozenset[TransportMode]:
        return frozenset(leg.mode for leg in self.decl.transport)

    @cached_property
    def corridor(self) -> Corridor | None:
        if self.decl.corridor is None:
            return None
        return self.ref.corridors.get(self.decl.corridor)

    @cached_property
    def route_km(self) -> float | None:
        """Route length, or ``None`` when an office on it is unknown."""
        return route_length_km(self.decl, self.ref)


RuleCheck = Callable[[RuleContext], Iterable[Finding]]
"""A rule's body: yields its findings for one declaration."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One named validation rule with a stable code."""

    code: str
    name: str
    description: str
    check: RuleCheck

    def apply(self, ctx: RuleContext) -> Iterator[Violation]:
        for pointer, message in self.check(ctx):
            yield Violation(code=self.code, pointer=pointer, message=message)


_registry: list[Rule] = []


def _rule(code: str, name: str) -> Callable[[RuleCheck], RuleCheck]:
    def register(check: RuleCheck) -> RuleCheck:
        if any(r.code == code for r in _registry):
            raise ValueError(f"rule code {code!r} registered twice")
        description = inspect.cleandoc(check.__doc__ or "")
        _registry.append(Rule(code=code, name=name, description=description, check=check))
        return check

    return register


# --- geometry and time -----------------------------------------------------------------------


def _great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlam = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@lru_cache(maxsize=64)
def _cumulative_km(corridor: Corridor) -> tuple[float, ...]:
    """Distance from the corridor's first waypoint to each waypoint along the polyline."""
    total = 0.0
    cumulative = [0.0]
    points = corridor.waypoints
    for a, b in pairwise(points):
        total += _great_circle_km(a.lat, a.lon, b.lat, b.lon)
        cumulative.append(total)
    return tuple(cumulative)


def _nearest_waypoint(corridor: Corridor, lat: float, lon: float) -> tuple[int, float]:
    distances = [_great_circle_km(lat, lon, w.lat, w.lon) for w in corridor.waypoints]
    index = min(range(len(distances)), key=distances.__getitem__)
    return index, distances[index]


@lru_cache(maxsize=1024)
def _corridor_km(corridor: Corridor, start: CustomsOffice, end: CustomsOffice) -> float:
    i, to_corridor = _nearest_waypoint(corridor, start.lat, start.lon)
    j, from_corridor = _nearest_waypoint(corridor, end.lat, end.lon)
    cumulative = _cumulative_km(corridor)
    return to_corridor + abs(cumulative[j] - cumulative[i]) + from_corridor


def route_length_km(decl: TransitDeclaration, ref: ReferenceData) -> float | None:
    """Great-circle length of the declared route, or ``None`` when an office on it is unknown.

    With a known corridor: from the departure office to the nearest corridor waypoint, along the
    corridor polyline, and from the waypoint nearest the destination office to that office.
    Otherwise: departure office, each intermediate office in order, destination office.
    """
    start = ref.offices.get(decl.departure_office)
    end = ref.offices.get(decl.destination_office)
    if start is None or end is None:
        return None
    corridor = ref.corridors.get(decl.corridor) if decl.corridor is not None else None
    if corridor is not None and len(corridor.waypoints) >= 2:
        return _corridor_km(corridor, start, end)
    stops = [start]
    for code in decl.intermediate_offices:
        office = ref.offices.get(code)
        if office is None:
            return None
        stops.append(office)
    stops.append(end)
    return sum(_great_circle_km(a.lat, a.lon, b.lat, b.lon) for a, b in pairwise(stops))


def _add_months(day: date, months: int) -> date:
    years, month0 = divmod(day.month - 1 + months, 12)
    year = day.year + years
    if year > date.max.year:
        return date.max
    return date(year, month0 + 1, min(day.day, monthrange(year, month0 + 1)[1]))


def time_limit_ceiling(
    route_km: float, today: date, km_per_month: float = DEFAULT_KM_PER_MONTH
) -> date:
    """The latest time limit allowed: one month per ``km_per_month`` started, at least one."""
    months = max(1, math.ceil(route_km / km_per_month))
    return _add_months(today, months)


def _positive(amount: Decimal) -> bool:
    return amount.is_finite() and amount > 0


# --- offices ---------------------------------------------------------------------------------


def _office_references(ctx: RuleContext) -> Iterator[tuple[str, str]]:
    yield "/departure_office", ctx.decl.departure_office
    yield "/destination_office", ctx.decl.destination_office
    for i, code in enumerate(ctx.decl.intermediate_offices):
        yield f"/intermediate_offices/{i}", code


@_rule("office-unknown", "Customs office unknown")
def _office_unknown(ctx: RuleContext) -> Iterator[Finding]:
    """The offices of departure, destination and transit must be in the reference data."""
    for pointer, code in _office_references(ctx):
        if code not in ctx.ref.offices:
            yield pointer, f"customs office {code} is not a known customs office"


@_rule("office-state-mismatch", "Office not in the declared state")
def _office_state_mismatch(ctx: RuleContext) -> Iterator[Finding]:
    """The route starts in the departure office's state and ends in the destination office's;
    every office of transit lies in a state on the route."""
    route = ctx.decl.route
    dep, dest = ctx.departure, ctx.destination
    if dep is not None and dep.state != route[0]:
        yield (
            "/departure_office",
            f"office {dep.code} is in {dep.state}, the route starts in {route[0]}",
        )
    if dest is not None and dest.state != route[-1]:
        yield (
            "/destination_office",
            f"office {dest.code} is in {dest.state}, the route ends in {route[-1]}",
        )
    on_route = set(route)
    for i, office in enumerate(ctx.intermediates):
        if office is not None and office.state not in on_route:
            yield (
                f"/intermediate_offices/{i}",
                f"office {office.code} is in {office.state}, which is not on the route",
            )


@_rule("office-role-missing", "Office without the needed role")
def _office_role_missing(ctx: RuleContext) -> Iterator[Finding]:
    """The office of departure must act as one, likewise the office of destination; an office of
    transit must be an intermediate or a border office."""
    dep, dest = ctx.departure, ctx.destination
    if dep is not None and OfficeRole.DEPARTURE not in dep.roles:
        yield "/departure_office", f"office {dep.code} is not an office of departure"
    if dest is not None and OfficeRole.DESTINATION not in dest.roles:
        yield "/destination_office", f"office {dest.code} is not an office of destination"
    transit_roles = {OfficeRole.INTERMEDIATE, OfficeRole.BORDER}
    for i, office in enumerate(ctx.intermediates):
        if office is not None and not transit_roles & office.roles:
            yield (
                f"/intermediate_offices/{i}",
                f"office {office.code} is neither an intermediate nor a border office",
            )


@_rule("office-departure-is-destination", "Departure and destination are the same office")
def _office_departure_is_destination(ctx: RuleContext) -> Iterator[Finding]:
    """Transit moves goods between two offices; a movement back to its own office is not one."""
    if ctx.decl.departure_office == ctx.decl.destination_office:
        yield "/destination_office", "the office of destination is the office of departure"


@_rule("intermediate-office-repeated", "Office of transit repeated")
def _intermediate_office_repeated(ctx: RuleContext) -> Iterator[Finding]:
    """An office of transit appears once and is neither the office of departure nor of
    destination."""
    seen = {ctx.decl.departure_office, ctx.decl.destination_office}
    for i, code in enumerate(ctx.decl.intermediate_offices):
        if code in seen:
            yield f"/intermediate_offices/{i}", f"office {code} already appears on the itinerary"
        seen.add(code)


@_rule("intermediate-office-order", "Offices of transit out of route order")
def _intermediate_office_order(ctx: RuleContext) -> Iterator[Finding]:
    """Offices of transit are listed in travel order: their states follow the route's order."""
    route = ctx.decl.route
    position = 0
    for i, office in enumerate(ctx.intermediates):
        if office is None or office.state not in route:
            continue
        try:
            position = route.index(office.state, position)
        except ValueError:
            left = f"office {office.code} comes after the route has left {office.state}"
            yield f"/intermediate_offices/{i}", left


# --- goods items -----------------------------------------------------------------------------


@_rule("commodity-code-malformed", "Commodity code malformed")
def _commodity_code_malformed(ctx: RuleContext) -> Iterator[Finding]:
    """A commodity code is exactly 10 digits of the TN VED EAEU in an existing HS chapter."""
    for i, item in enumerate(ctx.decl.items):
        check = validate_commodity_code(item.commodity_code)
        if not check.valid:
            yield f"/items/{i}/commodity_code", f"commodity code {check.reason}"


@_rule("commodity-heading-unknown", "Commodity heading unknown to the tariff")
def _commodity_heading_unknown(ctx: RuleContext) -> Iterator[Finding]:
    """The code's 4-digit HS heading must be in the tariff, so that duties can be secured."""
    tariff = ctx.ref.tariff
    for i, item in enumerate(ctx.decl.items):
        code = item.commodity_code
        if validate_commodity_code(code).valid and code[:4] not in tariff:
            yield f"/items/{i}/commodity_code", f"heading {code[:4]} is not in the tariff"


@_rule("item-gross-mass-not-positive", "Gross mass not positive")
def _item_gross_mass_not_positive(ctx: RuleContext) -> Iterator[Finding]:
    """Every goods item has a gross mass above zero."""
    for i, item in enumerate(ctx.decl.items):
        if not _positive(item.gross_mass_kg):
            yield (
                f"/items/{i}/gross_mass_kg",
                f"gross mass must be above 0, got {item.gross_mass_kg}",
            )


@_rule("item-net-mass-not-positive", "Net mass not positive")
def _item_net_mass_not_positive(ctx: RuleContext) -> Iterator[Finding]:
    """A declared net mass is above zero."""
    for i, item in enumerate(ctx.decl.items):
        if item.net_mass_kg is not None and not _positive(item.net_mass_kg):
            yield f"/items/{i}/net_mass_kg", f"net mass must be above 0, got {item.net_mass_kg}"


@_rule("item-net-mass-above-gross", "Net mass above gross mass")
def _item_net_mass_above_gross(ctx: RuleContext) -> Iterator[Finding]:
    """The net mass does not exceed the gross mass (packing has no negative weight)."""
    for i, item in enumerate(ctx.decl.items):
        net, gross = item.net_mass_kg, item.gross_mass_kg
        if net is not None and _positive(net) and _positive(gross) and net > gross:
            yield f"/items/{i}/net_mass_kg", f"net mass {net} kg exceeds gross mass {gross} kg"


@_rule("item-mass-implausible", "Gross mass implausible")
def _item_mass_implausible(ctx: RuleContext) -> Iterator[Finding]:
    """One goods item weighs at most 1,000,000 kg; more is taken for a typing error."""
    for i, item in enumerate(ctx.decl.items):
        if _positive(item.gross_mass_kg) and item.gross_mass_kg > MAX_ITEM_MASS_KG:
            yield (
                f"/items/{i}/gross_mass_kg",
                f"gross mass {item.gross_mass_kg} kg is above {MAX_ITEM_MASS_KG} kg for one item",
            )


@_rule("item-value-not-positive", "Value not positive")
def _item_value_not_positive(ctx: RuleContext) -> Iterator[Finding]:
    """Every goods item has a value above zero: the security is computed from it."""
    for i, item in enumerate(ctx.decl.items):
        if not _positive(item.value):
            yield f"/items/{i}/value", f"value must be above 0, got {item.value}"


@_rule("item-value-implausible", "Value implausible")
def _item_value_implausible(ctx: RuleContext) -> Iterator[Finding]:
    """One goods item is worth at most 10^11 units of its currency; more is a typing error."""
    for i, item in enumerate(ctx.decl.items):
        if _positive(item.value) and item.value > MAX_ITEM_VALUE:
            yield f"/items/{i}/value", f"value {item.value} is above 10^11 for one item"


@_rule("item-packages-invalid", "Number of packages invalid")
def _item_packages_invalid(ctx: RuleContext) -> Iterator[Finding]:
    """Packed goods have at least one package; bulk goods (package kinds VG, VL, VO, VQ, VR, VS,
    VY) may declare 0; a negative number is never valid."""
    for i, item in enumerate(ctx.decl.items):
        minimum = 0 if item.package_kind in BULK_PACKAGE_KINDS else 1
        if item.packages < minimum:
            yield (
                f"/items/{i}/packages",
                f"{item.packages} packages of kind {item.package_kind}, at least {minimum} needed",
            )


@_rule("item-supplementary-quantity-not-positive", "Supplementary quantity not positive")
def _item_supplementary_quantity_not_positive(ctx: RuleContext) -> Iterator[Finding]:
    """A declared supplementary quantity (litres, pieces) is above zero."""
    for i, item in enumerate(ctx.decl.items):
        quantity = item.supplementary_quantity
        if quantity is not None and not _positive(quantity):
            yield (
                f"/items/{i}/supplementary_quantity",
                f"supplementary quantity must be above 0, got {quantity}",
            )


@_rule("currency-unknown", "Currency unknown")
def _currency_unknown(ctx: RuleContext) -> Iterator[Finding]:
    """The value's currency must be one the reference data knows (ISO 4217)."""
    currencies = ctx.ref.currencies
    for i, item in enumerate(ctx.decl.items):
        if item.currency not in currencies:
            yield f"/items/{i}/currency", f"currency {item.currency!r} is not known"


@_rule("item-number-duplicate", "Item number repeated")
def _item_number_duplicate(ctx: RuleContext) -> Iterator[Finding]:
    """Each goods item number is used once."""
    seen: set[int] = set()
    for i, item in enumerate(ctx.decl.items):
        if item.item_number in seen:
            yield f"/items/{i}/item_number", f"item number {item.item_number} is used twice"
        seen.add(item.item_number)


@_rule("item-number-sequence", "Item numbers not consecutive")
def _item_number_sequence(ctx: RuleContext) -> Iterator[Finding]:
    """Goods items are numbered 1, 2, … n in the order listed (NCTS rule); the first break is
    reported."""
    for i, item in enumerate(ctx.decl.items):
        if item.item_number != i + 1:
            yield f"/items/{i}/item_number", f"item number {item.item_number}, expected {i + 1}"
            return


# --- route, border points and corridor -------------------------------------------------------


@_rule("route-start-not-member", "Route does not start in a member state")
def _route_start_not_member(ctx: RuleContext) -> Iterator[Finding]:
    """Union transit starts in a member state: the first state of the route is one."""
    first = ctx.decl.route[0]
    if first not in ctx.ref.states:
        yield "/route/0", f"the route starts in {first}, which is not a member state"


@_rule("route-state-repeated", "State repeated on the route")
def _route_state_repeated(ctx: RuleContext) -> Iterator[Finding]:
    """The same state does not appear twice in a row: the route lists the states crossed."""
    route = ctx.decl.route
    for k in range(1, len(route)):
        if route[k] == route[k - 1]:
            yield f"/route/{k}", f"{route[k]} follows itself on the route"


@_rule("route-no-border", "No border point between consecutive states")
def _route_no_border(ctx: RuleContext) -> Iterator[Finding]:
    """Consecutive states on the route share a known border point; a route through states that do
    not border one another, or through countries the reference data does not join, is invalid."""
    route = ctx.decl.route
    for k in range(1, len(route)):
        a, b = route[k - 1], route[k]
        if a != b and not ctx.ref.border_between(a, b):
            yield f"/route/{k}", f"no known border point between {a} and {b}"


@_rule("border-point-unknown", "Border point unknown")
def _border_point_unknown(ctx: RuleContext) -> Iterator[Finding]:
    """Every declared border point is in the reference data."""
    for k, point_id in enumerate(ctx.decl.border_points):
        if point_id not in ctx.ref.border_points:
            yield f"/border_points/{k}", f"border point {point_id!r} is not known"


@_rule("border-point-count", "Border points do not match the crossings")
def _border_point_count(ctx: RuleContext) -> Iterator[Finding]:
    """When border points are declared, there is exactly one per crossing on the route."""
    declared = len(ctx.decl.border_points)
    crossings = len(ctx.decl.route) - 1
    if declared and declared != crossings:
        yield (
            "/border_points",
            f"{declared} border points declared for {crossings} crossings on the route",
        )


@_rule("border-point-mismatch", "Border point does not join the route's states")
def _border_point_mismatch(ctx: RuleContext) -> Iterator[Finding]:
    """The k-th declared border point joins the k-th and (k+1)-th states of the route, so the
    border points are in travel order."""
    route = ctx.decl.route
    for k, point_id in enumerate(ctx.decl.border_points[: len(route) - 1]):
        point = ctx.ref.border_points.get(point_id)
        if point is not None and set(point.states) != {route[k], route[k + 1]}:
            a, b = point.states
            crossing = f"crossing {k + 1} of the route is {route[k]} to {route[k + 1]}"
            yield f"/border_points/{k}", f"border point {point_id} joins {a} and {b}, {crossing}"


@_rule("border-point-mode", "Transport mode not allowed at the border point")
def _border_point_mode(ctx: RuleContext) -> Iterator[Finding]:
    """At least one declared transport mode is handled at each declared border point (the
    declaration does not say which leg crosses where)."""
    for k, point_id in enumerate(ctx.decl.border_points):
        point = ctx.ref.border_points.get(point_id)
        if point is not None and not point.modes & ctx.modes:
            allowed = ", ".join(sorted(point.modes))
            yield f"/border_points/{k}", f"border point {point_id} handles only {allowed}"


@_rule("corridor-unknown", "Corridor unknown")
def _corridor_unknown(ctx: RuleContext) -> Iterator[Finding]:
    """A declared corridor is in the reference data."""
    if ctx.decl.corridor is not None and ctx.corridor is None:
        yield "/corridor", f"corridor {ctx.decl.corridor!r} is not known"


@_rule("corridor-route-mismatch", "Route leaves the corridor")
def _corridor_route_mismatch(ctx: RuleContext) -> Iterator[Finding]:
    """The corridor covers the route: the route's member states appear among the corridor's
    states in the same order (third countries are not listed by corridors)."""
    corridor = ctx.corridor
    if corridor is None:
        return
    position = 0
    for k, state in enumerate(ctx.decl.route):
        if state not in ctx.ref.states:
            continue
        try:
            position = corridor.states.index(state, position)
        except ValueError:
            yield f"/route/{k}", f"{state} is not on corridor {corridor.id} at this point"
            return


@_rule("corridor-border-point-mismatch", "Border point not on the corridor")
def _corridor_border_point_mismatch(ctx: RuleContext) -> Iterator[Finding]:
    """With a corridor, each declared border point is one the corridor crosses."""
    corridor = ctx.corridor
    if corridor is None:
        return
    on_corridor = set(corridor.border_points)
    for k, point_id in enumerate(ctx.decl.border_points):
        if point_id in ctx.ref.border_points and point_id not in on_corridor:
            yield f"/border_points/{k}", f"border point {point_id} is not on corridor {corridor.id}"


@_rule("corridor-mode-mismatch", "First leg's mode differs from the corridor's")
def _corridor_mode_mismatch(ctx: RuleContext) -> Iterator[Finding]:
    """With a corridor, the first transport leg uses the corridor's mode."""
    corridor = ctx.corridor
    first = ctx.decl.transport[0].mode
    if corridor is not None and first != corridor.mode:
        yield (
            "/transport/0/mode",
            f"first leg is by {first}, corridor {corridor.id} is a {corridor.mode} corridor",
        )


# --- time limit ------------------------------------------------------------------------------


@_rule("time-limit-past", "Time limit in the past")
def _time_limit_past(ctx: RuleContext) -> Iterator[Finding]:
    """The time limit is not before today."""
    if ctx.decl.time_limit < ctx.today:
        yield "/time_limit", f"time limit {ctx.decl.time_limit} is before {ctx.today}"


@_rule("time-limit-too-long", "Time limit beyond the ceiling")
def _time_limit_too_long(ctx: RuleContext) -> Iterator[Finding]:
    """The time limit is at most one month per 2,000 km of route started (at least one month);
    the route is measured along the corridor when one is given, otherwise office to office."""
    km = ctx.route_km
    if km is None:
        return
    ceiling = time_limit_ceiling(km, ctx.today, ctx.km_per_month)
    if ctx.decl.time_limit > ceiling:
        message = (
            f"time limit {ctx.decl.time_limit} is after {ceiling}, the ceiling for {km:.0f} km"
        )
        yield "/time_limit", message


@_rule("time-limit-too-short", "Time limit implausibly short")
def _time_limit_too_short(ctx: RuleContext) -> Iterator[Finding]:
    """A route longer than 500 km cannot be completed on the day of release."""
    km = ctx.route_km
    if km is not None and km > SAME_DAY_MAX_KM and ctx.decl.time_limit == ctx.today:
        yield "/time_limit", f"a route of {km:.0f} km cannot be completed the same day"


# --- identification means --------------------------------------------------------------------


def _repeats(values: list[str]) -> Iterator[int]:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            yield i
        seen.add(value)


@_rule("seal-count-mismatch", "Seal count differs from the seal numbers")
def _seal_count_mismatch(ctx: RuleContext) -> Iterator[Finding]:
    """When customs seal numbers are given, the seal count equals their number."""
    seals = ctx.decl.seals
    if seals.customs_seal_ids and seals.count != len(seals.customs_seal_ids):
        yield (
            "/seals/count",
            f"{seals.count} seals declared, {len(seals.customs_seal_ids)} seal numbers given",
        )


MAX_SEALS = 999
"""The release notification's ``Seal`` elements (R.CA.CP.01.001.xsd: maxOccurs 999), customs and
navigation seals together: a declaration with more could never be sent along its route."""


@_rule("seals-too-many", "More seals than the release notification can carry")
def _seals_too_many(ctx: RuleContext) -> Iterator[Finding]:
    """Customs and navigation seals together number at most 999."""
    seals = ctx.decl.seals
    total = len(seals.customs_seal_ids) + len(seals.navigation_seal_ids)
    if total > MAX_SEALS:
        yield "/seals", f"{total} seals declared; the release notification carries {MAX_SEALS}"


@_rule("seal-id-duplicate", "Customs seal number repeated")
def _seal_id_duplicate(ctx: RuleContext) -> Iterator[Finding]:
    """Each customs seal number appears once."""
    ids = ctx.decl.seals.customs_seal_ids
    for i in _repeats(ids):
        yield f"/seals/customs_seal_ids/{i}", f"seal {ids[i]} is listed twice"


@_rule("navigation-seal-duplicate", "Navigation seal repeated")
def _navigation_seal_duplicate(ctx: RuleContext) -> Iterator[Finding]:
    """Each navigation seal id appears once."""
    ids = ctx.decl.seals.navigation_seal_ids
    for i in _repeats(ids):
        yield f"/seals/navigation_seal_ids/{i}", f"navigation seal {ids[i]} is listed twice"


# --- parties ---------------------------------------------------------------------------------


def _parties(decl: TransitDeclaration) -> Iterator[tuple[str, Party]]:
    yield "declarant", decl.declarant
    if decl.carrier is not None:
        yield "carrier", decl.carrier
    yield "consignor", decl.consignor
    yield "consignee", decl.consignee


@_rule("party-identification-format", "Party identification malformed")
def _party_identification_format(ctx: RuleContext) -> Iterator[Finding]:
    """A party of a member state is identified by its taxpayer number: AM TIN 8 digits, BY UNP
    9 digits, KG INN 14 digits, KZ BIN/IIN 12 digits, RU INN 10 or 12 digits. Parties of other
    countries are not checked."""
    for field, party in _parties(ctx.decl):
        expected = PARTY_IDENTIFICATION_FORMATS.get(party.country)
        if expected is None:
            continue
        name, lengths = expected
        number = party.identification
        if not (number.isascii() and number.isdigit() and len(number) in lengths):
            digits = " or ".join(str(n) for n in sorted(lengths))
            yield (
                f"/{field}/identification",
                f"the {party.country} {name} has {digits} digits, got {number!r}",
            )


# --- security --------------------------------------------------------------------------------


@_rule("security-missing", "No security")
def _security_missing(ctx: RuleContext) -> Iterator[Finding]:
    """Transit is secured: at least one security reference is given (an EXEMPT reference
    records why none is required)."""
    if not ctx.decl.security:
        yield "/security", "no security reference given"


@_rule("security-exempt-mixed", "Exemption mixed with security")
def _security_exempt_mixed(ctx: RuleContext) -> Iterator[Finding]:
    """An EXEMPT reference stands alone: a movement is either exempt from security or secured."""
    kinds = [s.kind for s in ctx.decl.security]
    if SecurityKind.EXEMPT in kinds and any(k != SecurityKind.EXEMPT for k in kinds):
        for i, kind in enumerate(kinds):
            if kind == SecurityKind.EXEMPT:
                yield f"/security/{i}/kind", "an exemption cannot be combined with a security"


@_rule("security-grn-invalid", "Guarantee reference number invalid")
def _security_grn_invalid(ctx: RuleContext) -> Iterator[Finding]:
    """A GRN has the NCTS layout and a correct check character."""
    for i, security in enumerate(ctx.decl.security):
        if security.kind == SecurityKind.GRN:
            check = validate_grn(security.reference)
            if not check.valid:
                yield f"/security/{i}/reference", f"GRN {security.reference}: {check.reason}"


@_rule("security-certificate-invalid", "Security certificate number invalid")
def _security_certificate_invalid(ctx: RuleContext) -> Iterator[Finding]:
    """A security certificate number is the issuing member state's GRN marked ``C`` after the
    country code, with a correct check character."""
    for i, security in enumerate(ctx.decl.security):
        if security.kind == SecurityKind.CERTIFICATE:
            check = validate_certificate_number(security.reference)
            if not check.valid:
                yield (
                    f"/security/{i}/reference",
                    f"certificate {security.reference}: {check.reason}",
                )


@_rule("security-access-code-missing", "Guarantee or certificate without access code")
def _security_access_code_missing(ctx: RuleContext) -> Iterator[Finding]:
    """A GRN or a security certificate comes with its access code, without which it cannot be
    drawn on. The code is checked against the registry when the declaration is lodged or
    amended, and is not kept."""
    for i, security in enumerate(ctx.decl.security):
        if security.kind != SecurityKind.EXEMPT and security.access_code is None:
            what = "GRN" if security.kind == SecurityKind.GRN else "certificate"
            yield f"/security/{i}/access_code", f"{what} {security.reference} has no access code"


@_rule("security-exemption-unknown", "Exemption without a known basis")
def _security_exemption_unknown(ctx: RuleContext) -> Iterator[Finding]:
    """An EXEMPT reference quotes the code of an exemption basis of the reference data
    (``security_exemptions.json``: RAIL, AEO, CUSTOMS_CARRIER); there is no exemption without
    one."""
    for i, security in enumerate(ctx.decl.security):
        if security.kind == SecurityKind.EXEMPT:
            for code, message in exemption_refusals(ctx.decl, security.reference, ctx.ref):
                if code == EXEMPTION_UNKNOWN:
                    yield f"/security/{i}/reference", message


@_rule("security-exemption-not-applicable", "Exemption that does not apply")
def _security_exemption_not_applicable(ctx: RuleContext) -> Iterator[Finding]:
    """An exemption applies only to the transport modes it names and to a declarant or carrier
    the state of departure authorises to claim it; it is checked again at release."""
    for i, security in enumerate(ctx.decl.security):
        if security.kind == SecurityKind.EXEMPT:
            for code, message in exemption_refusals(ctx.decl, security.reference, ctx.ref):
                if code == EXEMPTION_NOT_APPLICABLE:
                    yield f"/security/{i}/reference", message


@_rule("security-duplicate", "Security reference repeated")
def _security_duplicate(ctx: RuleContext) -> Iterator[Finding]:
    """Each security reference is given once."""
    seen: set[tuple[SecurityKind, str]] = set()
    for i, security in enumerate(ctx.decl.security):
        key = (security.kind, security.reference)
        if key in seen:
            yield f"/security/{i}/reference", f"{security.reference} is given twice"
        seen.add(key)


EXEMPTION_UNKNOWN = "security-exemption-unknown"
EXEMPTION_NOT_APPLICABLE = "security-exemption-not-applicable"


def exemption_refusals(
    decl: TransitDeclaration, basis_code: str, ref: ReferenceData
) -> list[tuple[str, str]]:
    """Why exemption basis ``basis_code`` does not free ``decl`` from security, as (rule code,
    message) pairs; none when it applies. The authorising state is the state of departure."""
    basis = ref.security_exemptions.get(basis_code)
    if basis is None:
        known = ", ".join(sorted(ref.security_exemptions)) or "none"
        return [(EXEMPTION_UNKNOWN, f"no exemption basis {basis_code!r} (known: {known})")]
    found: list[tuple[str, str]] = []
    if basis.modes:
        allowed = " or ".join(sorted(basis.modes))
        for j, leg in enumerate(decl.transport):
            if leg.mode not in basis.modes:
                message = (
                    f"{basis.code} covers carriage by {allowed} only; leg {j + 1} is {leg.mode}"
                )
                found.append((EXEMPTION_NOT_APPLICABLE, message))
    if basis.party is not None:
        office = ref.offices.get(decl.departure_office)
        state = office.state if office is not None else decl.route[0]
        party = decl.declarant if basis.party is ExemptParty.DECLARANT else decl.carrier
        if party is None:
            found.append(
                (EXEMPTION_NOT_APPLICABLE, f"{basis.code} is claimed by a carrier; none is named")
            )
        elif not basis.authorises(state, party.identification):
            message = (
                f"{basis.party} {party.identification} is not authorised by {state} to claim"
                f" {basis.code} ({basis.title.lower()})"
            )
            found.append((EXEMPTION_NOT_APPLICABLE, message))
    return found


def exemption_violations(
    decl: TransitDeclaration, security_reference: str, ref: ReferenceData
) -> list[Violation]:
    """At release: why the quoted EXEMPT reference, if it is one, does not apply (the reference
    data may have changed since lodging)."""
    quoted = next((s for s in decl.security if s.reference == security_reference), None)
    if quoted is None or quoted.kind != SecurityKind.EXEMPT:
        return []
    return [
        Violation(code, "/security_reference", message)
        for code, message in exemption_refusals(decl, security_reference, ref)
    ]


# --- documents -------------------------------------------------------------------------------


@_rule("transport-document-missing", "No transport document")
def _transport_document_missing(ctx: RuleContext) -> Iterator[Finding]:
    """At least one transport document (CMR, SMGS, AWB, TIR carnet, bill of lading) is given; an
    invoice alone does not evidence carriage."""
    if not any(d.kind in DOCUMENT_MODES for d in ctx.decl.documents):
        yield "/documents", "no transport document given"


@_rule("document-mode-mismatch", "Transport document does not fit the transport")
def _document_mode_mismatch(ctx: RuleContext) -> Iterator[Finding]:
    """A transport document needs a leg of its mode: CMR and TIR road, SMGS rail, AWB air,
    bill of lading sea."""
    for i, document in enumerate(ctx.decl.documents):
        mode = DOCUMENT_MODES.get(document.kind)
        if mode is not None and mode not in ctx.modes:
            yield f"/documents/{i}/kind", f"a {document.kind} needs a {mode} leg, none is declared"


@_rule("document-issued-in-future", "Document dated in the future")
def _document_issued_in_future(ctx: RuleContext) -> Iterator[Finding]:
    """A document presented today was not issued after today."""
    for i, document in enumerate(ctx.decl.documents):
        if document.issued_on is not None and document.issued_on > ctx.today:
            yield (
                f"/documents/{i}/issued_on",
                f"{document.kind} {document.number} is dated {document.issued_on}, after today",
            )


# --- entry points ----------------------------------------------------------------------------

RULES: tuple[Rule, ...] = tuple(_registry)
"""Every rule, in the order they are applied and documented."""


def describe_rules() -> list[dict[str, str]]:
    """Code, name and description of every rule, for the documentation and the API."""
    return [{"code": r.code, "name": r.name, "description": r.description} for r in RULES]


def validate_declaration(
    decl: TransitDeclaration,
    ref: ReferenceData,
    today: date,
    *,
    km_per_month: float = DEFAULT_KM_PER_MONTH,
) -> list[Violation]:
    """Every rule the declaration breaks, in rule order; an empty list means it is valid."""
    if not km_per_month > 0:
        raise ValueError(f"km_per_month must be above 0, got {km_per_month}")
    ctx = RuleContext(decl, ref, today, km_per_month)
    return [violation for rule in RULES for violation in rule.apply(ctx)]


def require_valid_declaration(
    decl: TransitDeclaration,
    ref: ReferenceData,
    today: date,
    *,
    km_per_month: float = DEFAULT_KM_PER_MONTH,
) -> None:
    """Raises :class:`DeclarationInvalid` with every violation when the declaration breaks a rule."""
    violations = validate_declaration(decl, ref, today, km_per_month=km_per_month)
    if violations:
        raise DeclarationInvalid(
            f"the declaration breaks {len(violations)} rule(s)", violations=violations
        )
