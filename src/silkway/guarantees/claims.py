"""Claims on guarantees: non-delivery posts the debt, the guarantor pays, the duty is shared.

When goods are not delivered, what the lock still holds is *posted*: it becomes a claim on the
guarantee, with the unreduced debt per tax of the goods not delivered (read back from the
liability stored with the lock). A payment by the guarantor (a *recovery*) is spread over the
claim's taxes in proportion, exactly to the minor unit; its import duty is then split among the
member states by the Treaty's shares valid on the claim date, its VAT and excise go to the state
where they are payable (:mod:`silkway.guarantees.domain.distribution`). Every recovery writes its lines to
the distribution ledger, which the period report sums.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from silkway.guarantees.domain.distribution import (
    ClaimLine,
    DistributionError,
    ItemDebt,
    allocate,
    debt_of,
    distribute_claim,
)
from silkway.guarantees.domain.guarantee import CommandKind, IdempotencyConflict, Outcome
from silkway.guarantees.domain.liability import Tax
from silkway.guarantees.ports import Claim, DistributionTotal, Recovery, SettleRequest
from silkway.guarantees.service import GuaranteeContext
from silkway.kernel.errors import DomainError, Violation
from silkway.node.ports import DuplicateKey
from silkway.unit_of_work import UnitOfWork


class ClaimNotFound(DomainError):
    code = "claim-not-found"


class RecoveryInvalid(DomainError):
    code = "recovery-invalid"


@dataclass(frozen=True, slots=True)
class Posted:
    outcome: Outcome
    claim: Claim


def claim_id_for(lock_id: str) -> str:
    return f"claim:{lock_id}"


def post(ctx: GuaranteeContext, key: str, lock_id: str, *, actor: str | None = None) -> Posted:
    """Non-delivery: post what the lock holds and open the claim on the guarantee."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        posted = post_in(uow, key=key, lock_id=lock_id, now=now, actor=actor or "ledger")
        uow.commit()
    return posted


def post_in(
    uow: UnitOfWork,
    *,
    key: str,
    lock_id: str,
    now: datetime,
    actor: str,
    delivered: Iterable[int] | None = None,
) -> Posted:
    """Post inside an open unit of work (the release gate's, or :func:`post`'s).

    ``delivered``: the goods items that arrived; when not given, the movement's own record of
    delivered items is read (none for a movement that was never completed).
    """
    outcome = uow.guarantees.settle(SettleRequest(key, CommandKind.POST, lock_id, now, actor=actor))
    claim_id = claim_id_for(lock_id)
    earlier = uow.guarantees.claim(claim_id)
    if earlier is not None:
        return Posted(outcome, earlier)  # a repeated post: its claim is already open
    found = uow.guarantees.lock(lock_id)
    assert found is not None
    lock = found.lock
    if delivered is None:
        movement = uow.movements.get(found.movement_reference) if found.movement_reference else None
        delivered = (movement.delivered_items or ()) if movement is not None else ()
    debt = _debt(found.detail, delivered, lock.posted, lock.currency)
    claim = Claim(
        claim_id=claim_id,
        lock_id=lock_id,
        grn=lock.grn,
        movement_reference=found.movement_reference,
        claim_date=now.date(),
        currency=lock.currency,
        amount=lock.posted,
        recovered=Decimal(0),
        debt=tuple(debt),
        created_at=now,
    )
    uow.guarantees.add_claim(claim)
    return Posted(outcome, claim)


def item_debts(detail: Mapping[str, Any]) -> list[ItemDebt]:
    """The per-item tax lines of the liability stored with a lock."""
    liability = detail["liability"]
    currency = str(liability["currency"])
    return [
        ItemDebt(
            int(item["item_number"]),
            tuple(
                ClaimLine(Tax(line["tax"]), Decimal(line["amount"]), currency, line["state"])
                for line in item["lines"]
            ),
        )
        for item in liability["items"]
    ]


def _debt(
    detail: Mapping[str, Any] | None, delivered: Iterable[int], posted: Decimal, currency: str
) -> list[ClaimLine]:
    """The debt a claim is for: the undelivered goods' taxes, never less than what was posted.

    A lock placed without a liability (through the ledger API) has no breakdown: its posted
    amount is owed as import duty. Rounding of the reduced security can leave the posted amount
    a minor unit above the unreduced debt of the rest; the difference is owed as import duty
    too, so that a recovery of the whole claim can always be spread.
    """
    lines = debt_of(item_debts(detail), delivered=delivered) if detail else []
    owed = sum((line.amount for line in lines), Decimal(0))
    if owed < posted:
        lines.append(ClaimLine(Tax.IMPORT_DUTY, posted - owed, currency))
    return lines


def recover(
    ctx: GuaranteeContext,
    claim_id: str,
    *,
    key: str,
    amount: Decimal | None = None,
    on: date | None = None,
    actor: str | None = None,
) -> Recovery:
    """Record a guarantor's payment on a claim (the whole outstanding amount by default) and
    distribute it; a repeated ``key`` returns the first recovery."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        earlier = uow.guarantees.recovery(key)
        if earlier is not None:
            if earlier.claim_id != claim_id or (amount is not None and amount != earlier.amount):
                raise IdempotencyConflict(key)
            return earlier
        claim = uow.guarantees.claim(claim_id)
        if claim is None:
            raise ClaimNotFound(f"no claim {claim_id!r}")
        paid = claim.outstanding if amount is None else amount
        if not paid.is_finite() or paid <= 0 or paid > claim.outstanding:
            raise RecoveryInvalid(
                f"a recovery on claim {claim_id} is more than 0 and at most the outstanding"
                f" {claim.outstanding} {claim.currency}; got {paid}",
                [Violation("recovery-amount-invalid", "/amount", f"got {paid}")],
            )
        try:
            parts = allocate(paid, claim.debt)
            lines = distribute_claim(parts, ctx.reference, claim.claim_date)
        except DistributionError as exc:
            raise RecoveryInvalid(
                exc.message, [Violation(exc.code, "/amount", exc.message)]
            ) from exc
        recovery = Recovery(key, claim_id, paid, on or now.date(), now, tuple(lines))
        try:
            recorded = uow.guarantees.add_recovery(recovery)
        except DuplicateKey:
            raise RecoveryInvalid(f"recovery {key} is being recorded; retry to read it") from None
        if not recorded:
            raise RecoveryInvalid(f"claim {claim_id} was paid meanwhile; nothing is outstanding")
        uow.guarantees.record_change(
            claim.grn,
            "recovery",
            at=now,
            actor=actor or f"node:{ctx.state}",
            note=f"claim {claim_id}: {paid} {claim.currency} recovered",
        )
        uow.commit()
    return recovery


def get_claim(ctx: GuaranteeContext, claim_id: str) -> Claim:
    with ctx.read() as uow:
        claim = uow.guarantees.claim(claim_id)
    if claim is None:
        raise ClaimNotFound(f"no claim {claim_id!r}")
    return claim


def list_claims(
    ctx: GuaranteeContext, *, open_only: bool = False, offset: int = 0, limit: int = 100
) -> list[Claim]:
    with ctx.read() as uow:
        return uow.guarantees.claims(open_only=open_only, offset=offset, limit=limit)


@dataclass(frozen=True, slots=True)
class DistributionReport:
    """What each state received in a period, per tax and currency, from guarantors' payments."""

    start: date
    end: date
    lines: list[DistributionTotal]
    by_state: dict[tuple[str, str], Decimal]
    """(state, currency) -> total received."""
    totals: dict[str, Decimal]
    """currency -> total distributed."""
    recovered: dict[str, Decimal]
    """currency -> total paid by guarantors; equals ``totals`` to the cent."""

    @property
    def balanced(self) -> bool:
        return self.totals == self.recovered


def distribution_report(ctx: GuaranteeContext, start: date, end: date) -> DistributionReport:
    if end < start:
        raise RecoveryInvalid(
            "the period ends before it starts",
            [Violation("period-inverted", "/query/end", "end is before start")],
        )
    with ctx.read() as uow:
        lines = uow.guarantees.distribution_totals(start, end)
        recovered = uow.guarantees.recovered_totals(start, end)
    by_state: dict[tuple[str, str], Decimal] = {}
    totals: dict[str, Decimal] = {}
    for line in lines:
        key = (line.state, line.currency)
        by_state[key] = by_state.get(key, Decimal(0)) + line.amount
        totals[line.currency] = totals.get(line.currency, Decimal(0)) + line.amount
    return DistributionReport(start, end, lines, by_state, totals, recovered)
