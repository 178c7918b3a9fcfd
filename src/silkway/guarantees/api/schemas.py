"""Request bodies and responses of the guarantee API.

Amounts travel as decimal strings so that no digit is lost.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from silkway.guarantees.domain.distribution import ClaimLine, DistributionLine
from silkway.guarantees.domain.guarantee import (
    Balance,
    CertificateKind,
    GuaranteeMethod,
    GuaranteeScope,
    GuaranteeStatus,
    Guarantor,
    GuarantorKind,
    Holder,
    Lock,
    Outcome,
)
from silkway.guarantees.domain.liability import (
    UnknownCurrency,
    VatStateRule,
    money_quantum,
)
from silkway.guarantees.ports import (
    Certificate,
    Claim,
    GuaranteeRecord,
    HistoryEntry,
    LedgerProblem,
    LockRecord,
    Recovery,
)
from silkway.kernel.wire import TEXT_PATTERN, Date, Flag, Money, Percent, Timestamp
from silkway.reference.model import MEMBER_STATES
from silkway.transit.domain.declaration import TransitDeclaration

Grn = Annotated[str, Path(min_length=17, max_length=24, pattern=r"^[0-9A-Z]+$")]


LockId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:._/-]+$")]


ClaimId = Annotated[str, Path(min_length=1, max_length=72, pattern=r"^[A-Za-z0-9:._/-]+$")]


Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:._/-]+$")]


Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


State = Annotated[str, Field(pattern=r"^(AM|BY|KZ|KG|RU)$")]


Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


Name = Annotated[str, Field(min_length=1, max_length=200, pattern=TEXT_PATTERN)]


Reason = Annotated[str, Field(min_length=1, max_length=512, pattern=TEXT_PATTERN)]


HolderId = Annotated[str, Field(min_length=1, max_length=35, pattern=TEXT_PATTERN)]


def _money(amount: Decimal, currency: str) -> str:
    """An amount as a string in the currency's minor unit ("12.50" EUR, "1500" JPY)."""
    try:
        return str(amount.quantize(money_quantum(currency)))
    except (UnknownCurrency, ArithmeticError):
        return str(amount)


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GuarantorIn(In):
    name: Name
    kind: GuarantorKind
    country: Country
    national_guarantor: Flag = False
    reduction_pct: Percent = Decimal(0)


class HolderIn(In):
    name: Name
    country: Country
    qualified: Flag = False
    """A record of general security and no arrears (20% reduction)."""


class GuaranteeIn(In):
    method: GuaranteeMethod
    scope: GuaranteeScope
    reference_amount: Money
    currency: Currency
    guarantor_id: Annotated[str, Field(min_length=1, max_length=20)]
    holder_id: HolderId
    valid_from: Date | None = None
    valid_to: Date | None = None
    valid_states: list[State] = Field(
        default_factory=lambda: list(MEMBER_STATES), min_length=1, max_length=5
    )
    grn: Annotated[str, Field(min_length=17, max_length=17)] | None = None
    access_code: Annotated[str, Field(min_length=4, max_length=4)] | None = None


class ReasonIn(In):
    reason: Reason


class OptionalReasonIn(In):
    reason: Reason | None = None


class AuthorisationIn(In):
    holder_id: HolderId


class LockIn(In):
    key: Key
    amount: Money
    currency: Currency
    state: State | None = None
    movement_reference: Annotated[str, Field(min_length=1, max_length=24)] | None = None
    hold_until: Date | None = None


class CreditIn(In):
    key: Key
    amount: Money | None = None
    """The part to credit back; all that is held when absent."""


class KeyIn(In):
    key: Key


class LiabilityIn(In):
    declaration: TransitDeclaration
    holder_qualified: Flag = False
    guarantor_reduction_pct: Percent = Decimal(0)
    currency: Currency = "EUR"
    vat_state_rule: VatStateRule | None = None
    on: Date | None = None


class CertificateIn(In):
    kind: CertificateKind
    amount: Money
    used_in: State
    valid_to: Date


class CertificateDocumentIn(In):
    """A certificate as its issuing node sends it."""

    number: Annotated[str, Field(min_length=17, max_length=17)]
    kind: CertificateKind
    grn: Annotated[str, Field(min_length=17, max_length=24)]
    issued_by: State
    used_in: State
    currency: Currency
    amount: Money
    holder_id: HolderId
    holder_qualified: Flag
    guarantor_id: Annotated[str, Field(min_length=1, max_length=20)]
    guarantor_reduction_pct: Percent
    method: GuaranteeMethod
    valid_from: Date
    valid_to: Date
    issued_at: Timestamp
    access_code_hash: Annotated[str, Field(min_length=10, max_length=200)]
    """The scrypt hash of the certificate's own access code (never the guarantee's)."""


class RecoveryIn(In):
    key: Key
    amount: Money | None = None
    """Default: everything outstanding."""
    recovered_on: Date | None = None


class BalanceOut(BaseModel):
    currency: str
    reference_amount: str
    locked: str
    posted: str
    available: str


class GuarantorOut(BaseModel):
    guarantor_id: str
    name: str
    kind: GuarantorKind
    country: str
    national_guarantor: bool
    reduction_pct: str

    @classmethod
    def of(cls, g: Guarantor) -> GuarantorOut:
        return cls(
            guarantor_id=g.guarantor_id,
            name=g.name,
            kind=g.kind,
            country=g.country,
            national_guarantor=g.national_guarantor,
            reduction_pct=str(g.reduction_pct),
        )


class HolderOut(BaseModel):
    holder_id: str
    name: str
    country: str
    qualified: bool

    @classmethod
    def of(cls, h: Holder) -> HolderOut:
        return cls(holder_id=h.holder_id, name=h.name, country=h.country, qualified=h.qualified)


class GuaranteeOut(BaseModel):
    grn: str
    account_kind: str
    method: GuaranteeMethod
    scope: GuaranteeScope
    status: GuaranteeStatus
    status_reason: str | None
    valid_from: date
    valid_to: date | None
    valid_states: list[str]
    guarantor_id: str
    holder_id: str
    home_state: str
    registered_at: datetime
    balance: BalanceOut

    @classmethod
    def of(cls, r: GuaranteeRecord) -> GuaranteeOut:
        gt = r.guarantee
        return cls(
            grn=gt.grn,
            account_kind=r.account_kind.value,
            method=gt.method,
            scope=gt.scope,
            status=gt.status,
            status_reason=r.status_reason,
            valid_from=gt.valid_from,
            valid_to=gt.valid_to,
            valid_states=sorted(gt.valid_states),
            guarantor_id=r.guarantor_id,
            holder_id=r.holder_id,
            home_state=r.home_state,
            registered_at=r.registered_at,
            balance=balance_of(r),
        )


def balance_of(r: GuaranteeRecord) -> BalanceOut:
    return _balance_out(r.balance, r.guarantee.currency)


def _balance_out(b: Balance, currency: str) -> BalanceOut:
    return BalanceOut(
        currency=currency,
        reference_amount=_money(b.reference_amount, currency),
        locked=_money(b.locked, currency),
        posted=_money(b.posted, currency),
        available=_money(b.available, currency),
    )


class RegisteredOut(BaseModel):
    grn: str
    access_code: str
    """Shown once: hand it to the holder. Only its hash is kept."""
    guarantee: GuaranteeOut


class GuaranteeDetail(BaseModel):
    guarantee: GuaranteeOut
    guarantor: GuarantorOut | None
    holder: HolderOut | None
    authorised_holders: list[str]


class LockOut(BaseModel):
    lock_id: str
    grn: str
    state: str
    currency: str
    amount: str
    held: str
    credited: str
    posted: str
    released: str
    status: str
    movement_reference: str | None = None
    deadline: datetime | None = None
    placed_at: datetime | None = None

    @classmethod
    def of(cls, r: LockRecord) -> LockOut:
        out = cls.plain(r.lock)
        return out.model_copy(
            update={
                "movement_reference": r.movement_reference,
                "deadline": r.deadline,
                "placed_at": r.placed_at,
            }
        )

    @classmethod
    def plain(cls, lock: Lock) -> LockOut:
        cur = lock.currency
        return cls(
            lock_id=lock.lock_id,
            grn=lock.grn,
            state=lock.state,
            currency=cur,
            amount=_money(lock.amount, cur),
            held=_money(lock.held, cur),
            credited=_money(lock.credited, cur),
            posted=_money(lock.posted, cur),
            released=_money(lock.released, cur),
            status=lock.status.value,
        )


class OutcomeOut(BaseModel):
    lock: LockOut
    balance: BalanceOut

    @classmethod
    def of(cls, o: Outcome) -> OutcomeOut:
        return cls(lock=LockOut.plain(o.lock), balance=_balance_out(o.balance, o.lock.currency))


class UsageOut(BaseModel):
    lock_id: str
    movement_reference: str | None
    state: str
    held: str
    placed_at: datetime
    deadline: datetime


class GuaranteeBalanceOut(BaseModel):
    """The guarantee query answer (NCTS CC037C): figures and use per movement."""

    grn: str
    status: GuaranteeStatus
    balance: BalanceOut
    usages: list[UsageOut]


class HistoryOut(BaseModel):
    seq: int
    kind: str
    at: datetime
    actor: str
    key: str | None
    lock_id: str | None
    movement_reference: str | None
    amount: str | None
    lock_status: str | None
    note: str | None
    locked: str
    posted: str
    available: str

    @classmethod
    def of(cls, e: HistoryEntry) -> HistoryOut:
        return cls(
            seq=e.seq,
            kind=e.kind,
            at=e.at,
            actor=e.actor,
            key=e.key,
            lock_id=e.lock_id,
            movement_reference=e.movement_reference,
            amount=None if e.amount is None else str(e.amount),
            lock_status=e.lock_status,
            note=e.note,
            locked=str(e.balance.locked),
            posted=str(e.balance.posted),
            available=str(e.balance.available),
        )


class LiabilityOut(BaseModel):
    liability: dict[str, Any]
    """The explanation tree: per item, per tax, the rule and its candidates; reductions; total."""
    explanation: list[str]
    """The same, as lines an officer can redo by hand."""
    locked: bool = False
    """True when this is what the movement's release locked."""


class CertificateOut(BaseModel):
    number: str
    kind: CertificateKind
    direction: str
    grn: str
    issued_by: str
    used_in: str
    currency: str
    amount: str
    holder_id: str
    valid_from: date
    valid_to: date
    status: str
    issued_at: datetime

    @classmethod
    def of(cls, c: Certificate) -> CertificateOut:
        return cls(
            number=c.number,
            kind=c.kind,
            direction=c.direction,
            grn=c.grn,
            issued_by=c.issued_by,
            used_in=c.used_in,
            currency=c.currency,
            amount=str(c.amount),
            holder_id=c.holder_id,
            valid_from=c.valid_from,
            valid_to=c.valid_to,
            status=c.status,
            issued_at=c.issued_at,
        )


class IssuedCertificateOut(CertificateOut):
    access_code: str
    """The certificate's own access code, shown this once: the holder quotes it where the
    certificate is used; this node keeps only its hash."""


class ClaimLineOut(BaseModel):
    tax: str
    state: str | None
    amount: str
    currency: str

    @classmethod
    def of(cls, line: ClaimLine) -> ClaimLineOut:
        return cls(
            tax=line.tax.value, state=line.state, amount=str(line.amount), currency=line.currency
        )


class ClaimOut(BaseModel):
    claim_id: str
    lock_id: str
    grn: str
    movement_reference: str | None
    claim_date: date
    currency: str
    amount: str
    recovered: str
    outstanding: str
    status: str
    debt: list[ClaimLineOut]

    @classmethod
    def of(cls, c: Claim) -> ClaimOut:
        return cls(
            claim_id=c.claim_id,
            lock_id=c.lock_id,
            grn=c.grn,
            movement_reference=c.movement_reference,
            claim_date=c.claim_date,
            currency=c.currency,
            amount=str(c.amount),
            recovered=str(c.recovered),
            outstanding=str(c.outstanding),
            status=c.status,
            debt=[ClaimLineOut.of(line) for line in c.debt],
        )


class ProblemOut(BaseModel):
    problem_id: int | None
    kind: str
    at: datetime
    grn: str | None
    lock_id: str | None
    movement_reference: str | None
    message: str

    @classmethod
    def of(cls, p: LedgerProblem) -> ProblemOut:
        return cls(
            problem_id=p.problem_id,
            kind=p.kind,
            at=p.at,
            grn=p.grn,
            lock_id=p.lock_id,
            movement_reference=p.movement_reference,
            message=p.message,
        )


class ProblemPage(BaseModel):
    total: int
    """Every problem kept, however many are listed."""
    items: list[ProblemOut]


class PostedOut(BaseModel):
    outcome: OutcomeOut
    claim: ClaimOut


class DistributionLineOut(BaseModel):
    state: str
    tax: str
    amount: str
    currency: str
    basis: str

    @classmethod
    def of(cls, line: DistributionLine) -> DistributionLineOut:
        return cls(
            state=line.state,
            tax=line.tax.value,
            amount=str(line.amount),
            currency=line.currency,
            basis=line.basis,
        )


class RecoveryOut(BaseModel):
    key: str
    claim_id: str
    amount: str
    recovered_on: date
    distribution: list[DistributionLineOut]

    @classmethod
    def of(cls, r: Recovery) -> RecoveryOut:
        return cls(
            key=r.key,
            claim_id=r.claim_id,
            amount=str(r.amount),
            recovered_on=r.recovered_on,
            distribution=[DistributionLineOut.of(line) for line in r.lines],
        )


class ReportLineOut(BaseModel):
    state: str
    tax: str
    currency: str
    amount: str


class ReportOut(BaseModel):
    start: date
    end: date
    lines: list[ReportLineOut]
    by_state: list[ReportLineOut]
    """Per state and currency, every tax together (``tax`` is ``all``)."""
    totals: dict[str, str]
    recovered: dict[str, str]
    balanced: bool
    """Whether what was distributed equals what guarantors paid, to the cent."""


class GuarantorExposureOut(BaseModel):
    guarantor_id: str
    name: str
    currency: str
    guarantees: int
    reference_amount: str
    locked: str
    posted: str
    available: str


class StateExposureOut(BaseModel):
    guarantor_id: str
    state: str
    currency: str
    pending_locks: int
    held: str


class ExposureOut(BaseModel):
    guarantors: list[GuarantorExposureOut]
    states: list[StateExposureOut]
