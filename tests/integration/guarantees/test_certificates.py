"""A guarantee registered at the Kazakh node secures a transit opened at the Russian node."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tests.conftest import START
from tests.integration.guarantees.guarantee_support import ledger_rows

from silkway.bootstrap import Node, build_node
from silkway.examples import example_declaration
from silkway.guarantees import certificates
from silkway.guarantees import service as guarantees
from silkway.guarantees.access import verify_access_code
from silkway.guarantees.domain.guarantee import (
    CertificateKind,
    GuaranteeMethod,
    GuaranteeScope,
    GuarantorKind,
    Holder,
    InsufficientFunds,
    LockStatus,
)
from silkway.guarantees.service import release_lock_id
from silkway.kernel.codes import validate_certificate_number
from silkway.kernel.errors import ActionInvalid, DeclarationInvalid
from silkway.node.clock import ManualClock
from silkway.settings import Settings
from silkway.transit import service as transit
from silkway.transit.domain.declaration import SecurityKind, SecurityReference, TransitDeclaration
from silkway.transit.domain.movement import Accept, Release


def carried(clock: ManualClock, number: str, code: str, lrn: str) -> TransitDeclaration:
    """The northern-rail example (lodged at the Russian node) secured by a certificate."""
    decl = example_declaration("northern-rail", clock.now().date())
    security = SecurityReference(kind=SecurityKind.CERTIFICATE, reference=number, access_code=code)
    return decl.model_copy(update={"lrn": lrn, "security": [security]})


def release(n: Node, decl: TransitDeclaration) -> str:
    m = transit.lodge_declaration(n.transit, decl).movement
    transit.act(n.transit, m.reference, Accept())
    transit.act(n.transit, m.reference, Release(decl.security[0].reference, decl.departure_office))
    return m.reference


@pytest.mark.parametrize("kind", list(CertificateKind))
def test_a_certificate_carries_a_kazakh_guarantee_to_a_russian_release(
    sqlite_node: Callable[[str], Node], clock: ManualClock, kind: CertificateKind
) -> None:
    kz, ru = sqlite_node("KZ"), sqlite_node("RU")
    holder = example_declaration("northern-rail", START.date()).declarant
    g = guarantees.register_guarantor(
        kz.guarantees, name="Kaspi Bank", kind=GuarantorKind.BANK, country="KZ"
    )
    guarantees.register_holder(
        kz.guarantees, Holder(holder.identification, holder.name, holder.country)
    )
    registered = guarantees.register_guarantee(
        kz.guarantees,
        guarantees.GuaranteeApplication(
            method=GuaranteeMethod.SURETY,
            scope=GuaranteeScope.GENERAL,
            reference_amount=Decimal("500000.00"),
            currency="EUR",
            guarantor_id=g.guarantor_id,
            holder_id=holder.identification,
        ),
    )
    grn = registered.record.grn

    done = certificates.issue_certificate(
        kz.guarantees,
        grn,
        kind=kind,
        amount=Decimal("200000.00"),
        used_in="RU",
        valid_to=clock.now().date() + timedelta(days=90),
    )
    issued, code = done.certificate, done.access_code
    assert validate_certificate_number(issued.number).valid
    assert issued.number[2:5] == "KZC"
    home = guarantees.balance(kz.guarantees, grn)
    assert home.record.balance.available == Decimal("300000.00")
    assert [u.lock.state for u in home.usages] == ["RU"]

    document = certificates.certificate_document(kz.guarantees, issued.number)
    # The document carries the certificate's own code's hash: the guarantee's stays at home.
    assert document.access_code_hash != registered.record.access_code_hash
    assert verify_access_code(code, document.access_code_hash)
    assert not verify_access_code(registered.access_code, document.access_code_hash)
    certificates.register_certificate(ru.guarantees, document)
    account = guarantees.balance(ru.guarantees, issued.number).record
    assert account.balance.reference_amount == Decimal("200000.00")

    first = release(ru, carried(clock, issued.number, code, "LRN-C-1"))
    held = guarantees.get_lock(ru.guarantees, release_lock_id(first)).lock
    assert held.grn == issued.number
    assert held.status is LockStatus.PENDING

    second = carried(clock, issued.number, code, "LRN-C-2")
    if kind is CertificateKind.ONE_OFF:
        with pytest.raises(ActionInvalid) as refused:
            release(ru, second)
        assert refused.value.violations[0].code == "lock-refused"
    else:
        release(ru, second)
        locked = guarantees.balance(ru.guarantees, issued.number).record.balance.locked
        assert locked == 2 * held.amount

    returned = certificates.return_certificate(kz.guarantees, issued.number)
    assert returned.status == certificates.RETURNED
    assert guarantees.balance(kz.guarantees, grn).record.balance.available == Decimal("500000.00")


def test_a_certificate_is_refused_beyond_the_guarantee_and_in_the_wrong_place(
    sqlite_node: Callable[[str], Node], clock: ManualClock
) -> None:
    kz, by = sqlite_node("KZ"), sqlite_node("BY")
    g = guarantees.register_guarantor(
        kz.guarantees, name="Kaspi Bank", kind=GuarantorKind.BANK, country="KZ"
    )
    guarantees.register_holder(kz.guarantees, Holder("H1", "Holder", "KZ"))
    grn = guarantees.register_guarantee(
        kz.guarantees,
        guarantees.GuaranteeApplication(
            method=GuaranteeMethod.SURETY,
            scope=GuaranteeScope.GENERAL,
            reference_amount=Decimal("1000.00"),
            currency="EUR",
            guarantor_id=g.guarantor_id,
            holder_id="H1",
        ),
    ).record.grn
    later = clock.now().date() + timedelta(days=30)
    with pytest.raises(InsufficientFunds):
        certificates.issue_certificate(
            kz.guarantees,
            grn,
            kind=CertificateKind.GENERAL,
            amount=Decimal("1000.01"),
            used_in="RU",
            valid_to=later,
        )
    with pytest.raises(certificates.CertificateInvalid):
        certificates.issue_certificate(
            kz.guarantees,
            grn,
            kind=CertificateKind.GENERAL,
            amount=Decimal(10),
            used_in="KZ",
            valid_to=later,
        )
    issued = certificates.issue_certificate(
        kz.guarantees,
        grn,
        kind=CertificateKind.GENERAL,
        amount=Decimal(10),
        used_in="RU",
        valid_to=later,
    ).certificate
    document = certificates.certificate_document(kz.guarantees, issued.number)
    with pytest.raises(certificates.CertificateInvalid) as wrong_node:
        certificates.register_certificate(by.guarantees, document)
    assert wrong_node.value.violations[0].code == "certificate-other-state"
    assert certificates.list_certificates(by.guarantees) == []


def test_an_unknown_certificate_is_refused_unless_the_node_is_lenient(
    sqlite_node: Callable[[str], Node], clock: ManualClock, tmp_path: Path, sqlite_template: Path
) -> None:
    ru = sqlite_node("RU")
    unknown = carried(clock, "26KZC000000000421", "7Q2KX90MZP", "LRN-U-1")
    with pytest.raises(DeclarationInvalid) as refused:
        transit.lodge_declaration(ru.transit, unknown)
    assert [(v.code, v.pointer) for v in refused.value.violations] == [
        ("certificate-unknown", "/security/0/reference")
    ]
    # "ANYTHING1" is no certificate number at all, whatever the node's mode.
    with pytest.raises(DeclarationInvalid) as malformed:
        transit.lodge_declaration(ru.transit, carried(clock, "ANYTHING1", "7Q2KX90MZP", "L-U-2"))
    assert [v.code for v in malformed.value.violations] == ["security-certificate-invalid"]

    # The lenient mode is an explicit setting: the number's format is all it checks.
    shutil.copyfile(sqlite_template, tmp_path / "lenient.sqlite")
    lenient = build_node(
        "RU",
        Settings(data_dir=tmp_path, accept_unregistered_certificates=True),
        database_url=f"sqlite:///{tmp_path / 'lenient.sqlite'}",
        clock=clock,
        migrate=False,
    )
    try:
        assert lenient.guarantees.policy.accept_unregistered_certificates
        assert not ru.guarantees.policy.accept_unregistered_certificates  # the default
        reference = release(lenient, unknown)
        assert transit.get_movement(lenient.transit, reference).status.value == "released"
        assert ledger_rows(lenient)["guarantee_locks"] == 0  # nothing secures it
    finally:
        lenient.dispose()
