"""The release gate: the duties at risk are locked at release and settled by what follows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from tests.integration.guarantees.guarantee_support import domestic, ledger_rows, register, western

from silkway.bootstrap import Node
from silkway.examples import example_declaration
from silkway.guarantees import claims as guarantee_claims
from silkway.guarantees import service as guarantees
from silkway.guarantees.domain.guarantee import GuaranteeStatus, Holder, LockStatus
from silkway.guarantees.domain.liability import Tax, compute_liability, secured_share
from silkway.guarantees.ports import LockRecord
from silkway.guarantees.service import release_lock_id
from silkway.kernel.errors import ActionInvalid, DeclarationInvalid, SecurityShortfall
from silkway.node.clock import ManualClock
from silkway.transit import service as transit
from silkway.transit.domain.declaration import SecurityKind, SecurityReference, TransitDeclaration
from silkway.transit.domain.movement import (
    Accept,
    AnswerEnquiry,
    Complete,
    CompletePartially,
    DeclareNotDelivered,
    EnquiryOutcome,
    ExtendTimeLimit,
    MarkOverdue,
    Movement,
    MovementStatus,
    OpenEnquiry,
    RecordArrival,
    Release,
)
from silkway.transit.ports import MovementFilter


def lodge_and_accept(n: Node, decl: TransitDeclaration) -> Movement:
    m = transit.lodge_declaration(n.transit, decl).movement
    return transit.act(n.transit, m.reference, Accept())


def release(n: Node, m: Movement, reference: str | None = None) -> Movement:
    security = reference or m.declaration.security[0].reference
    return transit.act(n.transit, m.reference, Release(security, m.declaration.departure_office))


def arrive(n: Node, m: Movement) -> Movement:
    return transit.act(n.transit, m.reference, RecordArrival(m.destination_office))


def lock_of(n: Node, m: Movement) -> LockRecord:
    return guarantees.get_lock(n.guarantees, release_lock_id(m.reference))


def test_release_locks_the_liability_and_completion_credits_it(
    node: Node, clock: ManualClock
) -> None:
    g = register(node, "500000.00", national_pct=Decimal(50), qualified=True)
    decl = domestic(clock)
    m = release(node, lodge_and_accept(node, decl))

    expected = compute_liability(
        decl,
        node.reference,
        clock.now().date(),
        holder_qualified=True,
        guarantor_reduction_pct=Decimal(50),
    )
    assert expected.reduction_pct == 50  # the larger reduction, not both
    found = lock_of(node, m)
    assert found.lock.amount == expected.total
    assert found.movement_reference == m.reference
    view = guarantees.balance(node.guarantees, g.grn)
    assert view.record.balance.available == Decimal("500000.00") - expected.total
    assert [u.lock.lock_id for u in view.usages] == [found.lock.lock_id]
    explained = guarantees.movement_liability(node.guarantees, m.reference)
    assert explained.locked
    assert explained.tree["total"] == str(expected.total)

    m = arrive(node, m)
    transit.act(node.transit, m.reference, Complete())

    assert lock_of(node, m).lock.status is LockStatus.CREDITED
    assert guarantees.balance(node.guarantees, g.grn).record.balance.available == Decimal(
        "500000.00"
    )
    kinds = [e.kind for e in guarantees.history(node.guarantees, g.grn)]
    assert kinds == ["register", "lock", "credit"]


def test_the_departure_cannot_free_the_lock_by_recording_another_states_arrival(
    node: Node, clock: ManualClock
) -> None:
    register(node, "500000.00")
    m = release(node, lodge_and_accept(node, western(clock)))
    before = ledger_rows(node)
    with pytest.raises(transit.OfficeOfAnotherState) as refused:
        arrive(node, m)  # 06614 is a Belarusian office: the BY node records that arrival
    assert refused.value.office_state == "BY"
    assert ledger_rows(node) == before
    assert lock_of(node, m).lock.status is LockStatus.PENDING
    assert transit.get_movement(node.transit, m.reference).status is MovementStatus.RELEASED


def test_a_shortfall_refuses_the_release_with_the_amounts(node: Node, clock: ManualClock) -> None:
    g = register(node, "1000.00")
    m = lodge_and_accept(node, western(clock))
    before = ledger_rows(node)

    with pytest.raises(SecurityShortfall) as refused:
        release(node, m)

    [violation] = refused.value.violations
    assert violation.code == "insufficient-funds"
    assert violation.pointer == "/security_reference"
    assert "1000.00 EUR available" in violation.message
    assert g.grn in violation.message
    assert ledger_rows(node) == before
    assert transit.get_movement(node.transit, m.reference).status is MovementStatus.ACCEPTED


def test_a_release_needs_a_known_grn_its_access_code_and_its_holder(
    sqlite_node: Callable[[str], Node], clock: ManualClock
) -> None:
    n = sqlite_node("KZ")
    decl = western(clock)
    # The code is checked when it is quoted: an unknown GRN or a wrong code is not lodged.
    with pytest.raises(DeclarationInvalid) as unknown:
        transit.lodge_declaration(n.transit, decl)
    assert [(v.code, v.pointer) for v in unknown.value.violations] == [
        ("guarantee-unknown", "/security/0/reference")
    ]

    g = register(n, "500000.00")
    wrong_code = decl.model_copy(
        update={
            "lrn": "LRN-G-2",
            "security": [
                SecurityReference(kind=SecurityKind.GRN, reference=g.grn, access_code="0000")
            ],
        }
    )
    with pytest.raises(DeclarationInvalid) as bad_code:
        transit.lodge_declaration(n.transit, wrong_code)
    assert [(v.code, v.pointer) for v in bad_code.value.violations] == [
        ("security-access-code-invalid", "/security/0/access_code")
    ]
    assert transit.list_movements(n.transit, MovementFilter(), offset=0, limit=5).total == 0

    other = decl.declarant.model_copy(update={"identification": "990340012345"})
    stranger = decl.model_copy(update={"lrn": "LRN-G-3", "declarant": other})
    m3 = lodge_and_accept(n, stranger)  # knowing the code is not enough to draw on it
    with pytest.raises(ActionInvalid) as not_holder:
        release(n, m3)
    assert not_holder.value.violations[0].code == "security-holder-not-authorised"

    guarantees.register_holder(n.guarantees, Holder(other.identification, "Forwarder", "KZ"))
    guarantees.authorise_holder(n.guarantees, g.grn, other.identification)
    assert release(n, m3).status is MovementStatus.RELEASED
    assert lock_of(n, m3).lock.status is LockStatus.PENDING


def test_a_suspended_guarantee_takes_no_new_lock(
    sqlite_node: Callable[[str], Node], clock: ManualClock
) -> None:
    n = sqlite_node("KZ")
    g = register(n, "500000.00")
    m = lodge_and_accept(n, western(clock))
    guarantees.change_status(n.guarantees, g.grn, GuaranteeStatus.SUSPENDED, reason="audit")
    with pytest.raises(ActionInvalid) as refused:
        release(n, m)
    assert refused.value.violations[0].code == "lock-refused"
    guarantees.change_status(n.guarantees, g.grn, GuaranteeStatus.ACTIVE)
    assert release(n, m).status is MovementStatus.RELEASED


def test_partial_completion_credits_the_delivered_items_and_holds_the_rest(
    sqlite_node: Callable[[str], Node], clock: ManualClock
) -> None:
    n = sqlite_node("KZ")
    g = register(n, "500000.00")
    decl = domestic(clock)
    m = arrive(n, release(n, lodge_and_accept(n, decl)))
    held = lock_of(n, m).lock.amount

    transit.act(n.transit, m.reference, CompletePartially((1,)))

    liability = compute_liability(
        decl, n.reference, clock.now().date(), holder_qualified=False,
        guarantor_reduction_pct=Decimal(0),
    )  # fmt: skip
    delivered = sum((line.amount for line in liability.items[0].lines), Decimal(0))
    after = lock_of(n, m).lock
    assert after.credited == secured_share(delivered, Decimal(0), "EUR")
    assert after.held == held - after.credited
    assert after.status is LockStatus.PENDING

    # The rest was not delivered: an officer posts it, and the claim is for items 2 and 3.
    posted = guarantee_claims.post(n.guarantees, "post-rest", after.lock_id)
    assert posted.claim.amount == after.held
    owed = {(line.tax.value, line.state): line.amount for line in posted.claim.debt}
    expected_duty = sum(
        (item.amount_of(Tax.IMPORT_DUTY) for item in liability.items[1:]), Decimal(0)
    )
    assert owed[("import_duty", None)] == expected_duty
    balance = guarantees.balance(n.guarantees, g.grn).record.balance
    assert balance.posted == after.held
    assert balance.locked == 0


def test_non_delivery_posts_the_lock_and_opens_a_claim(node: Node, clock: ManualClock) -> None:
    g = register(node, "500000.00")
    m = release(node, lodge_and_accept(node, domestic(clock)))
    amount = lock_of(node, m).lock.amount
    clock.set(clock.now() + timedelta(days=(m.time_limit - clock.now().date()).days + 1))
    transit.act(node.transit, m.reference, MarkOverdue(clock.now()))
    transit.act(node.transit, m.reference, OpenEnquiry("no arrival"))
    transit.act(
        node.transit,
        m.reference,
        AnswerEnquiry(EnquiryOutcome.NOT_DELIVERED, m.destination_office, "never came"),
    )

    assert lock_of(node, m).lock.status is LockStatus.POSTED
    balance = guarantees.balance(node.guarantees, g.grn).record.balance
    assert (balance.locked, balance.posted) == (0, amount)
    [claim] = guarantee_claims.list_claims(node.guarantees)
    assert claim.movement_reference == m.reference
    assert claim.amount == amount
    assert claim.claim_date == clock.now().date()
    assert sum((line.amount for line in claim.debt), Decimal(0)) >= amount


def exempt(decl: TransitDeclaration, basis: str) -> TransitDeclaration:
    return decl.model_copy(
        update={"security": [SecurityReference(kind=SecurityKind.EXEMPT, reference=basis)]}
    )


def test_an_exemption_needs_a_basis_that_names_the_movement(
    sqlite_node: Callable[[str], Node], clock: ManualClock
) -> None:
    n = sqlite_node("KZ")
    rail = example_declaration("western-rail", clock.now().date())
    cases = [
        (exempt(western(clock, "LRN-EX1"), "NONE"), "security-exemption-unknown"),
        (exempt(western(clock, "LRN-EX2"), "RAIL"), "security-exemption-not-applicable"),
        # The AEO basis exists, but no authorised economic operator is registered.
        (exempt(rail.model_copy(update={"lrn": "LRN-EX3"}), "AEO"),
         "security-exemption-not-applicable"),
    ]  # fmt: skip
    for decl, code in cases:
        with pytest.raises(DeclarationInvalid) as refused:
            transit.lodge_declaration(n.transit, decl)
        assert {(v.code, v.pointer) for v in refused.value.violations} == {
            (code, "/security/0/reference")
        }, decl.lrn
    assert transit.list_movements(n.transit, MovementFilter(), offset=0, limit=5).total == 0

    # Kazakhstan's national railway carrying by rail from Dostyk: released, nothing locked.
    m = release(n, lodge_and_accept(n, exempt(rail, "RAIL")))
    assert m.status is MovementStatus.RELEASED
    assert ledger_rows(n)["guarantee_locks"] == 0


def test_an_exemption_is_checked_again_at_release(
    sqlite_node: Callable[[str], Node], clock: ManualClock
) -> None:
    n = sqlite_node("KZ")
    rail = exempt(example_declaration("western-rail", clock.now().date()), "RAIL")
    m = lodge_and_accept(n, rail)
    # The reference data changed after lodging: the carrier is no longer on the register.
    basis = n.reference.security_exemptions["RAIL"]
    withdrawn = replace(basis, authorised=())
    today = replace(
        n.transit, reference=replace(n.reference, security_exemptions={"RAIL": withdrawn})
    )
    with pytest.raises(ActionInvalid) as refused:
        transit.act(today, m.reference, Release("RAIL", m.declaration.departure_office))
    [violation] = refused.value.violations
    assert (violation.code, violation.pointer) == (
        "security-exemption-not-applicable",
        "/security_reference",
    )
    assert "carrier 020240000555 is not authorised by KZ" in violation.message
    assert transit.get_movement(n.transit, m.reference).status is MovementStatus.ACCEPTED


def test_extension_moves_the_expiry_and_an_open_movement_keeps_its_lock(
    sqlite_node: Callable[[str], Node], clock: ManualClock
) -> None:
    n = sqlite_node("KZ")
    register(n, "500000.00")
    m = release(n, lodge_and_accept(n, western(clock)))
    first = lock_of(n, m).deadline
    new_limit = m.time_limit + timedelta(days=10)
    transit.act(n.transit, m.reference, ExtendTimeLimit(new_limit, "ferry delayed"))
    assert lock_of(n, m).deadline == first + timedelta(days=10)

    clock.set(first + timedelta(days=5))
    assert guarantees.expire_due_locks(n.guarantees) == []
    # Past the deadline, but the movement is still open (overdue, then under enquiry): the
    # lock stays and looks again hold_days later.
    transit.act(n.transit, m.reference, MarkOverdue(clock.now()))
    transit.act(n.transit, m.reference, OpenEnquiry("no arrival"))
    clock.set(first + timedelta(days=11))
    assert guarantees.expire_due_locks(n.guarantees) == []
    kept = lock_of(n, m)
    assert kept.lock.status is LockStatus.PENDING
    assert kept.deadline == n.guarantees.deadline_after(clock.now().date())
    # The enquiry ends in non-delivery long after the first deadline: the duties are posted.
    transit.act(n.transit, m.reference, DeclareNotDelivered("the enquiry found nothing"))
    assert lock_of(n, m).lock.status is LockStatus.POSTED
    [claim] = guarantee_claims.list_claims(n.guarantees)
    assert claim.movement_reference == m.reference
    assert guarantees.list_problems(n.guarantees) == (0, [])


def test_the_rest_of_a_partial_completion_expires_at_its_deadline(
    sqlite_node: Callable[[str], Node], clock: ManualClock
) -> None:
    n = sqlite_node("KZ")
    g = register(n, "500000.00")
    m = arrive(n, release(n, lodge_and_accept(n, domestic(clock))))
    transit.act(n.transit, m.reference, CompletePartially((1,)))
    rest = lock_of(n, m)
    assert rest.lock.status is LockStatus.PENDING
    clock.set(rest.deadline + timedelta(seconds=1))
    assert guarantees.expire_due_locks(n.guarantees) == [release_lock_id(m.reference)]
    assert lock_of(n, m).lock.status is LockStatus.EXPIRED
    assert guarantees.balance(n.guarantees, g.grn).record.balance.locked == 0


def test_a_lock_settled_by_hand_before_non_delivery_is_a_problem_for_an_operator(
    node: Node, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    register(node, "500000.00")
    m = release(node, lodge_and_accept(node, domestic(clock)))
    clock.set(clock.now() + timedelta(days=(m.time_limit - clock.now().date()).days + 1))
    transit.act(node.transit, m.reference, MarkOverdue(clock.now()))
    transit.act(node.transit, m.reference, OpenEnquiry("no arrival"))
    guarantees.credit(node.guarantees, "officer-1", release_lock_id(m.reference))

    with caplog.at_level(logging.ERROR, logger="silkway.guarantees"):
        final = transit.act(node.transit, m.reference, DeclareNotDelivered("never came"))

    assert final.status is MovementStatus.NOT_DELIVERED  # the legal fact stands
    assert guarantee_claims.list_claims(node.guarantees) == []
    total, [problem] = guarantees.list_problems(node.guarantees)
    assert total == 1
    assert problem.kind == "non-delivery-not-posted"
    assert (problem.movement_reference, problem.lock_id) == (
        m.reference,
        release_lock_id(m.reference),
    )
    assert problem.grn == m.declaration.security[0].reference
    assert "credited" in problem.message
    assert problem.at == clock.now()
    assert any(m.reference in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
