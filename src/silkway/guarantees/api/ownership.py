"""Whose a guarantee resource is: the guarantor a route's path leads to, for the guard.

A guarantor sees and changes only its own guarantees and what hangs on them (locks,
certificates, claims). The guard asks here with the route's path parameters before the route
runs; a resource of another guarantor is refused.
"""

from __future__ import annotations

from collections.abc import Mapping

from silkway.guarantees import certificates, claims
from silkway.guarantees import service as guarantees
from silkway.guarantees.service import GuaranteeContext
from silkway.identity.access import require_party
from silkway.identity.domain.principal import Principal, Role

__all__ = ["GuaranteeOwnership"]


class GuaranteeOwnership:
    def __init__(self, ctx: GuaranteeContext) -> None:
        self._ctx = ctx

    def _grn(self, params: Mapping[str, str]) -> str | None:
        if "grn" in params:
            return params["grn"]
        if "lock_id" in params:
            return guarantees.get_lock(self._ctx, params["lock_id"]).lock.grn
        if "number" in params:
            return certificates.get_certificate(self._ctx, params["number"]).grn
        if "claim_id" in params:
            return claims.get_claim(self._ctx, params["claim_id"]).grn
        return None

    def guarantee(self, principal: Principal, params: Mapping[str, str]) -> None:
        """A guarantor may touch the resource only if its guarantee is the guarantor's."""
        if principal.role is not Role.GUARANTOR:
            return
        grn = self._grn(params)
        if grn is None:
            return  # a list or a new resource: the route limits it to the caller's party
        owner = guarantees.get_guarantee(self._ctx, grn).record.guarantor_id
        require_party(principal, [owner], f"guarantee {grn}")

    def guarantor(self, principal: Principal, params: Mapping[str, str]) -> None:
        if principal.role is Role.GUARANTOR and "guarantor_id" in params:
            require_party(principal, [params["guarantor_id"]], "the guarantor record")
