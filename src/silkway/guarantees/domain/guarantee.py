"""Guarantee ledger rules: what a lock, credit, void, post or expiry does to a balance.

The ledger is two-phase, as in the EU's guarantee management (DOMAIN.md §4): at release the
movement's amount is *locked* against the guarantee; the lock then ends in exactly one terminal
state:

* CREDITED — the goods arrived; the amount goes back to ``available``;
* VOIDED — the movement was cancelled before anything arrived; the amount goes back;
* POSTED — non-delivery; the amount becomes a debt the guarantor pays and stays consumed;
* EXPIRED — the lock's hold period ran out; the amount goes back.

Partial completion (Customs Code: the procedure is completed for the part that arrived) credits
the delivered part and leaves the rest locked, the lock staying PENDING until the enquiry ends
with a final credit, a post or an expiry. A lock that was partly credited can no longer be
voided: something has arrived, so the movement cannot be cancelled.

Idempotency: every command carries a client key. The same key with the same request returns the
first result and changes nothing; the same key with a different request (another amount, lock,
guarantee, state or command) raises :class:`IdempotencyConflict`. The calculation date is not
part of the request, so a retry on a later day still finds its first answer. Only commands that
succeeded are remembered: a refused command changed nothing and may be retried with its key. A
lock is identified by the key of the command that placed it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from silkway.guarantees.domain.liability import (
    GUARANTOR_REDUCTION_MAX_PCT,
    GUARANTOR_REDUCTION_MIN_PCT,
    UnknownCurrency,
    money_quantum,
)
from silkway.kernel.errors import DomainError

MAX_AMOUNT = Decimal("1E+15")
"""Amounts stay below this, so that ledger arithmetic is exact at the default precision and any
sum of amounts, counted in hundredths of the currency unit, fits a signed 64-bit column."""


class GuaranteeMethod(StrEnum):
    CASH = "cash"
    BANK_GUARANTEE = "bank_guarantee"
    SURETY = "surety"
    PLEDGE = "pledge"


class GuaranteeScope(StrEnum):
    SINGLE = "single"
    """Covers one operation: one lock, ever."""
    GENERAL = "general"
    """Covers many operations over a period, up to the reference amount."""


class GuaranteeStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


class LockStatus(StrEnum):
    PENDING = "pending"
    CREDITED = "credited"
    VOIDED = "voided"
    POSTED = "posted"
    EXPIRED = "expired"


LOCK_TRANSITIONS: Mapping[LockStatus, frozenset[LockStatus]] = MappingProxyType(
    {
        LockStatus.PENDING: frozenset(
            {LockStatus.CREDITED, LockStatus.VOIDED, LockStatus.POSTED, LockStatus.EXPIRED}
        ),
        LockStatus.CREDITED: frozenset(),
        LockStatus.VOIDED: frozenset(),
        LockStatus.POSTED: frozenset(),
        LockStatus.EXPIRED: frozenset(),
    }
)
"""Allowed lock status changes; a status with no way out is terminal."""

TERMINAL_LOCK_STATUSES: frozenset[LockStatus] = frozenset(
    status for status, targets in LOCK_TRANSITIONS.items() if not targets
)


class LedgerError(DomainError):
    """Base of the guarantee ledger's refusals."""

    code = "ledger-error"


class InsufficientFunds(LedgerError):
    code = "insufficient-funds"

    def __init__(self, requested: Decimal, available: Decimal) -> None:
        super().__init__(f"requested {requested} but only {available} is available")
        self.requested = requested
        self.available = available


class LockTransitionError(LedgerError):
    code = "lock-transition-forbidden"

    def __init__(self, current: LockStatus, target: LockStatus, reason: str = "") -> None:
        why = f": {reason}" if reason else ""
        super().__init__(f"lock cannot go from {current.value} to {target.value}{why}")
        self.current = current
        self.target = target


class IdempotencyConflict(LedgerError):
    code = "idempotency-conflict"

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used for a different request")
        self.key = key


class LockRefused(LedgerError):
    """The guarantee cannot take a lock now (status, validity, state or scope)."""

    code = "lock-refused"


class AmountInvalid(LedgerError):
    code = "amount-invalid"


class BalanceInvariantViolated(LedgerError):
    code = "balance-invariant-violated"


class UnknownGuarantee(LedgerError):
    code = "unknown-guarantee"


class UnknownLock(LedgerError):
    code = "unknown-lock"


@dataclass(frozen=True, slots=True)
class Guarantee:
    """A security given for duties in transit, as registered by a national registry."""

    grn: str
    method: GuaranteeMethod
    scope: GuaranteeScope
    status: GuaranteeStatus
    reference_amount: Decimal
    currency: str
    valid_from: date
    valid_to: date | None
    valid_states: frozenset[str]
    """Member states where the guarantee may be used (all five for a Union-wide one)."""

    def __post_init__(self) -> None:
        check_amount(self.reference_amount, self.currency)
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise LedgerError(f"guarantee {self.grn}: valid_to is before valid_from")
        if not self.valid_states:
            raise LedgerError(f"guarantee {self.grn}: valid in no state")


@dataclass(frozen=True, slots=True)
class Balance:
    """A guarantee's figures; ``available = reference_amount − locked − posted ≥ 0`` always."""

    reference_amount: Decimal
    locked: Decimal
    posted: Decimal
    available: Decimal

    def __post_init__(self) -> None:
        figures = (self.reference_amount, self.locked, self.posted, self.available)
        if not all(f.is_finite() for f in figures):
            raise BalanceInvariantViolated(f"non-finite figure in {self}")
        if min(self.locked, self.posted, self.available) < 0:
            raise BalanceInvariantViolated(f"negative figure in {self}")
        if self.available != self.reference_amount - self.locked - self.posted:
            raise BalanceInvariantViolated(f"available is not reference − locked − posted: {self}")

    @classmethod
    def of(cls, reference_amount: Decimal, locked: Decimal, posted: Decimal) -> Balance:
        return cls(reference_amount, locked, posted, reference_amount - locked - posted)

    @classmethod
    def opening(cls, reference_amount: Decimal) -> Balance:
        return cls.of(reference_amount, Decimal(0), Decimal(0))


@dataclass(frozen=True, slots=True)
class Lock:
    """An amount held against a guarantee for one movement.

    ``amount = held + credited + posted + released`` always: ``held`` is still locked,
    ``released`` went back by a void or an expiry.
    """

    lock_id: str
    grn: str
    state: str
    """The member state that asked for the lock."""
    currency: str
    amount: Decimal
    held: Decimal
    credited: Decimal = Decimal(0)
    posted: Decimal = Decimal(0)
    released: Decimal = Decimal(0)
    status: LockStatus = LockStatus.PENDING


def check_amount(amount: Decimal, currency: str) -> None:
    """Raise :class:`AmountInvalid` unless ``amount`` is positive and in whole minor units."""
    try:
        quantum = money_quantum(currency)
    except UnknownCurrency as exc:
        raise AmountInvalid(exc.message) from exc
    if not amount.is_finite() or amount <= 0:
        raise AmountInvalid(f"amount must be positive, got {amount}")
    if amount >= MAX_AMOUNT:
        raise AmountInvalid(f"amount {amount} is not below the ledger's limit of {MAX_AMOUNT}")
    if amount % quantum != 0:
        raise AmountInvalid(f"amount {amount} is not a whole number of {quantum} {currency}")


def check_lock_transition(current: LockStatus, target: LockStatus) -> None:
    if target not in LOCK_TRANSITIONS[current]:
        raise LockTransitionError(current, target)


def refusal(guarantee: Guarantee, *, state: str, on: date, locks_so_far: int) -> str | None:
    """Why ``guarantee`` cannot take a lock for ``state`` on ``on``, or ``None`` if it can."""
    g = guarantee
    if g.status is not GuaranteeStatus.ACTIVE:
        return f"guarantee {g.grn} is {g.status.value}"
    if on < g.valid_from or (g.valid_to is not None and on > g.valid_to):
        return f"guarantee {g.grn} is not valid on {on.isoformat()}"
    if state not in g.valid_states:
        return f"guarantee {g.grn} is not valid in {state}"
    if g.scope is GuaranteeScope.SINGLE and locks_so_far > 0:
        return f"single guarantee {g.grn} was already used"
    return None


def apply_lock(balance: Balance, amount: Decimal) -> Balance:
    """``balance`` after holding ``amount``; :class:`InsufficientFunds` if it is not there."""
    if amount > balance.available:
        raise InsufficientFunds(amount, balance.available)
    return Balance.of(balance.reference_amount, balance.locked + amount, balance.posted)


def apply_release(balance: Balance, amount: Decimal) -> Balance:
    """``balance`` after ``amount`` held goes back to available (credit, void, expiry)."""
    return Balance.of(balance.reference_amount, balance.locked - amount, balance.posted)


def apply_post(balance: Balance, amount: Decimal) -> Balance:
    """``balance`` after ``amount`` held becomes a debt."""
    return Balance.of(balance.reference_amount, balance.locked - amount, balance.posted + amount)


def place_lock(
    guarantee: Guarantee,
    balance: Balance,
    *,
    lock_id: str,
    amount: Decimal,
    state: str,
    on: date,
    locks_so_far: int,
) -> tuple[Lock, Balance]:
    """A new PENDING lock and the balance after it."""
    check_amount(amount, guarantee.currency)
    reason = refusal(guarantee, state=state, on=on, locks_so_far=locks_so_far)
    if reason is not None:
        raise LockRefused(reason)
    after = apply_lock(balance, amount)
    lock = Lock(lock_id, guarantee.grn, state, guarantee.currency, amount, held=amount)
    return lock, after


def credit_lock(
    lock: Lock, balance: Balance, amount: Decimal | None = None
) -> tuple[Lock, Balance]:
    """Credit ``amount`` back (all that is held when ``None``).

    Crediting less than is held keeps the lock PENDING for the rest.
    """
    check_lock_transition(lock.status, LockStatus.CREDITED)
    part = lock.held if amount is None else amount
    if amount is not None:
        check_amount(amount, lock.currency)
        if amount > lock.held:
            raise AmountInvalid(f"credit of {amount} exceeds the {lock.held} held by the lock")
    held = lock.held - part
    status = LockStatus.CREDITED if held == 0 else LockStatus.PENDING
    after = replace(lock, held=held, credited=lock.credited + part, status=status)
    return after, apply_release(balance, part)


def void_lock(lock: Lock, balance: Balance) -> tuple[Lock, Balance]:
    """Cancel the lock before anything arrived; the whole amount goes back."""
    check_lock_transition(lock.status, LockStatus.VOIDED)
    if lock.credited:
        raise LockTransitionError(
            lock.status, LockStatus.VOIDED, "part of the goods arrived and was credited"
        )
    return _finish(lock, LockStatus.VOIDED), apply_release(balance, lock.held)


def post_lock(lock: Lock, balance: Balance) -> tuple[Lock, Balance]:
    """Non-delivery: what is held becomes a debt recovered from the guarantee."""
    check_lock_transition(lock.status, LockStatus.POSTED)
    return _finish(lock, LockStatus.POSTED), apply_post(balance, lock.held)


def expire_lock(lock: Lock, balance: Balance) -> tuple[Lock, Balance]:
    """The hold period ran out: what is held goes back."""
    check_lock_transition(lock.status, LockStatus.EXPIRED)
    return _finish(lock, LockStatus.EXPIRED), apply_release(balance, lock.held)


def _finish(lock: Lock, status: LockStatus) -> Lock:
    if status is LockStatus.POSTED:
        return replace(lock, held=Decimal(0), posted=lock.posted + lock.held, status=status)
    return replace(lock, held=Decimal(0), released=lock.released + lock.held, status=status)


class CommandKind(StrEnum):
    LOCK = "lock"
    CREDIT = "credit"
    VOID = "void"
    POST = "post"
    EXPIRE = "expire"


@dataclass(frozen=True, slots=True)
class Command:
    """What an idempotency key stands for: same key, same ``Command``, same result."""

    kind: CommandKind
    target: str
    """The guarantee's GRN for a lock, the lock id otherwise."""
    amount: Decimal | None = None
    state: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to a ledger command: the lock and the guarantee's balance right after it."""

    lock: Lock
    balance: Balance


def replayed(key: str, command: Command, first: tuple[Command, Outcome] | None) -> Outcome | None:
    """The remembered outcome when ``key`` was used before for ``command``; ``None`` if new."""
    if first is None:
        return None
    if first[0] != command:
        raise IdempotencyConflict(key)
    return first[1]


class LedgerModel:
    """The ledger's semantics in memory: the reference model for property and adapter tests.

    Every method either succeeds and returns an :class:`Outcome`, or raises a
    :class:`LedgerError` and changes nothing.
    """

    def __init__(self) -> None:
        self._guarantees: dict[str, Guarantee] = {}
        self._balances: dict[str, Balance] = {}
        self._locks: dict[str, Lock] = {}
        self._locks_placed: dict[str, int] = {}
        self._answers: dict[str, tuple[Command, Outcome]] = {}

    def register(self, guarantee: Guarantee) -> Balance:
        if guarantee.grn in self._guarantees:
            raise LedgerError(f"guarantee {guarantee.grn} is already registered")
        self._guarantees[guarantee.grn] = guarantee
        self._balances[guarantee.grn] = Balance.opening(guarantee.reference_amount)
        self._locks_placed[guarantee.grn] = 0
        return self._balances[guarantee.grn]

    def set_status(self, grn: str, status: GuaranteeStatus) -> Guarantee:
        changed = replace(self.guarantee(grn), status=status)
        self._guarantees[grn] = changed
        return changed

    def guarantee(self, grn: str) -> Guarantee:
        try:
            return self._guarantees[grn]
        except KeyError:
            raise UnknownGuarantee(f"no guarantee {grn!r}") from None

    def guarantees(self) -> list[Guarantee]:
        return list(self._guarantees.values())

    def balance(self, grn: str) -> Balance:
        self.guarantee(grn)
        return self._balances[grn]

    def get_lock(self, lock_id: str) -> Lock:
        try:
            return self._locks[lock_id]
        except KeyError:
            raise UnknownLock(f"no lock {lock_id!r}") from None

    def locks(self, grn: str | None = None) -> list[Lock]:
        return [lk for lk in self._locks.values() if grn is None or lk.grn == grn]

    def lock(self, key: str, *, grn: str, amount: Decimal, state: str, on: date) -> Outcome:
        """Hold ``amount`` on guarantee ``grn`` for a movement released in ``state``."""
        command = Command(CommandKind.LOCK, grn, amount, state)
        first = replayed(key, command, self._answers.get(key))
        if first is not None:
            return first
        guarantee = self.guarantee(grn)
        lock, balance = place_lock(
            guarantee,
            self._balances[grn],
            lock_id=key,
            amount=amount,
            state=state,
            on=on,
            locks_so_far=self._locks_placed[grn],
        )
        self._locks_placed[grn] += 1
        return self._record(key, command, lock, balance)

    def credit(self, key: str, *, lock_id: str, amount: Decimal | None = None) -> Outcome:
        """Credit ``amount`` of the lock back (all that is held when ``None``)."""
        command = Command(CommandKind.CREDIT, lock_id, amount)
        first = replayed(key, command, self._answers.get(key))
        if first is not None:
            return first
        lock = self.get_lock(lock_id)
        changed, balance = credit_lock(lock, self._balances[lock.grn], amount)
        return self._record(key, command, changed, balance)

    def void(self, key: str, *, lock_id: str) -> Outcome:
        return self._finish(key, CommandKind.VOID, lock_id)

    def post(self, key: str, *, lock_id: str) -> Outcome:
        return self._finish(key, CommandKind.POST, lock_id)

    def expire(self, key: str, *, lock_id: str) -> Outcome:
        return self._finish(key, CommandKind.EXPIRE, lock_id)

    def _finish(self, key: str, kind: CommandKind, lock_id: str) -> Outcome:
        command = Command(kind, lock_id)
        first = replayed(key, command, self._answers.get(key))
        if first is not None:
            return first
        lock = self.get_lock(lock_id)
        action = {
            CommandKind.VOID: void_lock,
            CommandKind.POST: post_lock,
            CommandKind.EXPIRE: expire_lock,
        }[kind]
        changed, balance = action(lock, self._balances[lock.grn])
        return self._record(key, command, changed, balance)

    def _record(self, key: str, command: Command, lock: Lock, balance: Balance) -> Outcome:
        self._locks[lock.lock_id] = lock
        self._balances[lock.grn] = balance
        outcome = Outcome(lock, balance)
        self._answers[key] = (command, outcome)
        return outcome


# --- The registry around the ledger -------------------------------------------------------------


class RegistryInvalid(DomainError):
    """A registry record breaks a rule (reduction out of range, blank name...)."""

    code = "registry-invalid"


class GuarantorKind(StrEnum):
    BANK = "bank"
    INSURER = "insurer"
    SURETY = "surety"


class CertificateKind(StrEnum):
    """A security certificate (Customs Code Art. 147) carries a guarantee to another state."""

    ONE_OFF = "one_off"
    """For one transit: its account takes one lock, ever."""
    GENERAL = "general"
    """For many transits, up to its amount."""


@dataclass(frozen=True, slots=True)
class Guarantor:
    """Who answers for the debt: a bank, an insurer or a surety.

    A guarantor recognised as a *national guarantor* (Agreement of 19 April 2022) lets its
    holders secure ``reduction_pct`` (10–100%) less; any other guarantor gives no reduction.
    """

    guarantor_id: str
    name: str
    kind: GuarantorKind
    country: str
    national_guarantor: bool = False
    reduction_pct: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        pct = self.reduction_pct
        if not self.name.strip():
            raise RegistryInvalid("a guarantor needs a name")
        if not self.national_guarantor and pct != 0:
            raise RegistryInvalid("only a national guarantor gives a reduction")
        if self.national_guarantor and not (
            pct.is_finite() and GUARANTOR_REDUCTION_MIN_PCT <= pct <= GUARANTOR_REDUCTION_MAX_PCT
        ):
            raise RegistryInvalid(
                f"a national guarantor's reduction is {GUARANTOR_REDUCTION_MIN_PCT}"
                f"–{GUARANTOR_REDUCTION_MAX_PCT}%, got {pct}"
            )
        if pct.is_finite() and pct != pct.quantize(Decimal("0.01")):
            raise RegistryInvalid(f"a reduction has at most two decimals, got {pct}")


@dataclass(frozen=True, slots=True)
class Holder:
    """The holder of the transit procedure a guarantee is given for (carrier, forwarder).

    ``qualified``: a record of general security and no arrears, worth a 20% reduction.
    """

    holder_id: str
    """The identification the holder quotes as declarant."""
    name: str
    country: str
    qualified: bool = False

    def __post_init__(self) -> None:
        if not self.holder_id.strip() or not self.name.strip():
            raise RegistryInvalid("a holder needs an identification and a name")


GUARANTEE_STATUS_CHANGES: Mapping[GuaranteeStatus, frozenset[GuaranteeStatus]] = MappingProxyType(
    {
        GuaranteeStatus.ACTIVE: frozenset(
            {GuaranteeStatus.SUSPENDED, GuaranteeStatus.REVOKED, GuaranteeStatus.EXPIRED}
        ),
        GuaranteeStatus.SUSPENDED: frozenset(
            {GuaranteeStatus.ACTIVE, GuaranteeStatus.REVOKED, GuaranteeStatus.EXPIRED}
        ),
        GuaranteeStatus.REVOKED: frozenset(),
        GuaranteeStatus.EXPIRED: frozenset(),
    }
)
"""Registry status changes. Only an ACTIVE guarantee takes new locks; a suspension, revocation
or expiry leaves the locks already placed to end as their movements do."""


class StatusChangeForbidden(DomainError):
    code = "guarantee-status-change-forbidden"

    def __init__(self, current: GuaranteeStatus, target: GuaranteeStatus) -> None:
        super().__init__(f"a guarantee cannot go from {current.value} to {target.value}")
        self.current = current
        self.target = target


def check_status_change(current: GuaranteeStatus, target: GuaranteeStatus) -> None:
    if target not in GUARANTEE_STATUS_CHANGES[current]:
        raise StatusChangeForbidden(current, target)
