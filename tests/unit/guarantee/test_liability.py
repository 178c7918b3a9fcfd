"""Worked examples of the security amount, each checked against a hand calculation.

Reference data (conftest): USD 0.92 EUR, KZT 0.0019 EUR, JPY 0.0061 EUR from 2026-01-05;
VAT KZ 16%, RU 22%, BY 20%; route KZ → RU → BY, departure office in KZ, destination in BY.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from silkway.guarantees.domain.liability import (
    Liability,
    LiabilityError,
    ReductionRule,
    Tax,
    VatStateRule,
    compute_liability,
    money_quantum,
    round_money,
)
from silkway.reference.model import ReferenceData
from silkway.transit.domain.declaration import GoodsItem, TransitDeclaration

ON = date(2026, 3, 1)
Goods = Callable[..., GoodsItem]
Declare = Callable[..., TransitDeclaration]


def liability(
    decl: TransitDeclaration,
    ref: ReferenceData,
    *,
    rule: VatStateRule = VatStateRule.HIGHEST_ON_ROUTE,
    holder: bool = False,
    guarantor: str = "0",
    currency: str = "EUR",
    combine: ReductionRule = ReductionRule.LARGER,
    on: date = ON,
) -> Liability:
    return compute_liability(
        decl,
        ref,
        on,
        rule,
        holder_qualified=holder,
        guarantor_reduction_pct=Decimal(guarantor),
        currency=currency,
        reduction_rule=combine,
    )


@pytest.fixture
def motors(declare: Declare, goods: Goods) -> TransitDeclaration:
    # 10,000 USD of electric motors (heading 8501, 5% ad valorem).
    return declare(goods(1, "8501109100", "10000", "USD"))


class TestAdValorem:
    def test_duty_is_percentage_of_converted_value(
        self, motors: TransitDeclaration, ref: ReferenceData
    ) -> None:
        # customs value 10000 USD × 0.92 = 9200.00 EUR
        # duty 5% × 9200 = 460.00
        # VAT on the route: KZ 16%, RU 22%, BY 20% of (9200 + 460) → RU 22% × 9660 = 2125.20
        # gross 460.00 + 2125.20 = 2585.20
        result = liability(motors, ref)
        (item,) = result.items
        assert item.customs_value == Decimal("9200.00")
        assert item.payable_state == "RU"
        assert result.totals[Tax.IMPORT_DUTY] == Decimal("460.00")
        assert result.totals[Tax.EXCISE] == Decimal("0.00")
        assert result.totals[Tax.VAT] == Decimal("2125.20")
        assert result.gross_total == Decimal("2585.20")
        assert result.total == Decimal("2585.20")

    def test_rate_is_the_latest_published_on_or_before_the_date(
        self, motors: TransitDeclaration, ref: ReferenceData
    ) -> None:
        # On 2025-12-31 only the 2025-12-01 rate 0.90 exists: 10000 × 0.90 = 9000; 5% = 450.00
        result = liability(motors, ref, on=date(2025, 12, 31))
        assert result.items[0].customs_value == Decimal("9000.00")
        assert result.totals[Tax.IMPORT_DUTY] == Decimal("450.00")


class TestSpecific:
    def test_per_kg_uses_net_mass(self, declare: Declare, goods: Goods, ref: ReferenceData) -> None:
        # 0.30 EUR/kg × 1000 kg net = 300.00; VAT RU 22% × (2000 + 300) = 506.00
        decl = declare(goods(1, "0402211100", "2000", net_mass_kg=Decimal(1000)))
        result = liability(decl, ref)
        assert result.totals[Tax.IMPORT_DUTY] == Decimal("300.00")
        assert result.totals[Tax.VAT] == Decimal("506.00")
        assert result.total == Decimal("806.00")

    def test_per_kg_falls_back_to_gross_mass(
        self, declare: Declare, goods: Goods, ref: ReferenceData
    ) -> None:
        # no net mass declared: 0.30 EUR/kg × 1050 kg gross = 315.00
        decl = declare(goods(1, "0402211100", "2000", gross_mass_kg=Decimal(1050)))
        assert liability(decl, ref).totals[Tax.IMPORT_DUTY] == Decimal("315.00")


class TestCombined:
    def test_ad_valorem_branch_wins(
        self, declare: Declare, goods: Goods, ref: ReferenceData
    ) -> None:
        # 10% × 5000 = 500 against 2.00 EUR/kg × 200 kg = 400 → 500.00
        decl = declare(goods(1, "6403990000", "5000", net_mass_kg=Decimal(200)))
        line = liability(decl, ref).items[0].lines[0]
        assert [c.amount for c in line.candidates] == [Decimal("500.0"), Decimal("400.00")]
        assert line.applied == "ad valorem"
        assert line.amount == Decimal("500.00")

    def test_specific_branch_wins(self, declare: Declare, goods: Goods, ref: ReferenceData) -> None:
        # 10% × 1000 = 100 against 2.00 EUR/kg × 200 kg = 400 → 400.00
        decl = declare(goods(1, "6403990000", "1000", net_mass_kg=Decimal(200)))
        line = liability(decl, ref).items[0].lines[0]
        assert line.applied == "specific"
        assert line.amount == Decimal("400.00")
        assert any("specific is higher" in text for text in liability(decl, ref).explain())

    def test_tie_reports_ad_valorem(
        self, declare: Declare, goods: Goods, ref: ReferenceData
    ) -> None:
        # 10% × 4000 = 400 = 2.00 × 200 kg
        decl = declare(goods(1, "6403990000", "4000", net_mass_kg=Decimal(200)))
        line = liability(decl, ref).items[0].lines[0]
        assert (line.applied, line.amount) == ("ad valorem", Decimal("400.00"))


class TestPayableState:
    # Spirits, 1000 l, 3000 EUR: duty 2.00 EUR/l × 1000 = 2000.
    #   KZ: excise 5 × 1000 = 5000; VAT 16% × (3000 + 2000 + 5000) = 1600 → 6600
    #   RU: excise 6 × 1000 = 6000; VAT 22% × (3000 + 2000 + 6000) = 2420 → 8420
    #   BY: excise 4 × 1000 = 4000; VAT 20% × (3000 + 2000 + 4000) = 1800 → 5800
    @pytest.mark.parametrize(
        ("rule", "state", "excise", "vat"),
        [
            (VatStateRule.HIGHEST_ON_ROUTE, "RU", "6000.00", "2420.00"),
            (VatStateRule.DEPARTURE_STATE, "KZ", "5000.00", "1600.00"),
            (VatStateRule.DESTINATION_STATE, "BY", "4000.00", "1800.00"),
        ],
    )
    def test_rule_picks_the_state(
        self,
        declare: Declare,
        goods: Goods,
        ref: ReferenceData,
        rule: VatStateRule,
        state: str,
        excise: str,
        vat: str,
    ) -> None:
        decl = declare(goods(1, "2208601100", "3000", supplementary_quantity=Decimal(1000)))
        result = liability(decl, ref, rule=rule)
        assert result.items[0].payable_state == state
        assert result.totals[Tax.IMPORT_DUTY] == Decimal("2000.00")
        assert result.totals[Tax.EXCISE] == Decimal(excise)
        assert result.totals[Tax.VAT] == Decimal(vat)
        assert result.gross_total == Decimal(2000) + Decimal(excise) + Decimal(vat)

    def test_equal_taxes_go_to_the_state_met_first(
        self, declare: Declare, goods: Goods, ref: ReferenceData
    ) -> None:
        # BY and AM both charge 20% and no excise on motors: BY comes first on this route.
        decl = declare(goods(1, "8501109100", "100"), route=("KZ", "BY", "AM"))
        assert liability(decl, ref).items[0].payable_state == "BY"

    def test_third_countries_on_the_route_are_ignored(
        self, declare: Declare, goods: Goods, ref: ReferenceData
    ) -> None:
        decl = declare(goods(1, "8501109100", "100"), route=("CN", "KZ", "PL"))
        assert liability(decl, ref).items[0].payable_state == "KZ"


class TestReductions:
    # Gross for the motors: 2585.20 EUR (see TestAdValorem).
    @pytest.mark.parametrize(
        ("holder", "guarantor", "combine", "pct", "total"),
        [
            # holder only: 2585.20 × 80% = 2068.16
            (True, "0", ReductionRule.LARGER, "20", "2068.16"),
            # guarantor 50% only: 2585.20 × 50% = 1292.60
            (False, "50", ReductionRule.LARGER, "50", "1292.60"),
            # both, larger of 20% and 10%: 20% → 2068.16
            (True, "10", ReductionRule.LARGER, "20", "2068.16"),
            # both, larger of 20% and 50%: 50% → 1292.60
            (True, "50", ReductionRule.LARGER, "50", "1292.60"),
            # both, one after the other: 80% × 90% = 72%; 2585.20 × 72% = 1861.344 → 1861.34
            (True, "10", ReductionRule.SEQUENTIAL, "28", "1861.34"),
            # both, one after the other: 80% × 50% = 40%; 2585.20 × 40% = 1034.08
            (True, "50", ReductionRule.SEQUENTIAL, "60", "1034.08"),
            # a 100% national guarantor leaves nothing to secure
            (True, "100", ReductionRule.SEQUENTIAL, "100", "0.00"),
        ],
    )
    def test_combination(
        self,
        motors: TransitDeclaration,
        ref: ReferenceData,
        holder: bool,
        guarantor: str,
        combine: ReductionRule,
        pct: str,
        total: str,
    ) -> None:
        result = liability(motors, ref, holder=holder, guarantor=guarantor, combine=combine)
        assert result.gross_total == Decimal("2585.20")
        assert result.reduction_pct == Decimal(pct)
        assert result.total == Decimal(total)

    def test_larger_rule_marks_only_one_reduction_applied(
        self, motors: TransitDeclaration, ref: ReferenceData
    ) -> None:
        result = liability(motors, ref, holder=True, guarantor="10")
        assert [(r.pct, r.applied) for r in result.reductions] == [
            (Decimal(20), True),
            (Decimal(10), False),
        ]

    @pytest.mark.parametrize("pct", ["5", "9.99", "100.01", "-10", "NaN"])
    def test_guarantor_reduction_out_of_range(
        self, motors: TransitDeclaration, ref: ReferenceData, pct: str
    ) -> None:
        with pytest.raises(LiabilityError, match="national guarantor reduction"):
            liability(motors, ref, guarantor=pct)


class TestRounding:
    def test_minor_units(self) -> None:
        assert money_quantum("EUR") == Decimal("0.01")
        assert money_quantum("KZT") == Decimal("0.01")
        assert money_quantum("JPY") == Decimal(1)

    def test_half_up_not_half_even(self) -> None:
        assert round_money(Decimal("0.005"), "EUR") == Decimal("0.01")
        assert round_money(Decimal("0.015"), "EUR") == Decimal("0.02")
        assert round_money(Decimal("2.5"), "JPY") == Decimal(3)

    def test_each_tax_line_rounded_half_up(
        self, declare: Declare, goods: Goods, ref: ReferenceData
    ) -> None:
        # duty 5% × 0.10 = 0.005 → 0.01 (half-even would give 0.00)
        # VAT 22% × (0.10 + 0.01) = 0.0242 → 0.02
        result = liability(declare(goods(1, "8501109100", "0.10")), ref)
        assert result.totals[Tax.IMPORT_DUTY] == Decimal("0.01")
        assert result.totals[Tax.VAT] == Decimal("0.02")

    def test_kzt_two_decimals(self, motors: TransitDeclaration, ref: ReferenceData) -> None:
        # customs value 10000 USD × 0.92 ÷ 0.0019 = 4842105.2631578947... KZT
        # duty 5% = 242105.26315789... → 242105.26
        # VAT RU 22% × (4842105.2631578947... + 242105.26) = 22% × 5084210.5231578947...
        #   = 1118526.3150947368... → 1118526.32
        # gross 242105.26 + 1118526.32 = 1360631.58
        result = liability(motors, ref, currency="KZT")
        assert result.totals[Tax.IMPORT_DUTY] == Decimal("242105.26")
        assert result.totals[Tax.VAT] == Decimal("1118526.32")
        assert result.total == Decimal("1360631.58")

    def test_jpy_no_decimals(self, declare: Declare, goods: Goods, ref: ReferenceData) -> None:
        # customs value 100 EUR ÷ 0.0061 = 16393.4426229508... JPY
        # duty 5% = 819.672... → 820; VAT 22% × (16393.4426... + 820) = 3786.957... → 3787
        result = liability(declare(goods(1, "8501109100", "100")), ref, currency="JPY")
        assert result.totals[Tax.IMPORT_DUTY] == Decimal(820)
        assert result.totals[Tax.VAT] == Decimal(3787)
        assert result.total == Decimal(4607)
        assert result.total.as_tuple().exponent == 0


class TestErrors:
    def test_unknown_heading_names_item_and_heading(
        self, declare: Declare, goods: Goods, ref: ReferenceData
    ) -> None:
        decl = declare(goods(1, "8501109100", "100"), goods(2, "7777000000", "100"))
        with pytest.raises(LiabilityError) as caught:
            liability(decl, ref)
        assert "item 2" in caught.value.message
        assert "'7777'" in caught.value.message
        assert caught.value.violations[0].pointer == "/items/1/commodity_code"

    def test_missing_item_currency_rate_names_currency_and_date(
        self, declare: Declare, goods: Goods, ref: ReferenceData
    ) -> None:
        decl = declare(goods(1, "8501109100", "100", "CNY"))
        with pytest.raises(LiabilityError) as caught:
            liability(decl, ref)
        assert caught.value.message == "no exchange rate for CNY on or before 2026-03-01"
        assert caught.value.violations[0].pointer == "/items/0/currency"

    def test_rate_published_after_the_date_does_not_count(
        self, declare: Declare, goods: Goods, ref: ReferenceData
    ) -> None:
        # KZT is first published on 2026-01-05
        decl = declare(goods(1, "8501109100", "100"))
        with pytest.raises(
            LiabilityError, match="no exchange rate for KZT on or before 2026-01-04"
        ):
            liability(decl, ref, currency="KZT", on=date(2026, 1, 4))

    def test_unknown_liability_currency(
        self, motors: TransitDeclaration, ref: ReferenceData
    ) -> None:
        with pytest.raises(LiabilityError, match="'XXX'"):
            liability(motors, ref, currency="XXX")

    def test_per_litre_needs_supplementary_quantity(
        self, declare: Declare, goods: Goods, ref: ReferenceData
    ) -> None:
        with pytest.raises(LiabilityError, match="supplementary quantity is required"):
            liability(declare(goods(1, "2208601100", "3000")), ref)

    def test_heading_without_rate(self, declare: Declare, goods: Goods, ref: ReferenceData) -> None:
        with pytest.raises(LiabilityError, match=r"9999 .* has no ad valorem rate"):
            liability(declare(goods(1, "9999000000", "10")), ref)

    def test_negative_value(self, declare: Declare, goods: Goods, ref: ReferenceData) -> None:
        with pytest.raises(LiabilityError, match="item 1: value must not be negative"):
            liability(declare(goods(1, "8501109100", "-1")), ref)

    def test_route_without_member_state(
        self, declare: Declare, goods: Goods, ref: ReferenceData
    ) -> None:
        decl = declare(goods(1, "8501109100", "100"), route=("CN", "PL"))
        with pytest.raises(LiabilityError, match="no member state"):
            liability(decl, ref)

    def test_absurdly_large_value_is_a_typed_error(
        self, declare: Declare, goods: Goods, ref: ReferenceData
    ) -> None:
        with pytest.raises(LiabilityError):
            liability(declare(goods(1, "8501109100", "1E+40")), ref)


class TestRendering:
    def test_as_dict_is_json_with_string_amounts(
        self, motors: TransitDeclaration, ref: ReferenceData
    ) -> None:
        data = json.loads(json.dumps(liability(motors, ref, holder=True).as_dict()))
        assert data["total"] == "2068.16"
        assert data["totals"] == {"import_duty": "460.00", "excise": "0.00", "vat": "2125.20"}
        duty = data["items"][0]["lines"][0]
        assert (duty["tax"], duty["applied"], duty["amount"]) == (
            "import_duty",
            "ad valorem",
            "460.00",
        )

    def test_explain_shows_each_step(self, motors: TransitDeclaration, ref: ReferenceData) -> None:
        text = "\n".join(liability(motors, ref, holder=True).explain())
        assert "10000 USD × 0.92 EUR/USD = 9200 EUR" in text
        assert "import duty, ad valorem: 5% × 9200 = 460 EUR → 460.00 EUR" in text
        assert "VAT (RU)" in text
        assert "22% × (9200 + 460.00 + 0.00) = 2125.2 EUR → 2125.20 EUR" in text
        assert "KZ 1545.60, RU 2125.20, BY 1932.00" in text
        assert "Amount to secure: 2068.16 EUR" in text
