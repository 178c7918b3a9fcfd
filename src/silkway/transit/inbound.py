"""P.CP.01 at the receiving node: the effect of each transit message another state sends.

Each handler runs inside the exchange's receiving transaction (:func:`exchange.receive`), so a
refused message changes nothing. The composition root binds them, and the P.CP.01 conformance
kit, to this node's transit context and hands them to the exchange, which imports no capability.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

from silkway.examples import example_declaration, example_names
from silkway.exchange import inbound
from silkway.exchange.bus.ports import RetryLater
from silkway.exchange.conformance import conformance_reference, scenario_envelope
from silkway.exchange.domain import fields as message_fields
from silkway.exchange.domain.envelope import Envelope, urn_uuid
from silkway.exchange.hooks import ContextHandler, InboundHandler, Kit, KitBuilder, bind_handlers
from silkway.exchange.ports import OutboxMessage
from silkway.kernel.codes import make_registration_number, movement_state
from silkway.kernel.errors import ActionInvalid, Violation
from silkway.reference.model import OfficeRole
from silkway.transit.domain import audit
from silkway.transit.domain import messages as transit_messages
from silkway.transit.domain.movement import (
    Accept,
    AnswerEnquiry,
    Complete,
    EnquiryOutcome,
    MessageKind,
    Movement,
    MovementStatus,
    RecordArrival,
    RecordPassage,
    Release,
    apply,
    office_states,
)
from silkway.transit.service import TransitContext, apply_event, known_movement, outbox_message
from silkway.unit_of_work import UnitOfWork


def log_event(
    uow: UnitOfWork,
    reference: str,
    envelope: Envelope,
    now: datetime,
    kind: str,
    payload: dict[str, Any],
) -> None:
    """Append what ``envelope`` did to movement ``reference`` to its log, the sender as actor."""
    uow.events.append(
        audit.append(
            uow.events.last(reference), reference, kind, payload, now, inbound.actor(envelope)
        )
    )


def _reference(envelope: Envelope) -> str:
    return str(envelope.body.fields["MovementReference"])


def _office(envelope: Envelope, name: str) -> str:
    group = envelope.body.fields[name]
    assert isinstance(group, Mapping)
    return str(group["OfficeCode"])


def _entitled(ctx: TransitContext, envelope: Envelope) -> None:
    """Refuse the message unless its sender is the state whose word it is (one table says)."""
    inbound.require_sender(envelope, ctx.reference)


def _movement(ctx: TransitContext, uow: UnitOfWork, envelope: Envelope) -> Movement:
    return movement_or_wait(uow, ctx.state, _reference(envelope))


def movement_or_wait(uow: UnitOfWork, state: str, reference: str) -> Movement:
    """The movement a message is about. A message about a copy this node has not received yet
    overtook the release notification (a redelivery, a backlog): the bus brings it back later,
    by which time the copy is here, and keeps it as a dead letter with this reason if it never
    comes. Nothing is recorded as seen meanwhile. A movement of this state's own that it does
    not know is refused at once (``movement-not-found``)."""
    found = uow.movements.get(reference)
    if found is None and movement_state(reference) != state:
        raise RetryLater(f"the release notification of {reference} has not arrived yet")
    return found or known_movement(uow, state, reference)


def _release_notification(
    ctx: TransitContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
    _entitled(ctx, envelope)
    replica = transit_messages.replica_of(envelope.body.fields, inbound.sender(envelope))
    if replica.state == ctx.state:
        raise ActionInvalid(
            "a node does not receive release notifications of its own movements",
            [Violation("own-movement", "/MovementReference", replica.reference)],
        )
    if uow.movements.get(replica.reference) is not None:
        return  # the same movement announced again: nothing new
    d = replica.declaration
    # Copies are keyed by their state of origin, so they can never collide with a lodging here.
    uow.movements.add(
        replica,
        declarant_id=f"{replica.state}/{d.declarant.identification}",
        lrn=d.lrn,
        request_hash="copy",
    )
    uow.events.append(
        audit.append(
            None,
            replica.reference,
            "copy_received",
            {"from_state": replica.state, "message_id": urn_uuid(envelope.header.message_id)},
            now,
            inbound.actor(envelope),
        )
    )


def _informational(ctx: TransitContext, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    """Anticipated arrival and passage: worklists come from the copy the release brought."""
    _entitled(ctx, envelope)


def _passage_confirmation(
    ctx: TransitContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
    _entitled(ctx, envelope)
    movement = known_movement(uow, ctx.state, _reference(envelope))
    office = _office(envelope, "IntermediateOffice")
    if office in movement.passed_offices:
        return
    if movement.status in _PAST_PASSAGE:
        # The carriage passed before it arrived; the confirmation was delayed on its way (a
        # node that was down, a backlog). The record is kept, the status stays where it is.
        _record(
            uow, movement, envelope, now, "passage_confirmed_late", {"office": office},
            passed_offices=(*movement.passed_offices, office),
        )  # fmt: skip
        return
    unplanned = office not in movement.declaration.intermediate_offices
    apply_event(
        ctx,
        uow,
        movement.reference,
        RecordPassage(office, unplanned),
        now,
        actor=inbound.actor(envelope),
        local=False,
    )


_PAST_PASSAGE = frozenset(
    {
        MovementStatus.ARRIVED,
        MovementStatus.COMPLETED,
        MovementStatus.PARTIALLY_COMPLETED,
    }
)
"""Where a confirmed passage can only be late news."""


def _arrival_notice(
    ctx: TransitContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
    _entitled(ctx, envelope)
    movement = known_movement(uow, ctx.state, _reference(envelope))
    if movement.status in (MovementStatus.COMPLETED, MovementStatus.PARTIALLY_COMPLETED):
        return
    office = _office(envelope, "DestinationOffice")
    if movement.status is MovementStatus.ARRIVED and office != movement.arrival_office:
        raise ActionInvalid(
            f"{movement.reference} arrived at {movement.arrival_office}, not at {office}",
            [Violation("not-destination", "/DestinationOffice/OfficeCode", office)],
        )
    if movement.status is not MovementStatus.ARRIVED:
        apply_event(
            ctx,
            uow,
            movement.reference,
            RecordArrival(office),
            now,
            actor=inbound.actor(envelope),
            local=False,
        )
    # The goods were presented intact at destination: the departure writes the movement off.
    apply_event(
        ctx, uow, movement.reference, Complete(), now, actor=inbound.actor(envelope), local=False
    )


def _mirror(
    ctx: TransitContext,
    uow: UnitOfWork,
    envelope: Envelope,
    now: datetime,
    movement: Movement | None = None,
    **changes: Any,
) -> None:
    """Bring this state's copy in line with what the node of departure decided."""
    _entitled(ctx, envelope)
    movement = movement or _movement(ctx, uow, envelope)
    if movement.state == ctx.state:
        raise ActionInvalid(
            f"{envelope.header.action.message} concerns a movement registered here",
            [Violation("own-movement", "/MovementReference", movement.reference)],
        )
    body = message_fields.fields_to_json(envelope.body.structure, envelope.body.fields)
    _record(
        uow, movement, envelope, now, "copy_updated",
        {"message": envelope.header.action.message, "body": body}, **changes,
    )  # fmt: skip


def _record(
    uow: UnitOfWork,
    movement: Movement,
    envelope: Envelope,
    now: datetime,
    kind: str,
    payload: dict[str, Any],
    **changes: Any,
) -> None:
    """Save a message's change to a movement and log it, the sender as actor."""
    after = replace(movement, version=movement.version + 1, **changes)
    uow.movements.save(after, expected_version=movement.version)
    log_event(uow, movement.reference, envelope, now, kind, payload)


def _completion(ctx: TransitContext, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    in_part = envelope.body.fields.get("CompletionKindCode") == "partial"
    status = MovementStatus.PARTIALLY_COMPLETED if in_part else MovementStatus.COMPLETED
    _mirror(ctx, uow, envelope, now, status=status, completed_at=now)


def _incident(ctx: TransitContext, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    _entitled(ctx, envelope)
    movement = _movement(ctx, uow, envelope)
    incidents = movement.incidents + 1
    if movement.state == ctx.state:
        # Reported by a state on the route about our own movement: keep it in our log.
        body = message_fields.fields_to_json(envelope.body.structure, envelope.body.fields)
        _record(uow, movement, envelope, now, "incident_reported", body, incidents=incidents)
        return
    _mirror(ctx, uow, envelope, now, movement, incidents=incidents)


def _time_limit(ctx: TransitContext, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    _mirror(ctx, uow, envelope, now, time_limit=envelope.body.fields["NewTimeLimitDate"])


def _destination(ctx: TransitContext, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    _entitled(ctx, envelope)
    office = _office(envelope, "NewDestinationOffice")
    reference = _reference(envelope)
    if uow.movements.get(reference) is None and movement_state(reference) != ctx.state:
        state_of = office_states(ctx.reference)
        previous = state_of(_office(envelope, "PreviousDestinationOffice"))
        if state_of(office) == ctx.state and previous != ctx.state:
            return  # a new destination state without a copy learns of it from this notice alone
        # This state was on the route before the change, so a copy is owed to it: the notice
        # overtook the release notification and waits for it (applied to the copy later).
        raise RetryLater(f"the release notification of {reference} has not arrived yet")
    _mirror(ctx, uow, envelope, now, destination_office=office)


def _non_delivery(ctx: TransitContext, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    _mirror(ctx, uow, envelope, now, status=MovementStatus.NOT_DELIVERED, completed_at=now)


def _enquiry(ctx: TransitContext, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    _entitled(ctx, envelope)
    reference = _reference(envelope)
    copy = uow.movements.get(reference)
    office_state = office_states(ctx.reference)
    responding = (
        copy.destination_office if copy is not None else _office(envelope, "EnquiringOffice")
    )
    fields = transit_messages.enquiry_answer(reference, copy, responding, now, office_state)
    sender = inbound.sender(envelope)
    if copy is None:
        return  # nothing known here; the R.006 says the enquiry was received
    uow.outbox.put(
        [
            _enquiry_answer_message(ctx, sender, copy, fields, now, office_state, envelope),
        ]
    )


def _enquiry_answer_message(
    ctx: TransitContext,
    to_state: str,
    copy: Movement,
    fields: dict[str, Any],
    now: datetime,
    office_state: transit_messages.OfficeState,
    enquiry: Envelope,
) -> OutboxMessage:
    return outbox_message(
        ctx.state,
        to_state,
        transit_messages.ENQUIRY_ANSWER,
        copy,
        fields,
        now,
        office_state,
        relates_to=urn_uuid(enquiry.header.message_id),
    )


def _enquiry_answer(
    ctx: TransitContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
    _entitled(ctx, envelope)
    movement = known_movement(uow, ctx.state, _reference(envelope))
    if movement.status is not MovementStatus.UNDER_ENQUIRY:
        return  # answered after the movement moved on (arrived, closed): nothing to apply
    code = envelope.body.fields["AnswerCode"]
    office = _office(envelope, "RespondingOffice")
    if code == "arrived":
        event = AnswerEnquiry(EnquiryOutcome.DELIVERED, office, "answered by the destination")
    elif code == "not-arrived":
        event = AnswerEnquiry(EnquiryOutcome.NOT_DELIVERED, office, "answered by the destination")
    else:
        return
    apply_event(
        ctx, uow, movement.reference, event, now, actor=inbound.actor(envelope), local=False
    )


_HANDLERS: Mapping[str, ContextHandler[TransitContext]] = {
    "P.CP.01.MSG.010": _release_notification,
    "P.CP.01.MSG.901": _informational,
    "P.CP.01.MSG.902": _informational,
    "P.CP.01.MSG.903": _passage_confirmation,
    "P.CP.01.MSG.904": _arrival_notice,
    "P.CP.01.MSG.905": _completion,
    "P.CP.01.MSG.906": _incident,
    "P.CP.01.MSG.907": _time_limit,
    "P.CP.01.MSG.908": _destination,
    "P.CP.01.MSG.909": _enquiry,
    "P.CP.01.MSG.910": _enquiry_answer,
    "P.CP.01.MSG.911": _non_delivery,
}


def handlers(ctx: TransitContext) -> dict[str, InboundHandler]:
    """Each transit message's handler, bound to this node's transit context."""
    return bind_handlers(_HANDLERS, ctx)


# --- the P.CP.01 conformance kit ---------------------------------------------------------------


def _synthetic_release(
    ctx: TransitContext, b_state: str, now: datetime
) -> tuple[Movement, dict[str, Any]]:
    """A released movement from here to B, built only for the test (never stored anywhere)."""
    ref_data = ctx.reference
    departure = next(o for o in ref_data.offices_of(ctx.state) if OfficeRole.DEPARTURE in o.roles)
    destination = next(o for o in ref_data.offices_of(b_state) if OfficeRole.DESTINATION in o.roles)
    decl = example_declaration(example_names()[0], now.date()).model_copy(
        update={
            "lrn": f"CONF-{uuid.uuid4().hex[:12]}",
            "departure_office": departure.code,
            "destination_office": destination.code,
            "intermediate_offices": [],
            "route": [ctx.state, b_state],
            "border_points": [],
            "corridor": None,
        }
    )
    movement, _ = Movement.lodge(
        conformance_reference(ctx.state, now),
        make_registration_number(departure.code, now.date(), 9_999_999),
        ctx.state,
        decl,
        now,
    )
    movement = apply(movement, Accept(), now)
    security = decl.security[0].reference if decl.security else "EXEMPT"
    movement = apply(movement, Release(security, departure.code), now)
    fields = transit_messages.body_fields(
        MessageKind.RELEASE_NOTIFICATION,
        movement,
        movement,
        {},
        b_state,
        now,
        office_states(ref_data),
    )
    return movement, fields


def conformance_kit(ctx: TransitContext, b_state: str, now: datetime) -> Kit:
    """P.CP.01: a release notification B accepts, an arrival notice of a movement it lacks.

    Each is the sender's to send: B checks the sender before it looks for the movement."""
    movement, release_fields = _synthetic_release(ctx, b_state, now)
    office_state = office_states(ctx.reference)

    def roles(kind: str) -> tuple[str, str]:
        return transit_messages.roles(kind, ctx.state, b_state, movement, office_state)

    release = MessageKind.RELEASE_NOTIFICATION
    arrival = MessageKind.ARRIVAL_NOTICE
    # An arrival here, at one of this state's offices (so this node may report it), of a
    # movement B would have registered and does not have.
    here = next(o for o in ctx.reference.offices_of(ctx.state) if OfficeRole.DESTINATION in o.roles)
    arrival_fields = {
        "MovementReference": conformance_reference(b_state, now),
        "DestinationOffice": {"OfficeCode": here.code, "CountryCode": ctx.state},
        "ArrivalDateTime": now,
        "SealsIntactIndicator": True,
    }
    return Kit(
        accepted=(
            "release-notification-accepted",
            lambda: scenario_envelope(
                ctx.state, b_state, transit_messages.MESSAGE_CODES[release], roles(release),
                release_fields, now,
            ),
        ),
        refused=(
            "unknown-movement-refused",
            scenario_envelope(
                ctx.state, b_state, transit_messages.MESSAGE_CODES[arrival], roles(arrival),
                arrival_fields, now,
            ),
            "movement-not-found",
        ),
        tamper=movement.reference,
    )  # fmt: skip


def kit(ctx: TransitContext) -> KitBuilder:
    """The P.CP.01 kit, bound to this node's transit context."""
    return partial(conformance_kit, ctx)
