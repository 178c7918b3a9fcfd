"""Many clients racing on one general guarantee: never over-committed, totals exact to the cent.

Run on SQLite and on a real PostgreSQL server, through both ways a lock is placed: one
transaction per lock, and the batcher that applies many per transaction.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from tests.integration.guarantees.guarantee_support import register, western

from silkway.bootstrap import Node
from silkway.guarantees import service as guarantees
from silkway.guarantees.domain.guarantee import InsufficientFunds, LedgerError, LockStatus, Outcome
from silkway.kernel.errors import SecurityShortfall
from silkway.node.clock import ManualClock
from silkway.transit import service as transit
from silkway.transit.domain.movement import Accept, Release

WORKERS = 32
CENT = Decimal("0.01")


def _lock(n: Node, key: str, grn: str, amount: Decimal, batched: bool) -> Outcome:
    command = guarantees.LockCommand(key=key, grn=grn, amount=amount, currency="EUR")
    if batched:
        return guarantees.lock(n.guarantees, command)
    return guarantees.lock_now(n.guarantees, command)


def _race(count: int, work: Callable[[int], object]) -> list[object]:
    """Run ``work(i)`` for every i on WORKERS threads released at the same moment."""
    start = threading.Barrier(min(count, WORKERS))

    def run(i: int) -> object:
        if i < WORKERS:
            start.wait()
        try:
            return work(i)
        except LedgerError as exc:
            return exc

    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(run, range(count)))


@pytest.mark.parametrize("batched", [False, True], ids=["one-per-transaction", "batched"])
def test_a_hundred_locks_race_for_the_last_ten_thousand(node: Node, batched: bool) -> None:
    g = register(node, "10000.00")
    rng = random.Random(7)
    amounts = [Decimal(rng.randint(5_000, 40_000)) * CENT for _ in range(100)]

    answers = _race(100, lambda i: _lock(node, f"race-{i}", g.grn, amounts[i], batched))

    won = [a for a in answers if isinstance(a, Outcome)]
    refused = [(amounts[i], a) for i, a in enumerate(answers) if not isinstance(a, Outcome)]
    assert all(isinstance(a, InsufficientFunds) for _, a in refused)
    balance = guarantees.balance(node.guarantees, g.grn).record.balance
    assert balance.locked == sum((o.lock.amount for o in won), Decimal(0))
    assert balance.locked <= Decimal("10000.00")
    # Locks only ever took from it: whatever was refused did not fit even at the end, so
    # exactly the requests that fitted succeeded.
    assert all(amount > balance.available for amount, _ in refused)
    assert won
    assert refused
    # Each answer names the balance right after it; together they are one serial history.
    locked_after = sorted(o.balance.locked for o in won)
    assert locked_after[-1] == balance.locked
    assert len(set(locked_after)) == len(won)


@dataclass
class _Tally:
    """What the clients themselves saw succeed, to check the ledger against."""

    lock = threading.Lock()
    locked: Decimal = Decimal(0)
    credited: Decimal = Decimal(0)
    voided: Decimal = Decimal(0)
    refusals: list[LedgerError] = field(default_factory=list)

    def add(self, name: str, amount: Decimal) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + amount)


def test_workers_racing_locks_credits_and_voids_stay_exact(node: Node) -> None:
    g = register(node, "5000.00")
    tally = _Tally()

    def client(worker: int) -> None:
        rng = random.Random(worker)
        for step in range(6):
            amount = Decimal(rng.randint(100, 60_000)) * CENT
            key = f"w{worker}-{step}"
            try:
                outcome = _lock(node, key, g.grn, amount, batched=step % 2 == 1)
            except LedgerError as exc:
                tally.refusals.append(exc)
                continue
            tally.add("locked", amount)
            ctx = node.guarantees
            match rng.randrange(3):
                case 0:
                    part = min(amount, Decimal(rng.randint(1, 60_000)) * CENT)
                    guarantees.credit(ctx, f"{key}-c", outcome.lock.lock_id, part)
                    tally.add("credited", part)
                case 1:
                    guarantees.void(ctx, f"{key}-v", outcome.lock.lock_id)
                    tally.add("voided", amount)
                case _:
                    pass  # stays held

    answers = _race(WORKERS, client)

    assert not [a for a in answers if isinstance(a, Exception)]
    assert all(isinstance(r, InsufficientFunds) for r in tally.refusals)
    view = guarantees.balance(node.guarantees, g.grn)
    balance = view.record.balance
    assert balance.locked == tally.locked - tally.credited - tally.voided
    assert balance.posted == 0
    assert balance.available == Decimal("5000.00") - balance.locked
    with node.transit.uow() as uow:
        locks = uow.guarantees.locks(grn=g.grn)
        history = uow.guarantees.history(g.grn, limit=100_000)
    assert balance.locked == sum((found.lock.held for found in locks), Decimal(0))
    assert {found.lock.status for found in locks} <= {
        LockStatus.PENDING,
        LockStatus.CREDITED,
        LockStatus.VOIDED,
    }
    # At no point in its history was the guarantee over-committed.
    assert all(entry.balance.available >= 0 for entry in history)
    assert history[-1].balance == balance
    assert len(history) == 1 + len(locks) + sum(
        1 for found in locks if found.lock.credited or found.lock.released
    )


def test_releases_racing_for_a_guarantee_take_exactly_what_fits(
    node: Node, clock: ManualClock
) -> None:
    g = register(node, "500000.00")
    movements = []
    for i in range(12):
        m = transit.lodge_declaration(node.transit, western(clock, f"LRN-RACE-{i}")).movement
        movements.append(transit.act(node.transit, m.reference, Accept()))
    decl = movements[0].declaration

    def release(i: int) -> object:
        try:
            return transit.act(
                node.transit,
                movements[i].reference,
                Release(decl.security[0].reference, decl.departure_office),
            )
        except SecurityShortfall as exc:
            return exc

    answers = _race(len(movements), release)

    released = [a for a in answers if not isinstance(a, SecurityShortfall)]
    refused = [a for a in answers if isinstance(a, SecurityShortfall)]
    assert all(r.violations[0].code == "insufficient-funds" for r in refused)
    balance = guarantees.balance(node.guarantees, g.grn)
    amount = balance.usages[0].lock.amount
    # Every release needs the same amount: as many as fit were released, no more.
    assert len(released) == int(Decimal("500000.00") // amount)
    assert balance.record.balance.locked == len(released) * amount
    assert {u.movement_reference for u in balance.usages} == {m.reference for m in released}
