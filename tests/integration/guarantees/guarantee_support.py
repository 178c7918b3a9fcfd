"""Helpers for the guarantee tests: a registered guarantee, the western-road declaration, and
a count of ledger rows (to show that a refusal stored nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select

from silkway.bootstrap import Node
from silkway.examples import example_declaration
from silkway.guarantees import service as guarantees
from silkway.guarantees.db import tables as tg
from silkway.guarantees.domain.guarantee import (
    GuaranteeMethod,
    GuaranteeScope,
    GuarantorKind,
    Holder,
)
from silkway.node.clock import ManualClock
from silkway.transit.domain.declaration import TransitDeclaration


@dataclass(frozen=True)
class Registered:
    grn: str
    access_code: str
    holder_id: str
    guarantor_id: str


def western(clock: ManualClock, lrn: str = "LRN-G-1") -> TransitDeclaration:
    """The western-road example (KZ → RU → BY), dated today, under ``lrn``."""
    decl = example_declaration("western-road", clock.now().date())
    return decl.model_copy(update={"lrn": lrn})


def domestic(clock: ManualClock, lrn: str = "LRN-G-D") -> TransitDeclaration:
    """The western-road goods under transit from Khorgos to Almaty, inside Kazakhstan: the one
    node of departure records the whole journey itself, its arrival included."""
    return western(clock, lrn).model_copy(
        update={
            "destination_office": "75001",
            "route": ["KZ"],
            "intermediate_offices": [],
            "border_points": [],
            "corridor": None,
        }
    )


def register(
    n: Node,
    amount: str,
    *,
    declaration: TransitDeclaration | None = None,
    scope: GuaranteeScope = GuaranteeScope.GENERAL,
    national_pct: Decimal | None = None,
    qualified: bool = False,
    currency: str = "EUR",
) -> Registered:
    """Register, at ``n``, a guarantee for the declarant of ``declaration`` (western-road by
    default) under the GRN and access code that declaration quotes."""
    decl = declaration or example_declaration("western-road", n.transit.clock.now().date())
    ctx = n.guarantees
    guarantor = guarantees.register_guarantor(
        ctx,
        name="Halyk Bank",
        kind=GuarantorKind.BANK,
        country=n.state,
        national_guarantor=national_pct is not None,
        reduction_pct=national_pct or Decimal(0),
    )
    party = decl.declarant
    guarantees.register_holder(
        ctx, Holder(party.identification, party.name, party.country, qualified)
    )
    security = decl.security[0]
    done = guarantees.register_guarantee(
        ctx,
        guarantees.GuaranteeApplication(
            method=GuaranteeMethod.BANK_GUARANTEE,
            scope=scope,
            reference_amount=Decimal(amount),
            currency=currency,
            guarantor_id=guarantor.guarantor_id,
            holder_id=party.identification,
            grn=security.reference,
            access_code=security.access_code,
        ),
    )
    return Registered(
        done.record.grn, done.access_code, party.identification, guarantor.guarantor_id
    )


def ledger_rows(n: Node) -> dict[str, int]:
    """How many rows each ledger table holds (to show that a refusal stored nothing)."""
    tables = (
        tg.guarantees,
        tg.guarantee_locks,
        tg.guarantee_ledger,
        tg.guarantee_claims,
        tg.security_certificates,
        tg.guarantors,
        tg.guarantee_holders,
    )
    with n.engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in tables
        }
