"""The one table from domain errors to HTTP statuses and problem titles.

Every route lets a domain error rise; the problem handler answers it from this table, so the
same error is the same status everywhere (a concurrent change to a movement is a 409 whether it
happened while lodging or while acting). The first row whose type matches wins: a subclass
comes before its base. The problem's ``code`` is always the error's own stable code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from silkway.anchoring import service as anchoring
from silkway.guarantees import certificates, claims
from silkway.guarantees import service as guarantees
from silkway.guarantees.domain.guarantee import (
    AmountInvalid,
    BalanceInvariantViolated,
    IdempotencyConflict,
    InsufficientFunds,
    LedgerError,
    LockRefused,
    LockTransitionError,
    StatusChangeForbidden,
    UnknownGuarantee,
    UnknownLock,
)
from silkway.identity import service as identity
from silkway.kernel.errors import (
    AccessDenied,
    ActionInvalid,
    DeclarationInvalid,
    DomainError,
    ForbiddenTransition,
    MovementBusy,
    NotAuthenticated,
    SecurityShortfall,
)
from silkway.seals import service as seals
from silkway.transit import service as transit


@dataclass(frozen=True, slots=True)
class ProblemKind:
    status: int
    title: str


NOT_FOUND = ProblemKind(404, "Not found")
CONFLICT = ProblemKind(409, "Conflict")
BUSY = ProblemKind(503, "Busy, retry")
REFUSED = ProblemKind(422, "Request refused")

TABLE: tuple[tuple[type[DomainError] | tuple[type[DomainError], ...], ProblemKind], ...] = (
    # Identity.
    (NotAuthenticated, ProblemKind(401, "Not authenticated")),
    (AccessDenied, ProblemKind(403, "Forbidden")),
    (identity.AccountExists, ProblemKind(409, "Account exists")),
    (identity.AccountNotFound, NOT_FOUND),
    # Transit.
    (ForbiddenTransition, ProblemKind(409, "Action not allowed in this status")),
    (SecurityShortfall, ProblemKind(409, "The security does not cover the duties at risk")),
    (DeclarationInvalid, ProblemKind(422, "Declaration breaks validation rules")),
    # 422, not 409: no change of the movement makes this node the right one; the request is
    # wrong as sent and goes to the node of the office's state (named in the problem).
    (transit.OfficeOfAnotherState, ProblemKind(422, "The office belongs to another state")),
    (ActionInvalid, ProblemKind(422, "Action data is invalid")),
    (transit.MovementNotFound, ProblemKind(404, "Movement not found")),
    (transit.LrnConflict, ProblemKind(409, "LRN already used")),
    (MovementBusy, ProblemKind(409, "Concurrent change")),
    # Guarantees.
    (InsufficientFunds, ProblemKind(409, "Insufficient guarantee")),
    # Too many wrong access codes: a rate limit, answered as one (the body says until when).
    (guarantees.AccessCodeLocked, ProblemKind(429, "Too many wrong access codes")),
    (
        (
            guarantees.GuaranteeNotFound,
            guarantees.GuarantorNotFound,
            UnknownGuarantee,
            UnknownLock,
            claims.ClaimNotFound,
            certificates.CertificateNotFound,
        ),
        NOT_FOUND,
    ),
    (
        (
            IdempotencyConflict,
            LockRefused,
            LockTransitionError,
            guarantees.GuaranteeExists,
            StatusChangeForbidden,
        ),
        CONFLICT,
    ),
    ((AmountInvalid, BalanceInvariantViolated), REFUSED),
    # A ledger error of no finer kind is the store failing under contention: retry.
    ((guarantees.RegistryBusy, LedgerError), BUSY),
    # Seals.
    ((seals.SealNotFound, seals.IncidentNotFound, seals.MovementUnknown), NOT_FOUND),
    (seals.SealExists, ProblemKind(409, "Seal exists")),
    # Anchoring: the list asked for is held by other nodes (the detail says which).
    (anchoring.AnchorsNotHere, ProblemKind(404, "Not held at this node")),
    # Anything else the domain refuses.
    (DomainError, REFUSED),
)


def problem_kind(exc: DomainError) -> ProblemKind:
    """The status and title of ``exc``: the first row of :data:`TABLE` it is an instance of."""
    return next(kind for types, kind in TABLE if isinstance(exc, types))


def problem_extra(exc: DomainError) -> dict[str, Any]:
    """Members a client needs beyond the violations (the amounts of a refused lock)."""
    if isinstance(exc, InsufficientFunds):
        return {"requested": str(exc.requested), "available": str(exc.available)}
    if isinstance(exc, transit.OfficeOfAnotherState):
        return {"office_state": exc.office_state}
    if isinstance(exc, guarantees.AccessCodeLocked):
        return {"locked_until": exc.locked_until.isoformat()}
    return {}
