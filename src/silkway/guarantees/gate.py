"""The release gate backed by the guarantee ledger.

At release the duties at risk are computed (:mod:`silkway.guarantees.domain.liability`, with the
guarantor's and the declarant's reductions) and locked against the security the declaration
quotes, in the movement's own transaction: a release and its lock are one change, a refused
release locks nothing. Afterwards each change of the movement settles the lock:

* completed: what is held is credited back;
* partially completed: the delivered items' share is credited, the rest stays held until an
  officer credits or posts it, or it expires;
* cancelled or rejected: the lock is voided;
* not delivered: what is held is posted and a claim is opened
  (:mod:`silkway.guarantees.claims`); if nothing is held any more (an officer settled the lock
  by hand), a problem is kept for an operator (:class:`~silkway.guarantees.ports.LedgerProblem`,
  ``GET /api/v1/guarantee-problems``) and logged as an error;
* time limit extended: the lock's expiry moves with it.

What the gate accepts:

* a **GRN** registered at this node, quoted with its access code by its holder (or a holder it
  authorises), whose available amount covers the liability. The code is checked when the
  declaration is lodged or amended (:meth:`GuaranteeGate.check_quoted`), not at release: the
  node keeps no code to check then;
* a **security certificate** registered at this node (received from the guarantee's home
  state over the exchange, MSG.912, or on paper), the same way, with the certificate's own
  access code. A certificate this node does not know is refused (``certificate-unknown``),
  unless the node runs the lenient ``policy.accept_unregistered_certificates``, which accepts
  it on its format alone and locks nothing;
* an **EXEMPT** reference: nothing is locked. Whether the exemption applies (a basis of the
  reference data that names the transport mode and who may claim it) is checked by transit
  before the gate is asked, at lodging and again at release.

A liability reduced to nothing (a 100% national-guarantor reduction) locks nothing either.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from silkway.guarantees.access import verify_access_code
from silkway.guarantees.certificates import certificate_use_message
from silkway.guarantees.claims import item_debts, post_in
from silkway.guarantees.domain.guarantee import (
    CommandKind,
    InsufficientFunds,
    LedgerError,
    UnknownLock,
)
from silkway.guarantees.domain.liability import LiabilityError, secured_share
from silkway.guarantees.ports import (
    UNPOSTED_NON_DELIVERY,
    AccountKind,
    GuaranteeRecord,
    LedgerProblem,
    LockRecord,
    LockRequest,
    SettleRequest,
)
from silkway.guarantees.service import (
    AccessCodeLocked,
    GuaranteeContext,
    cover_for,
    liability_with,
    lock_detail,
    release_lock_id,
)
from silkway.kernel.errors import MovementBusy, SecurityShortfall, Violation
from silkway.node.ports import DuplicateKey
from silkway.transit.domain.declaration import SecurityKind, TransitDeclaration
from silkway.transit.domain.movement import Movement, MovementStatus
from silkway.transit.security import QuotedSecurityGate
from silkway.unit_of_work import UnitOfWork

log = logging.getLogger("silkway.guarantees")

_POINTER = "/security_reference"


class GuaranteeGate:
    """A :class:`~silkway.unit_of_work.SecurityGate` that locks duties on the ledger."""

    def __init__(self, ctx: GuaranteeContext) -> None:
        self._ctx = ctx

    def check_quoted(
        self, uow: UnitOfWork, declaration: TransitDeclaration, now: datetime
    ) -> list[Violation]:
        """Each quoted code against the guarantee or certificate it opens, which must be
        registered here (an unknown certificate passes only in the lenient mode). A wrong code
        is recorded and logged; too many lock the guarantee out (:class:`AccessCodeLocked`)."""
        found: list[Violation] = []
        for index, security in enumerate(declaration.security):
            if security.kind is SecurityKind.EXEMPT:
                continue
            pointer = f"/security/{index}"
            record = uow.guarantees.guarantee(security.reference)
            if record is None:
                found += self._unknown(security.kind, security.reference, pointer + "/reference")
                continue
            failures = self._wrong_codes(uow, record, security.access_code, declaration, now)
            if failures:
                found.append(self._wrong_code(record.grn, failures, pointer + "/access_code"))
        return found

    def reserve(
        self, uow: UnitOfWork, movement: Movement, security_reference: str, now: datetime
    ) -> list[Violation]:
        found = QuotedSecurityGate.check(movement, security_reference)
        if found:
            return found
        decl = movement.declaration
        security = next(s for s in decl.security if s.reference == security_reference)
        if security.kind is SecurityKind.EXEMPT:
            return []
        record = uow.guarantees.guarantee(security_reference)
        if record is None:
            return self._unknown(security.kind, security_reference, _POINTER)
        declarant = decl.declarant.identification
        # The code was checked when it was quoted (lodging, amendment) and is not kept; a
        # declaration stored before codes were checked there still carries it: check it now.
        code = security.access_code
        if code is not None and not verify_access_code(code, record.access_code_hash):
            return [
                Violation(
                    "security-access-code-invalid",
                    _POINTER,
                    f"the access code quoted for {security_reference} does not match",
                )
            ]
        if not uow.guarantees.may_quote(record.grn, declarant):
            return [
                Violation(
                    "security-holder-not-authorised",
                    _POINTER,
                    f"declarant {declarant} neither holds {record.grn} nor is authorised to use it",
                )
            ]
        try:
            liability = liability_with(
                self._ctx, decl, cover_for(uow, record, declarant), now.date()
            )
        except LiabilityError as exc:
            return [
                Violation(v.code, "/declaration" + v.pointer, v.message) for v in exc.violations
            ]
        if liability.total <= 0:
            return []
        request = LockRequest(
            key=release_lock_id(movement.reference),
            grn=record.grn,
            amount=liability.total,
            currency=liability.currency,
            state=self._ctx.state,
            on=now.date(),
            at=now,
            deadline=self._ctx.deadline_after(movement.time_limit),
            movement_reference=movement.reference,
            detail=lock_detail(liability),
            actor=decl.departure_office,
        )
        try:
            [answer] = uow.guarantees.lock_many([request])
        except DuplicateKey:
            raise MovementBusy(
                f"movement {movement.reference} is being released by another request"
            ) from None
        if isinstance(answer, InsufficientFunds):
            # Not a malformed request but the guarantee's balance now: a 409 with the amounts.
            violation = _refusal(answer, record.grn, liability.currency)
            raise SecurityShortfall(violation.message, [violation])
        if isinstance(answer, LedgerError):
            return [_refusal(answer, record.grn, liability.currency)]
        if record.account_kind is AccountKind.CERTIFICATE:
            # The state that issued the certificate hears of each use, in the same transaction.
            uow.outbox.put([certificate_use_message(record, movement.reference, now)])
        return []

    def _unknown(self, kind: SecurityKind, reference: str, pointer: str) -> list[Violation]:
        if kind is SecurityKind.CERTIFICATE and self._ctx.policy.accept_unregistered_certificates:
            return []  # the lenient mode: the number's format is all that was checked
        what = "certificate" if kind is SecurityKind.CERTIFICATE else "guarantee"
        message = f"no {what} {reference} is registered at the {self._ctx.state} node"
        return [Violation(f"{what}-unknown", pointer, message)]

    def _wrong_codes(
        self,
        uow: UnitOfWork,
        record: GuaranteeRecord,
        code: str | None,
        declaration: TransitDeclaration,
        now: datetime,
    ) -> int:
        """0 when ``code`` opens ``record``; else the wrong codes quoted for it within the
        window, this one included, which is recorded (with who quoted it) in a transaction of
        its own, so that it stays whatever becomes of the lodging.

        Refuses without checking while the guarantee is locked out, so that guessing costs
        the guesser a lockout rather than the node a hash per try."""
        policy = self._ctx.policy
        recent = uow.guarantees.access_failures(record.grn, since=now - policy.access_code_window)
        if len(recent) >= policy.access_code_max_failures:
            until = recent[-policy.access_code_max_failures] + policy.access_code_window
            log.warning(
                "access code for %s quoted by %s while locked out until %s",
                record.grn,
                declaration.declarant.identification,
                until.isoformat(),
            )
            message = (
                f"{len(recent)} wrong access codes were quoted for {record.grn} since"
                f" {recent[0].isoformat()}: none is checked before {until.isoformat()}"
            )
            raise AccessCodeLocked(
                message,
                [Violation("security-access-locked", "/security", message)],
                locked_until=until,
            )
        if code is not None and verify_access_code(code, record.access_code_hash):
            return 0
        actor = f"{declaration.declarant.identification} lrn:{declaration.lrn}"
        with self._ctx.uow() as kept:
            kept.guarantees.add_access_failure(record.grn, now, actor)
            kept.commit()
        failures = len(recent) + 1
        level = logging.ERROR if failures >= policy.access_code_max_failures else logging.WARNING
        log.log(level, "wrong access code for %s quoted by %s: %d of %d within %s", record.grn,
                actor, failures, policy.access_code_max_failures, policy.access_code_window)  # fmt: skip
        return failures

    def _wrong_code(self, grn: str, failures: int, pointer: str) -> Violation:
        policy = self._ctx.policy
        left = policy.access_code_max_failures - failures
        minutes = int(policy.access_code_window.total_seconds() // 60)
        if left > 0:
            then = f"{left} more before it is locked for {minutes} minutes"
        else:
            then = f"it is now locked for {minutes} minutes"
        return Violation(
            "security-access-code-invalid",
            pointer,
            f"the access code quoted for {grn} does not match ({then})",
        )

    def settle(self, uow: UnitOfWork, before: Movement, after: Movement, now: datetime) -> None:
        if after.time_limit != before.time_limit:
            uow.guarantees.extend_deadlines(
                after.reference, self._ctx.deadline_after(after.time_limit)
            )
        if after.status is before.status:
            return
        lock_id = release_lock_id(after.reference)
        key = f"{after.status.value}:{after.reference}:{after.version}"
        actor = f"node:{self._ctx.state}"
        try:
            match after.status:
                case MovementStatus.COMPLETED:
                    uow.guarantees.settle(SettleRequest(key, CommandKind.CREDIT, lock_id, now))
                case MovementStatus.PARTIALLY_COMPLETED:
                    self._credit_delivered(uow, lock_id, key, after, now)
                case MovementStatus.CANCELLED | MovementStatus.REJECTED:
                    uow.guarantees.settle(SettleRequest(key, CommandKind.VOID, lock_id, now))
                case MovementStatus.NOT_DELIVERED:
                    post_in(uow, key=key, lock_id=lock_id, now=now, actor=actor, delivered=())
                case _:
                    return
        except UnknownLock:
            return  # nothing was locked: exempt, an unregistered certificate, nothing to secure
        except LedgerError as exc:
            # An officer settled the lock by hand first; the movement's change stands.
            if after.status is MovementStatus.NOT_DELIVERED:
                _unposted(uow, lock_id, after, exc, now)
                return
            log.info("lock %s not settled with %s: %s", lock_id, after.status.value, exc.message)

    @staticmethod
    def _credit_delivered(
        uow: UnitOfWork, lock_id: str, key: str, movement: Movement, now: datetime
    ) -> None:
        found = uow.guarantees.lock(lock_id)
        if found is None:
            return
        part = _delivered_share(found, movement.delivered_items or ())
        if part <= 0:
            return
        whole = part >= found.lock.held
        uow.guarantees.settle(
            SettleRequest(key, CommandKind.CREDIT, lock_id, now, None if whole else part)
        )


def _unposted(
    uow: UnitOfWork, lock_id: str, movement: Movement, error: LedgerError, now: datetime
) -> None:
    """Non-delivery found nothing held to post: the duties are owed all the same, so the
    operator is told (a problem kept and counted with the ledger, and an error in the log) in
    the transaction that declared the goods not delivered."""
    found = uow.guarantees.lock(lock_id)
    state = found.lock.status.value if found is not None else "missing"
    message = (
        f"goods of {movement.reference} were declared not delivered, but its lock {lock_id} is"
        f" {state} ({error.message}): nothing was posted and no claim was opened; recover the"
        " duties from the guarantor or the declarant by hand"
    )
    uow.guarantees.add_problem(
        LedgerProblem(
            UNPOSTED_NON_DELIVERY,
            message,
            now,
            grn=found.lock.grn if found is not None else None,
            lock_id=lock_id,
            movement_reference=movement.reference,
        )
    )
    log.error("%s", message)


def _delivered_share(found: LockRecord, delivered: tuple[int, ...]) -> Decimal:
    """The security of the delivered items: their unreduced taxes, reduced as at release."""
    if found.detail is None:
        return Decimal(0)
    liability = found.detail["liability"]
    gross = sum(
        (
            line.amount
            for item in item_debts(found.detail)
            if item.item_number in delivered
            for line in item.lines
        ),
        Decimal(0),
    )
    return secured_share(gross, Decimal(liability["reduction_pct"]), found.lock.currency)


def _refusal(error: LedgerError, grn: str, currency: str) -> Violation:
    if isinstance(error, InsufficientFunds):
        return Violation(
            error.code,
            _POINTER,
            f"guarantee {grn} has {error.available} {currency} available; the movement needs"
            f" {error.requested} {currency} (short by {error.requested - error.available})",
        )
    return Violation(error.code, _POINTER, error.message)
