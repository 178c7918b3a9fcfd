"""Guarantee API: the ledger: balance and usages per movement as in NCTS CC037C, history, lock,
credit, void, post, expiry.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Body, Query

from silkway.bootstrap import Node
from silkway.guarantees import claims
from silkway.guarantees import service as guarantees
from silkway.guarantees.api.calls import call
from silkway.guarantees.api.schemas import (
    ClaimOut,
    CreditIn,
    ExposureOut,
    Grn,
    GuaranteeBalanceOut,
    GuarantorExposureOut,
    HistoryOut,
    KeyIn,
    LockId,
    LockIn,
    LockOut,
    OutcomeOut,
    PostedOut,
    StateExposureOut,
    UsageOut,
    balance_of,
)
from silkway.identity.access import Actor
from silkway.web.responses import problems


def ledger_routes(router: APIRouter, node: Node) -> None:
    ctx = node.guarantees
    tags: list[str | Enum] = ["guarantees: ledger"]

    @router.get(
        "/guarantees/{grn}/balance",
        response_model=GuaranteeBalanceOut,
        tags=tags,
        responses=problems(404),
    )
    def balance(grn: Grn) -> GuaranteeBalanceOut:
        """Reference amount, locked, posted, available, and what each movement holds."""
        view = call(lambda: guarantees.balance(ctx, grn))
        return GuaranteeBalanceOut(
            grn=grn,
            status=view.record.guarantee.status,
            balance=balance_of(view.record),
            usages=[
                UsageOut(
                    lock_id=u.lock.lock_id,
                    movement_reference=u.movement_reference,
                    state=u.lock.state,
                    held=str(u.lock.held),
                    placed_at=u.placed_at,
                    deadline=u.deadline,
                )
                for u in view.usages
            ],
        )

    @router.get(
        "/guarantees/{grn}/history",
        response_model=list[HistoryOut],
        tags=tags,
        responses=problems(404),
    )
    def history(
        grn: Grn,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[HistoryOut]:
        """Every registry change and ledger command, with the balance right after it."""
        entries = call(lambda: guarantees.history(ctx, grn, offset=offset, limit=limit))
        return [HistoryOut.of(e) for e in entries]

    @router.post(
        "/guarantees/{grn}/locks",
        response_model=OutcomeOut,
        tags=tags,
        responses=problems(404, 409, 503),
    )
    def lock(grn: Grn, body: Annotated[LockIn, Body()], actor: Actor) -> OutcomeOut:
        """Hold an amount on the guarantee; idempotent on ``key``. A shortfall is a 409."""
        command = guarantees.LockCommand(
            key=body.key,
            grn=grn,
            amount=body.amount,
            currency=body.currency,
            state=body.state,
            movement_reference=body.movement_reference,
            hold_until=body.hold_until,
        )
        return OutcomeOut.of(call(lambda: guarantees.lock(ctx, command, actor=actor), "/amount"))

    @router.get(
        "/guarantee-locks/{lock_id}", response_model=LockOut, tags=tags, responses=problems(404)
    )
    def get_lock(lock_id: LockId) -> LockOut:
        return LockOut.of(call(lambda: guarantees.get_lock(ctx, lock_id)))

    @router.post(
        "/guarantee-locks/{lock_id}/credit",
        response_model=OutcomeOut,
        tags=tags,
        responses=problems(404, 409, 503),
    )
    def credit(lock_id: LockId, body: Annotated[CreditIn, Body()], actor: Actor) -> OutcomeOut:
        """Credit back what arrived (a part, or all that is held)."""
        return OutcomeOut.of(
            call(
                lambda: guarantees.credit(ctx, body.key, lock_id, body.amount, actor=actor),
                "/amount",
            )
        )

    @router.post(
        "/guarantee-locks/{lock_id}/void",
        response_model=OutcomeOut,
        tags=tags,
        responses=problems(404, 409, 503),
    )
    def void(lock_id: LockId, body: Annotated[KeyIn, Body()], actor: Actor) -> OutcomeOut:
        return OutcomeOut.of(call(lambda: guarantees.void(ctx, body.key, lock_id, actor=actor)))

    @router.post(
        "/guarantee-locks/{lock_id}/post",
        response_model=PostedOut,
        tags=tags,
        responses=problems(404, 409, 503),
    )
    def post(lock_id: LockId, body: Annotated[KeyIn, Body()], actor: Actor) -> PostedOut:
        """Non-delivery: what is held becomes a claim on the guarantee."""
        done = call(lambda: claims.post(ctx, body.key, lock_id, actor=actor))
        return PostedOut(outcome=OutcomeOut.of(done.outcome), claim=ClaimOut.of(done.claim))

    @router.post("/guarantee-locks/expiry", tags=tags, responses=problems(503))
    def expiry(actor: Actor) -> dict[str, list[str]]:
        """Expire every pending lock past its deadline."""
        return {"expired": guarantees.expire_due_locks(ctx, actor=actor)}

    @router.get("/guarantee-exposure", response_model=ExposureOut, tags=tags)
    def exposure() -> ExposureOut:
        """Exposure per guarantor, and per guarantor and state (for the dashboard)."""
        found = guarantees.exposure(ctx)
        return ExposureOut(
            guarantors=[
                GuarantorExposureOut(
                    guarantor_id=e.guarantor_id,
                    name=e.name,
                    currency=e.currency,
                    guarantees=e.guarantees,
                    reference_amount=str(e.reference_amount),
                    locked=str(e.locked),
                    posted=str(e.posted),
                    available=str(e.available),
                )
                for e in found.guarantors
            ],
            states=[
                StateExposureOut(
                    guarantor_id=s.guarantor_id,
                    state=s.state,
                    currency=s.currency,
                    pending_locks=s.pending_locks,
                    held=str(s.held),
                )
                for s in found.states
            ],
        )
