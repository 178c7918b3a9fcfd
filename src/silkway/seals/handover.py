"""Hand-overs: the carriage entered another member state, whose operator takes it over (P.SO.01).

Only the tracking operator (the one that activated the seal at release) tells the next
operator; a passage operator that follows the same carriage records the crossing for its own
view and leaves the telling to it. Seals keep reporting to the tracking operator, so from a
hand-over on it forwards the carriage's points to the operator of the state it is in
(MSG.905): that operator monitors them against its own thresholds and loses none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import numpy.typing as npt

from silkway.exchange.domain.processes import SEAL_PROCESS
from silkway.exchange.ports import OutboxMessage
from silkway.kernel.codes import movement_state
from silkway.reference.model import MEMBER_STATES
from silkway.seals import messages as seal_messages
from silkway.seals.activation import HANDOVER, operator_payload
from silkway.seals.domain.rules import Handover, to_ms
from silkway.seals.domain.seals import Seal
from silkway.seals.ports import HandoverRecord
from silkway.seals.service import SealContext
from silkway.unit_of_work import UnitOfWork

IntArray = npt.NDArray[np.int64]
IntpArray = npt.NDArray[np.intp]

OPERATOR_PROCESS = SEAL_PROCESS
"""The process of the exchange between national seal operators."""


def record_handovers(
    ctx: SealContext, uow: UnitOfWork, handovers: Sequence[Handover], now: datetime
) -> None:
    """Store the hand-overs a batch of positions revealed, and the messages owed for them."""
    plans = uow.seals.activation_routes(sorted({h.activation_id for h in handovers}))
    records: list[HandoverRecord] = []
    messages: list[OutboxMessage] = []
    seals: dict[str, Seal | None] = {}
    for h in handovers:
        message = None
        _route, plan = plans[h.activation_id]
        owed = plan.tracking == ctx.state and h.to_state in MEMBER_STATES
        if owed and h.to_state != ctx.state:
            if h.seal_id not in seals:
                seals[h.seal_id] = uow.seals.get_seal(h.seal_id)
            seal = seals[h.seal_id]
            if seal is not None:
                message = seal_messages.handover(h, seal, plan.completion, now)
        records.append(
            HandoverRecord(
                kind=HANDOVER,
                handover=h,
                payload=operator_payload(HANDOVER, h),
                message_id=None if message is None else message.message_id,
            )
        )
        if message is not None:
            messages.append(message)
    # A crossing recorded before (the same points seen again) owes nothing new.
    added = {r.message_id for r in uow.seals.add_handovers(records)}
    uow.outbox.put([m for m in messages if m.message_id in added])


def tracked_here(ctx: SealContext, movement_reference: str) -> bool:
    """Whether this node's operator tracks the carriage: the one of its state of departure."""
    return movement_state(movement_reference) == ctx.state


def owners(
    ctx: SealContext,
    before: str | None,
    handovers: Sequence[Handover],
    t_ms: IntArray,
) -> list[tuple[str, IntpArray]]:
    """Which points of one carriage's batch belong to another operator, by state.

    A point belongs to the state the carriage was in at its time: the state before the batch,
    then each state entered from its hand-over on. Points in this node's own state (or outside
    the Union) stay here.
    """
    times = np.array([to_ms(h.at) for h in handovers], dtype=np.int64)
    states = [before, *(h.to_state for h in handovers)]
    owner = np.searchsorted(times, t_ms, side="right")
    out: list[tuple[str, IntpArray]] = []
    for k, state in enumerate(states):
        if state is None or state == ctx.state or state not in MEMBER_STATES:
            continue
        rows = np.flatnonzero(owner == k)
        if len(rows):
            out.append((state, rows))
    return out


def forward_positions(
    uow: UnitOfWork, forwards: Sequence[seal_messages.Forwarded], now: datetime
) -> None:
    """Send the points of carriages handed over to the operators now following them."""
    uow.outbox.put([m for f in forwards for m in seal_messages.positions(f, now)])
