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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from silkway.exchange import inbound
from silkway.exchange.bus.ports import BusUnavailable, RetryLater, subject_for
from silkway.exchange.domain import fields as message_fields
from silkway.exchange.domain.envelope import (
    Action,
    Address,
    EDocHeader,
    Envelope,
    EnvelopeHeader,
    EnvelopeRejected,
    MessageBody,
    SignatureCode,
    SignatureRejected,
    parse_urn_uuid,
    urn_uuid,
)
from silkway.exchange.domain.processes import (
    PROCESSES,
    RESULT_ACCEPTED,
    RESULT_REJECTED,
    is_processing_result,
)
from silkway.exchange.expected import ExpectedRefusals
from silkway.exchange.hooks import InboundHandler, KitBuilder, NodeAccess
from silkway.exchange.outbound import conversation_of
from silkway.exchange.ports import BUS, DEAD, PAPER, EnvelopeSealer, InboxEntry, OutboxMessage
from silkway.kernel.errors import ActionInvalid, DomainError, MovementBusy, Violation
from silkway.reference.model import MEMBER_STATES
from silkway.unit_of_work import UnitOfWork

log = logging.getLogger("silkway.exchange")

CONFORMANCE_PROCEDURE = uuid.uuid5(uuid.NAMESPACE_URL, "silkway:conformance")
"""ProcedureID of interstate-test messages: the receiver checks and answers, then undoes."""

NOT_YET_APPLICABLE = "not-yet-applicable"
"""An interstate test's answer to a message that would wait for another (its copy, its
hand-over): outside a test the bus brings such a message back until it applies."""
REPLAYED = "message-replayed"
"""Refusal of a MessageID this node has processed before."""
PUBLISHER_NOT_SENDER = "publisher-not-sender"
"""Refusal of an envelope whose subject's publisher is not its signed sender."""

Send = Callable[[str, bytes, str], None]
"""Hands signed bytes to the bus: (subject, data, message_id). Raises ``BusUnavailable``."""


@dataclass(frozen=True)
class ExchangeContext:
    node: NodeAccess
    sealer: EnvelopeSealer
    handlers: Mapping[str, InboundHandler] = field(default_factory=dict)
    """Message code -> its effect here; each capability contributes its own (bootstrap)."""
    kits: Mapping[str, KitBuilder] = field(default_factory=dict)
    """Process code -> its conformance kit; each capability contributes its own (bootstrap)."""

    @property
    def state(self) -> str:
        return self.node.state


@dataclass(frozen=True, slots=True)
class RelayReport:
    sent: int = 0
    paper: int = 0
    failed: int = 0
    error: str | None = None
    dead: int = 0


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
        MessageBody(structure, message_fields.fields_from_json(structure, p["fields"])),
    )


def relay(ctx: ExchangeContext, send: Send, *, limit: int = 200) -> RelayReport:
    """Send what the outbox holds; stops at the first bus failure (the rest waits).

    A row that cannot be sealed is dead-lettered in the outbox (channel ``dead``, its reason as
    the note) and the rest goes on; what was sent is marked in the same commit, never re-sent."""
    now = ctx.node.clock.now()
    with ctx.node.read() as uow:
        pending = uow.outbox.pending(limit=limit)
        partners = {p: uow.exchange.partners(p) for p in {m.process for m in pending}}
    if not pending:
        return RelayReport()
    sent: list[tuple[str, bytes]] = []
    paper: list[OutboxMessage] = []
    dead: list[tuple[str, str]] = []
    failure: tuple[str, str] | None = None
    for msg in pending:
        # Answers always travel: they are how interstate tests establish operation. So do
        # messages to the Commission (log anchors): it is no partner in a common process.
        is_answer = is_processing_result(str(msg.payload.get("code")))
        to_commission = msg.to_state == "EEC"
        if not (is_answer or to_commission) and not partners[msg.process].get(msg.to_state, False):
            paper.append(msg)
            continue
        try:
            data = ctx.sealer.seal(envelope_for(ctx, msg), now)
        except Exception as exc:
            # A row that cannot become a valid envelope never will: it goes to the outbox's
            # own dead letters with the reason, and the rows behind it flow on.
            log.exception("outbox message %s cannot be sealed", msg.message_id)
            dead.append((msg.message_id, f"cannot be sealed: {type(exc).__name__}: {exc}"))
            continue
        try:
            send(subject_for(msg.to_state, msg.process, ctx.state), data, msg.message_id)
        except BusUnavailable as exc:
            failure = (msg.message_id, str(exc) or "bus unavailable")
            break
        sent.append((msg.message_id, data))
    with ctx.node.uow() as uow:
        uow.exchange.mark_sent([m for m, _ in sent], now, BUS, None)
        # Kept as sent: a message's evidence shows the very answer that went out.
        uow.exchange.envelopes_sent_keep(sent, now)
        for msg in paper:
            note = (
                f"{msg.process} is not in operation between {ctx.state} and {msg.to_state}"
                " (no passing interstate test): deliver on paper"
            )
            uow.exchange.mark_sent([msg.message_id], now, PAPER, note)
        for message_id, reason in dead:
            uow.exchange.mark_sent([message_id], now, DEAD, reason[:2000])
        if failure is not None:
            uow.exchange.mark_attempt_failed(*failure)
        uow.commit()
    return RelayReport(
        sent=len(sent),
        paper=len(paper),
        failed=1 if failure else 0,
        error=failure[1] if failure else None,
        dead=len(dead),
    )


# --- inbound -------------------------------------------------------------------------------------


def receive(
    ctx: ExchangeContext,
    data: bytes,
    waited: timedelta = timedelta(0),
    *,
    via: str | None = None,
    expected: ExpectedRefusals | None = None,
) -> Receipt:
    """Open, check and apply one inbound envelope; write its R.006 answer. Idempotent.

    ``waited`` is how long the bus held the message before this delivery: its signature's age
    is judged at the moment the bus took it, so a node that was down catches up on everything
    that waited for it. MessageIDs are remembered for good (the inbox), so a replay is refused
    however late it comes. ``via`` is the node the bus says published it (its subject's
    publisher token, which the server's permissions vouch for). ``expected`` names the
    refusals this process's own interstate tests provoke: those are logged at DEBUG."""
    now = ctx.node.clock.now()
    received_at = now - max(waited, timedelta(0))
    try:
        envelope = ctx.sealer.open(data, now, received_at)
    except (EnvelopeRejected, SignatureRejected) as exc:
        if exc.code == SignatureCode.KEY_UNKNOWN and not _is_conformance(ctx, data):
            # A key rotated in before the trust list reached this node: it heals once the list
            # arrives, so the bus brings the message back (nothing is recorded as seen) and, if
            # it never does, keeps it as a dead letter with this reason. An interstate test
            # expects its answer at once.
            raise RetryLater(f"{exc.code}: {exc.message}") from exc
        return _refuse_unopened(ctx, data, now, str(exc.code), exc.message, expected)
    header = envelope.header
    message_id = urn_uuid(header.message_id)
    sender = header.reply_to.node
    code = header.action.message
    if via is not None and via != sender:
        # Signed by one node, put on the bus by another: a genuine envelope relayed by a node
        # that is not its sender. Neither answered nor recorded as seen: the sender's own copy
        # may still be on its way, and must not meet a "replay" or a refusal answered for it.
        log.warning("refused envelope %s signed by %s: published by %s", message_id, sender, via)
        errors = [_error(PUBLISHER_NOT_SENDER, f"published by {via}, signed by {sender}")]
        return Receipt(RESULT_REJECTED, message_id, PUBLISHER_NOT_SENDER, errors)
    fields = envelope.body.fields
    reference = fields.get("MovementReference")
    reference = reference if isinstance(reference, str) else None
    with ctx.node.uow() as uow:
        if uow.exchange.inbox_seen(message_id):
            return _refuse_replay(ctx, uow, envelope, message_id, now, expected)
        # Kept as received: the message's evidence, and the Commission's copy of an anchor.
        uow.exchange.envelope_keep(message_id, received_at, data)
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
        level = min(
            _level(expected, message_id, str(e.get("ErrorCode")), logging.INFO) for e in errors
        )
        log.log(
            level, "refused %s %s from %s: %s%s", code, message_id, sender, errors, _note(level)
        )
    return Receipt(outcome, message_id, code, errors)


def _level(expected: ExpectedRefusals | None, message_id: str | None, code: str, level: int) -> int:
    """How loud a refusal is: DEBUG when this process's interstate tests provoked it."""
    return level if expected is None else expected.level(message_id, code, level)


def _note(level: int) -> str:
    return " (an interstate test's, as expected)" if level == logging.DEBUG else ""


def _is_conformance(ctx: ExchangeContext, data: bytes) -> bool:
    peeked = ctx.sealer.peek(data)
    return peeked is not None and peeked.header.procedure_id == CONFORMANCE_PROCEDURE


def _refuse_replay(
    ctx: ExchangeContext,
    uow: UnitOfWork,
    envelope: Envelope,
    message_id: str,
    now: datetime,
    expected: ExpectedRefusals | None = None,
) -> Receipt:
    """A MessageID seen before: its effect stays applied once, and the copy is refused.

    The sender keeps the first answer it received; a second, negative one tells it (and the
    journal) that the copy was recognised. Answers are never answered.
    """
    code = envelope.header.action.message
    errors = [_error(REPLAYED, f"{message_id} was processed before")]
    if not is_processing_result(code) and envelope.header.to.node == ctx.state:
        uow.outbox.put([_answer(ctx, envelope, errors, now)])
        uow.commit()
    level = _level(expected, message_id, REPLAYED, logging.WARNING)
    log.log(
        level,
        "replayed envelope %s (%s) from %s refused%s",
        message_id,
        code,
        inbound.sender(envelope),
        _note(level),
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
            handler(uow, envelope, now)
            if dry_run:
                raise _Undo
    except _Undo:
        return []
    except RetryLater as exc:
        if not dry_run:
            raise
        # An interstate test expects its answer now; outside one the bus would bring it back.
        return [_error(NOT_YET_APPLICABLE, str(exc))]
    except MovementBusy:
        # Another change to the movement won the race: nothing is kept of this attempt (the
        # transaction rolls back) and the bus brings the message back, never a refusal.
        raise
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
            "fields": message_fields.fields_to_json("R.006", fields),
        },
    )


def _refuse_unopened(
    ctx: ExchangeContext,
    data: bytes,
    now: datetime,
    code: str,
    reason: str,
    expected: ExpectedRefusals | None = None,
) -> Receipt:
    """Answer an envelope that failed schema or signature checks, if it can be answered at all."""
    errors = [_error(code, reason)]
    peeked = ctx.sealer.peek(data)
    if peeked is None or is_processing_result(peeked.header.action.message):
        log.warning("dropped an unreadable envelope: %s %s", code, reason)
        return Receipt(RESULT_REJECTED, None, code, errors)
    message_id = urn_uuid(peeked.header.message_id)
    sender = peeked.header.reply_to.node
    # Its MessageID is not recorded as seen: nothing vouches for it, and a forgery carrying a
    # genuine message's id must not make the genuine one a "replay". Each copy is answered.
    with ctx.node.uow() as uow:
        # The claimed sender gets the refusal; if the claim was forged it learns nothing new.
        if sender in MEMBER_STATES and peeked.header.to.node == ctx.state:
            uow.outbox.put([_answer(ctx, peeked, errors, now)])
        uow.commit()
    level = _level(expected, message_id, code, logging.WARNING)
    log.log(
        level,
        "refused envelope %s from %s: %s %s%s",
        message_id,
        sender,
        code,
        reason,
        _note(level),
    )
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
        uow.exchange.record_answer(relates_to, sender, now, outcome, errors)
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


# --- dead letters ---------------------------------------------------------------------------------


def dead_letter(
    ctx: ExchangeContext,
    subject: str,
    data: bytes,
    reason: str,
    attempts: int,
    waited: timedelta = timedelta(0),
) -> int:
    """Keep a message the bus gave up on, with the reason and when the bus took it."""
    now = ctx.node.clock.now()
    peeked = ctx.sealer.peek(data)
    message_id = urn_uuid(peeked.header.message_id) if peeked else None
    received_at = now - max(waited, timedelta(0))
    with ctx.node.uow() as uow:
        dead_id = uow.exchange.dead_letter_add(
            message_id, subject, reason, data, attempts, now, received_at
        )
        uow.commit()
    log.error("dead letter %s (%s) on %s: %s", dead_id, message_id, subject, reason)
    return dead_id


def retry_dead_letter(ctx: ExchangeContext, dead_letter_id: int) -> Receipt:
    """Process a dead letter again, here and now; it is resolved when that succeeds.

    A letter refused again, or still waiting for something it needs, stays a dead letter with
    the new reason; the receipt says which."""
    with ctx.node.uow() as uow:
        letter = uow.exchange.dead_letter(dead_letter_id)
    if letter is None:
        raise ActionInvalid(
            f"no dead letter {dead_letter_id}",
            [Violation("dead-letter-unknown", "/id", str(dead_letter_id))],
        )
    # Judged as of when the bus took it: a letter does not go stale waiting for its retry.
    waited = (
        timedelta(0) if letter.received_at is None else ctx.node.clock.now() - letter.received_at
    )
    try:
        receipt = receive(ctx, letter.data, waited)
    except (RetryLater, MovementBusy) as exc:
        # Still cannot be processed (a key or a movement not known yet): still a dead letter.
        receipt = Receipt("retry-later", letter.message_id, None, [_error("retry-later", str(exc))])
    # Resolved only when processed now or before (a duplicate); a refusal stays a dead letter,
    # with the refusal as its reason.
    resolved = receipt.outcome in (RESULT_ACCEPTED, "answer", "duplicate")
    reason = (
        None
        if resolved
        else "; ".join(f"{e.get('ErrorCode')}: {e.get('ErrorDescription')}" for e in receipt.errors)
        or receipt.outcome
    )
    with ctx.node.uow() as uow:
        uow.exchange.dead_letter_retried(dead_letter_id, ctx.node.clock.now(), resolved, reason)
        uow.commit()
    return receipt


__all__ = [
    "BUS",
    "CONFORMANCE_PROCEDURE",
    "DEAD",
    "PAPER",
    "ExchangeContext",
    "InboundHandler",
    "Receipt",
    "RelayReport",
    "conversation_of",
    "dead_letter",
    "envelope_for",
    "receive",
    "relay",
    "retry_dead_letter",
]
