"""Splitting recovered duties: Annex 5 shares to the cent, taxes to the state where payable."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from silkway.guarantees.domain.distribution import (
    ClaimLine,
    DistributionError,
    distribute_claim,
    split_import_duty,
)
from silkway.guarantees.domain.liability import Tax
from silkway.reference.model import DutyShares, ReferenceData

D = Decimal


def shares_of(ref: ReferenceData, on: date) -> DutyShares:
    found = ref.shares_on(on)
    assert found is not None
    return found


def shares(pcts: dict[str, str]) -> DutyShares:
    return DutyShares(date(2020, 1, 1), None, {s: D(p) for s, p in pcts.items()}, "test")


class TestShareSets:
    @pytest.mark.parametrize("on", [date(2018, 6, 1), date(2026, 6, 1)])
    def test_each_set_sums_to_100(self, ref: ReferenceData, on: date) -> None:
        assert sum(shares_of(ref, on).shares_pct.values()) == 100

    def test_2018_uses_the_2017_2019_set(self, ref: ReferenceData) -> None:
        assert shares_of(ref, date(2018, 6, 1)).shares_pct["RU"] == D("85.265")
        assert shares_of(ref, date(2020, 1, 1)).shares_pct["RU"] == D("85.065")


class TestSplit:
    def test_worked_example_current_shares(self, ref: ReferenceData) -> None:
        # 100.00 × AM 1.220, BY 4.860, KZ 6.955, KG 1.900, RU 85.065 %
        #   exact: 1.22, 4.86, 6.955, 1.90, 85.065 → floors 1.22, 4.86, 6.95, 1.90, 85.06
        #   floors sum 99.99: one cent left; KZ and RU both dropped 0.005 → tie goes to the
        #   larger share, RU → 85.07
        parts = split_import_duty(D("100.00"), shares_of(ref, date(2026, 1, 1)))
        assert parts == {
            "AM": D("1.22"),
            "BY": D("4.86"),
            "KG": D("1.90"),
            "KZ": D("6.95"),
            "RU": D("85.07"),
        }

    def test_worked_example_2017_2019_shares(self, ref: ReferenceData) -> None:
        # 100.00 × AM 1.22, BY 4.56, KZ 7.055, KG 1.9, RU 85.265 %
        #   floors 1.22, 4.56, 7.05, 1.90, 85.26 = 99.99; KZ and RU tie at 0.005 → RU 85.27
        parts = split_import_duty(D("100.00"), shares_of(ref, date(2018, 1, 1)))
        assert parts["RU"] == D("85.27")
        assert parts["KZ"] == D("7.05")
        assert sum(parts.values()) == D("100.00")

    def test_one_cent_goes_to_the_largest_fraction(self, ref: ReferenceData) -> None:
        # 0.01 × RU 85.065% = 0.0085065, the largest dropped fraction; everyone else gets 0.
        parts = split_import_duty(D("0.01"), shares_of(ref, date(2026, 1, 1)))
        assert parts["RU"] == D("0.01")
        assert sum(parts.values()) == D("0.01")

    def test_largest_fraction_beats_larger_share(self) -> None:
        # 0.10 × A 70% = 0.07 exactly; × B 20.5% = 0.0205; × C 9.5% = 0.0095.
        #   floors 0.07, 0.02, 0.00 → one cent left; dropped: A 0, B 0.0005, C 0.0095 → C.
        parts = split_import_duty(D("0.10"), shares({"A": "70", "B": "20.5", "C": "9.5"}))
        assert parts == {"A": D("0.07"), "B": D("0.02"), "C": D("0.01")}

    def test_full_tie_goes_to_the_first_state_code(self) -> None:
        parts = split_import_duty(D("0.01"), shares({"BY": "50", "AM": "50"}))
        assert parts == {"AM": D("0.01"), "BY": D("0.00")}

    def test_zero_decimals_currency(self, ref: ReferenceData) -> None:
        # 1000 JPY × 1.22/4.86/6.955/1.9/85.065 %: floors 12, 48, 69, 19, 850 = 998;
        #   dropped: KZ 0.55, RU 0.65, BY 0.6, KG 0, AM 0.2 → RU then BY get a yen.
        parts = split_import_duty(D(1000), shares_of(ref, date(2026, 1, 1)), currency="JPY")
        assert parts == {"AM": D(12), "BY": D(49), "KG": D(19), "KZ": D(69), "RU": D(851)}

    @pytest.mark.parametrize("amount", ["-0.01", "0.001", "NaN", "Infinity"])
    def test_bad_amount(self, ref: ReferenceData, amount: str) -> None:
        with pytest.raises(DistributionError, match="whole number of minor units"):
            split_import_duty(D(amount), shares_of(ref, date(2026, 1, 1)))

    def test_shares_must_sum_to_100(self) -> None:
        with pytest.raises(DistributionError, match=r"sum to 99\.9%"):
            split_import_duty(D("10.00"), shares({"AM": "50", "BY": "49.9"}))

    def test_unknown_currency(self, ref: ReferenceData) -> None:
        with pytest.raises(DistributionError, match="'XYZ'"):
            split_import_duty(D(10), shares_of(ref, date(2026, 1, 1)), currency="XYZ")

    def test_huge_amount_is_still_exact(self, ref: ReferenceData) -> None:
        # 32 digits, beyond Decimal's default 28: the parts are summed as fractions to check.
        amount = D("123456789012345678901234567890.99")
        parts = split_import_duty(amount, shares_of(ref, date(2026, 1, 1)))
        assert sum(map(Fraction, parts.values())) == Fraction(amount)


amounts = st.integers(min_value=0, max_value=10**14).map(lambda c: Decimal(c).scaleb(-2))


@pytest.mark.parametrize("on", [date(2018, 6, 1), date(2026, 6, 1)])
@given(amount=amounts)
def test_split_sums_to_the_cent_and_follows_the_rule(
    ref: ReferenceData, on: date, amount: Decimal
) -> None:
    share_set = shares_of(ref, on)
    parts = split_import_duty(amount, share_set)
    assert sum(parts.values()) == amount
    exact = {s: Fraction(amount) * Fraction(p) / 100 for s, p in share_set.shares_pct.items()}
    cent = Fraction(1, 100)
    extra = {s for s in parts if Fraction(parts[s]) - exact[s] > 0}
    for state, part in parts.items():
        floor = (exact[state] // cent) * cent
        # every part is its floor, or its floor plus the one handed-out cent
        assert Fraction(part) in (floor, floor + cent)

    def order(s: str) -> tuple[Fraction, Decimal, str]:
        # the stated rule: largest dropped fraction, then larger share, then state code
        dropped = exact[s] - (exact[s] // cent) * cent
        return (-dropped, -share_set.shares_pct[s], s)

    for winner in extra:
        for other in set(parts) - extra:
            assert order(winner) < order(other)


class TestDistributeClaim:
    def test_2018_claim_uses_2017_2019_shares(self, ref: ReferenceData) -> None:
        lines = distribute_claim(
            [ClaimLine(Tax.IMPORT_DUTY, D("100.00"), "EUR")], ref, date(2018, 6, 1)
        )
        ru = next(line for line in lines if line.state == "RU")
        assert ru.amount == D("85.27")
        assert "85.265%" in ru.basis
        assert "2017-01-01 – 2019-12-31" in ru.basis

    def test_current_claim_uses_current_shares(self, ref: ReferenceData) -> None:
        lines = distribute_claim(
            [ClaimLine(Tax.IMPORT_DUTY, D("100.00"), "EUR")], ref, date(2026, 6, 1)
        )
        assert {line.state: line.amount for line in lines}["KZ"] == D("6.95")

    def test_taxes_go_to_the_payable_state_and_duty_is_pooled(self, ref: ReferenceData) -> None:
        claim = [
            ClaimLine(Tax.IMPORT_DUTY, D("50.00"), "EUR"),
            ClaimLine(Tax.VAT, D("22.00"), "EUR", "RU"),
            ClaimLine(Tax.EXCISE, D("60.00"), "EUR", "RU"),
            ClaimLine(Tax.IMPORT_DUTY, D("50.00"), "EUR"),
            ClaimLine(Tax.VAT, D("8.00"), "EUR", "RU"),
        ]
        lines = distribute_claim(claim, ref, date(2026, 6, 1))
        taxes = [(ln.tax, ln.state, ln.amount) for ln in lines if ln.tax is not Tax.IMPORT_DUTY]
        assert taxes == [(Tax.EXCISE, "RU", D("60.00")), (Tax.VAT, "RU", D("30.00"))]
        # the two duty lines are pooled into 100.00 and split once (RU 85.07, not 2 × 42.53)
        duty = {ln.state: ln.amount for ln in lines if ln.tax is Tax.IMPORT_DUTY}
        assert duty == split_import_duty(D("100.00"), shares_of(ref, date(2026, 6, 1)))
        assert sum(ln.amount for ln in lines) == D("190.00")

    def test_tax_without_payable_state(self, ref: ReferenceData) -> None:
        with pytest.raises(DistributionError, match="claim line 0: vat needs the member state"):
            distribute_claim([ClaimLine(Tax.VAT, D(1), "EUR")], ref, date(2026, 6, 1))

    def test_claim_before_any_share_set(self, ref: ReferenceData) -> None:
        with pytest.raises(DistributionError, match="2016-12-31"):
            distribute_claim([ClaimLine(Tax.IMPORT_DUTY, D(1), "EUR")], ref, date(2016, 12, 31))

    def test_bad_line_amount(self, ref: ReferenceData) -> None:
        with pytest.raises(DistributionError, match="claim line 1"):
            distribute_claim(
                [
                    ClaimLine(Tax.VAT, D(1), "EUR", "KZ"),
                    ClaimLine(Tax.VAT, D("0.001"), "EUR", "KZ"),
                ],
                ref,
                date(2026, 6, 1),
            )
