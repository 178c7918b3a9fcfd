"""Guarantee API: the liability of a declaration, with its explanation."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Body, Path

from silkway.bootstrap import Node
from silkway.guarantees import service as guarantees
from silkway.guarantees.api.calls import call
from silkway.guarantees.api.schemas import LiabilityIn, LiabilityOut
from silkway.guarantees.domain.liability import LiabilityError
from silkway.kernel.errors import Violation
from silkway.web.problems import ApiProblem
from silkway.web.responses import problems


def liability_routes(router: APIRouter, node: Node) -> None:
    ctx = node.guarantees
    tags: list[str | Enum] = ["guarantees: liability"]

    @router.post("/liability", response_model=LiabilityOut, tags=tags)
    def liability(body: Annotated[LiabilityIn, Body()]) -> LiabilityOut:
        """The security a declaration needs, explained line by line (nothing is stored)."""
        try:
            found = guarantees.explain_liability(
                ctx,
                body.declaration,
                holder_qualified=body.holder_qualified,
                guarantor_reduction_pct=body.guarantor_reduction_pct,
                currency=body.currency,
                on=body.on,
                vat_state_rule=body.vat_state_rule,
            )
        except LiabilityError as exc:
            violations = [
                Violation(v.code, "/declaration" + v.pointer if v.pointer else "", v.message)
                for v in exc.violations
            ]
            raise ApiProblem(
                422, exc.code, "Liability not computable", exc.message, violations
            ) from exc
        return LiabilityOut(liability=found.as_dict(), explanation=found.explain())

    @router.get(
        "/movements/{key}/liability",
        response_model=LiabilityOut,
        tags=tags,
        responses=problems(404),
    )
    def movement_liability(
        key: Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Z0-9]+$")],
    ) -> LiabilityOut:
        """What the movement's release locked, or what it would lock now."""
        view = call(lambda: guarantees.movement_liability(ctx, key))
        return LiabilityOut(liability=view.tree, explanation=view.explanation, locked=view.locked)
