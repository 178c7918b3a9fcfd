"""Security certificates (Customs Code Art. 147): a guarantee given in one state secures a
transit that starts in another.

At the guarantee's home node, *issuing* a certificate locks its amount on the guarantee (a lock
like any other, for the state the certificate is for) and numbers it like a GRN, with a ``C``
after the country code. The node of that state *registers* the certificate it receives as an
account of its own ledger (one lock ever for a one-off certificate, many up to its amount for a
general one), so its release gate locks against it exactly as against a local guarantee.
*Returning* a certificate credits its amount back to the guarantee.

A certificate has an access code of its own (10 characters), given once to whoever issues it
for the holder, who quotes it at the node that uses the certificate. Its document and MSG.912
carry only the hash of that code, never the guarantee's (whose code then stays on its home
node). Why a code of its own rather than checking the guarantee's code at home: a release is
one transaction at the node of departure and cannot wait for an answer from another state, so
the code must be checkable there; and a hash that travels must open nothing but this
certificate (its amount, in one state) and be too long a search to crack offline.

Certificates travel between nodes as P.CP.01 messages (Silkway's MSG.912 issue, MSG.913 use,
MSG.914 write-off), written to the outbox in the same transaction as the change: the issuing
node (ACT.006) sends the certificate, the node using it registers it on receipt, reports each
use, and writes it off when done, which credits the guarantee at home.
:func:`certificate_document` and :func:`register_certificate` remain for the paper channel.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from silkway.exchange.outbound import process_message
from silkway.exchange.ports import OutboxMessage
from silkway.guarantees.access import (
    CERTIFICATE_ACCESS_CODE_LENGTH,
    hash_access_code,
    new_access_code,
)
from silkway.guarantees.domain.guarantee import (
    CertificateKind,
    CommandKind,
    Guarantee,
    GuaranteeMethod,
    GuaranteeScope,
    GuaranteeStatus,
    LedgerError,
    RegistryInvalid,
)
from silkway.guarantees.ports import (
    AccountKind,
    Certificate,
    GuaranteeRecord,
    LockRequest,
    NewAccount,
    SettleRequest,
)
from silkway.guarantees.service import GuaranteeContext, GuaranteeNotFound
from silkway.kernel.codes import CERTIFICATE_MARK, make_grn, validate_certificate_number
from silkway.kernel.errors import DomainError, Violation
from silkway.node.ports import DuplicateKey
from silkway.reference.model import MEMBER_STATES
from silkway.transit.domain.messages import (
    CERTIFICATE_AUTHORITY,
    CERTIFICATE_ISSUE,
    CERTIFICATE_USE,
    CERTIFICATE_WRITE_OFF,
    DEPARTURE,
    MESSAGE_CODES,
)
from silkway.unit_of_work import UnitOfWork


class CertificateNotFound(DomainError):
    code = "certificate-not-found"


class CertificateInvalid(DomainError):
    code = "certificate-invalid"


ISSUED = "issued"
RECEIVED = "received"
RETURNED = "returned"
REGISTERED = "registered"
WRITTEN_OFF = "written_off"


def certificate_lock_id(number: str) -> str:
    return f"certificate:{number}"


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    certificate: Certificate
    access_code: str
    """Shown once, to be handed to the holder; this node keeps and sends only its hash."""


def issue_certificate(
    ctx: GuaranteeContext,
    grn: str,
    *,
    kind: CertificateKind,
    amount: Decimal,
    used_in: str,
    valid_to: date,
    actor: str | None = None,
) -> IssuedCertificate:
    """Issue a certificate on a guarantee of this node for use in ``used_in``, with an access
    code of its own."""
    now = ctx.clock.now()
    today = now.date()
    problems = []
    if used_in not in MEMBER_STATES or used_in == ctx.state:
        problems.append(Violation("certificate-state-invalid", "/used_in", "another member state"))
    if valid_to < today:
        problems.append(Violation("certificate-expired", "/valid_to", "valid_to is past"))
    if problems:
        raise CertificateInvalid("the certificate cannot be issued", problems)
    access_code = new_access_code(CERTIFICATE_ACCESS_CODE_LENGTH)
    access_hash = hash_access_code(access_code)
    with ctx.uow() as uow:
        record = uow.guarantees.guarantee(grn)
        if record is None or record.account_kind is not AccountKind.GUARANTEE:
            raise GuaranteeNotFound(f"no guarantee {grn!r} registered at this node")
        serial = uow.counters.next(f"certificate:{ctx.state}:{now.year}")
        number = make_grn(now.year, ctx.state, f"{CERTIFICATE_MARK}{serial:011d}")
        lock_id = certificate_lock_id(number)
        [answer] = uow.guarantees.lock_many(
            [
                LockRequest(
                    key=lock_id,
                    grn=grn,
                    amount=amount,
                    currency=record.guarantee.currency,
                    state=used_in,
                    on=today,
                    at=now,
                    deadline=ctx.deadline_after(valid_to),
                    actor=actor or f"node:{ctx.state}",
                )
            ]
        )
        if isinstance(answer, LedgerError):
            raise answer
        holder = uow.guarantees.holder(record.holder_id)
        guarantor = uow.guarantees.guarantor(record.guarantor_id)
        national = guarantor is not None and guarantor.national_guarantor
        certificate = Certificate(
            number=number,
            kind=kind,
            direction=ISSUED,
            grn=grn,
            issued_by=ctx.state,
            used_in=used_in,
            currency=record.guarantee.currency,
            amount=amount,
            holder_id=record.holder_id,
            holder_qualified=bool(holder and holder.qualified),
            guarantor_reduction_pct=guarantor.reduction_pct
            if guarantor and national
            else Decimal(0),
            valid_from=today,
            valid_to=valid_to,
            status=ISSUED,
            issued_at=now,
            lock_id=lock_id,
        )
        uow.guarantees.add_certificate(certificate, access_code_hash=access_hash)
        document = CertificateDocument(
            certificate, record.guarantee.method, record.guarantor_id, access_hash
        )
        uow.outbox.put([_message(used_in, CERTIFICATE_ISSUE, _issue_fields(document), now, number)])
        uow.commit()
    return IssuedCertificate(certificate, access_code)


@dataclass(frozen=True, slots=True)
class CertificateDocument:
    """What the issuing node sends the node where the certificate is used."""

    certificate: Certificate
    method: GuaranteeMethod
    guarantor_id: str
    access_code_hash: str
    """Of the certificate's own access code."""


def certificate_document(ctx: GuaranteeContext, number: str) -> CertificateDocument:
    with ctx.read() as uow:
        certificate = _certificate(uow, number)
        if certificate.direction != ISSUED:
            raise CertificateInvalid(f"certificate {number} was not issued here")
        record = uow.guarantees.guarantee(certificate.grn)
        assert record is not None
        access_hash = uow.guarantees.certificate_access_code_hash(number)
    if access_hash is None:
        raise CertificateInvalid(
            f"certificate {number} was issued before certificates had an access code of their"
            " own; return it and issue a new one",
            [Violation("certificate-without-access-code", "/number", number)],
        )
    return CertificateDocument(
        certificate, record.guarantee.method, record.guarantor_id, access_hash
    )


def register_certificate(
    ctx: GuaranteeContext, document: CertificateDocument, *, actor: str | None = None
) -> Certificate:
    """Take in a certificate issued by another node for use here, as an account of the ledger."""
    with ctx.uow() as uow:
        received = register_received(uow, ctx.state, document, ctx.clock.now(), actor=actor)
        uow.commit()
    return received


def register_received(
    uow: UnitOfWork,
    state: str,
    document: CertificateDocument,
    now: datetime,
    *,
    actor: str | None = None,
) -> Certificate:
    """:func:`register_certificate` inside a transaction the caller owns (inbound messages)."""
    c = document.certificate
    problems = []
    verdict = validate_certificate_number(c.number)
    if not verdict.valid:
        problems.append(Violation("certificate-number-invalid", "/number", str(verdict.reason)))
    if c.used_in != state:
        problems.append(Violation("certificate-other-state", "/used_in", f"this node is {state}"))
    if c.issued_by == state or c.issued_by not in MEMBER_STATES:
        problems.append(Violation("certificate-issuer-invalid", "/issued_by", "another state"))
    if problems:
        raise CertificateInvalid("the certificate cannot be registered", problems)
    received = Certificate(
        number=c.number,
        kind=c.kind,
        direction=RECEIVED,
        grn=c.grn,
        issued_by=c.issued_by,
        used_in=c.used_in,
        currency=c.currency,
        amount=c.amount,
        holder_id=c.holder_id,
        holder_qualified=c.holder_qualified,
        guarantor_reduction_pct=c.guarantor_reduction_pct,
        valid_from=c.valid_from,
        valid_to=c.valid_to,
        status=REGISTERED,
        issued_at=c.issued_at,
    )
    try:
        account = Guarantee(
            grn=c.number,
            method=document.method,
            scope=GuaranteeScope.SINGLE
            if c.kind is CertificateKind.ONE_OFF
            else GuaranteeScope.GENERAL,
            status=GuaranteeStatus.ACTIVE,
            reference_amount=c.amount,
            currency=c.currency,
            valid_from=c.valid_from,
            valid_to=c.valid_to,
            valid_states=frozenset({state}),
        )
    except (LedgerError, RegistryInvalid) as exc:
        raise CertificateInvalid(exc.message, [Violation(exc.code, "", exc.message)]) from exc
    try:
        uow.guarantees.add_account(
            NewAccount(
                guarantee=account,
                account_kind=AccountKind.CERTIFICATE,
                guarantor_id=document.guarantor_id,
                holder_id=c.holder_id,
                access_code_hash=document.access_code_hash,
                home_state=c.issued_by,
                at=now,
                actor=actor or f"node:{state}",
            )
        )
        uow.guarantees.add_certificate(received)
    except DuplicateKey:
        raise CertificateInvalid(
            f"certificate {c.number} is already registered",
            [Violation("certificate-exists", "/number", "already registered")],
        ) from None
    return received


def write_off_certificate(
    ctx: GuaranteeContext, number: str, *, reason: str | None = None, actor: str | None = None
) -> Certificate:
    """At the node using it: no more transits on this certificate; the issuing state is told.

    The account takes no new locks (revoked); locks already held settle as their movements do.
    """
    now = ctx.clock.now()
    with ctx.uow() as uow:
        certificate = _certificate(uow, number)
        if certificate.direction != RECEIVED:
            raise CertificateInvalid(f"certificate {number} was not registered here for use")
        if not uow.guarantees.set_certificate_status(number, WRITTEN_OFF, expected=REGISTERED):
            raise CertificateInvalid(
                f"certificate {number} is {certificate.status}, not registered",
                [Violation("certificate-status", "/status", certificate.status)],
            )
        uow.guarantees.set_status(
            number,
            GuaranteeStatus.REVOKED,
            expected=GuaranteeStatus.ACTIVE,
            reason=reason or "certificate written off",
            at=now,
            actor=actor or f"node:{ctx.state}",
        )
        fields: dict[str, Any] = {"CertificateNumber": number, "WriteOffDateTime": now}
        if reason:
            fields["Remarks"] = reason
        uow.outbox.put(
            [_message(certificate.issued_by, CERTIFICATE_WRITE_OFF, fields, now, number)]
        )
        certificate = _certificate(uow, number)
        uow.commit()
    return certificate


def returned_by_message(
    uow: UnitOfWork, state: str, number: str, now: datetime, actor: str
) -> None:
    """At the issuing node, on the write-off message: credit what is still held (once)."""
    certificate = check_issued_here(uow, number)
    if certificate.status == RETURNED or certificate.lock_id is None:
        return
    uow.guarantees.settle(
        SettleRequest(f"return:{number}", CommandKind.CREDIT, certificate.lock_id, now, actor=actor)
    )
    uow.guarantees.set_certificate_status(number, RETURNED, expected=ISSUED)


def check_issued_here(uow: UnitOfWork, number: str) -> Certificate:
    """The certificate, if this node issued it; refused otherwise."""
    certificate = _certificate(uow, number)
    if certificate.direction != ISSUED:
        raise CertificateInvalid(
            f"certificate {number} was not issued here",
            [Violation("certificate-not-issued-here", "/CertificateNumber", number)],
        )
    return certificate


def document_from_message(fields: Mapping[str, Any]) -> CertificateDocument:
    """The certificate a MSG.912 carries, as :func:`register_received` takes it."""
    amount = fields["CertificateAmount"]
    return CertificateDocument(
        Certificate(
            number=str(fields["CertificateNumber"]),
            kind=CertificateKind(str(fields["CertificateKindCode"])),
            direction=ISSUED,
            grn=str(fields["GuaranteeReferenceNumber"]),
            issued_by=str(fields["IssuingCountryCode"]),
            used_in=str(fields["UsingCountryCode"]),
            currency=str(amount["CurrencyCode"]),
            amount=Decimal(amount["Amount"]),
            holder_id=str(fields["HolderId"]),
            holder_qualified=bool(fields["HolderQualifiedIndicator"]),
            guarantor_reduction_pct=Decimal(fields["GuarantorReductionPercent"]),
            valid_from=fields["ValidFromDate"],
            valid_to=fields["ValidToDate"],
            status=ISSUED,
            issued_at=fields["IssueDateTime"],
        ),
        GuaranteeMethod(str(fields["SecurityMethodCode"])),
        str(fields["GuarantorId"]),
        str(fields["AccessCodeHash"]),
    )


def _issue_fields(document: CertificateDocument) -> dict[str, Any]:
    c = document.certificate
    return {
        "CertificateNumber": c.number,
        "CertificateKindCode": c.kind.value,
        "GuaranteeReferenceNumber": c.grn,
        "IssuingCountryCode": c.issued_by,
        "UsingCountryCode": c.used_in,
        "CertificateAmount": {"Amount": c.amount, "CurrencyCode": c.currency},
        "SecurityMethodCode": document.method.value,
        "GuarantorId": document.guarantor_id,
        "HolderId": c.holder_id,
        "HolderQualifiedIndicator": c.holder_qualified,
        "GuarantorReductionPercent": c.guarantor_reduction_pct,
        "AccessCodeHash": document.access_code_hash,
        "ValidFromDate": c.valid_from,
        "ValidToDate": c.valid_to,
        "IssueDateTime": c.issued_at,
    }


def certificate_use_message(
    record: GuaranteeRecord, movement_reference: str, now: datetime
) -> OutboxMessage:
    """MSG.913 to the issuing state: its certificate secures ``movement_reference``."""
    fields = {
        "CertificateNumber": record.grn,
        "MovementReference": movement_reference,
        "UseDateTime": now,
    }
    return _message(record.home_state, CERTIFICATE_USE, fields, now, record.grn)


def _message(
    to_state: str, kind: str, fields: dict[str, Any], now: datetime, number: str
) -> OutboxMessage:
    issuing = kind == CERTIFICATE_ISSUE
    return process_message(
        to_state,
        kind,
        fields,
        now,
        sender_role=CERTIFICATE_AUTHORITY if issuing else DEPARTURE,
        receiver_role=DEPARTURE if issuing else CERTIFICATE_AUTHORITY,
        # Every message about one certificate travels in one conversation.
        conversation_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"silkway:certificate:{number}")),
        code=MESSAGE_CODES[kind],
    )


def return_certificate(
    ctx: GuaranteeContext, number: str, *, actor: str | None = None
) -> Certificate:
    """At the home node: the certificate is no longer used; its amount goes back (what is
    still held is credited)."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        certificate = _certificate(uow, number)
        if certificate.direction != ISSUED or certificate.lock_id is None:
            raise CertificateInvalid(f"certificate {number} was not issued here")
        uow.guarantees.settle(
            SettleRequest(
                f"return:{number}",
                CommandKind.CREDIT,
                certificate.lock_id,
                now,
                actor=actor or f"node:{ctx.state}",
            )
        )
        uow.guarantees.set_certificate_status(number, RETURNED, expected=ISSUED)
        certificate = _certificate(uow, number)
        uow.commit()
    return certificate


def get_certificate(ctx: GuaranteeContext, number: str) -> Certificate:
    with ctx.read() as uow:
        return _certificate(uow, number)


def list_certificates(ctx: GuaranteeContext, grn: str | None = None) -> list[Certificate]:
    with ctx.read() as uow:
        return uow.guarantees.certificates(grn=grn)


def _certificate(uow: UnitOfWork, number: str) -> Certificate:
    found = uow.guarantees.certificate(number)
    if found is None:
        raise CertificateNotFound(f"no certificate {number!r} at this node")
    return found
