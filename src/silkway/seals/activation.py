"""Seals follow their movement: activated at release, deactivated when the procedure ends.

:func:`movement_changed` runs inside the transit use case's own transaction, so a release and
the activation of its seals are stored together or not at all, and so are the messages owed to
other seal operators. It never refuses the change: a seal that cannot be activated here is
reported back and left alone. A seal registered in another member state (a third-party seal) is
asked about from its registration operator (P.SO.01); its answer activates it
(:mod:`silkway.seals.inbound`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from silkway.exchange.domain.processes import (
    COMPLETION_OPERATOR,
    PASSAGE_OPERATOR,
    REGISTRATION_OPERATOR,
)
from silkway.exchange.ports import OutboxMessage
from silkway.reference.model import ReferenceData
from silkway.seals import messages as seal_messages
from silkway.seals.domain.route import RouteUnavailable, operator_plan, plan_route
from silkway.seals.domain.rules import Handover, to_ms
from silkway.seals.domain.seals import SealStatus, registration_state
from silkway.seals.messages import COMPLETION, HANDOVER
from silkway.seals.ports import HandoverRecord, NewActivation
from silkway.transit.domain.movement import TERMINAL_STATUSES, Movement, MovementStatus
from silkway.unit_of_work import UnitOfWork

__all__ = [
    "COMPLETION",
    "HANDOVER",
    "SealActivations",
    "activate_seals",
    "movement_changed",
]


@dataclass(frozen=True, slots=True)
class SealActivations:
    """What happened to the seals a movement declares."""

    activated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    unresolved: dict[str, str] = field(default_factory=dict)
    """Seal id -> why it was not activated (e.g. ``third-party``, ``in-use``)."""


def movement_changed(
    uow: UnitOfWork,
    reference: ReferenceData,
    state: str,
    before: Movement,
    after: Movement,
    now: datetime,
    *,
    silent_periods: int,
) -> SealActivations:
    """Activate the declared seals at release; deactivate them when the procedure ends."""
    if after.status is MovementStatus.RELEASED and before.status is not MovementStatus.RELEASED:
        return activate_seals(uow, reference, state, after, now, silent_periods=silent_periods)
    if after.status in TERMINAL_STATUSES and before.status not in TERMINAL_STATUSES:
        return deactivate_seals(uow, state, after, now)
    return SealActivations()


def activate_seals(
    uow: UnitOfWork,
    reference: ReferenceData,
    state: str,
    movement: Movement,
    now: datetime,
    seal_ids: list[str] | None = None,
    *,
    silent_periods: int,
    tracking: str | None = None,
    actor: str | None = None,
) -> SealActivations:
    """Activate ``seal_ids`` (default: the declared navigation seals) on ``movement``.

    ``tracking`` is the state whose operator tracks the carriage: this node's by default, the
    sender's when this node takes the carriage over as a passage operator.
    """
    wanted = seal_ids if seal_ids is not None else movement.declaration.seals.navigation_seal_ids
    result = SealActivations()
    if not wanted:
        return result
    try:
        route = plan_route(movement.declaration, reference)
    except RouteUnavailable as exc:
        result.unresolved.update(dict.fromkeys(wanted, f"route-unavailable: {exc.message}"))
        return result
    destination = reference.offices.get(movement.destination_office)
    tracked = {
        a.seal_id for a in uow.seals.activations_for_movement(movement.reference) if a.active
    }
    for seal_id in wanted:
        seal = uow.seals.get_seal(seal_id)
        if seal is None or seal.key is None:
            result.unresolved[seal_id] = _third_party(uow, state, seal_id, movement, now)
            continue
        if seal_id in tracked:
            result.unresolved[seal_id] = "already-active"
            continue
        # A seal lent to this very movement (by its registration operator) may be tracked here.
        lent = seal.movement_reference == movement.reference
        if seal.status is not SealStatus.REGISTERED and not lent:
            result.unresolved[seal_id] = f"seal-{seal.status.value}"
            continue
        plan = operator_plan(
            route,
            registration=seal.operator,
            tracking=tracking or state,
            destination_state=None if destination is None else destination.state,
        )
        uow.seals.add_activation(
            NewActivation(
                seal_key=seal.key,
                movement_reference=movement.reference,
                activated_at=now,
                time_limit=movement.time_limit,
                reporting_period_s=seal.reporting_period_s,
                route=route,
                operators=plan,
                # Only the tracking operator watches for silence (the seal reports to it).
                silent_after_ms=None
                if plan.tracking != state
                else to_ms(now) + silent_periods * seal.reporting_period_s * 1000,
                actor=actor or f"node:{state}",
            )
        )
        uow.seals.set_seal_status(seal.key, SealStatus.ACTIVE, movement.reference)
        result.activated.append(seal_id)
    return result


def deactivate_seals(
    uow: UnitOfWork, state: str, movement: Movement, now: datetime
) -> SealActivations:
    """End every active activation of ``movement`` and record the completion notices owed."""
    result = SealActivations()
    notices: list[HandoverRecord] = []
    outbox: list[OutboxMessage] = []
    for activation in uow.seals.activations_for_movement(movement.reference):
        if not activation.active:
            continue
        uow.seals.end_activation(activation.id, now)
        uow.seals.set_seal_status(activation.seal_key, SealStatus.REGISTERED, None)
        result.deactivated.append(activation.seal_id)
        plan = activation.operators
        if plan.tracking != state:
            continue  # a passage operator: the tracking operator tells the route
        told = dict.fromkeys(s for s in (plan.registration, *plan.passage) if s != state)
        track = activation.track
        for to_state in told:
            handover = Handover(
                activation_id=activation.id,
                movement_reference=movement.reference,
                seal_id=activation.seal_id,
                from_state=state,
                to_state=to_state,
                at=now,
                lat=track.lat if track.lat is not None else 0.0,
                lon=track.lon if track.lon is not None else 0.0,
            )
            if to_state == plan.completion:
                role = COMPLETION_OPERATOR
            elif to_state == plan.registration and to_state not in plan.passage:
                role = REGISTRATION_OPERATOR
            else:
                role = PASSAGE_OPERATOR
            message = seal_messages.completion(to_state, role, handover, movement.status.value, now)
            outbox.append(message)
            notices.append(
                HandoverRecord(
                    kind=COMPLETION,
                    handover=handover,
                    payload=operator_payload(COMPLETION, handover, movement.status.value),
                    message_id=message.message_id,
                )
            )
    uow.seals.add_handovers(notices)
    uow.outbox.put(outbox)
    return result


def _third_party(
    uow: UnitOfWork, state: str, seal_id: str, movement: Movement, now: datetime
) -> str:
    """Ask the seal's registration operator about it; say why it is not active yet."""
    registration = registration_state(seal_id)
    if registration is None or registration == state:
        return "seal-unknown"
    uow.outbox.put([seal_messages.enquiry(state, registration, seal_id, movement.reference, now)])
    return f"third-party: asked the {registration} operator"


def operator_payload(kind: str, handover: Handover, detail: str | None = None) -> dict[str, object]:
    """The body of the message one seal operator owes another (P.SO.01)."""
    return {
        "kind": kind,
        "movement_reference": handover.movement_reference,
        "seal_id": handover.seal_id,
        "from_state": handover.from_state,
        "to_state": handover.to_state,
        "at": handover.at.isoformat(),
        "lat": handover.lat,
        "lon": handover.lon,
        "detail": detail,
    }
