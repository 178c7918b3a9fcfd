"""A small, hand-built slice of the Union's reference data for domain tests.

Coordinates and border points follow DOMAIN.md §7; office codes have the right length per state
but are illustrative.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from silkway.reference.model import (
    AuthorisedParty,
    BorderPoint,
    Corridor,
    CustomsOffice,
    DutyKind,
    DutyShares,
    ExchangeRate,
    ExemptParty,
    MemberState,
    OfficeRole,
    ReferenceData,
    SecurityExemption,
    TariffHeading,
    TransportMode,
    Waypoint,
)

DEP = OfficeRole.DEPARTURE
DEST = OfficeRole.DESTINATION
INTER = OfficeRole.INTERMEDIATE
BORDER = OfficeRole.BORDER
ROAD = TransportMode.ROAD
RAIL = TransportMode.RAIL


def _office(
    code: str,
    state: str,
    name: str,
    roles: set[OfficeRole],
    lat: float,
    lon: float,
    border_point: str | None = None,
) -> CustomsOffice:
    return CustomsOffice(code, state, name, frozenset(roles), lat, lon, border_point)


def _border(
    id_: str, name: str, a: str, b: str, modes: set[TransportMode], lat: float, lon: float
) -> BorderPoint:
    members = {"AM", "BY", "KZ", "KG", "RU"}
    return BorderPoint(
        id_, name, (a, b), frozenset(modes), lat, lon, internal=a in members and b in members
    )


def _waypoint(name: str, state: str, lat: float, lon: float) -> Waypoint:
    return Waypoint(name, state, lat, lon)


def build_reference_data() -> ReferenceData:
    states = {
        "AM": MemberState("AM", "Armenia", "AMD", Decimal(20)),
        "BY": MemberState("BY", "Belarus", "BYN", Decimal(20)),
        "KG": MemberState("KG", "Kyrgyzstan", "KGS", Decimal(12)),
        "KZ": MemberState("KZ", "Kazakhstan", "KZT", Decimal(16)),
        "RU": MemberState("RU", "Russia", "RUB", Decimal(22)),
    }
    offices = [
        _office("55201", "KZ", "Khorgos", {DEP, BORDER}, 44.21, 80.32, "KHORGOS"),
        _office("55205", "KZ", "Altynkol", {DEP, BORDER}, 44.20, 80.35, "ALTYNKOL"),
        _office("55401", "KZ", "Almaty", {DEP, DEST}, 43.24, 76.95),
        _office("55501", "KZ", "Kairak", {INTER, BORDER}, 54.07, 61.60, "TROITSK"),
        _office("55601", "KZ", "Kordai", {INTER, BORDER}, 43.04, 74.71, "AKZHOL"),
        _office("10502010", "RU", "Troitsk", {INTER, BORDER}, 54.09, 61.57, "TROITSK"),
        _office("10013010", "RU", "Moscow", {DEP, DEST}, 55.75, 37.62),
        _office("10803010", "RU", "Verkhny Lars", {INTER, BORDER}, 42.74, 44.63, "VERKHNY_LARS"),
        _office("06611", "BY", "Brest", {INTER, BORDER, DEST}, 52.08, 23.66, "BREST"),
        _office("06650", "BY", "Minsk", {DEP, DEST}, 53.90, 27.56),
        _office("41703", "KG", "Bishkek", {DEP, DEST}, 42.87, 74.59),
        _office("41705", "KG", "Ak-Zhol", {INTER, BORDER}, 43.05, 74.70, "AKZHOL"),
        _office("05", "AM", "Yerevan", {DEP, DEST}, 40.18, 44.51),
        _office("07", "AM", "Bagratashen", {INTER, BORDER}, 41.24, 44.80, "BAGRATASHEN"),
    ]
    border_points = [
        _border("KHORGOS", "Khorgos / Nur Zholy", "KZ", "CN", {ROAD}, 44.21, 80.32),
        _border("ALTYNKOL", "Altynkol / Khorgos", "KZ", "CN", {RAIL}, 44.20, 80.35),
        _border("DOSTYK", "Dostyk / Alashankou", "KZ", "CN", {RAIL}, 45.25, 82.48),
        _border("TROITSK", "Troitsk / Kairak", "RU", "KZ", {ROAD}, 54.09, 61.57),
        _border("AKZHOL", "Ak-Zhol / Kordai", "KZ", "KG", {ROAD}, 43.04, 74.71),
        _border("KRASNOE", "Krasnoye / Redki", "RU", "BY", {ROAD, RAIL}, 54.56, 31.43),
        _border("BREST", "Brest / Terespol", "BY", "PL", {ROAD, RAIL}, 52.08, 23.66),
        _border("VERKHNY_LARS", "Verkhny Lars", "RU", "GE", {ROAD}, 42.74, 44.63),
        _border("BAGRATASHEN", "Bagratashen", "AM", "GE", {ROAD}, 41.24, 44.80),
    ]
    western = Corridor(
        id="western-road",
        name="Western corridor by road",
        mode=ROAD,
        states=("KZ", "RU", "BY"),
        border_points=("KHORGOS", "TROITSK", "KRASNOE", "BREST"),
        waypoints=(
            _waypoint("Khorgos", "KZ", 44.21, 80.32),
            _waypoint("Almaty", "KZ", 43.24, 76.95),
            _waypoint("Karaganda", "KZ", 49.80, 73.10),
            _waypoint("Astana", "KZ", 51.17, 71.43),
            _waypoint("Kostanay", "KZ", 53.21, 63.62),
            _waypoint("Troitsk", "RU", 54.09, 61.57),
            _waypoint("Chelyabinsk", "RU", 55.16, 61.40),
            _waypoint("Ufa", "RU", 54.74, 55.97),
            _waypoint("Samara", "RU", 53.20, 50.15),
            _waypoint("Moscow", "RU", 55.75, 37.62),
            _waypoint("Smolensk", "RU", 54.78, 32.05),
            _waypoint("Minsk", "BY", 53.90, 27.56),
            _waypoint("Brest", "BY", 52.08, 23.66),
        ),
    )
    tariff = [
        TariffHeading("8471", "Computers", DutyKind.AD_VALOREM, ad_valorem_pct=Decimal(0)),
        TariffHeading("8517", "Telephone sets", DutyKind.AD_VALOREM, ad_valorem_pct=Decimal(0)),
        TariffHeading("6403", "Footwear", DutyKind.AD_VALOREM, ad_valorem_pct=Decimal(10)),
        TariffHeading(
            "2203",
            "Beer",
            DutyKind.SPECIFIC,
            specific_eur=Decimal("0.25"),
            specific_unit="l",
        ),
    ]
    return ReferenceData(
        states=states,
        offices={o.code: o for o in offices},
        border_points={b.id: b for b in border_points},
        corridors={western.id: western},
        currencies=frozenset({"EUR", "USD", "CNY", "RUB", "KZT", "BYN", "KGS", "AMD"}),
        rates=(ExchangeRate("USD", Decimal("0.92"), date(2026, 1, 5)),),
        tariff={t.heading: t for t in tariff},
        duty_shares=(
            DutyShares(
                valid_from=date(2020, 1, 1),
                valid_to=None,
                shares_pct={
                    "AM": Decimal("1.220"),
                    "BY": Decimal("4.860"),
                    "KZ": Decimal("6.955"),
                    "KG": Decimal("1.900"),
                    "RU": Decimal("85.065"),
                },
                source="Treaty on the EAEU, Annex 5",
            ),
        ),
        sources={"test": "hand-built for unit tests"},
        security_exemptions={
            "RAIL": SecurityExemption(
                "RAIL",
                "Goods carried by rail by an authorised railway carrier",
                "hand-built for unit tests",
                frozenset({RAIL}),
                ExemptParty.CARRIER,
                (AuthorisedParty("KZ", "020240000555", "Kazakhstan Temir Zholy JSC"),),
            ),
            "AEO": SecurityExemption(
                "AEO",
                "The declarant is an authorised economic operator",
                "hand-built for unit tests",
                party=ExemptParty.DECLARANT,
                authorised=(AuthorisedParty("KZ", "123456789012", "Silk Road Logistics LLP"),),
            ),
        },
    )


@pytest.fixture(scope="session")
def reference_data() -> ReferenceData:
    return build_reference_data()
