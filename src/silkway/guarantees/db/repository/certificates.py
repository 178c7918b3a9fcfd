"""Security certificates on SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from silkway.guarantees.db.repository.rows import Connected, _bp, _pct, from_units, to_units
from silkway.guarantees.db.tables import security_certificates
from silkway.guarantees.domain.guarantee import CertificateKind
from silkway.guarantees.ports import Certificate
from silkway.node.db.values import utc
from silkway.node.ports import DuplicateKey


class SqlCertificateStore(Connected):
    def add_certificate(
        self, certificate: Certificate, *, access_code_hash: str | None = None
    ) -> None:
        c = certificate
        try:
            self._conn.execute(
                insert(security_certificates),
                {
                    "number": c.number,
                    "kind": c.kind.value,
                    "direction": c.direction,
                    "grn": c.grn,
                    "issued_by": c.issued_by,
                    "used_in": c.used_in,
                    "currency": c.currency,
                    "amount": to_units(c.amount),
                    "holder_id": c.holder_id,
                    "holder_qualified": c.holder_qualified,
                    "guarantor_reduction_bp": _bp(c.guarantor_reduction_pct),
                    "valid_from": c.valid_from,
                    "valid_to": c.valid_to,
                    "status": c.status,
                    "lock_id": c.lock_id,
                    "issued_at": c.issued_at,
                    "access_code_hash": access_code_hash,
                },
            )
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from exc

    @staticmethod
    def _certificate_of(row: Any) -> Certificate:
        return Certificate(
            number=row.number,
            kind=CertificateKind(row.kind),
            direction=row.direction,
            grn=row.grn,
            issued_by=row.issued_by,
            used_in=row.used_in,
            currency=row.currency,
            amount=from_units(row.amount),
            holder_id=row.holder_id,
            holder_qualified=row.holder_qualified,
            guarantor_reduction_pct=_pct(row.guarantor_reduction_bp),
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            status=row.status,
            issued_at=utc(row.issued_at),
            lock_id=row.lock_id,
        )

    def certificate(self, number: str) -> Certificate | None:
        row = self._conn.execute(
            select(security_certificates).where(security_certificates.c.number == number)
        ).first()
        return None if row is None else self._certificate_of(row)

    def certificate_access_code_hash(self, number: str) -> str | None:
        sc = security_certificates.c
        found = self._conn.execute(
            select(sc.access_code_hash).where(sc.number == number)
        ).scalar_one_or_none()
        return None if found is None else str(found)

    def certificates(self, *, grn: str | None = None) -> list[Certificate]:
        query = select(security_certificates)
        if grn is not None:
            query = query.where(security_certificates.c.grn == grn)
        rows = self._conn.execute(query.order_by(security_certificates.c.number))
        return [self._certificate_of(r) for r in rows]

    def set_certificate_status(self, number: str, status: str, *, expected: str) -> bool:
        sc = security_certificates.c
        done = self._conn.execute(
            update(security_certificates)
            .where(sc.number == number, sc.status == expected)
            .values(status=status)
        )
        return bool(done.rowcount)
