"""What the guarantee registry and ledger services need from storage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from silkway.guarantees.domain.distribution import ClaimLine, DistributionLine
from silkway.guarantees.domain.guarantee import (
    Balance,
    CertificateKind,
    CommandKind,
    Guarantee,
    GuaranteeStatus,
    Guarantor,
    Holder,
    LedgerError,
    Lock,
    Outcome,
)

NO_DEADLINE = datetime(9999, 12, 31, tzinfo=UTC)
"""An expiry command given this bound expires the lock whatever its deadline."""


class AccountKind(StrEnum):
    """What a ledger account is: a guarantee registered here, or a certificate received."""

    GUARANTEE = "guarantee"
    CERTIFICATE = "certificate"


@dataclass(frozen=True, slots=True)
class GuaranteeRecord:
    """A ledger account as the registry holds it, with its balance."""

    guarantee: Guarantee
    account_kind: AccountKind
    balance: Balance
    guarantor_id: str
    holder_id: str
    access_code_hash: str
    home_state: str
    registered_at: datetime
    locks_placed: int
    status_reason: str | None = None

    @property
    def grn(self) -> str:
        return self.guarantee.grn


@dataclass(frozen=True, slots=True)
class NewAccount:
    """Everything the registry stores for a new guarantee (or received certificate)."""

    guarantee: Guarantee
    account_kind: AccountKind
    guarantor_id: str
    holder_id: str
    access_code_hash: str
    home_state: str
    at: datetime
    actor: str


@dataclass(frozen=True, slots=True)
class LockRequest:
    """One lock command: hold ``amount`` on ``grn`` for a movement released in ``state``."""

    key: str
    """Client-generated idempotency key; it becomes the lock id."""
    grn: str
    amount: Decimal
    currency: str
    state: str
    on: date
    """The calculation date: the guarantee must be valid on it."""
    at: datetime
    deadline: datetime
    """When a lock still pending may be expired."""
    movement_reference: str | None = None
    detail: Mapping[str, Any] | None = None
    actor: str = "ledger"


@dataclass(frozen=True, slots=True)
class SettleRequest:
    """Credit, void, post or expire a lock."""

    key: str
    kind: CommandKind
    lock_id: str
    at: datetime
    amount: Decimal | None = None
    """For a credit: the part to credit back (``None``: all that is held)."""
    due_before: datetime = NO_DEADLINE
    """For an expiry: only a lock whose deadline is before this is expired."""
    actor: str = "ledger"


@dataclass(frozen=True, slots=True)
class LockRecord:
    lock: Lock
    movement_reference: str | None
    deadline: datetime
    placed_at: datetime
    detail: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of a guarantee's append-only history, with the balance right after it."""

    seq: int
    grn: str
    kind: str
    at: datetime
    actor: str
    balance: Balance
    key: str | None = None
    lock_id: str | None = None
    movement_reference: str | None = None
    amount: Decimal | None = None
    lock_status: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class GuarantorExposure:
    """Totals of one guarantor's guarantees in one currency."""

    guarantor_id: str
    name: str
    currency: str
    guarantees: int
    reference_amount: Decimal
    locked: Decimal
    posted: Decimal

    @property
    def available(self) -> Decimal:
        return self.reference_amount - self.locked - self.posted


@dataclass(frozen=True, slots=True)
class StateExposure:
    """What one guarantor holds locked for movements released in one state."""

    guarantor_id: str
    state: str
    currency: str
    pending_locks: int
    held: Decimal


@dataclass(frozen=True, slots=True)
class Certificate:
    """A security certificate: a guarantee's cover carried to another member state."""

    number: str
    kind: CertificateKind
    direction: str
    """``issued`` at the guarantee's home node, ``received`` at the node that uses it."""
    grn: str
    issued_by: str
    used_in: str
    currency: str
    amount: Decimal
    holder_id: str
    holder_qualified: bool
    guarantor_reduction_pct: Decimal
    valid_from: date
    valid_to: date
    status: str
    issued_at: datetime
    lock_id: str | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """A debt posted against a guarantee on non-delivery, and what was recovered of it."""

    claim_id: str
    lock_id: str
    grn: str
    movement_reference: str | None
    claim_date: date
    currency: str
    amount: Decimal
    recovered: Decimal
    debt: tuple[ClaimLine, ...]
    created_at: datetime

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.recovered

    @property
    def status(self) -> str:
        return "recovered" if self.recovered == self.amount else "open"


@dataclass(frozen=True, slots=True)
class Recovery:
    """One payment of a guarantor on a claim, and who receives it."""

    key: str
    claim_id: str
    amount: Decimal
    recovered_on: date
    at: datetime
    lines: tuple[DistributionLine, ...]


@dataclass(frozen=True, slots=True)
class DistributionTotal:
    state: str
    tax: str
    currency: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LedgerProblem:
    """Something the ledger could not do and an operator must settle: kept, counted, listed."""

    kind: str
    message: str
    at: datetime
    grn: str | None = None
    lock_id: str | None = None
    movement_reference: str | None = None
    problem_id: int | None = None
    """Given by the store."""


UNPOSTED_NON_DELIVERY = "non-delivery-not-posted"
"""Goods were declared not delivered but their lock held nothing to post (an officer had
settled it by hand): the duties are owed and no claim could be opened from the lock."""


class GuaranteeRepository(Protocol):
    """Storage of the guarantee registry and ledger, inside the node's unit of work.

    Ledger commands never read a balance to decide: each is a guarded ``UPDATE`` that changes
    the row only if the change is allowed, and reads only to explain a refusal.
    """

    # --- registry

    def add_guarantor(self, guarantor: Guarantor, at: datetime, actor: str) -> None: ...

    def guarantor(self, guarantor_id: str) -> Guarantor | None: ...

    def guarantors(self) -> list[Guarantor]: ...

    def put_holder(self, holder: Holder, at: datetime, actor: str) -> None:
        """Register the holder, or update its name and qualification (``actor`` made the
        latest change)."""
        ...

    def holder(self, holder_id: str) -> Holder | None: ...

    def add_account(self, account: NewAccount) -> None:
        """Register a guarantee or received certificate; DuplicateKey if the GRN is taken."""
        ...

    def guarantee(self, grn: str) -> GuaranteeRecord | None: ...

    def search_guarantees(
        self,
        *,
        guarantor_id: str | None = None,
        holder_id: str | None = None,
        status: GuaranteeStatus | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[GuaranteeRecord]: ...

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
        """Change the status if it is still ``expected``; ``None`` if it was not."""
        ...

    def authorise(self, grn: str, holder_id: str, at: datetime) -> bool:
        """Let ``holder_id`` quote ``grn``; False when it already could."""
        ...

    def withdraw_authorisation(self, grn: str, holder_id: str) -> bool: ...

    def record_change(self, grn: str, kind: str, *, at: datetime, actor: str, note: str) -> None:
        """Write a registry change that moves no money into the guarantee's history."""
        ...

    def authorised_holders(self, grn: str) -> list[str]: ...

    def may_quote(self, grn: str, holder_id: str) -> bool:
        """Whether ``holder_id`` holds ``grn`` or is authorised to quote it."""
        ...

    # --- ledger

    def lock_many(
        self, requests: Sequence[LockRequest], *, assume_new: bool = False
    ) -> list[Outcome | LedgerError]:
        """Apply lock commands in order, each answered on its own (a key used before gets its
        first answer back).

        Raises DuplicateKey when a concurrent transaction took one of the keys, or, with
        ``assume_new`` (earlier answers are looked up only for refused requests, for speed),
        when a key used before would be placed again: the caller rolls back and retries each
        request alone.
        """
        ...

    def settle(self, request: SettleRequest) -> Outcome:
        """Credit, void, post or expire a lock; raises a LedgerError and changes nothing if
        refused."""
        ...

    def lock(self, lock_id: str) -> LockRecord | None: ...

    def locks(
        self,
        *,
        grn: str | None = None,
        movement_reference: str | None = None,
        pending_only: bool = False,
        limit: int = 1000,
    ) -> list[LockRecord]: ...

    def due_locks(self, now: datetime, *, limit: int) -> list[str]:
        """Pending locks whose deadline is past."""
        ...

    def extend_deadlines(self, movement_reference: str, deadline: datetime) -> int:
        """Move the deadline of the movement's pending locks to ``deadline`` if later."""
        ...

    def history(self, grn: str, *, offset: int = 0, limit: int = 100) -> list[HistoryEntry]: ...

    def guarantor_exposure(self) -> list[GuarantorExposure]: ...

    def state_exposure(self) -> list[StateExposure]: ...

    def add_access_failure(self, grn: str, at: datetime, actor: str) -> None:
        """Record a wrong access code quoted for ``grn``."""
        ...

    def access_failures(self, grn: str, *, since: datetime) -> list[datetime]:
        """When wrong access codes were quoted for ``grn`` after ``since``, oldest first."""
        ...

    # --- certificates

    def add_certificate(
        self, certificate: Certificate, *, access_code_hash: str | None = None
    ) -> None:
        """Store a certificate; an issued one keeps the hash of its own access code."""
        ...

    def certificate_access_code_hash(self, number: str) -> str | None:
        """The hash of an issued certificate's own access code (None if it has none)."""
        ...

    def certificate(self, number: str) -> Certificate | None: ...

    def certificates(self, *, grn: str | None = None) -> list[Certificate]: ...

    def set_certificate_status(self, number: str, status: str, *, expected: str) -> bool: ...

    # --- problems for an operator

    def add_problem(self, problem: LedgerProblem) -> None: ...

    def problems(self, *, offset: int = 0, limit: int = 100) -> list[LedgerProblem]:
        """Newest first."""
        ...

    def count_problems(self) -> int: ...

    # --- claims and distribution

    def add_claim(self, claim: Claim) -> None: ...

    def claim(self, claim_id: str) -> Claim | None: ...

    def claims(
        self, *, open_only: bool = False, offset: int = 0, limit: int = 100
    ) -> list[Claim]: ...

    def add_recovery(self, recovery: Recovery) -> bool:
        """Record a payment and its distribution; False if it would exceed the claim."""
        ...

    def recovery(self, key: str) -> Recovery | None: ...

    def distribution_totals(self, start: date, end: date) -> list[DistributionTotal]:
        """What each state received per tax and currency from recoveries in [start, end]."""
        ...

    def recovered_totals(self, start: date, end: date) -> dict[str, Decimal]:
        """What guarantors paid per currency in [start, end]."""
        ...


__all__ = [
    "NO_DEADLINE",
    "UNPOSTED_NON_DELIVERY",
    "AccountKind",
    "Certificate",
    "Claim",
    "DistributionTotal",
    "GuaranteeRecord",
    "GuaranteeRepository",
    "GuarantorExposure",
    "HistoryEntry",
    "LedgerProblem",
    "LockRecord",
    "LockRequest",
    "NewAccount",
    "Recovery",
    "SettleRequest",
    "StateExposure",
]
