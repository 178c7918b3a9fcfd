"""Guarantee API: claims on a guarantee and the distribution of what was recovered."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Body, Query

from silkway.bootstrap import Node
from silkway.guarantees import claims
from silkway.guarantees import service as guarantees
from silkway.guarantees.api.calls import call
from silkway.guarantees.api.schemas import (
    ClaimId,
    ClaimOut,
    ProblemOut,
    ProblemPage,
    RecoveryIn,
    RecoveryOut,
    ReportLineOut,
    ReportOut,
)
from silkway.identity.access import Actor
from silkway.kernel.wire import Date, QueryFlag
from silkway.web.responses import problems


def claim_routes(router: APIRouter, node: Node) -> None:
    ctx = node.guarantees
    tags: list[str | Enum] = ["guarantees: claims"]

    @router.get("/claims", response_model=list[ClaimOut], tags=tags)
    def list_claims(
        open_only: Annotated[QueryFlag, Query(alias="open")] = False,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[ClaimOut]:
        found = claims.list_claims(ctx, open_only=open_only, offset=offset, limit=limit)
        return [ClaimOut.of(c) for c in found]

    @router.get("/claims/{claim_id}", response_model=ClaimOut, tags=tags, responses=problems(404))
    def get_claim(claim_id: ClaimId) -> ClaimOut:
        return ClaimOut.of(call(lambda: claims.get_claim(ctx, claim_id)))

    @router.post(
        "/claims/{claim_id}/recoveries",
        status_code=201,
        response_model=RecoveryOut,
        tags=tags,
        responses=problems(404, 409, 503),
    )
    def recover(
        claim_id: ClaimId, body: Annotated[RecoveryIn, Body()], actor: Actor
    ) -> RecoveryOut:
        """The guarantor paid: record it and distribute it among the states."""
        done = call(
            lambda: claims.recover(
                ctx,
                claim_id,
                key=body.key,
                amount=body.amount,
                on=body.recovered_on,
                actor=actor,
            ),
            "/amount",
        )
        return RecoveryOut.of(done)

    @router.get("/guarantee-problems", response_model=ProblemPage, tags=tags)
    def list_problems(
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> ProblemPage:
        """What the ledger could not do and an operator must settle (newest first): a
        non-delivery whose lock held nothing to post any more."""
        total, found = guarantees.list_problems(ctx, offset=offset, limit=limit)
        return ProblemPage(total=total, items=[ProblemOut.of(p) for p in found])

    @router.get("/distribution/report", response_model=ReportOut, tags=tags)
    def report(start: Date, end: Date) -> ReportOut:
        """What each state received in [start, end], per tax; sums to the cent."""
        found = call(lambda: claims.distribution_report(ctx, start, end))
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
