"""Hand-built reference data and declarations for the guarantee domain tests.

Rates and tariff lines are illustrative, chosen so that every worked example can be redone by
hand; the duty shares are those of Treaty Annex 5 (DOMAIN.md §4).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from silkway.reference.model import (
    CustomsOffice,
    DutyKind,
    DutyShares,
    ExchangeRate,
    MemberState,
    OfficeRole,
    ReferenceData,
    TariffHeading,
    TransportMode,
)
from silkway.transit.domain.declaration import GoodsItem, Party, TransitDeclaration, TransportLeg

CURRENT_SHARES = DutyShares(
    valid_from=date(2020, 1, 1),
    valid_to=None,
    shares_pct={
        "AM": Decimal("1.220"),
        "BY": Decimal("4.860"),
        "KZ": Decimal("6.955"),
        "KG": Decimal("1.900"),
        "RU": Decimal("85.065"),
    },
    source="Treaty on the EAEU, Annex 5 (current)",
)

SHARES_2017_2019 = DutyShares(
    valid_from=date(2017, 1, 1),
    valid_to=date(2019, 12, 31),
    shares_pct={
        "AM": Decimal("1.22"),
        "BY": Decimal("4.56"),
        "KZ": Decimal("7.055"),
        "KG": Decimal("1.9"),
        "RU": Decimal("85.265"),
    },
    source="Treaty on the EAEU, Annex 5 (2017-2019)",
)


def build_guarantee_reference() -> ReferenceData:
    states = {
        "AM": MemberState("AM", "Armenia", "AMD", Decimal(20)),
        "BY": MemberState("BY", "Belarus", "BYN", Decimal(20)),
        "KG": MemberState("KG", "Kyrgyzstan", "KGS", Decimal(12)),
        "KZ": MemberState("KZ", "Kazakhstan", "KZT", Decimal(16)),
        "RU": MemberState("RU", "Russia", "RUB", Decimal(22)),
    }
    offices = [
        CustomsOffice("55201", "KZ", "Khorgos", frozenset({OfficeRole.DEPARTURE}), 44.21, 80.32),
        CustomsOffice("06611", "BY", "Brest", frozenset({OfficeRole.DESTINATION}), 52.08, 23.66),
    ]
    tariff = [
        TariffHeading("8501", "Electric motors", DutyKind.AD_VALOREM, ad_valorem_pct=Decimal(5)),
        TariffHeading(
            "0402",
            "Milk powder",
            DutyKind.SPECIFIC,
            specific_eur=Decimal("0.30"),
            specific_unit="kg",
        ),
        TariffHeading(
            "6403",
            "Footwear",
            DutyKind.COMBINED,
            ad_valorem_pct=Decimal(10),
            specific_eur=Decimal("2.00"),
            specific_unit="kg",
        ),
        TariffHeading(
            "2208",
            "Spirits",
            DutyKind.SPECIFIC,
            specific_eur=Decimal("2.00"),
            specific_unit="l",
            excise={"KZ": Decimal("5.00"), "RU": Decimal("6.00"), "BY": Decimal("4.00")},
        ),
        TariffHeading("9999", "Broken heading", DutyKind.AD_VALOREM),
    ]
    return ReferenceData(
        states=states,
        offices={o.code: o for o in offices},
        border_points={},
        corridors={},
        currencies=frozenset({"EUR", "USD", "KZT", "JPY", "RUB"}),
        rates=(
            ExchangeRate("USD", Decimal("0.90"), date(2025, 12, 1)),
            ExchangeRate("USD", Decimal("0.92"), date(2026, 1, 5)),
            ExchangeRate("KZT", Decimal("0.0019"), date(2026, 1, 5)),
            ExchangeRate("JPY", Decimal("0.0061"), date(2026, 1, 5)),
        ),
        tariff={t.heading: t for t in tariff},
        duty_shares=(SHARES_2017_2019, CURRENT_SHARES),
        sources={"test": "hand-built for the guarantee domain tests"},
    )


@pytest.fixture(scope="session")
def ref() -> ReferenceData:
    return build_guarantee_reference()


def _party(name: str, country: str) -> Party:
    return Party(name=name, identification=f"{country}-{name}", country=country)


def _item(number: int, code: str, value: str, currency: str = "EUR", **extra: Any) -> GoodsItem:
    fields: dict[str, Any] = {
        "item_number": number,
        "commodity_code": code,
        "description": f"goods of {code[:4]}",
        "gross_mass_kg": Decimal(100),
        "packages": 1,
        "value": Decimal(value),
        "currency": currency,
    }
    fields.update(extra)
    return GoodsItem(**fields)


Goods = Callable[..., GoodsItem]
Declare = Callable[..., TransitDeclaration]


@pytest.fixture(scope="session")
def goods() -> Goods:
    """Builds a goods item: ``goods(number, code, value, currency="EUR", **fields)``.

    Masses default to 100 kg gross, no net mass and no supplementary quantity.
    """
    return _item


@pytest.fixture(scope="session")
def declare() -> Declare:
    """Builds a declaration Khorgos (KZ) → Brest (BY) via RU around the given items."""

    def build(*items: GoodsItem, route: tuple[str, ...] = ("KZ", "RU", "BY")) -> TransitDeclaration:
        return TransitDeclaration(
            lrn="LRN-1",
            declarant=_party("Carrier", "KZ"),
            consignor=_party("Shipper", "CN"),
            consignee=_party("Buyer", "PL"),
            departure_office="55201",
            destination_office="06611",
            route=list(route),
            transport=[TransportLeg(mode=TransportMode.ROAD, identity="123ABC02")],
            items=list(items),
            time_limit=date(2026, 3, 20),
        )

    return build
