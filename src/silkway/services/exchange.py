"""The interstate exchange of one node: sending its outbox, receiving envelopes, answering R.006.

Outbound, :func:`relay` reads the outbox, checks that the process is in operation with the
receiving state (otherwise the message goes to the recorded paper channel), seals each envelope
(schema-valid, signed) and hands it to the bus. Inbound, :func:`receive` opens an envelope
(schema, signature, staleness), refuses a replayed MessageID, applies the message's effect and
writes the R.006 answer to the outbox — all in one transaction. A refused envelope gets a
negative R.006 with the reason and changes nothing else.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from silkway.domain import audit, transit_messages
from silkway.domain.envelope import (
    Action,
    Address,
    EDocHeader,
    Envelope,
    EnvelopeHeader,
    EnvelopeRejected,
    MessageBody,
    SignatureRejected,
    parse_urn_uuid,
    urn_uuid,
)
from silkway.domain.errors import ActionInvalid, DomainError, Violation
from silkway.domain.movement import (
    AnswerEnquiry,
    Complete,
    EnquiryOutcome,
    Movement,
    MovementStatus,
    RecordArrival,
    RecordPassage,
    office_states,
)
from silkway.domain.processes import (
    PROCESSES,
    RESULT_ACCEPTED,
    RESULT_REJECTED,
    is_processing_result,
)
from silkway.domain.reference import MEMBER_STATES
from silkway.services import guarantee_certificates, inbound, seal_exchange
from silkway.services.bus_ports import BusUnavailable, subject_for
from silkway.services.exchange_ports import EnvelopeSealer, InboxEntry
from silkway.services.outbound import conversation_of
from silkway.services.ports import OutboxMessage, UnitOfWork
from silkway.services.seals import SealContext
from silkway.services.transit import (
    TransitContext,
    apply_event,
    known_movement,
)

log = logging.getLogger("silkway.exchange")

CONFORMANCE_PROCEDURE = uuid.uuid5(uuid.NAMESPACE_URL, "silkway:conformance")
"""ProcedureID of interstate-test messages: the receiver checks and answers, then undoes."""

PAPER = "paper"
BUS = "bus"

Send = Callable[[str, bytes, str], None]
"""Hands signed bytes to the bus: (subject, data, message_id). Raises ``BusUnavailable``."""


@dataclass(frozen=True)
class ExchangeContext:
    transit: TransitContext
    sealer: EnvelopeSealer
    seals: SealContext | None = None
    """The node's seal operator, whose thresholds P.SO.01 messages use (defaults otherwise)."""
    handlers: Mapping[str, InboundHandler] = field(default_factory=lambda: dict(HANDLERS))

    @property
    def state(self) -> str:
        return self.transit.state


@dataclass(frozen=True, slots=True)
class RelayReport:
    sent: int = 0
    paper: int = 0
    failed: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """What :func:`receive` did with one envelope."""

    outcome: str
    """accepted, rejected, duplicate or answer (an R.006 was recorded)."""
    message_id: str | None
    code: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


# --- outbound ------------------------------------------------------------------------------------


def envelope_for(ctx: ExchangeContext, msg: OutboxMessage) -> Envelope:
    """The envelope of an outbox message (not yet signed)."""
    p = msg.payload
    process = PROCESSES[msg.process]
    structure = p["structure"]
    conversation = uuid.UUID(p["conversation_id"])
    procedure = uuid.UUID(p["procedure_id"]) if p.get("procedure_id") else conversation
    relates_to = parse_urn_uuid(p["relates_to"]) if p.get("relates_to") else None
    return Envelope(
        EnvelopeHeader(
            to=Address.for_role(msg.to_state, p["receiver_role"]),
            reply_to=Address.for_role(ctx.state, p["sender_role"]),
            action=Action(
                process.code,
                process.version,
                process.procedure,
                p["transaction"] or f"{process.code}.TRN.001",
                p["code"],
            ),
            message_id=parse_urn_uuid(msg.message_id),
            procedure_id=procedure,
            conversation_id=conversation,
            relates_to=relates_to,
        ),
        EDocHeader(
            inf_envelope_code=p["code"],
            edoc_code=structure,
            edoc_id=uuid.uuid5(conversation, msg.message_id),
            edoc_datetime=msg.created_at,
            edoc_ref_id=uuid.UUID(p["edoc_ref_id"]) if p.get("edoc_ref_id") else None,
        ),
        MessageBody(structure, transit_messages.fields_from_json(structure, p["fields"])),
    )


def relay(ctx: ExchangeContext, send: Send, *, limit: int = 200) -> RelayReport:
    """Send what the outbox holds; stops at the first bus failure (the rest waits)."""
    now = ctx.transit.clock.now()
    with ctx.transit.read() as uow:
        pending = uow.outbox.pending(limit=limit)
        partners = {p: uow.exchange.partners(p) for p in {m.process for m in pending}}
    if not pending:
        return RelayReport()
    sent: list[str] = []
    paper: list[OutboxMessage] = []
    failure: tuple[str, str] | None = None
    for msg in pending:
        # Answers always travel: they are how interstate tests establish operation.
        is_answer = is_processing_result(str(msg.payload.get("code")))
        if not is_answer and not partners[msg.process].get(msg.to_state, False):
            paper.append(msg)
            continue
        try:
            data = ctx.sealer.seal(envelope_for(ctx, msg), now)
            send(subject_for(msg.to_state, msg.process), data, msg.message_id)
        except BusUnavailable as exc:
            failure = (msg.message_id, str(exc) or "bus unavailable")
            break
        sent.append(msg.message_id)
    with ctx.transit.uow() as uow:
        uow.exchange.mark_sent(sent, now, BUS, None)
        for msg in paper:
            note = (
                f"{msg.process} is not in operation between {ctx.state} and {msg.to_state}"
                " (no passing interstate test): deliver on paper"
            )
            uow.exchange.mark_sent([msg.message_id], now, PAPER, note)
        if failure is not None:
            uow.exchange.mark_attempt_failed(*failure)
        uow.commit()
    return RelayReport(
        sent=len(sent),
        paper=len(paper),
        failed=1 if failure else 0,
        error=failure[1] if failure else None,
    )


# --- inbound -------------------------------------------------------------------------------------


InboundHandler = Callable[["ExchangeContext", UnitOfWork, Envelope, datetime], None]
"""Applies one message's effect inside the receiving transaction; raises DomainError to refuse."""


def receive(ctx: ExchangeContext, data: bytes) -> Receipt:
    """Open, check and apply one inbound envelope; write its R.006 answer. Idempotent."""
    now = ctx.transit.clock.now()
    try:
        envelope = ctx.sealer.open(data, now)
    except (EnvelopeRejected, SignatureRejected) as exc:
        return _refuse_unopened(ctx, data, now, str(exc.code), exc.message)
    header = envelope.header
    message_id = urn_uuid(header.message_id)
    sender = header.reply_to.node
    code = header.action.message
    fields = envelope.body.fields
    reference = fields.get("MovementReference")
    reference = reference if isinstance(reference, str) else None
    with ctx.transit.uow() as uow:
        if uow.exchange.inbox_seen(message_id):
            return _refuse_replay(ctx, uow, envelope, message_id, now)
        if is_processing_result(code):
            return _record_answer(ctx, uow, envelope, message_id, sender, now)
        errors = _misrouted(ctx, envelope)
        if not errors:
            errors = _apply(ctx, uow, envelope, now)
        outcome = RESULT_REJECTED if errors else RESULT_ACCEPTED
        uow.exchange.inbox_add(
            InboxEntry(message_id, now, code, sender, reference, None, outcome, errors)
        )
        if sender in MEMBER_STATES or sender == "EEC":
            uow.outbox.put([_answer(ctx, envelope, errors, now)])
        uow.commit()
    if errors:
        log.info("refused %s %s from %s: %s", code, message_id, sender, errors)
    return Receipt(outcome, message_id, code, errors)


def _refuse_replay(
    ctx: ExchangeContext, uow: UnitOfWork, envelope: Envelope, message_id: str, now: datetime
) -> Receipt:
    """A MessageID seen before: its effect stays applied once, and the copy is refused.

    The sender keeps the first answer it received; a second, negative one tells it (and the
    journal) that the copy was recognised. Answers are never answered.
    """
    code = envelope.header.action.message
    errors = [_error("message-replayed", f"{message_id} was processed before")]
    if not is_processing_result(code) and envelope.header.to.node == ctx.state:
        uow.outbox.put([_answer(ctx, envelope, errors, now)])
        uow.commit()
    log.warning(
        "replayed envelope %s (%s) from %s refused", message_id, code, inbound.sender(envelope)
    )
    return Receipt("duplicate", message_id, code, errors)


def _misrouted(ctx: ExchangeContext, envelope: Envelope) -> list[dict[str, Any]]:
    if envelope.header.to.node != ctx.state:
        return [_error("misrouted", f"addressed to {envelope.header.to.node}, not {ctx.state}")]
    return []


def _apply(
    ctx: ExchangeContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> list[dict[str, Any]]:
    handler = ctx.handlers.get(envelope.header.action.message)
    if handler is None:
        return [_error("message-unsupported", envelope.header.action.message)]
    dry_run = envelope.header.procedure_id == CONFORMANCE_PROCEDURE
    try:
        with uow.savepoint():
            handler(ctx, uow, envelope, now)
            if dry_run:
                raise _Undo
    except _Undo:
        return []
    except DomainError as exc:
        return [_error(v.code, v.message, v.pointer) for v in exc.violations] or [
            _error(exc.code, exc.message)
        ]
    return []


class _Undo(Exception):
    """Rolls back the effect of an interstate-test message after it was applied."""


def _error(code: str, message: str, pointer: str | None = None) -> dict[str, Any]:
    out = {"ErrorCode": code, "ErrorDescription": message[:1000] or code}
    if pointer:
        out["Pointer"] = pointer
    return out


def _answer(
    ctx: ExchangeContext, original: Envelope, errors: list[dict[str, Any]], now: datetime
) -> OutboxMessage:
    header = original.header
    fields: dict[str, Any] = {
        "RelatedEDocId": original.edoc_header.edoc_id,
        "ProcessingResultCode": RESULT_REJECTED if errors else RESULT_ACCEPTED,
        "ProcessingDateTime": now,
    }
    if errors:
        fields["Error"] = tuple(errors)
    reference = original.body.fields.get("MovementReference")
    process = PROCESSES[header.action.process]
    return OutboxMessage(
        message_id=f"urn:uuid:{uuid.uuid4()}",
        created_at=now,
        to_state=header.reply_to.node,
        process=process.code,
        message_kind="processing_result",
        movement_reference=reference if isinstance(reference, str) else None,
        payload={
            "code": process.processing_result,
            "structure": "R.006",
            "transaction": header.action.transaction,
            "sender_role": header.to.role,
            "receiver_role": header.reply_to.role,
            "conversation_id": str(header.conversation_id),
            "procedure_id": str(header.procedure_id),
            "relates_to": urn_uuid(header.message_id),
            "edoc_ref_id": str(original.edoc_header.edoc_id),
            "fields": transit_messages.fields_to_json("R.006", fields),
        },
    )


def _refuse_unopened(
    ctx: ExchangeContext, data: bytes, now: datetime, code: str, reason: str
) -> Receipt:
    """Answer an envelope that failed schema or signature checks, if it can be answered at all."""
    errors = [_error(code, reason)]
    peeked = ctx.sealer.peek(data)
    if peeked is None or is_processing_result(peeked.header.action.message):
        log.warning("dropped an unreadable envelope: %s %s", code, reason)
        return Receipt(RESULT_REJECTED, None, code, errors)
    message_id = urn_uuid(peeked.header.message_id)
    sender = peeked.header.reply_to.node
    with ctx.transit.uow() as uow:
        if uow.exchange.inbox_seen(message_id):
            return Receipt("duplicate", message_id, code, errors)
        uow.exchange.inbox_add(
            InboxEntry(
                message_id,
                now,
                peeked.header.action.message,
                sender,
                None,
                None,
                RESULT_REJECTED,
                errors,
            )
        )
        # The claimed sender gets the refusal; if the claim was forged it learns nothing new.
        if sender in MEMBER_STATES and peeked.header.to.node == ctx.state:
            uow.outbox.put([_answer(ctx, peeked, errors, now)])
        uow.commit()
    log.warning("refused envelope %s from %s: %s %s", message_id, sender, code, reason)
    return Receipt(RESULT_REJECTED, message_id, code, errors)


def _record_answer(
    ctx: ExchangeContext,
    uow: UnitOfWork,
    envelope: Envelope,
    message_id: str,
    sender: str,
    now: datetime,
) -> Receipt:
    fields = envelope.body.fields
    outcome = str(fields["ProcessingResultCode"])
    raw_errors = fields.get("Error", ())
    errors: list[dict[str, Any]] = [
        {k: str(v) for k, v in e.items()}
        for e in (raw_errors if isinstance(raw_errors, tuple) else ())
        if isinstance(e, Mapping)
    ]
    relates = envelope.header.relates_to
    relates_to = urn_uuid(relates) if relates else None
    if relates_to is not None:
        uow.exchange.record_answer(relates_to, now, outcome, errors)
    uow.exchange.inbox_add(
        InboxEntry(
            message_id,
            now,
            envelope.header.action.message,
            sender,
            None,
            relates_to,
            outcome,
            errors,
        )
    )
    uow.commit()
    return Receipt("answer", message_id, envelope.header.action.message, errors)


# --- effects of each message ---------------------------------------------------------------------


def _reference(envelope: Envelope) -> str:
    return str(envelope.body.fields["MovementReference"])


def _office(envelope: Envelope, name: str) -> str:
    group = envelope.body.fields[name]
    assert isinstance(group, Mapping)
    return str(group["OfficeCode"])


def _release_notification(
    ctx: ExchangeContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
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


def _informational(
    ctx: ExchangeContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
    """Anticipated arrival and passage: worklists come from the copy the release brought."""


def _passage_confirmation(
    ctx: ExchangeContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
    movement = known_movement(uow, ctx.state, _reference(envelope))
    office = _office(envelope, "IntermediateOffice")
    if office in movement.passed_offices:
        return
    unplanned = office not in movement.declaration.intermediate_offices
    apply_event(
        ctx.transit,
        uow,
        movement.reference,
        RecordPassage(office, unplanned),
        now,
        actor=inbound.actor(envelope),
    )


def _arrival_notice(
    ctx: ExchangeContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
    movement = known_movement(uow, ctx.state, _reference(envelope))
    if movement.status in (MovementStatus.COMPLETED, MovementStatus.PARTIALLY_COMPLETED):
        return
    if movement.status is not MovementStatus.ARRIVED:
        office = _office(envelope, "DestinationOffice")
        apply_event(
            ctx.transit,
            uow,
            movement.reference,
            RecordArrival(office),
            now,
            actor=inbound.actor(envelope),
        )
    # The goods were presented intact at destination: the departure writes the movement off.
    apply_event(
        ctx.transit, uow, movement.reference, Complete(), now, actor=inbound.actor(envelope)
    )


def _mirror(
    ctx: ExchangeContext,
    uow: UnitOfWork,
    envelope: Envelope,
    now: datetime,
    movement: Movement | None = None,
    **changes: Any,
) -> None:
    """Bring this state's copy in line with what the node of departure decided."""
    movement = movement or known_movement(uow, ctx.state, _reference(envelope))
    if movement.state == ctx.state:
        raise ActionInvalid(
            f"{envelope.header.action.message} concerns a movement registered here",
            [Violation("own-movement", "/MovementReference", movement.reference)],
        )
    body = transit_messages.fields_to_json(envelope.body.structure, envelope.body.fields)
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
    inbound.log_event(uow, movement.reference, envelope, now, kind, payload)


def _completion(ctx: ExchangeContext, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    partial = envelope.body.fields.get("CompletionKindCode") == "partial"
    status = MovementStatus.PARTIALLY_COMPLETED if partial else MovementStatus.COMPLETED
    _mirror(ctx, uow, envelope, now, status=status, completed_at=now)


def _incident(ctx: ExchangeContext, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    movement = known_movement(uow, ctx.state, _reference(envelope))
    incidents = movement.incidents + 1
    if movement.state == ctx.state:
        # Reported by a state on the route about our own movement: keep it in our log.
        body = transit_messages.fields_to_json(envelope.body.structure, envelope.body.fields)
        _record(uow, movement, envelope, now, "incident_reported", body, incidents=incidents)
        return
    _mirror(ctx, uow, envelope, now, movement, incidents=incidents)


def _time_limit(ctx: ExchangeContext, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    _mirror(ctx, uow, envelope, now, time_limit=envelope.body.fields["NewTimeLimitDate"])


def _destination(ctx: ExchangeContext, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    office = _office(envelope, "NewDestinationOffice")
    if uow.movements.get(_reference(envelope)) is None:
        return  # a new destination state without a copy learns of it from this notice alone
    _mirror(ctx, uow, envelope, now, destination_office=office)


def _non_delivery(ctx: ExchangeContext, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    _mirror(ctx, uow, envelope, now, status=MovementStatus.NOT_DELIVERED, completed_at=now)


def _enquiry(ctx: ExchangeContext, uow: UnitOfWork, envelope: Envelope, now: datetime) -> None:
    reference = _reference(envelope)
    copy = uow.movements.get(reference)
    office_state = office_states(ctx.transit.reference)
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
    ctx: ExchangeContext,
    to_state: str,
    copy: Movement,
    fields: dict[str, Any],
    now: datetime,
    office_state: transit_messages.OfficeState,
    enquiry: Envelope,
) -> OutboxMessage:
    from silkway.services.transit import outbox_message

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
    ctx: ExchangeContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
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
    apply_event(ctx.transit, uow, movement.reference, event, now, actor=inbound.actor(envelope))


def _certificate_issued(
    ctx: ExchangeContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
    document = guarantee_certificates.document_from_message(envelope.body.fields)
    if document.certificate.issued_by != inbound.sender(envelope):
        raise ActionInvalid(
            "a certificate comes from the state that issued it",
            [
                Violation(
                    "certificate-issuer-mismatch", "/IssuingCountryCode", inbound.sender(envelope)
                )
            ],
        )
    guarantee_certificates.register_received(
        uow, ctx.state, document, now, actor=inbound.actor(envelope)
    )


def _certificate_used(
    ctx: ExchangeContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
    """The certificate secures a transit there: its lock here already covers it; log the use."""
    guarantee_certificates.check_issued_here(uow, str(envelope.body.fields["CertificateNumber"]))


def _certificate_written_off(
    ctx: ExchangeContext, uow: UnitOfWork, envelope: Envelope, now: datetime
) -> None:
    guarantee_certificates.returned_by_message(
        uow, ctx.state, str(envelope.body.fields["CertificateNumber"]), now, inbound.actor(envelope)
    )


HANDLERS: Mapping[str, InboundHandler] = {
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
    "P.CP.01.MSG.912": _certificate_issued,
    "P.CP.01.MSG.913": _certificate_used,
    "P.CP.01.MSG.914": _certificate_written_off,
    **seal_exchange.HANDLERS,
}
"""The effect of each P.CP.01 and P.SO.01 message at the receiving node."""


# --- dead letters ---------------------------------------------------------------------------------


def dead_letter(ctx: ExchangeContext, subject: str, data: bytes, reason: str, attempts: int) -> int:
    """Keep a message the bus gave up on, with the reason."""
    now = ctx.transit.clock.now()
    peeked = ctx.sealer.peek(data)
    message_id = urn_uuid(peeked.header.message_id) if peeked else None
    with ctx.transit.uow() as uow:
        dead_id = uow.exchange.dead_letter_add(message_id, subject, reason, data, attempts, now)
        uow.commit()
    log.error("dead letter %s (%s) on %s: %s", dead_id, message_id, subject, reason)
    return dead_id


def retry_dead_letter(ctx: ExchangeContext, dead_letter_id: int) -> Receipt:
    """Process a dead letter again, here and now; it is resolved when that succeeds."""
    with ctx.transit.uow() as uow:
        letter = uow.exchange.dead_letter(dead_letter_id)
    if letter is None:
        raise ActionInvalid(
            f"no dead letter {dead_letter_id}",
            [Violation("dead-letter-unknown", "/id", str(dead_letter_id))],
        )
    receipt = receive(ctx, letter.data)
    with ctx.transit.uow() as uow:
        uow.exchange.dead_letter_retried(dead_letter_id, ctx.transit.clock.now(), True)
        uow.commit()
    return receipt


__all__ = [
    "BUS",
    "CONFORMANCE_PROCEDURE",
    "HANDLERS",
    "PAPER",
    "ExchangeContext",
    "Receipt",
    "RelayReport",
    "conversation_of",
    "dead_letter",
    "envelope_for",
    "receive",
    "relay",
    "retry_dead_letter",
]
