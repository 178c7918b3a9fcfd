"""Claims on guarantees, recoveries and their distribution on SQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from silkway.guarantees.db.repository.rows import Connected, from_units, to_units
from silkway.guarantees.db.tables import (
    claim_recoveries,
    duty_distributions,
    guarantee_claims,
)
from silkway.guarantees.domain.distribution import ClaimLine, DistributionLine
from silkway.guarantees.domain.liability import Tax
from silkway.guarantees.ports import (
    Claim,
    DistributionTotal,
    Recovery,
)
from silkway.node.db.values import utc
from silkway.node.ports import DuplicateKey


class SqlClaimStore(Connected):
    def add_claim(self, claim: Claim) -> None:
        try:
            self._conn.execute(
                insert(guarantee_claims),
                {
                    "claim_id": claim.claim_id,
                    "lock_id": claim.lock_id,
                    "grn": claim.grn,
                    "movement_reference": claim.movement_reference,
                    "claim_date": claim.claim_date,
                    "currency": claim.currency,
                    "amount": to_units(claim.amount),
                    "recovered": to_units(claim.recovered),
                    "debt": [
                        {
                            "tax": line.tax.value,
                            "state": line.state,
                            "amount": str(line.amount),
                            "currency": line.currency,
                        }
                        for line in claim.debt
                    ],
                    "created_at": claim.created_at,
                },
            )
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from exc

    @staticmethod
    def _claim_of(row: Any) -> Claim:
        return Claim(
            claim_id=row.claim_id,
            lock_id=row.lock_id,
            grn=row.grn,
            movement_reference=row.movement_reference,
            claim_date=row.claim_date,
            currency=row.currency,
            amount=from_units(row.amount),
            recovered=from_units(row.recovered),
            debt=tuple(
                ClaimLine(Tax(d["tax"]), Decimal(d["amount"]), d["currency"], d["state"])
                for d in row.debt
            ),
            created_at=utc(row.created_at),
        )

    def claim(self, claim_id: str) -> Claim | None:
        row = self._conn.execute(
            select(guarantee_claims).where(guarantee_claims.c.claim_id == claim_id)
        ).first()
        return None if row is None else self._claim_of(row)

    def claims(self, *, open_only: bool = False, offset: int = 0, limit: int = 100) -> list[Claim]:
        gc = guarantee_claims.c
        query = select(guarantee_claims)
        if open_only:
            query = query.where(gc.recovered < gc.amount)
        rows = self._conn.execute(
            query.order_by(gc.created_at, gc.claim_id).offset(offset).limit(limit)
        )
        return [self._claim_of(r) for r in rows]

    def add_recovery(self, recovery: Recovery) -> bool:
        gc = guarantee_claims.c
        amount = to_units(recovery.amount)
        done = self._conn.execute(
            update(guarantee_claims)
            .where(gc.claim_id == recovery.claim_id, gc.recovered + amount <= gc.amount)
            .values(recovered=gc.recovered + amount)
        )
        if not done.rowcount:
            return False
        try:
            self._conn.execute(
                insert(claim_recoveries),
                {
                    "recovery_key": recovery.key,
                    "claim_id": recovery.claim_id,
                    "amount": amount,
                    "recovered_on": recovery.recovered_on,
                    "at": recovery.at,
                },
            )
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from exc
        if recovery.lines:
            self._conn.execute(
                insert(duty_distributions),
                [
                    {
                        "recovery_key": recovery.key,
                        "claim_id": recovery.claim_id,
                        "recovered_on": recovery.recovered_on,
                        "state": line.state,
                        "tax": line.tax.value,
                        "currency": line.currency,
                        "amount": to_units(line.amount),
                        "basis": line.basis[:200],
                    }
                    for line in recovery.lines
                ],
            )
        return True

    def recovery(self, key: str) -> Recovery | None:
        row = self._conn.execute(
            select(claim_recoveries).where(claim_recoveries.c.recovery_key == key)
        ).first()
        if row is None:
            return None
        dd = duty_distributions.c
        lines = self._conn.execute(
            select(duty_distributions).where(dd.recovery_key == key).order_by(dd.id)
        )
        return Recovery(
            key=row.recovery_key,
            claim_id=row.claim_id,
            amount=from_units(row.amount),
            recovered_on=row.recovered_on,
            at=utc(row.at),
            lines=tuple(
                DistributionLine(d.state, Tax(d.tax), from_units(d.amount), d.currency, d.basis)
                for d in lines
            ),
        )

    def distribution_totals(self, start: date, end: date) -> list[DistributionTotal]:
        dd = duty_distributions.c
        rows = self._conn.execute(
            select(dd.state, dd.tax, dd.currency, func.sum(dd.amount).label("amount"))
            .where(dd.recovered_on >= start, dd.recovered_on <= end)
            .group_by(dd.state, dd.tax, dd.currency)
            .order_by(dd.state, dd.tax, dd.currency)
        )
        return [
            DistributionTotal(r.state, r.tax, r.currency, from_units(int(r.amount))) for r in rows
        ]

    def recovered_totals(self, start: date, end: date) -> dict[str, Decimal]:
        cr = claim_recoveries.c
        rows = self._conn.execute(
            select(guarantee_claims.c.currency, func.sum(cr.amount).label("amount"))
            .select_from(
                claim_recoveries.join(guarantee_claims, cr.claim_id == guarantee_claims.c.claim_id)
            )
            .where(cr.recovered_on >= start, cr.recovered_on <= end)
            .group_by(guarantee_claims.c.currency)
        )
        return {r.currency: from_units(int(r.amount)) for r in rows}
