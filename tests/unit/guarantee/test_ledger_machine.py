"""Random command sequences against the in-memory ledger, with its invariants checked after each.

Properties: available never below zero and always reference − locked − posted; the ledger's
totals equal the sums over its locks and the machine's own bookkeeping, to the cent; a lock
leaves PENDING once and its terminal status never changes; replaying any successful command
with its key returns the first answer and changes nothing; the same key with another request
is refused and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from silkway.guarantees.domain.guarantee import (
    TERMINAL_LOCK_STATUSES,
    Guarantee,
    GuaranteeMethod,
    GuaranteeScope,
    GuaranteeStatus,
    IdempotencyConflict,
    LedgerError,
    LedgerModel,
    LockStatus,
    Outcome,
)

ON = date(2026, 6, 1)
GENERAL, SINGLE = "26KZ000000000001A", "26RU000000000002B"
CENT = Decimal("0.01")

cents = st.integers(min_value=1, max_value=60_000).map(lambda c: Decimal(c) * CENT)
references = st.integers(min_value=10_000, max_value=200_000).map(lambda c: Decimal(c) * CENT)
states = st.sampled_from(["KZ", "RU", "BY", "AM"])


def guarantee(grn: str, scope: GuaranteeScope, reference: Decimal) -> Guarantee:
    return Guarantee(
        grn=grn,
        method=GuaranteeMethod.BANK_GUARANTEE,
        scope=scope,
        status=GuaranteeStatus.ACTIVE,
        reference_amount=reference,
        currency="EUR",
        valid_from=date(2026, 1, 1),
        valid_to=None,
        valid_states=frozenset({"KZ", "RU", "BY"}),
    )


@dataclass(frozen=True)
class Done:
    """A command that succeeded, kept to be replayed."""

    method: str
    key: str
    kwargs: dict[str, Any]
    outcome: Outcome


class LedgerMachine(RuleBasedStateMachine):
    locks = Bundle("locks")

    def __init__(self) -> None:
        super().__init__()
        self.ledger = LedgerModel()
        self.done: list[Done] = []
        self.next_key = 0
        self.terminal: dict[str, LockStatus] = {}
        # The machine's own totals, from the amounts it asked for, not from the ledger.
        self.expected_locked: dict[str, Decimal] = {}
        self.expected_posted: dict[str, Decimal] = {}

    def key(self) -> str:
        self.next_key += 1
        return f"key-{self.next_key}"

    def snapshot(self) -> tuple[object, ...]:
        m = self.ledger
        return (
            tuple(m.guarantees()),
            tuple(m.balance(g.grn) for g in m.guarantees()),
            tuple(m.locks()),
        )

    def run(self, method: str, kwargs: dict[str, Any]) -> Outcome | None:
        """Run a command; on a refusal check that nothing changed and return ``None``."""
        before = self.snapshot()
        key = self.key()
        try:
            outcome: Outcome = getattr(self.ledger, method)(key, **kwargs)
        except LedgerError:
            assert self.snapshot() == before
            return None
        self.done.append(Done(method, key, kwargs, outcome))
        return outcome

    @initialize(general=references, single=references)
    def open_guarantees(self, general: Decimal, single: Decimal) -> None:
        for grn, scope, reference in (
            (GENERAL, GuaranteeScope.GENERAL, general),
            (SINGLE, GuaranteeScope.SINGLE, single),
        ):
            self.ledger.register(guarantee(grn, scope, reference))
            self.expected_locked[grn] = Decimal(0)
            self.expected_posted[grn] = Decimal(0)

    @rule(target=locks, grn=st.sampled_from([GENERAL, SINGLE]), amount=cents, state=states)
    def lock(self, grn: str, amount: Decimal, state: str) -> Any:
        g = self.ledger.guarantee(grn)
        available = self.ledger.balance(grn).available
        already = bool(self.ledger.locks(grn))
        refused = (
            g.status is not GuaranteeStatus.ACTIVE
            or state not in g.valid_states
            or (g.scope is GuaranteeScope.SINGLE and already)
        )
        outcome = self.run("lock", {"grn": grn, "amount": amount, "state": state, "on": ON})
        if outcome is None:
            assert refused or amount > available
            return multiple()
        assert not refused
        assert amount <= available
        self.expected_locked[grn] += amount
        return outcome.lock.lock_id

    @rule(lock_id=locks, part=st.none() | cents)
    def credit(self, lock_id: str, part: Decimal | None) -> None:
        lock = self.ledger.get_lock(lock_id)
        outcome = self.run("credit", {"lock_id": lock_id, "amount": part})
        if outcome is None:
            assert lock.status is not LockStatus.PENDING or (part is not None and part > lock.held)
            return
        credited = lock.held if part is None else part
        self.expected_locked[lock.grn] -= credited
        assert outcome.lock.credited == lock.credited + credited

    @rule(lock_id=locks, method=st.sampled_from(["void", "post", "expire"]))
    def finish(self, lock_id: str, method: str) -> None:
        lock = self.ledger.get_lock(lock_id)
        outcome = self.run(method, {"lock_id": lock_id})
        if outcome is None:
            assert lock.status is not LockStatus.PENDING or (method == "void" and lock.credited)
            return
        assert lock.status is LockStatus.PENDING
        assert not (method == "void" and lock.credited)
        assert outcome.lock.status in TERMINAL_LOCK_STATUSES
        self.expected_locked[lock.grn] -= lock.held
        if method == "post":
            self.expected_posted[lock.grn] += lock.held

    # Mostly ACTIVE, so that locks are tried against a usable guarantee most of the time.
    @rule(status=st.sampled_from([GuaranteeStatus.ACTIVE] * 3 + list(GuaranteeStatus)))
    def change_status(self, status: GuaranteeStatus) -> None:
        self.ledger.set_status(GENERAL, status)

    @precondition(lambda self: self.done)
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        done = data.draw(st.sampled_from(self.done))
        before = self.snapshot()
        again = getattr(self.ledger, done.method)(done.key, **done.kwargs)
        assert again == done.outcome
        assert self.snapshot() == before

    @precondition(lambda self: self.done)
    @rule(data=st.data())
    def reuse_key_for_another_request(self, data: st.DataObject) -> None:
        done = data.draw(st.sampled_from(self.done))
        method, kwargs = done.method, dict(done.kwargs)
        if method in ("lock", "credit"):
            kwargs["amount"] = (kwargs["amount"] or Decimal(0)) + CENT
        else:
            method = {"void": "post", "post": "expire", "expire": "void"}[method]
        before = self.snapshot()
        with pytest.raises(IdempotencyConflict):
            getattr(self.ledger, method)(done.key, **kwargs)
        assert self.snapshot() == before

    @invariant()
    def balances_hold(self) -> None:
        for g in self.ledger.guarantees():
            b = self.ledger.balance(g.grn)
            locks = self.ledger.locks(g.grn)
            assert b.available >= 0
            assert b.available == g.reference_amount - b.locked - b.posted
            assert b.locked == sum((lk.held for lk in locks), Decimal(0))
            assert b.posted == sum((lk.posted for lk in locks), Decimal(0))
            assert b.locked == self.expected_locked[g.grn]
            assert b.posted == self.expected_posted[g.grn]

    @invariant()
    def locks_add_up_and_end_once(self) -> None:
        for lk in self.ledger.locks():
            assert lk.amount == lk.held + lk.credited + lk.posted + lk.released
            if lk.status is LockStatus.PENDING:
                assert lk.held > 0
                assert lk.lock_id not in self.terminal
            else:
                assert lk.held == 0
                assert self.terminal.setdefault(lk.lock_id, lk.status) is lk.status

    def teardown(self) -> None:
        # Whatever is still pending expires: every lock then has exactly one terminal status.
        for lk in self.ledger.locks():
            if lk.status is LockStatus.PENDING:
                self.ledger.expire(self.key(), lock_id=lk.lock_id)
        for g in self.ledger.guarantees():
            b = self.ledger.balance(g.grn)
            assert b.locked == 0
            assert b.available == g.reference_amount - self.expected_posted[g.grn]
        assert all(lk.status in TERMINAL_LOCK_STATUSES for lk in self.ledger.locks())


LedgerMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestLedgerMachine = LedgerMachine.TestCase
