"""Guarantors, holders, guarantees and authorisations on SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from silkway.guarantees.db.repository.rows import (
    _GUARANTEE,
    INSERT_ENTRIES,
    MAY_QUOTE,
    Connected,
    _bp,
    _entry,
    _g,
    _pct,
    record_of,
    states_column,
    to_units,
)
from silkway.guarantees.db.tables import (
    guarantee_authorisations,
    guarantee_holders,
    guarantees,
    guarantors,
)
from silkway.guarantees.domain.guarantee import (
    GuaranteeStatus,
    Guarantor,
    GuarantorKind,
    Holder,
)
from silkway.guarantees.ports import (
    GuaranteeRecord,
    NewAccount,
)
from silkway.node.ports import DuplicateKey


class SqlGuaranteeRegistry(Connected):
    def add_guarantor(self, guarantor: Guarantor, at: datetime, actor: str) -> None:
        try:
            self._conn.execute(
                insert(guarantors),
                {
                    "guarantor_id": guarantor.guarantor_id,
                    "name": guarantor.name,
                    "kind": guarantor.kind.value,
                    "country": guarantor.country,
                    "national_guarantor": guarantor.national_guarantor,
                    "reduction_bp": _bp(guarantor.reduction_pct),
                    "registered_at": at,
                    "registered_by": actor,
                },
            )
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from exc

    @staticmethod
    def _guarantor_of(row: Any) -> Guarantor:
        return Guarantor(
            guarantor_id=row.guarantor_id,
            name=row.name,
            kind=GuarantorKind(row.kind),
            country=row.country,
            national_guarantor=row.national_guarantor,
            reduction_pct=_pct(row.reduction_bp),
        )

    def guarantor(self, guarantor_id: str) -> Guarantor | None:
        row = self._conn.execute(
            select(guarantors).where(guarantors.c.guarantor_id == guarantor_id)
        ).first()
        return None if row is None else self._guarantor_of(row)

    def guarantors(self) -> list[Guarantor]:
        rows = self._conn.execute(select(guarantors).order_by(guarantors.c.guarantor_id))
        return [self._guarantor_of(r) for r in rows]

    def put_holder(self, holder: Holder, at: datetime, actor: str) -> None:
        values = {
            "name": holder.name,
            "country": holder.country,
            "qualified": holder.qualified,
            "changed_by": actor,
        }
        changed = self._conn.execute(
            update(guarantee_holders)
            .where(guarantee_holders.c.holder_id == holder.holder_id)
            .values(**values)
        )
        if changed.rowcount:
            return
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    insert(guarantee_holders),
                    {"holder_id": holder.holder_id, "registered_at": at, **values},
                )
        except IntegrityError:
            # Registered by a concurrent transaction meanwhile: update that row instead.
            self._conn.execute(
                update(guarantee_holders)
                .where(guarantee_holders.c.holder_id == holder.holder_id)
                .values(**values)
            )

    def holder(self, holder_id: str) -> Holder | None:
        row = self._conn.execute(
            select(guarantee_holders).where(guarantee_holders.c.holder_id == holder_id)
        ).first()
        if row is None:
            return None
        return Holder(row.holder_id, row.name, row.country, row.qualified)

    def add_account(self, account: NewAccount) -> None:
        gt = account.guarantee
        reference = to_units(gt.reference_amount)
        try:
            self._conn.execute(
                insert(guarantees),
                {
                    "grn": gt.grn,
                    "account_kind": account.account_kind.value,
                    "method": gt.method.value,
                    "scope": gt.scope.value,
                    "status": gt.status.value,
                    "status_reason": None,
                    "currency": gt.currency,
                    "reference_amount": reference,
                    "locked": 0,
                    "posted": 0,
                    "locks_placed": 0,
                    "valid_from": gt.valid_from,
                    "valid_to": gt.valid_to,
                    "valid_states": states_column(gt.valid_states),
                    "guarantor_id": account.guarantor_id,
                    "holder_id": account.holder_id,
                    "access_code_hash": account.access_code_hash,
                    "home_state": account.home_state,
                    "registered_at": account.at,
                },
            )
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from exc
        self._conn.execute(
            INSERT_ENTRIES,
            _entry(
                key=None,
                grn=gt.grn,
                kind="register",
                balance=(reference, 0, 0),
                at=account.at,
                actor=account.actor,
                note=f"{account.account_kind.value} registered, {gt.scope.value}, {gt.currency}",
            ),
        )

    def guarantee(self, grn: str) -> GuaranteeRecord | None:
        row = self._conn.execute(_GUARANTEE, {"g_grn": grn}).first()
        return None if row is None else record_of(row)

    def search_guarantees(
        self,
        *,
        guarantor_id: str | None = None,
        holder_id: str | None = None,
        status: GuaranteeStatus | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[GuaranteeRecord]:
        query = select(guarantees)
        if guarantor_id is not None:
            query = query.where(_g.guarantor_id == guarantor_id)
        if holder_id is not None:
            query = query.where(_g.holder_id == holder_id)
        if status is not None:
            query = query.where(_g.status == status.value)
        rows = self._conn.execute(query.order_by(_g.grn).offset(offset).limit(limit))
        return [record_of(r) for r in rows]

    def set_status(
        self,
        grn: str,
        status: GuaranteeStatus,
        *,
        expected: GuaranteeStatus,
        reason: str | None,
        at: datetime,
        actor: str,
    ) -> GuaranteeRecord | None:
        row = self._conn.execute(
            update(guarantees)
            .where(_g.grn == grn, _g.status == expected.value)
            .values(status=status.value, status_reason=reason)
            .returning(guarantees)
        ).first()
        if row is None:
            return None
        self._conn.execute(
            INSERT_ENTRIES,
            _entry(
                key=None,
                grn=grn,
                kind=status.value,
                balance=(row.reference_amount, row.locked, row.posted),
                at=at,
                actor=actor,
                note=reason,
            ),
        )
        return record_of(row)

    def authorise(self, grn: str, holder_id: str, at: datetime) -> bool:
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    insert(guarantee_authorisations),
                    {"grn": grn, "holder_id": holder_id, "granted_at": at},
                )
        except IntegrityError:
            return False
        return True

    def withdraw_authorisation(self, grn: str, holder_id: str) -> bool:
        a = guarantee_authorisations.c
        done = self._conn.execute(
            guarantee_authorisations.delete().where(a.grn == grn, a.holder_id == holder_id)
        )
        return bool(done.rowcount)

    def record_change(self, grn: str, kind: str, *, at: datetime, actor: str, note: str) -> None:
        row = self._conn.execute(
            select(_g.reference_amount, _g.locked, _g.posted).where(_g.grn == grn)
        ).one()
        self._conn.execute(
            INSERT_ENTRIES,
            _entry(key=None, grn=grn, kind=kind, balance=tuple(row), at=at, actor=actor, note=note),
        )

    def authorised_holders(self, grn: str) -> list[str]:
        a = guarantee_authorisations.c
        rows = self._conn.execute(select(a.holder_id).where(a.grn == grn).order_by(a.holder_id))
        return [r[0] for r in rows]

    def may_quote(self, grn: str, holder_id: str) -> bool:
        return self._conn.execute(MAY_QUOTE, {"grn": grn, "holder": holder_id}).first() is not None
