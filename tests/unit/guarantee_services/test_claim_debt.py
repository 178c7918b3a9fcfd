"""A claim's debt per tax, and a recovery spread over it exactly to the cent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from silkway.guarantees.domain.distribution import (
    ClaimLine,
    DistributionError,
    ItemDebt,
    allocate,
    debt_of,
)
from silkway.guarantees.domain.liability import Tax, secured_share

D = Decimal


def item(number: int, duty: str, vat: str, excise: str = "0.00", state: str = "RU") -> ItemDebt:
    return ItemDebt(
        number,
        (
            ClaimLine(Tax.IMPORT_DUTY, D(duty), "EUR", None),
            ClaimLine(Tax.EXCISE, D(excise), "EUR", state),
            ClaimLine(Tax.VAT, D(vat), "EUR", state),
        ),
    )


def test_the_debt_is_the_undelivered_items_summed_per_tax_and_state() -> None:
    items = [
        item(1, "100.00", "200.00"),
        item(2, "10.00", "20.00", "5.00"),
        item(3, "1.00", "2.00", state="KZ"),
    ]
    debt = debt_of(items, delivered=[1])
    assert debt == [
        ClaimLine(Tax.IMPORT_DUTY, D("11.00"), "EUR", None),
        ClaimLine(Tax.EXCISE, D("5.00"), "EUR", "RU"),
        ClaimLine(Tax.VAT, D("2.00"), "EUR", "KZ"),
        ClaimLine(Tax.VAT, D("20.00"), "EUR", "RU"),
    ]


def test_a_recovery_is_spread_in_proportion() -> None:
    debt = [
        ClaimLine(Tax.IMPORT_DUTY, D("100.00"), "EUR"),
        ClaimLine(Tax.VAT, D("300.00"), "EUR", "RU"),
    ]
    assert allocate(D("200.00"), debt) == [
        ClaimLine(Tax.IMPORT_DUTY, D("50.00"), "EUR"),
        ClaimLine(Tax.VAT, D("150.00"), "EUR", "RU"),
    ]


def test_the_odd_cent_goes_to_the_largest_remainder_then_the_earlier_line() -> None:
    thirds = [ClaimLine(Tax.VAT, D("1.00"), "EUR", s) for s in ("BY", "KZ", "RU")]
    parts = allocate(D("0.02"), thirds)
    assert [p.amount for p in parts] == [D("0.01"), D("0.01")]
    assert [p.state for p in parts] == ["BY", "KZ"]


def test_a_recovery_beyond_the_debt_or_across_currencies_is_refused() -> None:
    debt = [ClaimLine(Tax.IMPORT_DUTY, D("1.00"), "EUR")]
    with pytest.raises(DistributionError, match="exceeds"):
        allocate(D("1.01"), debt)
    with pytest.raises(DistributionError, match="one currency"):
        allocate(D("1.00"), [*debt, ClaimLine(Tax.IMPORT_DUTY, D("1"), "USD")])


_KEYS = [(tax, state) for tax in Tax for state in ("AM", "BY", "KZ", "KG", "RU")]


@given(
    amounts=st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=6),
    paid=st.integers(min_value=1, max_value=10**10),
)
def test_parts_sum_exactly_and_stay_within_a_cent_of_their_share(
    amounts: list[int], paid: int
) -> None:
    debt = [
        ClaimLine(tax, D(a).scaleb(-2), "EUR", state)
        for (tax, state), a in zip(_KEYS, amounts, strict=False)
    ]
    total = sum(amounts)
    paid = min(paid, total)
    parts = allocate(D(paid).scaleb(-2), debt)
    assert sum((p.amount for p in parts), D(0)) == D(paid).scaleb(-2)
    got = {(p.tax, p.state): p.amount.scaleb(2) for p in parts}
    for line, a in zip(debt, amounts, strict=True):
        exact = D(paid) * D(a) / D(total)
        assert abs(got.get((line.tax, line.state), D(0)) - exact) < 1


def test_the_secured_share_reduces_then_rounds_half_up() -> None:
    assert secured_share(D("300.01"), D(20), "EUR") == D("240.01")
    assert secured_share(D("0.05"), D(50), "EUR") == D("0.03")
    assert secured_share(D("1000"), D(100), "JPY") == D(0)
