"""API routes of the node for Guarantees, under ``/api/v1``.

Registry (guarantors, holders, guarantees, authorisations), the ledger (balance and usages per
movement as in NCTS CC037C, history, lock, credit, void, post, expiry), the liability with its
explanation, security certificates, claims with the distribution of what was recovered, and the
exposure the dashboard shows. Amounts travel as decimal strings so that no digit is lost. A
shortfall is a ``409`` that names the amounts; every error is problem+json and changes nothing.
"""

from __future__ import annotations

from fastapi import APIRouter

from silkway.bootstrap import Node
from silkway.guarantees.api.certificates import certificate_routes
from silkway.guarantees.api.claims import claim_routes
from silkway.guarantees.api.ledger import ledger_routes
from silkway.guarantees.api.liability import liability_routes
from silkway.guarantees.api.registry import registry_routes


def build_guarantee_router(node: Node) -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    registry_routes(router, node)
    ledger_routes(router, node)
    liability_routes(router, node)
    certificate_routes(router, node)
    claim_routes(router, node)
    return router


__all__ = ["build_guarantee_router"]
