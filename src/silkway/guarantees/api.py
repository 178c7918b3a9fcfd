"""API routes of the node for Guarantees, under ``/api/v1``.

Registry (guarantors, holders, guarantees, authorisations), the ledger (balance and usages per
movement as in NCTS CC037C, history, lock, credit, void, post, expiry), the liability with its
explanation, security certificates, claims with the distribution of what was recovered, and the
exposure the dashboard shows. Amounts travel as decimal strings so that no digit is lost. A
shortfall is a ``409`` that names the amounts; every error is problem+json and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from silkway.bootstrap import Node
from silkway.guarantees import certificates, claims
from silkway.guarantees import service as guarantees
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
    RegistryInvalid,
)
from silkway.guarantees.domain.liability import (
    LiabilityError,
    UnknownCurrency,
    VatStateRule,
    money_quantum,
)
from silkway.guarantees.ports import (
    Certificate,
    Claim,
    GuaranteeRecord,
    HistoryEntry,
    LockRecord,
    Recovery,
)
from silkway.kernel.errors import DomainError, Violation
from silkway.reference.model import MEMBER_STATES
from silkway.transit.domain.declaration import TransitDeclaration
from silkway.web.problems import ApiProblem, domain_problem

T = TypeVar("T")

Grn = Annotated[str, Path(min_length=17, max_length=24, pattern=r"^[0-9A-Z]+$")]
LockId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:._/-]+$")]
ClaimId = Annotated[str, Path(min_length=1, max_length=72, pattern=r"^[A-Za-z0-9:._/-]+$")]
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:._/-]+$")]
Money = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2, allow_inf_nan=False)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
State = Annotated[str, Field(pattern=r"^(AM|BY|KZ|KG|RU)$")]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(min_length=1, max_length=512)]
HolderId = Annotated[str, Field(min_length=1, max_length=35)]


def _money(amount: Decimal, currency: str) -> str:
    """An amount as a string in the currency's minor unit ("12.50" EUR, "1500" JPY)."""
    try:
        return str(amount.quantize(money_quantum(currency)))
    except (UnknownCurrency, ArithmeticError):
        return str(amount)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# --- request bodies ----------------------------------------------------------------------------


class GuarantorIn(_In):
    name: Name
    kind: GuarantorKind
    country: Country
    national_guarantor: bool = False
    reduction_pct: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)] = Decimal(0)


class HolderIn(_In):
    name: Name
    country: Country
    qualified: bool = False
    """A record of general security and no arrears (20% reduction)."""


class GuaranteeIn(_In):
    method: GuaranteeMethod
    scope: GuaranteeScope
    reference_amount: Money
    currency: Currency
    guarantor_id: Annotated[str, Field(min_length=1, max_length=20)]
    holder_id: HolderId
    valid_from: date | None = None
    valid_to: date | None = None
    valid_states: list[State] = Field(
        default_factory=lambda: list(MEMBER_STATES), min_length=1, max_length=5
    )
    grn: Annotated[str, Field(min_length=17, max_length=17)] | None = None
    access_code: Annotated[str, Field(min_length=4, max_length=4)] | None = None


class ReasonIn(_In):
    reason: Reason


class OptionalReasonIn(_In):
    reason: Reason | None = None


class AuthorisationIn(_In):
    holder_id: HolderId


class LockIn(_In):
    key: Key
    amount: Money
    currency: Currency
    state: State | None = None
    movement_reference: Annotated[str, Field(min_length=1, max_length=24)] | None = None
    hold_until: date | None = None


class CreditIn(_In):
    key: Key
    amount: Money | None = None
    """The part to credit back; all that is held when absent."""


class KeyIn(_In):
    key: Key


class LiabilityIn(_In):
    declaration: TransitDeclaration
    holder_qualified: bool = False
    guarantor_reduction_pct: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)] = Decimal(0)
    currency: Currency = "EUR"
    vat_state_rule: VatStateRule | None = None
    on: date | None = None


class CertificateIn(_In):
    kind: CertificateKind
    amount: Money
    used_in: State
    valid_to: date


class CertificateDocumentIn(_In):
    """A certificate as its issuing node sends it."""

    number: Annotated[str, Field(min_length=17, max_length=17)]
    kind: CertificateKind
    grn: Annotated[str, Field(min_length=17, max_length=24)]
    issued_by: State
    used_in: State
    currency: Currency
    amount: Money
    holder_id: HolderId
    holder_qualified: bool
    guarantor_id: Annotated[str, Field(min_length=1, max_length=20)]
    guarantor_reduction_pct: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]
    method: GuaranteeMethod
    valid_from: date
    valid_to: date
    issued_at: datetime
    access_code_hash: Annotated[str, Field(min_length=10, max_length=200)]


class RecoveryIn(_In):
    key: Key
    amount: Money | None = None
    """Default: everything outstanding."""
    recovered_on: date | None = None


# --- responses ---------------------------------------------------------------------------------


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
            balance=_balance(r),
        )


def _balance(r: GuaranteeRecord) -> BalanceOut:
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


# --- errors ------------------------------------------------------------------------------------


def _call(work: Callable[[], T], pointer: str = "") -> T:
    try:
        return work()
    except DomainError as exc:
        raise domain_problem(exc, pointer) from exc


# --- routes ------------------------------------------------------------------------------------


def build_guarantee_router(node: Node) -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    _registry_routes(router, node)
    _ledger_routes(router, node)
    _liability_routes(router, node)
    _certificate_routes(router, node)
    _claim_routes(router, node)
    return router


def _registry_routes(router: APIRouter, node: Node) -> None:
    ctx = node.guarantees
    tags: list[str | Enum] = ["guarantees: registry"]

    @router.post("/guarantors", status_code=201, response_model=GuarantorOut, tags=tags)
    def register_guarantor(body: Annotated[GuarantorIn, Body()]) -> GuarantorOut:
        """Register a bank, insurer or surety (a national guarantor carries its reduction)."""
        return GuarantorOut.of(
            _call(
                lambda: guarantees.register_guarantor(
                    ctx,
                    name=body.name,
                    kind=body.kind,
                    country=body.country,
                    national_guarantor=body.national_guarantor,
                    reduction_pct=body.reduction_pct,
                )
            )
        )

    @router.get("/guarantors", response_model=list[GuarantorOut], tags=tags)
    def list_guarantors() -> list[GuarantorOut]:
        return [GuarantorOut.of(g) for g in guarantees.list_guarantors(ctx)]

    @router.get("/guarantors/{guarantor_id}", response_model=GuarantorOut, tags=tags)
    def get_guarantor(
        guarantor_id: Annotated[str, Path(min_length=1, max_length=20)],
    ) -> GuarantorOut:
        return GuarantorOut.of(_call(lambda: guarantees.get_guarantor(ctx, guarantor_id)))

    @router.put("/holders/{holder_id}", response_model=HolderOut, tags=tags)
    def put_holder(
        holder_id: Annotated[str, Path(min_length=1, max_length=35)],
        body: Annotated[HolderIn, Body()],
    ) -> HolderOut:
        """Register a holder (carrier, forwarder) or update it."""
        try:
            holder = Holder(holder_id, body.name, body.country, body.qualified)
        except RegistryInvalid as exc:
            raise domain_problem(exc, "/name") from exc
        return HolderOut.of(_call(lambda: guarantees.register_holder(ctx, holder)))

    @router.post("/guarantees", status_code=201, response_model=RegisteredOut, tags=tags)
    def register_guarantee(
        body: Annotated[GuaranteeIn, Body()], response: Response
    ) -> RegisteredOut:
        """Register a guarantee: answers its GRN and, once, the holder's access code."""
        application = guarantees.GuaranteeApplication(
            method=body.method,
            scope=body.scope,
            reference_amount=body.reference_amount,
            currency=body.currency,
            guarantor_id=body.guarantor_id,
            holder_id=body.holder_id,
            valid_from=body.valid_from,
            valid_to=body.valid_to,
            valid_states=frozenset(body.valid_states),
            grn=body.grn,
            access_code=body.access_code,
        )
        done = _call(lambda: guarantees.register_guarantee(ctx, application))
        response.headers["Location"] = f"/api/v1/guarantees/{done.record.grn}"
        return RegisteredOut(
            grn=done.record.grn,
            access_code=done.access_code,
            guarantee=GuaranteeOut.of(done.record),
        )

    @router.get("/guarantees", response_model=list[GuaranteeOut], tags=tags)
    def list_guarantees(
        guarantor: Annotated[str | None, Query(max_length=20)] = None,
        holder: Annotated[str | None, Query(max_length=35)] = None,
        status: GuaranteeStatus | None = None,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[GuaranteeOut]:
        found = guarantees.list_guarantees(
            ctx,
            guarantor_id=guarantor,
            holder_id=holder,
            status=status,
            offset=offset,
            limit=limit,
        )
        return [GuaranteeOut.of(r) for r in found]

    @router.get("/guarantees/{grn}", response_model=GuaranteeDetail, tags=tags)
    def get_guarantee(grn: Grn) -> GuaranteeDetail:
        view = _call(lambda: guarantees.get_guarantee(ctx, grn))
        return GuaranteeDetail(
            guarantee=GuaranteeOut.of(view.record),
            guarantor=GuarantorOut.of(view.guarantor) if view.guarantor else None,
            holder=HolderOut.of(view.holder) if view.holder else None,
            authorised_holders=view.authorised_holders,
        )

    def status_route(path: str, target: GuaranteeStatus, body_model: type[_In]) -> None:
        def change(grn: Grn, body: Any) -> GuaranteeOut:
            reason = getattr(body, "reason", None)
            return GuaranteeOut.of(
                _call(lambda: guarantees.change_status(ctx, grn, target, reason=reason))
            )

        change.__annotations__["body"] = Annotated[body_model, Body()]
        change.__name__ = f"guarantee_{path}"
        router.add_api_route(
            f"/guarantees/{{grn}}/{path}",
            change,
            methods=["POST"],
            response_model=GuaranteeOut,
            summary=f"Guarantee {path} (status {target.value})",
            tags=tags,
        )

    status_route("suspension", GuaranteeStatus.SUSPENDED, ReasonIn)
    status_route("reinstatement", GuaranteeStatus.ACTIVE, OptionalReasonIn)
    status_route("revocation", GuaranteeStatus.REVOKED, ReasonIn)

    @router.post("/guarantees/{grn}/authorisations", response_model=list[str], tags=tags)
    def authorise(grn: Grn, body: Annotated[AuthorisationIn, Body()]) -> list[str]:
        """Let another holder quote this guarantee; answers every authorised holder."""
        return _call(lambda: guarantees.authorise_holder(ctx, grn, body.holder_id))

    @router.delete(
        "/guarantees/{grn}/authorisations/{holder_id}", response_model=list[str], tags=tags
    )
    def withdraw(grn: Grn, holder_id: Annotated[str, Path(max_length=35)]) -> list[str]:
        return _call(lambda: guarantees.withdraw_authorisation(ctx, grn, holder_id))


def _ledger_routes(router: APIRouter, node: Node) -> None:
    ctx = node.guarantees
    tags: list[str | Enum] = ["guarantees: ledger"]

    @router.get("/guarantees/{grn}/balance", response_model=GuaranteeBalanceOut, tags=tags)
    def balance(grn: Grn) -> GuaranteeBalanceOut:
        """Reference amount, locked, posted, available, and what each movement holds."""
        view = _call(lambda: guarantees.balance(ctx, grn))
        return GuaranteeBalanceOut(
            grn=grn,
            status=view.record.guarantee.status,
            balance=_balance(view.record),
            usages=[
                UsageOut(
                    lock_id=u.lock.lock_id,
                    movement_reference=u.movement_reference,
                    state=u.lock.state,
                    held=str(u.lock.held),
                    placed_at=u.placed_at,
                    deadline=u.deadline,
                )
                for u in view.usages
            ],
        )

    @router.get("/guarantees/{grn}/history", response_model=list[HistoryOut], tags=tags)
    def history(
        grn: Grn,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[HistoryOut]:
        """Every registry change and ledger command, with the balance right after it."""
        entries = _call(lambda: guarantees.history(ctx, grn, offset=offset, limit=limit))
        return [HistoryOut.of(e) for e in entries]

    @router.post("/guarantees/{grn}/locks", response_model=OutcomeOut, tags=tags)
    def lock(grn: Grn, body: Annotated[LockIn, Body()]) -> OutcomeOut:
        """Hold an amount on the guarantee; idempotent on ``key``. A shortfall is a 409."""
        command = guarantees.LockCommand(
            key=body.key,
            grn=grn,
            amount=body.amount,
            currency=body.currency,
            state=body.state,
            movement_reference=body.movement_reference,
            hold_until=body.hold_until,
        )
        return OutcomeOut.of(_call(lambda: guarantees.lock(ctx, command), "/amount"))

    @router.get("/guarantee-locks/{lock_id}", response_model=LockOut, tags=tags)
    def get_lock(lock_id: LockId) -> LockOut:
        return LockOut.of(_call(lambda: guarantees.get_lock(ctx, lock_id)))

    @router.post("/guarantee-locks/{lock_id}/credit", response_model=OutcomeOut, tags=tags)
    def credit(lock_id: LockId, body: Annotated[CreditIn, Body()]) -> OutcomeOut:
        """Credit back what arrived (a part, or all that is held)."""
        return OutcomeOut.of(
            _call(lambda: guarantees.credit(ctx, body.key, lock_id, body.amount), "/amount")
        )

    @router.post("/guarantee-locks/{lock_id}/void", response_model=OutcomeOut, tags=tags)
    def void(lock_id: LockId, body: Annotated[KeyIn, Body()]) -> OutcomeOut:
        return OutcomeOut.of(_call(lambda: guarantees.void(ctx, body.key, lock_id)))

    @router.post("/guarantee-locks/{lock_id}/post", response_model=PostedOut, tags=tags)
    def post(lock_id: LockId, body: Annotated[KeyIn, Body()]) -> PostedOut:
        """Non-delivery: what is held becomes a claim on the guarantee."""
        done = _call(lambda: claims.post(ctx, body.key, lock_id))
        return PostedOut(outcome=OutcomeOut.of(done.outcome), claim=ClaimOut.of(done.claim))

    @router.post("/guarantee-locks/expiry", tags=tags)
    def expiry() -> dict[str, list[str]]:
        """Expire every pending lock past its deadline."""
        return {"expired": guarantees.expire_due_locks(ctx)}

    @router.get("/guarantee-exposure", response_model=ExposureOut, tags=tags)
    def exposure() -> ExposureOut:
        """Exposure per guarantor, and per guarantor and state (for the dashboard)."""
        found = guarantees.exposure(ctx)
        return ExposureOut(
            guarantors=[
                GuarantorExposureOut(
                    guarantor_id=e.guarantor_id,
                    name=e.name,
                    currency=e.currency,
                    guarantees=e.guarantees,
                    reference_amount=str(e.reference_amount),
                    locked=str(e.locked),
                    posted=str(e.posted),
                    available=str(e.available),
                )
                for e in found.guarantors
            ],
            states=[
                StateExposureOut(
                    guarantor_id=s.guarantor_id,
                    state=s.state,
                    currency=s.currency,
                    pending_locks=s.pending_locks,
                    held=str(s.held),
                )
                for s in found.states
            ],
        )


def _liability_routes(router: APIRouter, node: Node) -> None:
    ctx = node.guarantees
    tags: list[str | Enum] = ["guarantees: liability"]

    @router.post("/liability", response_model=LiabilityOut, tags=tags)
    def liability(body: Annotated[LiabilityIn, Body()]) -> LiabilityOut:
        """The security a declaration needs, explained line by line (nothing is stored)."""
        try:
            found = guarantees.explain_liability(
                ctx,
                body.declaration,
                holder_qualified=body.holder_qualified,
                guarantor_reduction_pct=body.guarantor_reduction_pct,
                currency=body.currency,
                on=body.on,
                vat_state_rule=body.vat_state_rule,
            )
        except LiabilityError as exc:
            violations = [
                Violation(v.code, "/declaration" + v.pointer if v.pointer else "", v.message)
                for v in exc.violations
            ]
            raise ApiProblem(
                422, exc.code, "Liability not computable", exc.message, violations
            ) from exc
        return LiabilityOut(liability=found.as_dict(), explanation=found.explain())

    @router.get("/movements/{key}/liability", response_model=LiabilityOut, tags=tags)
    def movement_liability(
        key: Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Z0-9]+$")],
    ) -> LiabilityOut:
        """What the movement's release locked, or what it would lock now."""
        view = _call(lambda: guarantees.movement_liability(ctx, key))
        return LiabilityOut(liability=view.tree, explanation=view.explanation, locked=view.locked)


def _certificate_routes(router: APIRouter, node: Node) -> None:
    ctx = node.guarantees
    tags: list[str | Enum] = ["guarantees: certificates"]

    @router.post(
        "/guarantees/{grn}/certificates",
        status_code=201,
        response_model=CertificateOut,
        tags=tags,
    )
    def issue(grn: Grn, body: Annotated[CertificateIn, Body()]) -> CertificateOut:
        """Issue a security certificate for use in another state; its amount is locked here."""
        return CertificateOut.of(
            _call(
                lambda: certificates.issue_certificate(
                    ctx,
                    grn,
                    kind=body.kind,
                    amount=body.amount,
                    used_in=body.used_in,
                    valid_to=body.valid_to,
                ),
                "/amount",
            )
        )

    @router.get("/certificates/{number}", response_model=CertificateOut, tags=tags)
    def get_certificate(number: Grn) -> CertificateOut:
        return CertificateOut.of(_call(lambda: certificates.get_certificate(ctx, number)))

    @router.get("/certificates/{number}/document", response_model=CertificateDocumentIn, tags=tags)
    def document(number: Grn) -> CertificateDocumentIn:
        """What is sent to the node where the certificate is used."""
        doc = _call(lambda: certificates.certificate_document(ctx, number))
        c = doc.certificate
        return CertificateDocumentIn(
            number=c.number,
            kind=c.kind,
            grn=c.grn,
            issued_by=c.issued_by,
            used_in=c.used_in,
            currency=c.currency,
            amount=c.amount,
            holder_id=c.holder_id,
            holder_qualified=c.holder_qualified,
            guarantor_id=doc.guarantor_id,
            guarantor_reduction_pct=c.guarantor_reduction_pct,
            method=doc.method,
            valid_from=c.valid_from,
            valid_to=c.valid_to,
            issued_at=c.issued_at,
            access_code_hash=doc.access_code_hash,
        )

    @router.post("/certificates", status_code=201, response_model=CertificateOut, tags=tags)
    def register(body: Annotated[CertificateDocumentIn, Body()]) -> CertificateOut:
        """Register a certificate issued by another node for use at this one."""
        received = Certificate(
            number=body.number,
            kind=body.kind,
            direction=certificates.ISSUED,
            grn=body.grn,
            issued_by=body.issued_by,
            used_in=body.used_in,
            currency=body.currency,
            amount=body.amount,
            holder_id=body.holder_id,
            holder_qualified=body.holder_qualified,
            guarantor_reduction_pct=body.guarantor_reduction_pct,
            valid_from=body.valid_from,
            valid_to=body.valid_to,
            status=certificates.ISSUED,
            issued_at=body.issued_at,
        )
        doc = certificates.CertificateDocument(
            received, body.method, body.guarantor_id, body.access_code_hash
        )
        return CertificateOut.of(_call(lambda: certificates.register_certificate(ctx, doc)))

    @router.post("/certificates/{number}/return", response_model=CertificateOut, tags=tags)
    def give_back(number: Grn) -> CertificateOut:
        """At the issuing node: the certificate is no longer used; its amount goes back."""
        return CertificateOut.of(_call(lambda: certificates.return_certificate(ctx, number)))


def _claim_routes(router: APIRouter, node: Node) -> None:
    ctx = node.guarantees
    tags: list[str | Enum] = ["guarantees: claims"]

    @router.get("/claims", response_model=list[ClaimOut], tags=tags)
    def list_claims(
        open_only: Annotated[bool, Query(alias="open")] = False,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[ClaimOut]:
        found = claims.list_claims(ctx, open_only=open_only, offset=offset, limit=limit)
        return [ClaimOut.of(c) for c in found]

    @router.get("/claims/{claim_id}", response_model=ClaimOut, tags=tags)
    def get_claim(claim_id: ClaimId) -> ClaimOut:
        return ClaimOut.of(_call(lambda: claims.get_claim(ctx, claim_id)))

    @router.post(
        "/claims/{claim_id}/recoveries", status_code=201, response_model=RecoveryOut, tags=tags
    )
    def recover(claim_id: ClaimId, body: Annotated[RecoveryIn, Body()]) -> RecoveryOut:
        """The guarantor paid: record it and distribute it among the states."""
        done = _call(
            lambda: claims.recover(
                ctx, claim_id, key=body.key, amount=body.amount, on=body.recovered_on
            ),
            "/amount",
        )
        return RecoveryOut.of(done)

    @router.get("/distribution/report", response_model=ReportOut, tags=tags)
    def report(start: date, end: date) -> ReportOut:
        """What each state received in [start, end], per tax; sums to the cent."""
        found = _call(lambda: claims.distribution_report(ctx, start, end))
        return ReportOut(
            start=found.start,
            end=found.end,
            lines=[
                ReportLineOut(state=x.state, tax=x.tax, currency=x.currency, amount=str(x.amount))
                for x in found.lines
            ],
            by_state=[
                ReportLineOut(state=state, tax="all", currency=currency, amount=str(amount))
                for (state, currency), amount in sorted(found.by_state.items())
            ],
            totals={k: str(v) for k, v in found.totals.items()},
            recovered={k: str(v) for k, v in found.recovered.items()},
            balanced=found.balanced,
        )
