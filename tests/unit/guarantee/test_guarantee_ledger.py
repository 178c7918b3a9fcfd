"""Ledger rules by example: balances, the lock life cycle, refusals and idempotency."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from silkway.guarantees.domain.guarantee import (
    LOCK_TRANSITIONS,
    TERMINAL_LOCK_STATUSES,
    AmountInvalid,
    Balance,
    BalanceInvariantViolated,
    Guarantee,
    GuaranteeMethod,
    GuaranteeScope,
    GuaranteeStatus,
    IdempotencyConflict,
    InsufficientFunds,
    LedgerError,
    LedgerModel,
    LockRefused,
    LockStatus,
    LockTransitionError,
    UnknownGuarantee,
    UnknownLock,
    apply_lock,
    apply_post,
    apply_release,
    check_lock_transition,
)

ON = date(2026, 3, 1)
D = Decimal


def general(**changes: object) -> Guarantee:
    base = Guarantee(
        grn="26KZ000000000001A",
        method=GuaranteeMethod.SURETY,
        scope=GuaranteeScope.GENERAL,
        status=GuaranteeStatus.ACTIVE,
        reference_amount=D("1000.00"),
        currency="EUR",
        valid_from=date(2026, 1, 1),
        valid_to=date(2026, 12, 31),
        valid_states=frozenset({"KZ", "RU", "BY"}),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def ledger() -> LedgerModel:
    model = LedgerModel()
    model.register(general())
    return model


GRN = "26KZ000000000001A"


class TestBalance:
    def test_available_is_derived(self) -> None:
        assert Balance.of(D(100), D(30), D(20)).available == D(50)

    @pytest.mark.parametrize(
        ("reference", "locked", "posted", "available"),
        [(100, 30, 20, 40), (100, 60, 50, -10), (100, -1, 0, 101), (100, 0, 0, D("NaN"))],
    )
    def test_invariant_is_enforced(
        self, reference: int, locked: int, posted: int, available: Decimal | int
    ) -> None:
        with pytest.raises(BalanceInvariantViolated):
            Balance(D(reference), D(locked), D(posted), D(available))

    def test_effects(self) -> None:
        opening = Balance.opening(D(100))
        held = apply_lock(opening, D(40))
        assert held == Balance(D(100), D(40), D(0), D(60))
        assert apply_release(held, D(15)) == Balance(D(100), D(25), D(0), D(75))
        assert apply_post(held, D(40)) == Balance(D(100), D(0), D(40), D(60))

    def test_lock_beyond_available(self) -> None:
        with pytest.raises(InsufficientFunds) as caught:
            apply_lock(Balance.of(D(100), D(60), D(0)), D("40.01"))
        assert (caught.value.requested, caught.value.available) == (D("40.01"), D(40))


class TestTransitionTable:
    def test_pending_leads_to_each_terminal_status(self) -> None:
        assert LOCK_TRANSITIONS[LockStatus.PENDING] == TERMINAL_LOCK_STATUSES
        assert {
            LockStatus.CREDITED,
            LockStatus.VOIDED,
            LockStatus.POSTED,
            LockStatus.EXPIRED,
        } == TERMINAL_LOCK_STATUSES

    @pytest.mark.parametrize("current", sorted(TERMINAL_LOCK_STATUSES))
    @pytest.mark.parametrize("target", list(LockStatus))
    def test_terminal_never_changes(self, current: LockStatus, target: LockStatus) -> None:
        with pytest.raises(LockTransitionError):
            check_lock_transition(current, target)


class TestLifeCycle:
    def test_lock_then_full_credit(self, ledger: LedgerModel) -> None:
        locked = ledger.lock("k1", grn=GRN, amount=D("300.00"), state="KZ", on=ON)
        assert locked.balance == Balance(D(1000), D(300), D(0), D(700))
        assert locked.lock.status is LockStatus.PENDING
        credited = ledger.credit("k2", lock_id="k1")
        assert credited.lock.status is LockStatus.CREDITED
        assert credited.balance == Balance.opening(D(1000))

    def test_partial_credit_keeps_the_rest_locked_until_posted(self, ledger: LedgerModel) -> None:
        # 300 locked; 120 delivered and credited; the missing 180 stays locked, then is posted.
        ledger.lock("k1", grn=GRN, amount=D("300.00"), state="KZ", on=ON)
        part = ledger.credit("k2", lock_id="k1", amount=D("120.00"))
        assert part.lock.status is LockStatus.PENDING
        assert (part.lock.held, part.lock.credited) == (D(180), D(120))
        assert part.balance == Balance(D(1000), D(180), D(0), D(820))
        posted = ledger.post("k3", lock_id="k1")
        assert posted.lock.status is LockStatus.POSTED
        assert (posted.lock.held, posted.lock.posted) == (D(0), D(180))
        assert posted.balance == Balance(D(1000), D(0), D(180), D(820))

    def test_partial_credits_that_add_up_complete_the_lock(self, ledger: LedgerModel) -> None:
        ledger.lock("k1", grn=GRN, amount=D("300.00"), state="KZ", on=ON)
        ledger.credit("k2", lock_id="k1", amount=D("100.00"))
        last = ledger.credit("k3", lock_id="k1", amount=D("200.00"))
        assert last.lock.status is LockStatus.CREDITED
        assert last.balance.available == D(1000)

    def test_credit_more_than_held(self, ledger: LedgerModel) -> None:
        ledger.lock("k1", grn=GRN, amount=D("300.00"), state="KZ", on=ON)
        with pytest.raises(AmountInvalid, match="exceeds"):
            ledger.credit("k2", lock_id="k1", amount=D("300.01"))

    def test_void_and_expire_release_everything(self, ledger: LedgerModel) -> None:
        ledger.lock("k1", grn=GRN, amount=D("300.00"), state="KZ", on=ON)
        ledger.lock("k2", grn=GRN, amount=D("200.00"), state="RU", on=ON)
        assert ledger.void("k3", lock_id="k1").lock.status is LockStatus.VOIDED
        expired = ledger.expire("k4", lock_id="k2")
        assert expired.lock.status is LockStatus.EXPIRED
        assert expired.lock.released == D(200)
        assert expired.balance == Balance.opening(D(1000))

    def test_no_void_after_partial_credit(self, ledger: LedgerModel) -> None:
        ledger.lock("k1", grn=GRN, amount=D("300.00"), state="KZ", on=ON)
        ledger.credit("k2", lock_id="k1", amount=D("1.00"))
        with pytest.raises(LockTransitionError, match="credited"):
            ledger.void("k3", lock_id="k1")

    def test_terminal_lock_refuses_further_commands(self, ledger: LedgerModel) -> None:
        ledger.lock("k1", grn=GRN, amount=D("300.00"), state="KZ", on=ON)
        ledger.post("k2", lock_id="k1")
        before = ledger.balance(GRN)
        with pytest.raises(LockTransitionError, match="from posted to credited"):
            ledger.credit("k3", lock_id="k1")
        assert ledger.balance(GRN) == before

    def test_insufficient_funds_changes_nothing(self, ledger: LedgerModel) -> None:
        ledger.lock("k1", grn=GRN, amount=D("900.00"), state="KZ", on=ON)
        with pytest.raises(InsufficientFunds):
            ledger.lock("k2", grn=GRN, amount=D("100.01"), state="KZ", on=ON)
        assert ledger.balance(GRN).available == D(100)
        assert [lk.lock_id for lk in ledger.locks(GRN)] == ["k1"]


class TestRefusals:
    @pytest.mark.parametrize(
        "status", [GuaranteeStatus.SUSPENDED, GuaranteeStatus.REVOKED, GuaranteeStatus.EXPIRED]
    )
    def test_not_active(self, ledger: LedgerModel, status: GuaranteeStatus) -> None:
        ledger.set_status(GRN, status)
        with pytest.raises(LockRefused, match=status.value):
            ledger.lock("k1", grn=GRN, amount=D(1), state="KZ", on=ON)

    @pytest.mark.parametrize("on", [date(2025, 12, 31), date(2027, 1, 1)])
    def test_outside_validity(self, ledger: LedgerModel, on: date) -> None:
        with pytest.raises(LockRefused, match=f"not valid on {on.isoformat()}"):
            ledger.lock("k1", grn=GRN, amount=D(1), state="KZ", on=on)

    def test_validity_bounds_are_inclusive(self, ledger: LedgerModel) -> None:
        ledger.lock("k1", grn=GRN, amount=D(1), state="KZ", on=date(2026, 1, 1))
        ledger.lock("k2", grn=GRN, amount=D(1), state="KZ", on=date(2026, 12, 31))
        assert ledger.balance(GRN).locked == D(2)

    def test_not_valid_in_state(self, ledger: LedgerModel) -> None:
        with pytest.raises(LockRefused, match="not valid in AM"):
            ledger.lock("k1", grn=GRN, amount=D(1), state="AM", on=ON)

    def test_single_guarantee_takes_one_lock_ever(self) -> None:
        model = LedgerModel()
        model.register(general(scope=GuaranteeScope.SINGLE))
        model.lock("k1", grn=GRN, amount=D(10), state="KZ", on=ON)
        model.credit("k2", lock_id="k1")
        with pytest.raises(LockRefused, match="already used"):
            model.lock("k3", grn=GRN, amount=D(10), state="KZ", on=ON)

    @pytest.mark.parametrize("amount", ["0", "-5", "0.001", "NaN", "Infinity", "1E+18"])
    def test_bad_amount(self, ledger: LedgerModel, amount: str) -> None:
        with pytest.raises(AmountInvalid):
            ledger.lock("k1", grn=GRN, amount=D(amount), state="KZ", on=ON)

    def test_unknown_guarantee_and_lock(self, ledger: LedgerModel) -> None:
        with pytest.raises(UnknownGuarantee):
            ledger.lock("k1", grn="nope", amount=D(1), state="KZ", on=ON)
        with pytest.raises(UnknownLock):
            ledger.credit("k2", lock_id="nope")

    def test_bad_guarantee_definitions(self) -> None:
        with pytest.raises(LedgerError, match="before valid_from"):
            general(valid_to=date(2025, 1, 1))
        with pytest.raises(LedgerError, match="valid in no state"):
            general(valid_states=frozenset())
        with pytest.raises(AmountInvalid, match="'XXX'"):
            general(currency="XXX")

    def test_register_twice(self, ledger: LedgerModel) -> None:
        with pytest.raises(LedgerError, match="already registered"):
            ledger.register(general())


class TestIdempotency:
    def test_same_key_same_request_same_result(self, ledger: LedgerModel) -> None:
        first = ledger.lock("k1", grn=GRN, amount=D("300.00"), state="KZ", on=ON)
        again = ledger.lock("k1", grn=GRN, amount=D("300"), state="KZ", on=date(2026, 3, 9))
        assert again == first
        assert ledger.balance(GRN).locked == D(300)

    def test_replay_after_later_changes_returns_the_first_answer(self, ledger: LedgerModel) -> None:
        ledger.lock("k1", grn=GRN, amount=D("300.00"), state="KZ", on=ON)
        partial = ledger.credit("k2", lock_id="k1", amount=D("100.00"))
        ledger.post("k3", lock_id="k1")
        assert ledger.credit("k2", lock_id="k1", amount=D("100.00")) == partial
        assert ledger.balance(GRN) == Balance(D(1000), D(0), D(200), D(800))

    @pytest.mark.parametrize(
        "call",
        [
            lambda m: m.lock("k1", grn=GRN, amount=D("300.01"), state="KZ", on=ON),
            lambda m: m.lock("k1", grn=GRN, amount=D("300.00"), state="RU", on=ON),
            lambda m: m.credit("k1", lock_id="k1"),
        ],
        ids=["other amount", "other state", "other command"],
    )
    def test_same_key_different_request(self, ledger: LedgerModel, call: object) -> None:
        ledger.lock("k1", grn=GRN, amount=D("300.00"), state="KZ", on=ON)
        with pytest.raises(IdempotencyConflict, match="'k1'"):
            call(ledger)  # type: ignore[operator]
        assert ledger.balance(GRN).locked == D(300)

    def test_refused_command_is_not_remembered(self, ledger: LedgerModel) -> None:
        ledger.lock("k1", grn=GRN, amount=D("900.00"), state="KZ", on=ON)
        with pytest.raises(InsufficientFunds):
            ledger.lock("k2", grn=GRN, amount=D("500.00"), state="KZ", on=ON)
        ledger.credit("k3", lock_id="k1")
        retried = ledger.lock("k2", grn=GRN, amount=D("500.00"), state="KZ", on=ON)
        assert retried.balance.locked == D(500)
