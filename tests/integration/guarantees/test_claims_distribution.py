"""Claims: the guarantor pays, import duty is split by the shares of the claim date, VAT and
excise go where payable, and the period report sums to the cent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from tests.integration.guarantees.guarantee_support import register, western

from silkway.bootstrap import Node
from silkway.guarantees import claims
from silkway.guarantees import service as guarantees
from silkway.guarantees.domain.distribution import split_import_duty
from silkway.guarantees.domain.guarantee import (
    GuaranteeMethod,
    GuaranteeScope,
    GuarantorKind,
    Holder,
    IdempotencyConflict,
)
from silkway.guarantees.domain.liability import Tax
from silkway.guarantees.ports import Claim
from silkway.node.clock import ManualClock
from silkway.reference import load_reference
from silkway.transit import service as transit
from silkway.transit.domain.movement import (
    Accept,
    DeclareNotDelivered,
    MarkOverdue,
    OpenEnquiry,
    Release,
)


def test_the_share_sets_of_the_reference_data_sum_to_a_hundred() -> None:
    sets = load_reference().duty_shares
    assert len(sets) >= 2
    for shares in sets:
        assert sum(shares.shares_pct.values(), Decimal(0)) == 100
        assert set(shares.shares_pct) == {"AM", "BY", "KZ", "KG", "RU"}


def not_delivered(n: Node, clock: ManualClock) -> Claim:
    decl = western(clock)
    m = transit.lodge_declaration(n.transit, decl).movement
    transit.act(n.transit, m.reference, Accept())
    transit.act(
        n.transit,
        m.reference,
        Release(decl.security[0].reference, decl.departure_office),
    )
    clock.set(clock.now() + timedelta(days=(m.time_limit - clock.now().date()).days + 1))
    transit.act(n.transit, m.reference, MarkOverdue(clock.now()))
    transit.act(n.transit, m.reference, OpenEnquiry("no arrival"))
    transit.act(n.transit, m.reference, DeclareNotDelivered("goods lost"))
    [claim] = claims.list_claims(n.guarantees)
    return claim


def test_a_recovery_is_distributed_and_the_report_balances(node: Node, clock: ManualClock) -> None:
    register(node, "500000.00")
    claim = not_delivered(node, clock)
    assert {line.tax for line in claim.debt} >= {Tax.IMPORT_DUTY, Tax.VAT}

    first = claims.recover(node.guarantees, claim.claim_id, key="pay-1", amount=Decimal("1000.01"))
    rest = claims.recover(node.guarantees, claim.claim_id, key="pay-2")

    assert first.amount + rest.amount == claim.amount
    assert claims.get_claim(node.guarantees, claim.claim_id).status == "recovered"
    for recovery in (first, rest):
        lines = recovery.lines
        assert sum((x.amount for x in lines), Decimal(0)) == recovery.amount
        duty = [x for x in lines if x.tax is Tax.IMPORT_DUTY]
        assert {x.state for x in duty} == {"AM", "BY", "KZ", "KG", "RU"}
        shares = load_reference().shares_on(claim.claim_date)
        assert shares is not None
        pooled = sum((x.amount for x in duty), Decimal(0))
        assert {x.state: x.amount for x in duty} == split_import_duty(pooled, shares)
        # VAT and excise go whole to the state where they are payable.
        assert {x.state for x in lines if x.tax is not Tax.IMPORT_DUTY} == {
            line.state for line in claim.debt if line.tax is not Tax.IMPORT_DUTY
        }

    report = claims.distribution_report(node.guarantees, date(2026, 1, 1), date(2027, 12, 31))
    assert report.balanced
    assert report.totals == {"EUR": claim.amount}
    assert sum(report.by_state.values(), Decimal(0)) == claim.amount
    empty = claims.distribution_report(node.guarantees, date(2025, 1, 1), date(2025, 12, 31))
    assert empty.lines == []
    assert empty.balanced


def test_recoveries_are_idempotent_and_never_exceed_the_claim(
    sqlite_node: Callable[[str], Node], clock: ManualClock
) -> None:
    n = sqlite_node("KZ")
    register(n, "500000.00")
    claim = not_delivered(n, clock)
    first = claims.recover(n.guarantees, claim.claim_id, key="pay-1", amount=Decimal("10.00"))
    assert claims.recover(n.guarantees, claim.claim_id, key="pay-1") == first
    with pytest.raises(IdempotencyConflict):
        claims.recover(n.guarantees, claim.claim_id, key="pay-1", amount=Decimal("11.00"))
    with pytest.raises(claims.RecoveryInvalid):
        claims.recover(n.guarantees, claim.claim_id, key="pay-2", amount=claim.amount)
    with pytest.raises(claims.ClaimNotFound):
        claims.recover(n.guarantees, "claim:nope", key="pay-3")
    assert claims.get_claim(n.guarantees, claim.claim_id).recovered == Decimal("10.00")


def test_an_old_claim_is_split_by_the_old_shares(
    sqlite_node: Callable[[str], Node], clock: ManualClock
) -> None:
    n = sqlite_node("KZ")
    clock.set(datetime(2018, 5, 2, 9, tzinfo=UTC))
    g = guarantees.register_guarantor(
        n.guarantees, name="Old Bank", kind=GuarantorKind.BANK, country="KZ"
    )
    guarantees.register_holder(n.guarantees, Holder("H1", "Holder", "KZ"))
    grn = guarantees.register_guarantee(
        n.guarantees,
        guarantees.GuaranteeApplication(
            method=GuaranteeMethod.CASH,
            scope=GuaranteeScope.GENERAL,
            reference_amount=Decimal("50000.00"),
            currency="EUR",
            guarantor_id=g.guarantor_id,
            holder_id="H1",
        ),
    ).record.grn
    command = guarantees.LockCommand("old-lock", grn, Decimal("10000.00"), "EUR")
    guarantees.lock_now(n.guarantees, command)
    posted = claims.post(n.guarantees, "old-post", "old-lock")
    clock.set(datetime(2026, 12, 1, 9, tzinfo=UTC))  # paid years later

    recovery = claims.recover(n.guarantees, posted.claim.claim_id, key="old-pay")

    assert posted.claim.claim_date == date(2018, 5, 2)
    old = load_reference().shares_on(date(2018, 5, 2))
    assert old is not None
    assert old.shares_pct["BY"] == Decimal("4.56")
    split = {x.state: x.amount for x in recovery.lines}
    assert split == split_import_duty(Decimal("10000.00"), old)
    assert split["RU"] == Decimal("8526.50")
    assert sum(split.values(), Decimal(0)) == Decimal("10000.00")
