"""Typed domain errors. Each carries stable codes that the API turns into problem+json."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: a stable ``code``, a JSON pointer into the input, a human message."""

    code: str
    pointer: str
    message: str


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    code: str = "domain-error"

    def __init__(self, message: str, violations: list[Violation] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.violations: list[Violation] = violations or []


class DeclarationInvalid(DomainError):
    """The declaration breaks one or more validation rules."""

    code = "declaration-invalid"


class ForbiddenTransition(DomainError):
    """The movement's current status does not allow this event."""

    code = "forbidden-transition"


class ActionInvalid(DomainError):
    """The event is allowed in this status but its data is wrong (e.g. unknown office)."""

    code = "action-invalid"


class SecurityShortfall(DomainError):
    """The security quoted cannot cover the duties at risk now: a conflict with its balance."""

    code = "security-shortfall"


class MovementBusy(DomainError):
    """Another action changed the movement at the same moment; the caller may retry.

    Transit raises it, the guarantee gate too, and the exchange retries a message that met it."""

    code = "movement-busy"


class NotAuthenticated(DomainError):
    """The request carries no token, or one that is not valid here (401).

    ``code`` is per instance: ``token-missing``, ``token-invalid``, ``token-expired``,
    ``token-revoked``, ``issuer-untrusted``, ``credentials-invalid``…"""

    code = "not-authenticated"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class AccessDenied(DomainError):
    """The caller is known but may not do this (403): role, state, office or party."""

    code = "access-denied"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
