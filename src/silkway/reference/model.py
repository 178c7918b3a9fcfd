"""Reference data as the domain sees it: plain, immutable values.

The loader in :mod:`silkway.reference` reads the versioned data files shipped with the package
and builds one :class:`ReferenceData`; domain rules receive it as an argument and never read files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

MEMBER_STATES: tuple[str, ...] = ("AM", "BY", "KZ", "KG", "RU")
"""The five member states of the Union, ISO 3166 alpha-2."""

COMMISSION = "EEC"
"""The Commission's node code."""

NODE_CODES: tuple[str, ...] = (*MEMBER_STATES, COMMISSION)

OFFICE_CODE_LENGTH: dict[str, int] = {"AM": 2, "BY": 5, "KZ": 5, "KG": 5, "RU": 8}
"""Digits in a customs office code, by state (EEC rules for declaration numbers)."""


class OfficeRole(StrEnum):
    DEPARTURE = "departure"
    DESTINATION = "destination"
    INTERMEDIATE = "intermediate"
    BORDER = "border"


class TransportMode(StrEnum):
    ROAD = "road"
    RAIL = "rail"
    AIR = "air"
    SEA = "sea"


class DutyKind(StrEnum):
    AD_VALOREM = "ad_valorem"
    """A percentage of the customs value."""
    SPECIFIC = "specific"
    """A fixed amount per unit of quantity (kg, litre, piece)."""
    COMBINED = "combined"
    """Ad valorem, but not less than a specific amount per unit."""


@dataclass(frozen=True, slots=True)
class DutyShares:
    """Shares of pooled import duty per member state (Treaty Annex 5), valid over a period."""

    valid_from: date
    valid_to: date | None
    shares_pct: dict[str, Decimal]
    source: str


@dataclass(frozen=True, slots=True)
class MemberState:
    code: str
    name: str
    currency: str
    vat_rate_pct: Decimal


@dataclass(frozen=True, slots=True)
class CustomsOffice:
    code: str
    state: str
    name: str
    roles: frozenset[OfficeRole]
    lat: float
    lon: float
    border_point: str | None = None
    """Id of the border point this office serves, if it is a border office."""


@dataclass(frozen=True, slots=True)
class BorderPoint:
    id: str
    name: str
    states: tuple[str, str]
    """The two sides; an external border names the third country (e.g. ``("KZ", "CN")``)."""
    modes: frozenset[TransportMode]
    lat: float
    lon: float
    internal: bool
    """True when both sides are member states."""


@dataclass(frozen=True, slots=True)
class Waypoint:
    name: str
    state: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Corridor:
    id: str
    name: str
    mode: TransportMode
    states: tuple[str, ...]
    """Member states crossed, in travel order."""
    border_points: tuple[str, ...]
    """Border point ids crossed, in travel order (entry and exit included)."""
    waypoints: tuple[Waypoint, ...]
    """The polyline through real towns along the road or rail line."""


@dataclass(frozen=True, slots=True)
class ExchangeRate:
    currency: str
    """ISO 4217 code of the foreign currency."""
    per_unit_eur: Decimal
    """Value of one unit of ``currency`` in EUR on ``on``."""
    on: date


@dataclass(frozen=True, slots=True)
class TariffHeading:
    heading: str
    """HS heading, 4 digits, e.g. ``"8471"``."""
    description: str
    kind: DutyKind
    ad_valorem_pct: Decimal | None = None
    specific_eur: Decimal | None = None
    specific_unit: str | None = None
    """``"kg"``, ``"l"`` or ``"pcs"`` for specific and combined duties."""
    excise: dict[str, Decimal] = field(default_factory=dict)
    """Excise per state, EUR per ``specific_unit`` (or per kg when unset); empty when none."""


class ExemptParty(StrEnum):
    """Whose authorisation a security exemption rests on."""

    DECLARANT = "declarant"
    CARRIER = "carrier"


@dataclass(frozen=True, slots=True)
class AuthorisedParty:
    """One person a member state authorises to claim an exemption (an entry of its register)."""

    state: str
    identification: str
    name: str


@dataclass(frozen=True, slots=True)
class SecurityExemption:
    """A case in which transit needs no security, and who may claim it.

    An ``EXEMPT`` security reference quotes the ``code``. It applies only when every transport
    leg uses one of ``modes`` (any mode when empty) and, when ``party`` is set, that party of
    the declaration is in ``authorised`` for the state of departure.
    """

    code: str
    title: str
    legal_basis: str
    modes: frozenset[TransportMode] = frozenset()
    party: ExemptParty | None = None
    authorised: tuple[AuthorisedParty, ...] = ()

    def authorises(self, state: str, identification: str) -> bool:
        return any(a.state == state and a.identification == identification for a in self.authorised)


@dataclass(frozen=True, slots=True)
class ReferenceData:
    """Everything the domain knows about the Union's fixed facts, with provenance."""

    states: dict[str, MemberState]
    offices: dict[str, CustomsOffice]
    border_points: dict[str, BorderPoint]
    corridors: dict[str, Corridor]
    currencies: frozenset[str]
    rates: tuple[ExchangeRate, ...]
    tariff: dict[str, TariffHeading]
    duty_shares: tuple[DutyShares, ...]
    sources: dict[str, str]
    """Data file name -> its stated source and date."""
    security_exemptions: dict[str, SecurityExemption] = field(default_factory=dict)
    """Exemption bases by the code an EXEMPT security reference quotes."""

    def offices_of(self, state: str) -> list[CustomsOffice]:
        return [o for o in self.offices.values() if o.state == state]

    def rate(self, currency: str, on: date) -> ExchangeRate | None:
        """The latest rate for ``currency`` published on or before ``on``."""
        best: ExchangeRate | None = None
        for r in self.rates:
            if r.currency == currency and r.on <= on and (best is None or r.on > best.on):
                best = r
        return best

    def shares_on(self, on: date) -> DutyShares | None:
        """The Union's duty-distribution share set valid on ``on`` (same for every state)."""
        for s in self.duty_shares:
            if s.valid_from <= on and (s.valid_to is None or on <= s.valid_to):
                return s
        return None

    def border_between(self, a: str, b: str) -> list[BorderPoint]:
        """Border points on the frontier between states ``a`` and ``b`` (either order)."""
        return [bp for bp in self.border_points.values() if set(bp.states) == {a, b}]
