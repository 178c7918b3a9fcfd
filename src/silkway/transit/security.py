"""The security check behind release, until the guarantee ledger takes it over.

This gate verifies what can be verified without a guarantee registry: the reference is one the
declaration quotes, and a GRN or a certificate number carries a valid check character. The
guarantee ledger replaces it with a gate that locks the duties at risk against the guarantee.
Whether an exemption applies is checked by transit itself, whichever gate is plugged in.
"""

from __future__ import annotations

from datetime import datetime

from silkway.kernel.codes import validate_certificate_number, validate_grn
from silkway.kernel.errors import Violation
from silkway.transit.domain.declaration import SecurityKind, TransitDeclaration
from silkway.transit.domain.movement import Movement
from silkway.unit_of_work import UnitOfWork


class QuotedSecurityGate:
    """Accepts a security reference that the declaration quotes and that is well formed."""

    def check_quoted(
        self, uow: UnitOfWork, declaration: TransitDeclaration, now: datetime
    ) -> list[Violation]:
        """No registry, so no access code to check them against (the declaration rules saw
        that each is given)."""
        return []

    def reserve(
        self, uow: UnitOfWork, movement: Movement, security_reference: str, now: datetime
    ) -> list[Violation]:
        return self.check(movement, security_reference)

    def settle(self, uow: UnitOfWork, before: Movement, after: Movement, now: datetime) -> None:
        """Nothing was locked, so there is nothing to settle."""

    @staticmethod
    def check(movement: Movement, security_reference: str) -> list[Violation]:
        quoted = {s.reference: s for s in movement.declaration.security}
        security = quoted.get(security_reference)
        if security is None:
            return [
                Violation(
                    "security-not-quoted",
                    "/security_reference",
                    f"{security_reference!r} is not among the declaration's security references",
                )
            ]
        if security.kind is SecurityKind.GRN:
            verdict = validate_grn(security_reference)
            if not verdict.valid:
                return [
                    Violation("security-grn-invalid", "/security_reference", str(verdict.reason))
                ]
        if security.kind is SecurityKind.CERTIFICATE:
            verdict = validate_certificate_number(security_reference)
            if not verdict.valid:
                return [
                    Violation(
                        "security-certificate-invalid", "/security_reference", str(verdict.reason)
                    )
                ]
        return []
