"""The lock batcher: many requests per transaction, each answered on its own."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

import pytest

from silkway.guarantees.batcher import LockBatcher
from silkway.guarantees.domain.guarantee import (
    Balance,
    InsufficientFunds,
    LedgerError,
    Lock,
    Outcome,
)
from silkway.guarantees.ports import LockRequest
from silkway.node.ports import DuplicateKey

AT = datetime(2026, 6, 1, tzinfo=UTC)


def request(key: str, amount: str = "10.00") -> LockRequest:
    return LockRequest(key, "G1", Decimal(amount), "EUR", "KZ", date(2026, 6, 1), AT, AT)


class FakeLedger:
    """Takes locks while the reference amount lasts; records how requests were grouped."""

    def __init__(self, reference: str = "100.00", duplicate_once: bool = False) -> None:
        self.available = Decimal(reference)
        self.batches: list[list[str]] = []
        self.committed: list[str] = []
        self.duplicate_once = duplicate_once
        self.gate = threading.Event()
        self.assumed_new: list[bool] = []

    def lock_many(
        self, requests: Sequence[LockRequest], *, assume_new: bool = False
    ) -> list[Outcome | LedgerError]:
        self.gate.wait(5)
        self.assumed_new.append(assume_new)
        self.batches.append([r.key for r in requests])
        if self.duplicate_once and len(requests) > 1:
            self.duplicate_once = False
            raise DuplicateKey("taken by a concurrent transaction")
        answers: list[Outcome | LedgerError] = []
        for r in requests:
            if r.amount > self.available:
                answers.append(InsufficientFunds(r.amount, self.available))
                continue
            self.available -= r.amount
            lock = Lock(r.key, r.grn, r.state, r.currency, r.amount, held=r.amount)
            answers.append(
                Outcome(lock, Balance.of(Decimal(100), 100 - self.available, Decimal(0)))
            )
        return answers


class FakeUow:
    def __init__(self, ledger: FakeLedger) -> None:
        self.guarantees = ledger

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def commit(self) -> None:
        self.guarantees.committed.extend(self.guarantees.batches[-1])


def batcher(ledger: FakeLedger, max_batch: int = 50) -> LockBatcher:
    return LockBatcher(lambda: FakeUow(ledger), max_batch=max_batch)  # type: ignore[arg-type,return-value]


def submit_all(b: LockBatcher, ledger: FakeLedger, requests: list[LockRequest]) -> list[Any]:
    ledger.gate.clear()
    futures = [b.submit(r) for r in requests]
    ledger.gate.set()
    out: list[Any] = []
    for f in futures:
        try:
            out.append(f.result(10))
        except LedgerError as exc:
            out.append(exc)
    return out


def test_queued_requests_share_transactions_and_each_gets_its_answer() -> None:
    ledger = FakeLedger("100.00")
    b = batcher(ledger)
    answers = submit_all(b, ledger, [request(f"k{i}", "15.00") for i in range(10)])
    b.close()
    assert [isinstance(a, Outcome) for a in answers] == [True] * 6 + [False] * 4
    assert all(isinstance(a, InsufficientFunds) for a in answers[6:])
    # The first request opens a batch; the others queued meanwhile go in the next ones.
    assert len(ledger.batches) < 10
    assert sorted(ledger.committed) == sorted(f"k{i}" for i in range(10))


def test_a_batch_that_cannot_commit_is_retried_request_by_request() -> None:
    ledger = FakeLedger("100.00", duplicate_once=True)
    b = batcher(ledger)
    answers = submit_all(b, ledger, [request(f"k{i}") for i in range(6)])
    b.close()
    assert all(isinstance(a, Outcome) for a in answers)
    refused = next(batch for batch in ledger.batches if len(batch) > 1)
    at = ledger.batches.index(refused)
    retried = ledger.batches[at + 1 :]
    assert retried[: len(refused)] == [[key] for key in refused]
    # A batch skips the look-up of earlier answers; a request retried alone makes it.
    assert ledger.assumed_new[at] is True
    assert ledger.assumed_new[at + 1 : at + 1 + len(refused)] == [False] * len(refused)
    assert sorted(ledger.committed) == sorted(f"k{i}" for i in range(6))


def test_an_unexpected_failure_reaches_every_caller_and_the_worker_goes_on() -> None:
    ledger = FakeLedger()
    calls = {"n": 0}

    def broken(
        requests: Sequence[LockRequest], *, assume_new: bool = False
    ) -> list[Outcome | LedgerError]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk on fire")
        return FakeLedger.lock_many(ledger, requests, assume_new=assume_new)

    ledger.lock_many = broken  # type: ignore[method-assign]
    ledger.gate.set()
    b = batcher(ledger)
    with pytest.raises(RuntimeError, match="disk on fire"):
        b.lock(request("k1"))
    assert b.lock(request("k2")).lock.lock_id == "k2"
    b.close()
    with pytest.raises(RuntimeError, match="closed"):
        b.submit(request("k3"))
