"""Load the versioned reference data files shipped with Silkway and check them strictly.

Each file under ``silkway/reference/data`` is a JSON object with a ``source``, an ``as_of`` date,
an optional ``note`` and one list of entries. Entries are shaped exactly like the value types of
:mod:`silkway.reference.model`; numbers that are money or percentages are read as
:class:`~decimal.Decimal`. Anything wrong raises :class:`ReferenceDataError` naming the file and
the entry, so a bad edit to the data is caught when the package loads, not deep inside a rule.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import math
import re
from collections.abc import Collection, Iterable, Mapping
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from silkway.reference.model import (
    MEMBER_STATES,
    OFFICE_CODE_LENGTH,
    AuthorisedParty,
    BorderPoint,
    Corridor,
    CustomsOffice,
    DutyKind,
    DutyShares,
    ExchangeRate,
    MemberState,
    OfficeRole,
    ReferenceData,
    SecurityExemption,
    TariffHeading,
    Waypoint,
)

T = TypeVar("T")

REFERENCE_FILES: tuple[str, ...] = (
    "currencies.json",
    "states.json",
    "duty_shares.json",
    "border_points.json",
    "offices.json",
    "corridors.json",
    "tariff.json",
    "security_exemptions.json",
)
"""The data files, in the order they are checked (later files refer to earlier ones)."""

MAX_WAYPOINT_GAP_KM = 700.0
"""Longest allowed straight-line gap between consecutive corridor waypoints."""

BORDER_PROXIMITY_KM = 60.0
"""How far a border office, or a corridor's nearest waypoint, may lie from its border point."""

SPECIFIC_UNITS = frozenset({"kg", "l", "pcs"})

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_POINT_ID = re.compile(r"^[A-Z][A-Z0-9_]*$")
_HEADING = re.compile(r"^\d{4}$")
_EARTH_RADIUS_KM = 6371.0088


class ReferenceDataError(ValueError):
    """A reference data file is missing, malformed or inconsistent."""

    def __init__(self, file: str, entry: str | None, message: str) -> None:
        where = file if entry is None else f"{file}, entry {entry}"
        super().__init__(f"{where}: {message}")
        self.file = file
        self.entry = entry
        self.message = message


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    label: str
    raw: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class _File:
    name: str
    provenance: str
    entries: tuple[_Entry, ...]
    header: dict[str, Any]
    """Top-level values other than the entries, source and date (e.g. the currency list)."""

    def fail(self, entry: _Entry | str | None, message: str) -> ReferenceDataError:
        label = entry.label if isinstance(entry, _Entry) else entry
        return ReferenceDataError(self.name, label, message)


@dataclasses.dataclass(frozen=True, slots=True)
class _RateSet:
    """One publication of EUR rates, as written in ``currencies.json``."""

    on: date
    per_unit_eur: dict[str, Decimal]


@functools.cache
def load_reference() -> ReferenceData:
    """The reference data shipped with the package, read and checked once per process."""
    folder = resources.files("silkway.reference").joinpath("data")
    files: dict[str, bytes] = {}
    for name in REFERENCE_FILES:
        try:
            files[name] = folder.joinpath(name).read_bytes()
        except OSError as exc:
            raise ReferenceDataError(name, None, f"cannot be read: {exc}") from exc
    return parse_reference(files)


def parse_reference(files: Mapping[str, bytes]) -> ReferenceData:
    """Build :class:`ReferenceData` from the raw bytes of every file in ``REFERENCE_FILES``."""
    unexpected = sorted(set(files) - set(REFERENCE_FILES))
    if unexpected:
        raise ReferenceDataError(unexpected[0], None, "is not a known reference data file")
    parsed = {name: _read(name, files.get(name)) for name in REFERENCE_FILES}

    currencies, rates = _currencies(parsed["currencies.json"])
    states = _states(parsed["states.json"], currencies)
    duty_shares = _duty_shares(parsed["duty_shares.json"])
    border_points = _border_points(parsed["border_points.json"])
    offices = _offices(parsed["offices.json"], border_points)
    corridors = _corridors(parsed["corridors.json"], border_points)
    tariff = _tariff(parsed["tariff.json"])
    exemptions = _security_exemptions(parsed["security_exemptions.json"])
    return ReferenceData(
        states=states,
        offices=offices,
        border_points=border_points,
        corridors=corridors,
        currencies=currencies,
        rates=rates,
        tariff=tariff,
        duty_shares=duty_shares,
        sources={name: f.provenance for name, f in parsed.items()},
        security_exemptions=exemptions,
    )


# --- reading -------------------------------------------------------------------------------------

_LIST_KEYS = {
    "currencies.json": ("rates", "on"),
    "states.json": ("states", "code"),
    "duty_shares.json": ("share_sets", "valid_from"),
    "border_points.json": ("border_points", "id"),
    "offices.json": ("offices", "code"),
    "corridors.json": ("corridors", "id"),
    "tariff.json": ("headings", "heading"),
    "security_exemptions.json": ("exemptions", "code"),
}
_EXTRA_HEADER_KEYS = {"currencies.json": frozenset({"currencies"})}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _read(name: str, content: bytes | None) -> _File:
    if content is None:
        raise ReferenceDataError(name, None, "is missing")
    try:
        document = json.loads(content, parse_constant=_reject_constant, parse_float=_finite_float)
    except ValueError as exc:
        raise ReferenceDataError(name, None, f"is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ReferenceDataError(name, None, "must be a JSON object")

    list_key, id_key = _LIST_KEYS[name]
    required = {"source", "as_of", list_key} | _EXTRA_HEADER_KEYS.get(name, frozenset())
    allowed = required | {"note"}
    if missing := sorted(required - set(document)):
        raise ReferenceDataError(name, None, f"missing top-level key {missing[0]!r}")
    if extra := sorted(set(document) - allowed):
        raise ReferenceDataError(name, None, f"unknown top-level key {extra[0]!r}")
    source, as_of, note = document["source"], document["as_of"], document.get("note")
    if not isinstance(source, str) or not source.strip():
        raise ReferenceDataError(name, None, "'source' must be a non-empty string")
    if note is not None and (not isinstance(note, str) or not note.strip()):
        raise ReferenceDataError(name, None, "'note' must be a non-empty string")
    try:
        as_of_date = date.fromisoformat(as_of) if isinstance(as_of, str) else None
    except ValueError:
        as_of_date = None
    if as_of_date is None:
        raise ReferenceDataError(name, None, "'as_of' must be a date as YYYY-MM-DD")

    items = document[list_key]
    if not isinstance(items, list) or not items:
        raise ReferenceDataError(name, None, f"{list_key!r} must be a non-empty list")
    entries = []
    for index, item in enumerate(items, start=1):
        key = item.get(id_key) if isinstance(item, dict) else None
        label = f"{key!r}" if isinstance(key, str) else f"#{index}"
        if not isinstance(item, dict):
            raise ReferenceDataError(name, label, "must be a JSON object")
        entries.append(_Entry(label, item))
    header = {key: document[key] for key in _EXTRA_HEADER_KEYS.get(name, ())}
    provenance = f"{source.strip()}; as of {as_of_date.isoformat()}"
    return _File(name, provenance, tuple(entries), header)


def _build(file: _File, entry: _Entry, target: type[T]) -> T:
    """Validate one entry against a domain dataclass, rejecting keys the type does not have."""
    _reject_unknown_keys(file, entry, target, entry.raw, "")
    try:
        return _adapter(target).validate_json(json.dumps(entry.raw), strict=True)
    except ValidationError as exc:
        raise file.fail(entry, _describe(exc)) from exc


def _reject_unknown_keys(
    file: _File, entry: _Entry, target: type[Any], raw: dict[str, Any], prefix: str
) -> None:
    fields = {f.name for f in dataclasses.fields(target)}
    if extra := sorted(set(raw) - fields):
        raise file.fail(entry, f"unknown field {prefix}{extra[0]!r}")
    # Corridors nest waypoints, exemptions their authorised parties: the same rule for both.
    nested = {Corridor: ("waypoints", Waypoint), SecurityExemption: ("authorised", AuthorisedParty)}
    if target in nested:
        key, inner = nested[target]
        items = raw.get(key)
        for index, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict):
                _reject_unknown_keys(file, entry, inner, item, f"{key}.{index}.")


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(target: type[T]) -> TypeAdapter[T]:
    adapter = _ADAPTERS.get(target)
    if adapter is None:
        adapter = _ADAPTERS[target] = TypeAdapter(target)
    return adapter


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "value"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def _unique(file: _File, items: Iterable[tuple[_Entry, str]], what: str) -> None:
    seen: set[str] = set()
    for entry, key in items:
        if key in seen:
            raise file.fail(entry, f"duplicate {what} {key!r}")
        seen.add(key)


def _check(file: _File, entry: _Entry, ok: bool, message: str) -> None:
    if not ok:
        raise file.fail(entry, message)


def _check_position(file: _File, entry: _Entry, lat: float, lon: float, what: str = "") -> None:
    ok = -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0
    _check(file, entry, ok, f"{what}coordinates ({lat}, {lon}) are out of range")


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(math.sqrt(h))


# --- topics --------------------------------------------------------------------------------------


def _currencies(file: _File) -> tuple[frozenset[str], tuple[ExchangeRate, ...]]:
    raw_codes = file.header["currencies"]
    if not isinstance(raw_codes, list) or not raw_codes:
        raise file.fail(None, "'currencies' must be a non-empty list of ISO 4217 codes")
    codes: list[str] = []
    for code in raw_codes:
        if not isinstance(code, str) or not _CURRENCY.match(code):
            raise file.fail(None, f"currency {code!r} is not an ISO 4217 alpha code")
        if code in codes:
            raise file.fail(None, f"duplicate currency {code!r}")
        codes.append(code)
    currencies = frozenset(codes)
    if "EUR" not in currencies:
        raise file.fail(None, "'currencies' must include EUR, the unit of every rate")

    rates: list[ExchangeRate] = []
    sets = [(entry, _build(file, entry, _RateSet)) for entry in file.entries]
    _unique(file, ((entry, rs.on.isoformat()) for entry, rs in sets), "rate date")
    for entry, rate_set in sets:
        quoted = set(rate_set.per_unit_eur)
        _check(
            file, entry, not quoted - currencies, f"unknown currency {_first(quoted - currencies)}"
        )
        _check(file, entry, quoted == currencies, f"no rate for {_first(currencies - quoted)}")
        for currency, value in sorted(rate_set.per_unit_eur.items()):
            _check(file, entry, value > 0, f"rate for {currency} must be positive")
            if currency == "EUR":
                _check(file, entry, value == 1, "rate for EUR must be exactly 1")
            rates.append(ExchangeRate(currency=currency, per_unit_eur=value, on=rate_set.on))
    return currencies, tuple(rates)


def _first(values: Collection[str]) -> str:
    return repr(min(values)) if values else ""


def _states(file: _File, currencies: frozenset[str]) -> dict[str, MemberState]:
    states = [(entry, _build(file, entry, MemberState)) for entry in file.entries]
    _unique(file, ((entry, s.code) for entry, s in states), "state code")
    for entry, state in states:
        _check(file, entry, state.code in MEMBER_STATES, f"{state.code!r} is not a member state")
        _check(file, entry, bool(state.name.strip()), "name must not be empty")
        _check(file, entry, state.currency in currencies, f"unknown currency {state.currency!r}")
        _check(file, entry, 0 <= state.vat_rate_pct <= 100, "VAT rate must be within 0..100")
    missing = set(MEMBER_STATES) - {s.code for _, s in states}
    if missing:
        raise file.fail(None, f"member state {_first(missing)} is missing")
    return {s.code: s for _, s in states}


def _duty_shares(file: _File) -> tuple[DutyShares, ...]:
    sets = [(entry, _build(file, entry, DutyShares)) for entry in file.entries]
    _unique(file, ((entry, s.valid_from.isoformat()) for entry, s in sets), "valid_from")
    members = set(MEMBER_STATES)
    for entry, shares in sets:
        keys = set(shares.shares_pct)
        _check(file, entry, not keys - members, f"unknown state {_first(keys - members)}")
        _check(file, entry, keys == members, f"no share for {_first(members - keys)}")
        _check(file, entry, all(v >= 0 for v in shares.shares_pct.values()), "negative share")
        total = sum(shares.shares_pct.values(), Decimal(0))
        _check(file, entry, total == 100, f"shares sum to {total}, not exactly 100")
        _check(file, entry, bool(shares.source.strip()), "source must not be empty")
        ends_ok = shares.valid_to is None or shares.valid_to >= shares.valid_from
        _check(file, entry, ends_ok, "valid_to is before valid_from")
    ordered = sorted(sets, key=lambda pair: pair[1].valid_from)
    for (_, earlier), (entry, later) in itertools.pairwise(ordered):
        overlaps = earlier.valid_to is None or earlier.valid_to >= later.valid_from
        _check(file, entry, not overlaps, f"overlaps the set from {earlier.valid_from}")
    return tuple(s for _, s in ordered)


def _border_points(file: _File) -> dict[str, BorderPoint]:
    points = [(entry, _build(file, entry, BorderPoint)) for entry in file.entries]
    _unique(file, ((entry, p.id) for entry, p in points), "border point id")
    for entry, point in points:
        _check(file, entry, bool(_POINT_ID.match(point.id)), "id must be UPPER_SNAKE_CASE")
        _check(file, entry, bool(point.name.strip()), "name must not be empty")
        a, b = point.states
        _check(file, entry, bool(_COUNTRY.match(a) and _COUNTRY.match(b)), "states must be ISO")
        _check(file, entry, a != b, "the two sides must be different states")
        members = [s for s in point.states if s in MEMBER_STATES]
        _check(file, entry, bool(members), "neither side is a member state")
        both = len(members) == 2
        _check(file, entry, point.internal == both, f"internal must be {str(both).lower()}")
        _check(file, entry, bool(point.modes), "modes must not be empty")
        _check_position(file, entry, point.lat, point.lon)
    return {p.id: p for _, p in points}


def _offices(file: _File, border_points: Mapping[str, BorderPoint]) -> dict[str, CustomsOffice]:
    offices = [(entry, _build(file, entry, CustomsOffice)) for entry in file.entries]
    _unique(file, ((entry, o.code) for entry, o in offices), "office code")
    for entry, office in offices:
        _check(file, entry, office.state in MEMBER_STATES, f"unknown state {office.state!r}")
        length = OFFICE_CODE_LENGTH[office.state]
        code_ok = office.code.isascii() and office.code.isdigit() and len(office.code) == length
        _check(file, entry, code_ok, f"code must be {length} digits for {office.state}")
        _check(file, entry, bool(office.name.strip()), "name must not be empty")
        _check(file, entry, bool(office.roles), "roles must not be empty")
        _check_position(file, entry, office.lat, office.lon)
        if OfficeRole.BORDER in office.roles:
            _check(file, entry, office.border_point is not None, "border office needs a point")
        if office.border_point is None:
            continue
        point = border_points.get(office.border_point)
        if point is None:
            raise file.fail(entry, f"unknown border point {office.border_point!r}")
        _check(file, entry, office.state in point.states, f"{point.id} is not on its border")
        distance = haversine_km(office.lat, office.lon, point.lat, point.lon)
        near = distance <= BORDER_PROXIMITY_KM
        _check(file, entry, near, f"lies {distance:.0f} km from its border point {point.id}")
    return {o.code: o for _, o in offices}


def _corridors(file: _File, border_points: Mapping[str, BorderPoint]) -> dict[str, Corridor]:
    corridors = [(entry, _build(file, entry, Corridor)) for entry in file.entries]
    _unique(file, ((entry, c.id) for entry, c in corridors), "corridor id")
    for entry, corridor in corridors:
        _check(file, entry, bool(_POINT_ID.match(corridor.id)), "id must be UPPER_SNAKE_CASE")
        _check(file, entry, bool(corridor.name.strip()), "name must not be empty")
        _check_corridor_states(file, entry, corridor)
        for point_id in corridor.border_points:
            _check(file, entry, point_id in border_points, f"unknown border point {point_id!r}")
        _check_crossings(file, entry, corridor, border_points)
        _check_waypoints(file, entry, corridor, border_points)
    return {c.id: c for _, c in corridors}


def _check_corridor_states(file: _File, entry: _Entry, corridor: Corridor) -> None:
    states = corridor.states
    _check(file, entry, bool(states), "states must not be empty")
    _check(file, entry, all(_COUNTRY.match(s) for s in states), "states must be ISO alpha-2")
    _check(file, entry, len(set(states)) == len(states), "a state is listed twice")
    _check(file, entry, any(s in MEMBER_STATES for s in states), "crosses no member state")


def _check_crossings(
    file: _File, entry: _Entry, corridor: Corridor, border_points: Mapping[str, BorderPoint]
) -> None:
    """Border points must join consecutive states; only the first and last may lead outside."""
    states = corridor.states
    at = 0
    last = len(corridor.border_points) - 1
    for position, point_id in enumerate(corridor.border_points):
        sides = set(border_points[point_id].states)
        if at + 1 < len(states) and sides == {states[at], states[at + 1]}:
            at += 1
            continue
        outside = sides - {states[at]}
        leads_out = states[at] in sides and outside.isdisjoint(states)
        entry_point = position == 0 and at == 0
        exit_point = position == last and at == len(states) - 1
        if not (leads_out and (entry_point or exit_point)):
            side_a, side_b = border_points[point_id].states
            expected = (
                f"the next crossing should join {states[at]} and {states[at + 1]}"
                if at + 1 < len(states)
                else f"the route already ends in {states[at]}"
            )
            message = f"border point {point_id} ({side_a}-{side_b}) is out of order: {expected}"
            raise file.fail(entry, message)
    if at != len(states) - 1:
        gap = f"{states[at]} and {states[at + 1]}"
        raise file.fail(entry, f"no border point joins {gap}")


def _check_waypoints(
    file: _File, entry: _Entry, corridor: Corridor, border_points: Mapping[str, BorderPoint]
) -> None:
    points = corridor.waypoints
    _check(file, entry, len(points) >= 2, "needs at least two waypoints")
    order = {state: index for index, state in enumerate(corridor.states)}
    previous_index = 0
    for index, point in enumerate(points):
        where = f"waypoint {point.name!r}: "
        _check(file, entry, bool(point.name.strip()), f"waypoint #{index + 1} has no name")
        _check(file, entry, point.state in order, f"{where}{point.state} is not in states")
        _check_position(file, entry, point.lat, point.lon, where)
        state_index = order[point.state]
        _check(file, entry, state_index >= previous_index, f"{where}goes back to {point.state}")
        previous_index = state_index
        if index:
            before = points[index - 1]
            gap = haversine_km(before.lat, before.lon, point.lat, point.lon)
            far = gap > MAX_WAYPOINT_GAP_KM
            _check(file, entry, not far, f"{where}{gap:.0f} km from {before.name!r}")
    _check(file, entry, points[0].state == corridor.states[0], "must start in its first state")
    _check(file, entry, points[-1].state == corridor.states[-1], "must end in its last state")
    for point_id in corridor.border_points:
        bp = border_points[point_id]
        nearest = min(haversine_km(bp.lat, bp.lon, w.lat, w.lon) for w in points)
        close = nearest <= BORDER_PROXIMITY_KM
        _check(file, entry, close, f"passes {nearest:.0f} km from border point {point_id}")


def _tariff(file: _File) -> dict[str, TariffHeading]:
    headings = [(entry, _build(file, entry, TariffHeading)) for entry in file.entries]
    _unique(file, ((entry, h.heading) for entry, h in headings), "heading")
    for entry, heading in headings:
        _check(file, entry, bool(_HEADING.match(heading.heading)), "heading must be 4 digits")
        _check(file, entry, bool(heading.description.strip()), "description must not be empty")
        _check_duty(file, entry, heading)
        _check_excise(file, entry, heading)
    return {h.heading: h for _, h in headings}


_DUTY_FIELDS: dict[DutyKind, tuple[bool, bool]] = {
    # kind -> (has ad valorem part, has specific part)
    DutyKind.AD_VALOREM: (True, False),
    DutyKind.SPECIFIC: (False, True),
    DutyKind.COMBINED: (True, True),
}


def _check_duty(file: _File, entry: _Entry, heading: TariffHeading) -> None:
    ad_valorem, specific = _DUTY_FIELDS[heading.kind]
    kind = heading.kind.value
    has_pct = heading.ad_valorem_pct is not None
    _check(file, entry, has_pct == ad_valorem, f"ad_valorem_pct does not fit kind {kind}")
    has_specific = heading.specific_eur is not None and heading.specific_unit is not None
    has_any = heading.specific_eur is not None or heading.specific_unit is not None
    ok = has_specific if specific else not has_any
    _check(file, entry, ok, f"specific_eur/specific_unit do not fit kind {kind}")
    if heading.ad_valorem_pct is not None:
        pct_ok = 0 <= heading.ad_valorem_pct <= 100
        _check(file, entry, pct_ok, "ad_valorem_pct must be within 0..100")
    if heading.specific_eur is not None:
        _check(file, entry, heading.specific_eur > 0, "specific_eur must be positive")
    if heading.specific_unit is not None:
        unit_ok = heading.specific_unit in SPECIFIC_UNITS
        _check(file, entry, unit_ok, f"specific_unit must be one of {sorted(SPECIFIC_UNITS)}")


def _check_excise(file: _File, entry: _Entry, heading: TariffHeading) -> None:
    if not heading.excise:
        return
    keys = set(heading.excise)
    members = set(MEMBER_STATES)
    _check(file, entry, not keys - members, f"excise for unknown state {_first(keys - members)}")
    _check(file, entry, keys == members, f"no excise rate for {_first(members - keys)}")
    _check(file, entry, all(v >= 0 for v in heading.excise.values()), "negative excise rate")


def _security_exemptions(file: _File) -> dict[str, SecurityExemption]:
    """Each basis names who may claim it: a transport mode, an authorised party, or both."""
    bases = [(entry, _build(file, entry, SecurityExemption)) for entry in file.entries]
    _unique(file, ((entry, b.code) for entry, b in bases), "exemption code")
    for entry, basis in bases:
        _check(file, entry, bool(_POINT_ID.match(basis.code)), "code must be UPPER_SNAKE_CASE")
        _check(file, entry, bool(basis.title.strip()), "title must not be empty")
        _check(file, entry, bool(basis.legal_basis.strip()), "legal_basis must not be empty")
        names = bool(basis.modes) or basis.party is not None
        _check(file, entry, names, "names no transport mode and no party: anyone could claim it")
        if basis.party is None:
            _check(file, entry, not basis.authorised, "authorised parties need a party")
        seen: set[tuple[str, str]] = set()
        for party in basis.authorised:
            where = f"authorised {party.identification!r}: "
            _check(
                file, entry, party.state in MEMBER_STATES, f"{where}unknown state {party.state!r}"
            )
            _check(file, entry, bool(party.identification.strip()), f"{where}no identification")
            _check(file, entry, bool(party.name.strip()), f"{where}name must not be empty")
            key = (party.state, party.identification)
            _check(file, entry, key not in seen, f"{where}listed twice for {party.state}")
            seen.add(key)
    return {b.code: b for _, b in bases}
