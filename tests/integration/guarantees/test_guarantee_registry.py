"""The registry: guarantors, holders, guarantees with a GRN and a hashed access code."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from tests.integration.guarantees.guarantee_support import ledger_rows

from silkway.bootstrap import Node
from silkway.guarantees import service as guarantees
from silkway.guarantees.access import verify_access_code
from silkway.guarantees.db.tables import guarantees as guarantee_rows
from silkway.guarantees.domain.guarantee import (
    GuaranteeMethod,
    GuaranteeScope,
    GuaranteeStatus,
    GuarantorKind,
    Holder,
    StatusChangeForbidden,
)
from silkway.kernel.codes import validate_grn


def application(**changes: object) -> guarantees.GuaranteeApplication:
    fields: dict[str, object] = {
        "method": GuaranteeMethod.SURETY,
        "scope": GuaranteeScope.GENERAL,
        "reference_amount": Decimal("500000.00"),
        "currency": "EUR",
        "guarantor_id": "KZ-GR000001",
        "holder_id": "210340012345",
    }
    fields.update(changes)
    return guarantees.GuaranteeApplication(**fields)  # type: ignore[arg-type]


@pytest.fixture
def kz(sqlite_node: Callable[[str], Node]) -> Node:
    n = sqlite_node("KZ")
    guarantees.register_guarantor(
        n.guarantees, name="Halyk Bank", kind=GuarantorKind.BANK, country="KZ"
    )
    guarantees.register_holder(n.guarantees, Holder("210340012345", "Silk Road LLP", "KZ"))
    return n


def test_registration_gives_a_checked_grn_and_keeps_only_the_access_code_hash(
    node: Node,
) -> None:
    g = guarantees.register_guarantor(
        node.guarantees,
        name="Halyk Bank",
        kind=GuarantorKind.BANK,
        country="KZ",
        national_guarantor=True,
        reduction_pct=Decimal(30),
    )
    guarantees.register_holder(node.guarantees, Holder("210340012345", "Silk Road", "KZ", True))
    done = guarantees.register_guarantee(node.guarantees, application(guarantor_id=g.guarantor_id))

    grn = done.record.grn
    assert len(grn) == 17
    assert grn[2:4] == "KZ"
    assert validate_grn(grn).valid
    with node.engine.connect() as conn:
        stored = conn.execute(
            select(guarantee_rows.c.access_code_hash).where(guarantee_rows.c.grn == grn)
        ).scalar_one()
    assert done.access_code not in stored
    assert verify_access_code(done.access_code, stored)
    view = guarantees.get_guarantee(node.guarantees, grn)
    assert view.guarantor == g
    assert view.holder is not None
    assert view.holder.qualified
    assert view.record.balance.available == Decimal("500000.00")
    assert view.record.guarantee.valid_states == frozenset({"AM", "BY", "KZ", "KG", "RU"})


def test_a_grn_is_taken_over_once(kz: Node) -> None:
    taken = application(grn="26KZ19201G0004171", access_code="4821")
    assert guarantees.register_guarantee(kz.guarantees, taken).access_code == "4821"
    before = ledger_rows(kz)
    with pytest.raises(guarantees.GuaranteeExists):
        guarantees.register_guarantee(kz.guarantees, taken)
    assert ledger_rows(kz) == before


def test_a_bad_application_names_every_fault_and_stores_nothing(kz: Node) -> None:
    before = ledger_rows(kz)
    bad = application(
        reference_amount=Decimal("10.001"),
        guarantor_id="nobody",
        holder_id="no-one",
        valid_from=date(2026, 6, 1),
        valid_to=date(2026, 5, 1),
        valid_states=frozenset({"KZ", "CN"}),
        grn="26RU10719R0055414",
        access_code="ab",
    )
    with pytest.raises(guarantees.RegistrationInvalid) as refused:
        guarantees.register_guarantee(kz.guarantees, bad)
    pointers = {v.pointer for v in refused.value.violations}
    assert pointers == {
        "/reference_amount",
        "/guarantor_id",
        "/holder_id",
        "/valid_to",
        "/valid_states",
        "/grn",
        "/access_code",
    }
    assert ledger_rows(kz) == before


def test_guarantor_reductions_are_checked(kz: Node) -> None:
    with pytest.raises(guarantees.RegistrationInvalid):
        guarantees.register_guarantor(
            kz.guarantees,
            name="Too Kind",
            kind=GuarantorKind.SURETY,
            country="KZ",
            national_guarantor=True,
            reduction_pct=Decimal(5),
        )
    with pytest.raises(guarantees.RegistrationInvalid):
        guarantees.register_guarantor(
            kz.guarantees, name="Plain", kind=GuarantorKind.INSURER, country="KZ",
            reduction_pct=Decimal(10),
        )  # fmt: skip


def test_status_changes_follow_the_table_and_are_kept_in_the_history(kz: Node) -> None:
    grn = guarantees.register_guarantee(kz.guarantees, application()).record.grn
    ctx = kz.guarantees
    guarantees.change_status(ctx, grn, GuaranteeStatus.SUSPENDED, reason="audit")
    guarantees.change_status(ctx, grn, GuaranteeStatus.ACTIVE)
    revoked = guarantees.change_status(ctx, grn, GuaranteeStatus.REVOKED, reason="bank failed")
    assert revoked.status_reason == "bank failed"
    with pytest.raises(StatusChangeForbidden):
        guarantees.change_status(ctx, grn, GuaranteeStatus.ACTIVE)
    kinds = [(e.kind, e.note) for e in guarantees.history(ctx, grn)]
    assert kinds[1:] == [("suspended", "audit"), ("active", None), ("revoked", "bank failed")]


def test_authorisations_and_the_commission_keeps_no_registry(
    kz: Node, sqlite_node: Callable[[str], Node]
) -> None:
    grn = guarantees.register_guarantee(kz.guarantees, application()).record.grn
    guarantees.register_holder(kz.guarantees, Holder("990340012345", "Forwarder", "KZ"))
    assert guarantees.authorise_holder(kz.guarantees, grn, "990340012345") == ["990340012345"]
    with pytest.raises(guarantees.RegistrationInvalid):
        guarantees.authorise_holder(kz.guarantees, grn, "unknown")
    assert guarantees.withdraw_authorisation(kz.guarantees, grn, "990340012345") == []
    eec = sqlite_node("EEC")
    with pytest.raises(guarantees.RegistrationInvalid, match="no guarantee registry"):
        guarantees.register_guarantor(
            eec.guarantees, name="X", kind=GuarantorKind.BANK, country="BE"
        )
