"""Guarantee use cases of one national node: the registry, the ledger, liability, exposure.

Each use case is one function and one transaction. The ledger's own rules are in
:mod:`silkway.guarantees.domain.guarantee`; its storage never reads-then-writes
(:mod:`silkway.guarantees.db.repository`). Locks placed through :func:`lock` go through
the node's :class:`~silkway.guarantees.batcher.LockBatcher`; the release gate
(:mod:`silkway.guarantees.gate`) locks inside the movement's own transaction instead,
so that a release and its lock are one change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from silkway.guarantees.access import hash_access_code, is_well_formed, new_access_code
from silkway.guarantees.batcher import DEFAULT_MAX_BATCH, LockBatcher
from silkway.guarantees.domain.guarantee import (
    AmountInvalid,
    CommandKind,
    Guarantee,
    GuaranteeMethod,
    GuaranteeScope,
    GuaranteeStatus,
    Guarantor,
    GuarantorKind,
    Holder,
    LedgerError,
    Outcome,
    RegistryInvalid,
    UnknownLock,
    check_amount,
    check_status_change,
)
from silkway.guarantees.domain.liability import (
    Liability,
    ReductionRule,
    VatStateRule,
    compute_liability,
)
from silkway.guarantees.ports import (
    AccountKind,
    GuaranteeRecord,
    GuarantorExposure,
    HistoryEntry,
    LedgerProblem,
    LockRecord,
    LockRequest,
    NewAccount,
    SettleRequest,
    StateExposure,
)
from silkway.kernel.codes import make_grn, validate_grn
from silkway.kernel.errors import DomainError, Violation
from silkway.node.ports import Clock, DuplicateKey
from silkway.reference.model import MEMBER_STATES, ReferenceData
from silkway.transit.domain.declaration import TransitDeclaration
from silkway.transit.domain.movement import TERMINAL_STATUSES
from silkway.transit.service import MovementNotFound
from silkway.unit_of_work import UnitOfWork

log = logging.getLogger("silkway.guarantees")


class GuaranteeNotFound(DomainError):
    code = "guarantee-not-found"


class GuarantorNotFound(DomainError):
    code = "guarantor-not-found"


class RegistrationInvalid(DomainError):
    code = "guarantee-registration-invalid"


class GuaranteeExists(DomainError):
    code = "guarantee-exists"


class RegistryBusy(DomainError):
    """A concurrent change won; the caller may retry."""

    code = "guarantee-busy"


class AccessCodeLocked(DomainError):
    """Too many wrong access codes were quoted for a guarantee lately: none is checked until
    ``locked_until`` (by the node's clock)."""

    code = "security-access-locked"

    def __init__(self, message: str, violations: list[Violation], *, locked_until: datetime):
        super().__init__(message, violations)
        self.locked_until = locked_until


@dataclass(frozen=True, slots=True)
class GuaranteePolicy:
    """Choices the law leaves open, and operating limits; the composition root may change them."""

    vat_state_rule: VatStateRule = VatStateRule.HIGHEST_ON_ROUTE
    reduction_rule: ReductionRule = ReductionRule.LARGER
    hold_days: int = 180
    """A lock placed at release may be expired this many days after the movement's time limit
    (room for the enquiry procedure); a lock placed through the API after this many days."""
    max_batch: int = DEFAULT_MAX_BATCH
    access_code_max_failures: int = 5
    """Wrong access codes quoted for one guarantee within ``access_code_window`` that lock it
    out: the next quote is refused unchecked until the oldest of them leaves the window."""
    access_code_window: timedelta = timedelta(minutes=15)
    accept_unregistered_certificates: bool = False
    """Lenient mode, off by default: accept a security certificate this node does not know on
    its number's format alone, locking nothing. Certificates reach the node that uses them over
    the exchange (MSG.912), or on paper through ``POST /certificates``; an unknown one is
    refused (``certificate-unknown``) unless this is set (``SILKWAY_ACCEPT_UNREGISTERED_CERTIFICATES``)."""


@dataclass(frozen=True)
class GuaranteeContext:
    """What the guarantee use cases of one node need, built by the composition root."""

    state: str
    reference: ReferenceData
    clock: Clock
    uow: Callable[[], UnitOfWork]
    policy: GuaranteePolicy = GuaranteePolicy()
    reader: Callable[[], UnitOfWork] | None = None
    """A unit of work that only reads (no write lock on SQLite); ``uow`` when not given."""
    batcher: LockBatcher = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Frozen like the other contexts; the batcher is built from the unit-of-work factory.
        object.__setattr__(self, "batcher", LockBatcher(self.uow, max_batch=self.policy.max_batch))

    def close(self) -> None:
        self.batcher.close()

    def read(self) -> UnitOfWork:
        return (self.reader or self.uow)()

    def deadline_after(self, day: date) -> datetime:
        """When a lock held for something ending on ``day`` may be expired."""
        return datetime.combine(day + timedelta(days=self.policy.hold_days + 1), time(0), UTC)


# --- registry ----------------------------------------------------------------------------------


def register_guarantor(
    ctx: GuaranteeContext,
    *,
    name: str,
    kind: GuarantorKind,
    country: str,
    national_guarantor: bool = False,
    reduction_pct: Decimal = Decimal(0),
    actor: str | None = None,
) -> Guarantor:
    """Register a bank, insurer or surety; national-guarantor status carries its reduction."""
    _registry_node(ctx)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        serial = uow.counters.next(f"guarantor:{ctx.state}")
        try:
            guarantor = Guarantor(
                f"{ctx.state}-GR{serial:06d}",
                name.strip(),
                kind,
                country,
                national_guarantor,
                reduction_pct,
            )
        except RegistryInvalid as exc:
            raise RegistrationInvalid(
                exc.message, [Violation(exc.code, "/reduction_pct", exc.message)]
            ) from exc
        uow.guarantees.add_guarantor(guarantor, now, actor or f"node:{ctx.state}")
        uow.commit()
    return guarantor


def list_guarantors(ctx: GuaranteeContext) -> list[Guarantor]:
    with ctx.read() as uow:
        return uow.guarantees.guarantors()


def get_guarantor(ctx: GuaranteeContext, guarantor_id: str) -> Guarantor:
    with ctx.read() as uow:
        found = uow.guarantees.guarantor(guarantor_id)
    if found is None:
        raise GuarantorNotFound(f"no guarantor {guarantor_id!r} at this node")
    return found


def register_holder(ctx: GuaranteeContext, holder: Holder, *, actor: str | None = None) -> Holder:
    """Register a holder, or update its name and qualified status."""
    _registry_node(ctx)
    with ctx.uow() as uow:
        uow.guarantees.put_holder(holder, ctx.clock.now(), actor or f"node:{ctx.state}")
        uow.commit()
    return holder


@dataclass(frozen=True, slots=True)
class GuaranteeApplication:
    """What a guarantor lodges to register a guarantee."""

    method: GuaranteeMethod
    scope: GuaranteeScope
    reference_amount: Decimal
    currency: str
    guarantor_id: str
    holder_id: str
    valid_from: date | None = None
    """Default: the day of registration."""
    valid_to: date | None = None
    valid_states: frozenset[str] = frozenset(MEMBER_STATES)
    grn: str | None = None
    """A GRN already issued by this state (taken over from an earlier registry); else a new one."""
    access_code: str | None = None
    """The access code that goes with ``grn``; else a new one."""


@dataclass(frozen=True, slots=True)
class Registered:
    record: GuaranteeRecord
    access_code: str
    """Shown once, to be handed to the holder; the registry keeps only its hash."""


def register_guarantee(
    ctx: GuaranteeContext, application: GuaranteeApplication, *, actor: str | None = None
) -> Registered:
    """Register a guarantee: a GRN with its check digit and an access code for the holder."""
    _registry_node(ctx)
    now = ctx.clock.now()
    app = application
    valid_from = app.valid_from or now.date()
    violations = _application_violations(ctx, app, valid_from)
    access_code = app.access_code or new_access_code()
    access_hash = hash_access_code(access_code)
    with ctx.uow() as uow:
        if uow.guarantees.guarantor(app.guarantor_id) is None:
            violations.append(
                Violation("guarantor-unknown", "/guarantor_id", f"no guarantor {app.guarantor_id}")
            )
        if uow.guarantees.holder(app.holder_id) is None:
            violations.append(
                Violation("holder-unknown", "/holder_id", f"no holder {app.holder_id}")
            )
        if violations:
            raise RegistrationInvalid(
                f"the application breaks {len(violations)} rule(s)", violations
            )
        for _attempt in range(3):
            grn = app.grn or _new_grn(uow, ctx.state, now.year)
            guarantee = Guarantee(
                grn=grn,
                method=app.method,
                scope=app.scope,
                status=GuaranteeStatus.ACTIVE,
                reference_amount=app.reference_amount,
                currency=app.currency,
                valid_from=valid_from,
                valid_to=app.valid_to,
                valid_states=app.valid_states,
            )
            try:
                uow.guarantees.add_account(
                    NewAccount(
                        guarantee=guarantee,
                        account_kind=AccountKind.GUARANTEE,
                        guarantor_id=app.guarantor_id,
                        holder_id=app.holder_id,
                        access_code_hash=access_hash,
                        home_state=ctx.state,
                        at=now,
                        actor=actor or f"node:{ctx.state}",
                    )
                )
            except DuplicateKey:
                if app.grn is not None:
                    raise GuaranteeExists(
                        f"guarantee {app.grn} is already registered",
                        [Violation("guarantee-exists", "/grn", "GRN already registered")],
                    ) from None
                continue  # a taken-over GRN had the next serial: draw another
            record = uow.guarantees.guarantee(grn)
            assert record is not None
            uow.commit()
            return Registered(record, access_code)
    raise RegistryBusy("no free GRN could be drawn; try again")


def _registry_node(ctx: GuaranteeContext) -> None:
    if ctx.state not in MEMBER_STATES:
        raise RegistrationInvalid(
            f"the {ctx.state} node keeps no guarantee registry; register at a member state's node"
        )


def _new_grn(uow: UnitOfWork, state: str, year: int) -> str:
    serial = uow.counters.next(f"grn:{state}:{year}")
    return make_grn(year, state, f"G{serial:011d}")


def _application_violations(
    ctx: GuaranteeContext, app: GuaranteeApplication, valid_from: date
) -> list[Violation]:
    found: list[Violation] = []
    try:
        check_amount(app.reference_amount, app.currency)
    except AmountInvalid as exc:
        pointer = "/currency" if "currency" in exc.message else "/reference_amount"
        found.append(Violation(exc.code, pointer, exc.message))
    if app.valid_to is not None and app.valid_to < valid_from:
        found.append(Violation("validity-inverted", "/valid_to", "valid_to is before valid_from"))
    unknown = sorted(app.valid_states - set(MEMBER_STATES))
    if not app.valid_states or unknown:
        found.append(
            Violation(
                "valid-states-invalid",
                "/valid_states",
                f"name member states only ({', '.join(MEMBER_STATES)}); unknown: {unknown}",
            )
        )
    if app.grn is not None:
        verdict = validate_grn(app.grn)
        if not verdict.valid or len(app.grn) != 17:
            found.append(Violation("grn-invalid", "/grn", str(verdict.reason or "not 17 chars")))
        elif app.grn[2:4] != ctx.state:
            found.append(
                Violation("grn-other-state", "/grn", f"a GRN issued here starts with {ctx.state}")
            )
    if app.access_code is not None and not is_well_formed(app.access_code):
        found.append(
            Violation("access-code-invalid", "/access_code", "4 capital letters or digits")
        )
    return found


def change_status(
    ctx: GuaranteeContext,
    grn: str,
    target: GuaranteeStatus,
    *,
    reason: str | None = None,
    actor: str | None = None,
) -> GuaranteeRecord:
    """Suspend, reinstate, revoke or expire a guarantee (new locks need it ACTIVE)."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        record = _record(uow, grn)
        check_status_change(record.guarantee.status, target)
        changed = uow.guarantees.set_status(
            grn,
            target,
            expected=record.guarantee.status,
            reason=reason,
            at=now,
            actor=actor or f"node:{ctx.state}",
        )
        if changed is None:
            raise RegistryBusy(f"guarantee {grn} changed meanwhile; try again")
        uow.commit()
    return changed


def authorise_holder(
    ctx: GuaranteeContext, grn: str, holder_id: str, *, actor: str | None = None
) -> list[str]:
    """Let another holder quote the guarantee; returns every authorised holder."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        _record(uow, grn)
        if uow.guarantees.holder(holder_id) is None:
            raise RegistrationInvalid(
                f"no holder {holder_id}",
                [Violation("holder-unknown", "/holder_id", f"no holder {holder_id}")],
            )
        if uow.guarantees.authorise(grn, holder_id, now):
            uow.guarantees.record_change(
                grn, "authorise", at=now, actor=actor or f"node:{ctx.state}", note=holder_id
            )
        holders = uow.guarantees.authorised_holders(grn)
        uow.commit()
    return holders


def withdraw_authorisation(
    ctx: GuaranteeContext, grn: str, holder_id: str, *, actor: str | None = None
) -> list[str]:
    now = ctx.clock.now()
    with ctx.uow() as uow:
        _record(uow, grn)
        if uow.guarantees.withdraw_authorisation(grn, holder_id):
            uow.guarantees.record_change(
                grn, "withdraw", at=now, actor=actor or f"node:{ctx.state}", note=holder_id
            )
        holders = uow.guarantees.authorised_holders(grn)
        uow.commit()
    return holders


def _record(uow: UnitOfWork, grn: str) -> GuaranteeRecord:
    record = uow.guarantees.guarantee(grn)
    if record is None:
        raise GuaranteeNotFound(f"no guarantee {grn!r} at this node")
    return record


# --- reads -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GuaranteeView:
    record: GuaranteeRecord
    guarantor: Guarantor | None
    holder: Holder | None
    authorised_holders: list[str]


def get_guarantee(ctx: GuaranteeContext, grn: str) -> GuaranteeView:
    with ctx.read() as uow:
        record = _record(uow, grn)
        return GuaranteeView(
            record,
            uow.guarantees.guarantor(record.guarantor_id),
            uow.guarantees.holder(record.holder_id),
            uow.guarantees.authorised_holders(grn),
        )


def list_guarantees(
    ctx: GuaranteeContext,
    *,
    guarantor_id: str | None = None,
    holder_id: str | None = None,
    status: GuaranteeStatus | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[GuaranteeRecord]:
    with ctx.read() as uow:
        return uow.guarantees.search_guarantees(
            guarantor_id=guarantor_id,
            holder_id=holder_id,
            status=status,
            offset=offset,
            limit=limit,
        )


@dataclass(frozen=True, slots=True)
class BalanceView:
    """A guarantee's figures and its use per movement (the content of NCTS CC037C)."""

    record: GuaranteeRecord
    usages: list[LockRecord]
    """Locks still pending, oldest first."""


def balance(ctx: GuaranteeContext, grn: str) -> BalanceView:
    with ctx.read() as uow:
        record = _record(uow, grn)
        usages = uow.guarantees.locks(grn=grn, pending_only=True)
    return BalanceView(record, usages)


def history(
    ctx: GuaranteeContext, grn: str, *, offset: int = 0, limit: int = 100
) -> list[HistoryEntry]:
    with ctx.read() as uow:
        _record(uow, grn)
        return uow.guarantees.history(grn, offset=offset, limit=limit)


def get_lock(ctx: GuaranteeContext, lock_id: str) -> LockRecord:
    with ctx.read() as uow:
        found = uow.guarantees.lock(lock_id)
    if found is None:
        raise UnknownLock(f"no lock {lock_id!r}")
    return found


@dataclass(frozen=True, slots=True)
class Exposure:
    """What the dashboard shows: exposure per guarantor, and per guarantor and state."""

    guarantors: list[GuarantorExposure]
    states: list[StateExposure]


def exposure(ctx: GuaranteeContext) -> Exposure:
    with ctx.read() as uow:
        return Exposure(uow.guarantees.guarantor_exposure(), uow.guarantees.state_exposure())


# --- ledger commands ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LockCommand:
    """A lock asked for through the API (another node's release, a manual hold)."""

    key: str
    grn: str
    amount: Decimal
    currency: str
    state: str | None = None
    """The state releasing the movement; default this node's."""
    movement_reference: str | None = None
    hold_until: date | None = None
    """Default: ``policy.hold_days`` from today."""


def lock(ctx: GuaranteeContext, command: LockCommand, *, actor: str | None = None) -> Outcome:
    """Hold an amount on a guarantee, in the next batch; raises the LedgerError if refused."""
    return ctx.batcher.lock(_lock_request(ctx, command, actor))


def lock_now(ctx: GuaranteeContext, command: LockCommand, *, actor: str | None = None) -> Outcome:
    """The same as :func:`lock` in a transaction of its own (no batching)."""
    request = _lock_request(ctx, command, actor)
    with ctx.uow() as uow:
        [answer] = uow.guarantees.lock_many([request])
        if isinstance(answer, LedgerError):
            raise answer
        uow.commit()
    return answer


def _lock_request(ctx: GuaranteeContext, command: LockCommand, actor: str | None) -> LockRequest:
    now = ctx.clock.now()
    today = now.date()
    return LockRequest(
        key=command.key,
        grn=command.grn,
        amount=command.amount,
        currency=command.currency,
        state=command.state or ctx.state,
        on=today,
        at=now,
        deadline=ctx.deadline_after(command.hold_until or today),
        movement_reference=command.movement_reference,
        actor=actor or f"node:{ctx.state}",
    )


def credit(
    ctx: GuaranteeContext,
    key: str,
    lock_id: str,
    amount: Decimal | None = None,
    *,
    actor: str | None = None,
) -> Outcome:
    """Credit back ``amount`` of the lock (all that is held when ``None``)."""
    return _settle(ctx, key, CommandKind.CREDIT, lock_id, amount, actor)


def void(ctx: GuaranteeContext, key: str, lock_id: str, *, actor: str | None = None) -> Outcome:
    """Cancel a lock before anything was credited: the whole amount goes back."""
    return _settle(ctx, key, CommandKind.VOID, lock_id, None, actor)


def _settle(
    ctx: GuaranteeContext,
    key: str,
    kind: CommandKind,
    lock_id: str,
    amount: Decimal | None,
    actor: str | None,
) -> Outcome:
    now = ctx.clock.now()
    with ctx.uow() as uow:
        outcome = uow.guarantees.settle(
            SettleRequest(key, kind, lock_id, now, amount, actor=actor or f"node:{ctx.state}")
        )
        uow.commit()
    return outcome


def expire_due_locks(
    ctx: GuaranteeContext, *, limit: int = 500, actor: str | None = None
) -> list[str]:
    """Expire every pending lock past its deadline; returns the lock ids expired.

    A lock placed for a movement this node holds covers it until the movement ends, however
    long its enquiry takes: while the movement is open (any status but the terminal ones of
    the movement machine) its lock is not expired but kept ``hold_days`` longer, and a warning
    says that the movement has outlived its time limit by that much. A terminal movement's lock
    still pending (the rest of a partial completion) and a lock placed through the ledger API
    for another node's movement expire at their deadline.
    """
    now = ctx.clock.now()
    with ctx.read() as uow:
        due = uow.guarantees.due_locks(now, limit=limit)
    expired = []
    for lock_id in due:
        try:
            with ctx.uow() as uow:
                if _keep_for_open_movement(ctx, uow, lock_id, now):
                    uow.commit()
                    continue
                uow.guarantees.settle(
                    SettleRequest(
                        f"expire:{lock_id}",
                        CommandKind.EXPIRE,
                        lock_id,
                        now,
                        due_before=now,
                        actor=actor or f"node:{ctx.state}",
                    )
                )
                uow.commit()
        except LedgerError:
            continue  # settled or extended meanwhile
        expired.append(lock_id)
    return expired


def _keep_for_open_movement(
    ctx: GuaranteeContext, uow: UnitOfWork, lock_id: str, now: datetime
) -> bool:
    """Whether the lock's movement is still open here; if so its deadline moves on."""
    found = uow.guarantees.lock(lock_id)
    reference = found.movement_reference if found is not None else None
    movement = uow.movements.get(reference) if reference is not None else None
    if movement is None or movement.status in TERMINAL_STATUSES:
        return False
    deadline = ctx.deadline_after(now.date())
    uow.guarantees.extend_deadlines(movement.reference, deadline)
    log.warning(
        "lock %s kept past its deadline: movement %s is still %s; next look %s",
        lock_id,
        movement.reference,
        movement.status.value,
        deadline.date().isoformat(),
    )
    return True


# --- liability ---------------------------------------------------------------------------------


def explain_liability(
    ctx: GuaranteeContext,
    declaration: TransitDeclaration,
    *,
    holder_qualified: bool = False,
    guarantor_reduction_pct: Decimal = Decimal(0),
    currency: str = "EUR",
    on: date | None = None,
    vat_state_rule: VatStateRule | None = None,
) -> Liability:
    """The security ``declaration`` needs, with the calculation line by line."""
    return compute_liability(
        declaration,
        ctx.reference,
        on or ctx.clock.now().date(),
        vat_state_rule or ctx.policy.vat_state_rule,
        holder_qualified=holder_qualified,
        guarantor_reduction_pct=guarantor_reduction_pct,
        currency=currency,
        reduction_rule=ctx.policy.reduction_rule,
    )


@dataclass(frozen=True, slots=True)
class Cover:
    """What a quoted guarantee (or received certificate) brings to a declarant's liability."""

    record: GuaranteeRecord
    holder_qualified: bool
    guarantor_reduction_pct: Decimal


def cover_for(uow: UnitOfWork, record: GuaranteeRecord, declarant_id: str) -> Cover:
    """The reductions a declarant gets on ``record``: its own qualification, the guarantor's."""
    if record.account_kind is AccountKind.CERTIFICATE:
        certificate = uow.guarantees.certificate(record.grn)
        if certificate is None:
            return Cover(record, False, Decimal(0))
        qualified = certificate.holder_qualified and certificate.holder_id == declarant_id
        return Cover(record, qualified, certificate.guarantor_reduction_pct)
    guarantor = uow.guarantees.guarantor(record.guarantor_id)
    holder = uow.guarantees.holder(declarant_id)
    pct = guarantor.reduction_pct if guarantor and guarantor.national_guarantor else Decimal(0)
    return Cover(record, bool(holder and holder.qualified), pct)


def liability_with(
    ctx: GuaranteeContext, declaration: TransitDeclaration, cover: Cover, on: date
) -> Liability:
    return explain_liability(
        ctx,
        declaration,
        holder_qualified=cover.holder_qualified,
        guarantor_reduction_pct=cover.guarantor_reduction_pct,
        currency=cover.record.guarantee.currency,
        on=on,
    )


def list_problems(
    ctx: GuaranteeContext, *, offset: int = 0, limit: int = 100
) -> tuple[int, list[LedgerProblem]]:
    """What the ledger could not do and an operator must settle: how many, and the newest."""
    with ctx.read() as uow:
        return uow.guarantees.count_problems(), uow.guarantees.problems(offset=offset, limit=limit)


def release_lock_id(movement_reference: str) -> str:
    """The lock a movement's release places: its id is its idempotency key."""
    return f"release:{movement_reference}"


@dataclass(frozen=True, slots=True)
class LiabilityView:
    """A liability as the API shows it: the explanation tree and the lines to redo by hand."""

    tree: dict[str, Any]
    explanation: list[str]
    locked: bool
    """True when this is what the release locked (stored), False when computed now."""

    @classmethod
    def of(cls, liability: Liability, *, locked: bool = False) -> LiabilityView:
        return cls(liability.as_dict(), liability.explain(), locked)


def lock_detail(liability: Liability) -> dict[str, Any]:
    """What a lock keeps of the liability it holds (read back by partial credits and claims)."""
    return {"liability": liability.as_dict(), "explanation": liability.explain()}


def movement_liability(ctx: GuaranteeContext, reference: str) -> LiabilityView:
    """A movement's liability: as locked at its release, else computed now with the reductions
    of the first guarantee it quotes that this node knows."""
    with ctx.read() as uow:
        locked = uow.guarantees.lock(release_lock_id(reference))
        if locked is not None and locked.detail is not None:
            detail = locked.detail
            return LiabilityView(dict(detail["liability"]), list(detail["explanation"]), True)
        movement = uow.movements.get(reference)
        if movement is None:
            raise MovementNotFound(f"no movement {reference!r} at the {ctx.state} node")
        decl = movement.declaration
        declarant = decl.declarant.identification
        covers = [
            cover_for(uow, record, declarant)
            for record in (uow.guarantees.guarantee(s.reference) for s in decl.security)
            if record is not None
        ]
    today = ctx.clock.now().date()
    if covers:
        return LiabilityView.of(liability_with(ctx, decl, covers[0], today))
    return LiabilityView.of(explain_liability(ctx, decl, on=today))
