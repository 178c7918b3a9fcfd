"""A security certificate travels by message: issued at KZ, used at RU, written off back to KZ."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tests.conftest import START
from tests.integration.exchange.federation import Federation, federation

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
)
from silkway.kernel.errors import ActionInvalid, DeclarationInvalid
from silkway.transit import service as transit
from silkway.transit.domain.declaration import SecurityKind, SecurityReference
from silkway.transit.domain.movement import Accept, Release


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[Federation]:
    with federation(tmp_path, ("KZ", "RU"), START, guaranteed=True) as f:
        f.open_all()
        yield f


def test_issue_use_and_write_off_over_the_exchange(fed: Federation) -> None:
    kz, ru = fed.nodes["KZ"], fed.nodes["RU"]
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
        kind=CertificateKind.GENERAL,
        amount=Decimal("200000.00"),
        used_in="RU",
        valid_to=START.date() + timedelta(days=90),
    )
    issued = done.certificate
    assert len(done.access_code) == 10
    assert done.access_code != registered.access_code
    # MSG.912 carries the hash of the certificate's own code, nothing of the guarantee's.
    with kz.transit.read() as uow:
        [sent] = [m for m in uow.outbox.pending(limit=10) if m.message_kind == "certificate_issue"]
    carried = str(sent.payload["fields"]["AccessCodeHash"])
    assert carried != registered.record.access_code_hash
    assert verify_access_code(done.access_code, carried)
    assert not verify_access_code(registered.access_code, carried)
    fed.pump()
    # Registered at RU from the message alone, as an account of RU's ledger.
    received = certificates.get_certificate(ru.guarantees, issued.number)
    assert received.direction == "received"
    assert guarantees.balance(
        ru.guarantees, issued.number
    ).record.balance.reference_amount == Decimal("200000.00")

    northern = example_declaration("northern-rail", START.date())
    # The guarantee's own code opens nothing at RU: the certificate has its own.
    guarantee_code = SecurityReference(
        kind=SecurityKind.CERTIFICATE, reference=issued.number, access_code=registered.access_code
    )
    with pytest.raises(DeclarationInvalid) as wrong:
        transit.lodge_declaration(
            ru.transit, northern.model_copy(update={"lrn": "CERT-0", "security": [guarantee_code]})
        )
    assert [v.code for v in wrong.value.violations] == ["security-access-code-invalid"]
    security = guarantee_code.model_copy(update={"access_code": done.access_code})
    decl = northern.model_copy(update={"lrn": "CERT-1", "security": [security]})
    ref = transit.lodge_declaration(ru.transit, decl).movement.reference
    transit.act(ru.transit, ref, Accept())
    transit.act(ru.transit, ref, Release(issued.number, decl.departure_office))
    held = guarantees.balance(ru.guarantees, issued.number).record.balance.locked
    assert held > 0
    fed.pump()
    with kz.transit.read() as uow:
        uses = [e for e in uow.exchange.inbox(limit=50) if e.message_code == "P.CP.01.MSG.913"]
    assert [u.outcome for u in uses] == ["accepted"]

    certificates.write_off_certificate(ru.guarantees, issued.number, reason="route closed")
    fed.pump()
    assert certificates.get_certificate(kz.guarantees, issued.number).status == "returned"
    # The certificate's 200,000 are back on the guarantee at home.
    assert guarantees.balance(kz.guarantees, grn).record.balance.available == Decimal("500000.00")
    # No new transit on a written-off certificate.
    again = decl.model_copy(update={"lrn": "CERT-2"})
    ref2 = transit.lodge_declaration(ru.transit, again).movement.reference
    transit.act(ru.transit, ref2, Accept())
    with pytest.raises(ActionInvalid) as refused:
        transit.act(ru.transit, ref2, Release(issued.number, decl.departure_office))
    [violation] = refused.value.violations
    assert violation.code == "lock-refused"
    assert "revoked" in violation.message


def test_a_certificate_from_a_state_that_did_not_issue_it_is_refused(fed: Federation) -> None:

    now = START
    fields = {
        "CertificateNumber": "26BYC000000000017",
        "CertificateKindCode": "general",
        "GuaranteeReferenceNumber": "26BY0000000000012",
        "IssuingCountryCode": "BY",
        "UsingCountryCode": "RU",
        "CertificateAmount": {"Amount": Decimal("1000.00"), "CurrencyCode": "EUR"},
        "SecurityMethodCode": "surety",
        "GuarantorId": "BY-GR000001",
        "HolderId": "100200300",
        "HolderQualifiedIndicator": False,
        "GuarantorReductionPercent": Decimal(0),
        "AccessCodeHash": "x",
        "ValidFromDate": now.date(),
        "ValidToDate": now.date() + timedelta(days=10),
        "IssueDateTime": now,
    }
    msg = certificates._message("RU", "certificate_issue", fields, now, "26BYC000000000017")
    with fed.nodes["KZ"].transit.uow() as uow:  # KZ claims to send BY's certificate
        uow.outbox.put([msg])
        uow.commit()
    fed.pump()
    [receipt] = [r for state, r in fed.receipts if state == "RU"]
    assert receipt.outcome == "rejected"
    assert receipt.errors[0]["ErrorCode"] == "sender-not-entitled"
    with pytest.raises(certificates.CertificateNotFound):
        certificates.get_certificate(fed.nodes["RU"].guarantees, "26BYC000000000017")
    assert "P.CP.01.MSG.912" in fed.contexts["RU"].handlers
