"""What an operator must see, on SQL: the ledger's problems and wrong access codes quoted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select

from silkway.guarantees.db.repository.rows import Connected
from silkway.guarantees.db.tables import guarantee_access_failures, guarantee_problems
from silkway.guarantees.ports import LedgerProblem
from silkway.node.db.tables import ACTOR_LENGTH
from silkway.node.db.values import utc

_pr = guarantee_problems.c
_af = guarantee_access_failures.c


class SqlProblemStore(Connected):
    def add_problem(self, problem: LedgerProblem) -> None:
        self._conn.execute(
            insert(guarantee_problems),
            {
                "kind": problem.kind,
                "grn": problem.grn,
                "lock_id": problem.lock_id,
                "movement_reference": problem.movement_reference,
                "message": problem.message[:1000],
                "at": problem.at,
            },
        )

    def problems(self, *, offset: int = 0, limit: int = 100) -> list[LedgerProblem]:
        rows = self._conn.execute(
            select(guarantee_problems).order_by(_pr.id.desc()).offset(offset).limit(limit)
        )
        return [
            LedgerProblem(
                kind=row.kind,
                message=row.message,
                at=utc(row.at),
                grn=row.grn,
                lock_id=row.lock_id,
                movement_reference=row.movement_reference,
                problem_id=int(row.id),
            )
            for row in rows
        ]

    def count_problems(self) -> int:
        return int(
            self._conn.execute(select(func.count()).select_from(guarantee_problems)).scalar_one()
        )

    def add_access_failure(self, grn: str, at: datetime, actor: str) -> None:
        self._conn.execute(
            insert(guarantee_access_failures), {"grn": grn, "at": at, "actor": actor[:ACTOR_LENGTH]}
        )

    def access_failures(self, grn: str, *, since: datetime) -> list[datetime]:
        rows = self._conn.execute(
            select(_af.at).where(_af.grn == grn, _af.at > since).order_by(_af.at, _af.id)
        )
        return [utc(row[0]) for row in rows]
