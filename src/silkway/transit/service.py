"""Transit use cases of one national node: lodge a declaration, act on a movement, read them.

Each use case is one function and one transaction: the movement, its event-log record and the
messages other states must receive are written together or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from silkway.exchange.outbound import conversation_of, process_message
from silkway.exchange.ports import OutboxMessage
from silkway.kernel.codes import make_movement_reference, make_registration_number
from silkway.kernel.errors import (
    ActionInvalid,
    DeclarationInvalid,
    DomainError,
    ForbiddenTransition,
    MovementBusy,
    Violation,
)
from silkway.node.ports import Clock, ConcurrentUpdate, DuplicateKey
from silkway.reference.model import ReferenceData
from silkway.transit.domain import audit
from silkway.transit.domain import messages as transit_messages
from silkway.transit.domain.audit import ChainVerdict, EventRecord
from silkway.transit.domain.declaration import TransitDeclaration
from silkway.transit.domain.movement import (
    Amend,
    AnswerEnquiry,
    EventKind,
    MarkOverdue,
    Movement,
    MovementEvent,
    MovementStatus,
    RecordArrival,
    RecordIncident,
    RecordPassage,
    Release,
    apply,
    destination_offices,
    notifications_for,
    office_states,
)
from silkway.transit.domain.rules import exemption_violations, validate_declaration
from silkway.transit.hooks import MovementObserver, SecurityGate
from silkway.transit.ports import MovementFilter, Page
from silkway.unit_of_work import UnitOfWork

TRANSIT_PROCESS = "P.CP.01"


class MovementNotFound(DomainError):
    code = "movement-not-found"


class LrnConflict(DomainError):
    """The declarant already lodged a different declaration under the same LRN."""

    code = "lrn-conflict"


class OfficeOfAnotherState(ActionInvalid):
    """An action at a customs office that belongs to another member state: that state's node
    records it, and the exchange brings it here."""

    code = "office-other-state"

    def __init__(self, message: str, violations: list[Violation], *, office_state: str) -> None:
        super().__init__(message, violations)
        self.office_state = office_state


@dataclass(frozen=True, slots=True)
class TransitContext:
    """What the transit use cases of one node need, built by the composition root."""

    state: str
    reference: ReferenceData
    clock: Clock
    security: SecurityGate
    uow: Callable[[], UnitOfWork]
    km_per_month: float = 2000.0
    reader: Callable[[], UnitOfWork] | None = None
    """A unit of work that only reads (no write lock on SQLite); ``uow`` when not given."""
    observers: list[MovementObserver] = field(default_factory=list)
    """Capabilities told of every change in its transaction (the seals); bootstrap fills it."""

    def read(self) -> UnitOfWork:
        return (self.reader or self.uow)()


@dataclass(frozen=True, slots=True)
class Lodged:
    movement: Movement
    created: bool
    """False when the same declaration had been lodged before under the same LRN."""


def declaration_hash(declaration: TransitDeclaration) -> str:
    """A digest of the declaration's content, to tell a retry from a conflicting re-use of an LRN.

    Pydantic writes fields in their declared order, so equal declarations give equal bytes. The
    access codes are left out: a digest of four characters is no secret, and a code that
    changed the answer to a repeat would be an oracle for it (the repeat's code is checked
    against the registry instead).
    """
    stored = declaration.without_access_codes()
    return hashlib.sha256(stored.model_dump_json().encode()).hexdigest()


def lodge_declaration(
    ctx: TransitContext, declaration: TransitDeclaration, *, actor: str | None = None
) -> Lodged:
    """Validate and register a declaration; idempotent on (declarant, LRN).

    The access codes it quotes are checked against the securities registered here (the
    security gate) and then dropped: the movement, its log and its messages never carry them.
    """
    now = ctx.clock.now()
    violations = _departure_here(ctx, declaration)
    violations += validate_declaration(
        declaration, ctx.reference, now.date(), km_per_month=ctx.km_per_month
    )
    if violations:
        raise DeclarationInvalid(f"the declaration breaks {len(violations)} rule(s)", violations)
    # A repeat's codes are checked like the first lodging's before its answer is given.
    _check_quoted(ctx, declaration, now, "")
    stored = declaration.without_access_codes()
    digest = declaration_hash(stored)
    declarant = declaration.declarant.identification
    for _attempt in range(3):
        # Optimistic: most lodgings are new, so insert first and let the unique key on
        # (declarant, LRN) catch a repeat; only then read what was stored before.
        try:
            return Lodged(_register(ctx, stored, digest, declarant, now, actor), created=True)
        except DuplicateKey:
            pass
        with ctx.uow() as uow:
            earlier = uow.movements.find_lodged(declarant, declaration.lrn)
        if earlier is None:
            continue  # the other lodging was rolled back meanwhile: try again
        if earlier.request_hash != digest:
            raise LrnConflict(
                f"LRN {declaration.lrn!r} was already used by declarant {declarant} for"
                f" another declaration ({earlier.movement.reference})",
                [Violation("lrn-conflict", "/lrn", "LRN already used for other content")],
            )
        return Lodged(earlier.movement, created=False)
    raise MovementBusy("the declaration could not be registered; try again")


def _departure_here(ctx: TransitContext, declaration: TransitDeclaration) -> list[Violation]:
    office = ctx.reference.offices.get(declaration.departure_office)
    if office is not None and office.state != ctx.state:
        return [
            Violation(
                "departure-office-other-node",
                "/departure_office",
                f"office {office.code} belongs to {office.state}; lodge at the {office.state} node,"
                f" not {ctx.state}",
            )
        ]
    return []


def _register(
    ctx: TransitContext,
    declaration: TransitDeclaration,
    digest: str,
    declarant: str,
    now: datetime,
    actor: str | None,
) -> Movement:
    with ctx.uow() as uow:
        office = declaration.departure_office
        serial, ref_serial = uow.counters.next_all(
            [f"registration:{office}:{now:%d%m%y}", f"reference:{ctx.state}:{now.year}"]
        )
        registration = make_registration_number(office, now.date(), serial)
        reference = make_movement_reference(ctx.state, now.year, ref_serial)
        movement, lodged = Movement.lodge(reference, registration, ctx.state, declaration, now)
        uow.movements.add(
            movement, declarant_id=declarant, lrn=declaration.lrn, request_hash=digest
        )
        uow.events.append(
            audit.append(None, reference, lodged.kind, lodged.to_payload(), now, actor or office)
        )
        uow.commit()
        return movement


def _check_quoted(
    ctx: TransitContext, declaration: TransitDeclaration, now: datetime, prefix: str
) -> None:
    """The gate checks the quoted access codes before the change's own transaction opens: a
    code is checked by a deliberately slow hash, which must not hold the node's write lock (and
    the gate keeps a wrong attempt in a transaction of its own, which the refusal leaves)."""
    with ctx.read() as uow:
        refused = ctx.security.check_quoted(uow, declaration, now)
    if refused:
        raise DeclarationInvalid(
            "the security quoted is not accepted",
            [Violation(v.code, prefix + v.pointer, v.message) for v in refused],
        )


def act(
    ctx: TransitContext, reference: str, event: MovementEvent, *, actor: str | None = None
) -> Movement:
    """Apply one event to a movement: status change, log record and outbound messages at once.

    The action is this node's own (the API, the command line, the demo): one taken at a customs
    office (release, passage, arrival, an incident, an enquiry answer) is refused for an office
    of another state (:class:`OfficeOfAnotherState`).
    """
    now = ctx.clock.now()
    if isinstance(event, Amend):
        # Whether the movement takes an amendment at all, then the amended declaration as
        # quoted: its rules (which see that each code is given), then its codes. The movement
        # and its log keep it without them.
        stripped = Amend(event.declaration.without_access_codes())
        _amendment_allowed(ctx, reference, stripped, now)
        _validate_amendment(ctx, event.declaration, now)
        _check_quoted(ctx, event.declaration, now, "/declaration")
        event = stripped
    with ctx.uow() as uow:
        after = apply_event(ctx, uow, reference, event, now, actor=actor)
        uow.commit()
        return after


REPLICA_EVENTS = frozenset(
    {EventKind.RECORD_PASSAGE, EventKind.RECORD_ARRIVAL, EventKind.RECORD_INCIDENT}
)
"""What a state on the route records on its copy of a movement registered elsewhere."""

OFFICE_ACTIONS = (Release, RecordPassage, RecordArrival, RecordIncident, AnswerEnquiry)
"""Events that an office records about what happened there, so only its own state's node may.

A change of destination names an office too, but as the departure's decision about where the
goods go, not as something that office did."""


def apply_event(
    ctx: TransitContext,
    uow: UnitOfWork,
    reference: str,
    event: MovementEvent,
    now: datetime,
    *,
    actor: str | None = None,
    local: bool = True,
) -> Movement:
    """:func:`act` inside a transaction the caller owns.

    ``local=False`` is for inbound messages: they record what another state's office did (an
    arrival notice from the destination), which this node's own actions may not.

    An amendment comes through :func:`act`, which checks its rules and access codes and drops
    the codes; one still carrying a code is refused here rather than stored unchecked.
    """
    before = uow.movements.get(reference)
    if before is None:
        raise MovementNotFound(f"no movement {reference!r} at the {ctx.state} node")
    _pre_checks(ctx, event)
    if local:
        _own_office(ctx, event)
    replica = before.state != ctx.state
    if replica:
        _replica_checks(ctx, before, event)
    after = apply(before, event, now, is_destination_office=destination_offices(ctx.reference))
    # Only the node of departure holds the security; a copy elsewhere locks nothing.
    if not replica and isinstance(event, Release):
        # An exemption is the law's, not the ledger's: checked here against the reference data
        # of today, then the gate checks (and locks) any other security.
        violations = exemption_violations(
            after.declaration, event.security_reference, ctx.reference
        ) or ctx.security.reserve(uow, after, event.security_reference, now)
        if violations:
            raise ActionInvalid("the security is not accepted", violations)
    elif not replica:
        ctx.security.settle(uow, before, after, now)
    try:
        uow.movements.save(after, expected_version=before.version)
    except ConcurrentUpdate:
        raise MovementBusy(
            f"movement {reference} changed while this action was applied; try again"
        ) from None
    for observer in ctx.observers:
        observer.movement_changed(uow, before, after, now)
    previous = uow.events.last(reference)
    uow.events.append(
        audit.append(
            previous,
            reference,
            event.kind,
            event.to_payload(),
            now,
            actor or _actor_of(event, ctx.state),
        )
    )
    uow.outbox.put(_messages(ctx, before, after, event, now))
    return after


def _replica_checks(ctx: TransitContext, movement: Movement, event: MovementEvent) -> None:
    if event.kind not in REPLICA_EVENTS:
        message = (
            f"movement {movement.reference} is registered at the {movement.state} node;"
            f" the {ctx.state} node records only passage, arrival and incidents on its copy"
        )
        raise ForbiddenTransition(
            message, [Violation("movement-registered-elsewhere", "/", message)]
        )
    if isinstance(event, RecordIncident) and event.office is None:
        # The incident message names the office that reports it, and the receivers take it as
        # the word of that office's state: a copy's incident is one of this state's offices.
        message = f"an incident on a copy names the {ctx.state} office that records it"
        raise ActionInvalid(message, [Violation("office-required", "/office", message)])


def _own_office(ctx: TransitContext, event: MovementEvent) -> None:
    """Refuse an office action for another state's office: its node records it, and the
    exchange carries it to the node of departure (which would otherwise complete a movement
    that the other state never saw arrive)."""
    if not isinstance(event, OFFICE_ACTIONS):
        return
    office = event.office
    known = ctx.reference.offices.get(office) if isinstance(office, str) else None
    if known is None or known.state == ctx.state:
        return
    message = (
        f"office {office} belongs to {known.state}: its {event.kind} is recorded at the"
        f" {known.state} node, not at the {ctx.state} node"
    )
    raise OfficeOfAnotherState(
        message, [Violation("office-other-state", "/office", message)], office_state=known.state
    )


def _amendment_allowed(ctx: TransitContext, reference: str, event: Amend, now: datetime) -> None:
    """The refusals :func:`apply_event` would give, found before any code is checked."""
    with ctx.read() as uow:
        before = uow.movements.get(reference)
    if before is None:
        raise MovementNotFound(f"no movement {reference!r} at the {ctx.state} node")
    if before.state != ctx.state:
        _replica_checks(ctx, before, event)
    apply(before, event, now, is_destination_office=destination_offices(ctx.reference))


def _validate_amendment(
    ctx: TransitContext, declaration: TransitDeclaration, now: datetime
) -> None:
    violations = validate_declaration(
        declaration, ctx.reference, now.date(), km_per_month=ctx.km_per_month
    )
    if violations:
        raise DeclarationInvalid(
            f"the amended declaration breaks {len(violations)} rule(s)",
            [Violation(v.code, "/declaration" + v.pointer, v.message) for v in violations],
        )


def _pre_checks(ctx: TransitContext, event: MovementEvent) -> None:
    """Checks that need reference data, which the pure domain does not hold."""
    if isinstance(event, Amend) and any(s.access_code for s in event.declaration.security):
        message = "an amendment's access codes are checked and dropped by act(), not stored"
        raise ActionInvalid(message, [Violation("access-code-unchecked", "/declaration", message)])
    office = getattr(event, "office", None)
    if isinstance(office, str) and office not in ctx.reference.offices:
        raise ActionInvalid(
            f"unknown customs office {office!r}",
            [Violation("office-unknown", "/office", f"unknown customs office {office!r}")],
        )


def _actor_of(event: MovementEvent, state: str) -> str:
    office = getattr(event, "office", None)
    return office if isinstance(office, str) else f"node:{state}"


def _messages(
    ctx: TransitContext, before: Movement, after: Movement, event: MovementEvent, now: datetime
) -> list[OutboxMessage]:
    office_state = office_states(ctx.reference)
    notes = notifications_for(before, after, event, office_state, sender=ctx.state)
    payload = event.to_payload()
    return [
        outbox_message(
            ctx.state,
            n.to_state,
            n.message_kind.value,
            after,
            transit_messages.body_fields(
                n.message_kind, before, after, payload, n.to_state, now, office_state
            ),
            now,
            office_state,
        )
        for n in notes
        if n.to_state != ctx.state
    ]


def outbox_message(
    sender: str,
    to_state: str,
    kind: str,
    movement: Movement,
    fields: dict[str, Any],
    now: datetime,
    office_state: transit_messages.OfficeState,
    *,
    relates_to: str | None = None,
) -> OutboxMessage:
    """An outbound P.CP.01 message about ``movement``, as the outbox keeps it until sent."""
    sender_role, receiver_role = transit_messages.roles(
        kind, sender, to_state, movement, office_state
    )
    return process_message(
        to_state,
        kind,
        fields,
        now,
        sender_role=sender_role,
        receiver_role=receiver_role,
        conversation_id=conversation_of(movement.reference),
        code=transit_messages.MESSAGE_CODES[kind],
        movement_reference=movement.reference,
        relates_to=relates_to,
    )


def known_movement(uow: UnitOfWork, state: str, reference: str) -> Movement:
    """The movement a message is about; refused (movement-not-found) when this node has none."""
    found = uow.movements.get(reference)
    if found is None:
        raise MovementNotFound(
            f"no movement {reference} at the {state} node",
            [Violation("movement-not-found", "/MovementReference", reference)],
        )
    return found


def get_movement(ctx: TransitContext, key: str) -> Movement:
    """A movement by its reference or its registration number."""
    with ctx.read() as uow:
        found = uow.movements.get(key) if "/" not in key else None
        if found is None:
            found = uow.movements.get_by_registration_number(key)
    if found is None:
        raise MovementNotFound(f"no movement {key!r} at the {ctx.state} node")
    return found


def list_movements(ctx: TransitContext, flt: MovementFilter, *, offset: int, limit: int) -> Page:
    with ctx.read() as uow:
        return uow.movements.search(flt, offset=offset, limit=limit)


WORKLISTS: dict[str, tuple[str, tuple[MovementStatus, ...]]] = {
    "expected-arrivals": (
        "destination",
        (MovementStatus.RELEASED, MovementStatus.IN_PASSAGE, MovementStatus.OVERDUE),
    ),
    "expected-passages": ("intermediate", (MovementStatus.RELEASED, MovementStatus.IN_PASSAGE)),
    "awaiting-release": ("departure", (MovementStatus.LODGED, MovementStatus.ACCEPTED)),
    "arrived": ("destination", (MovementStatus.ARRIVED,)),
    "overdue": ("departure", (MovementStatus.OVERDUE, MovementStatus.UNDER_ENQUIRY)),
}
"""Office worklists: which role of the office and which statuses each shows."""


def worklist(ctx: TransitContext, office: str, kind: str, *, limit: int = 200) -> list[Movement]:
    role, statuses = WORKLISTS[kind]
    with ctx.read() as uow:
        found = uow.movements.concerning_office(office, role, statuses, limit=limit)
    if kind == "expected-passages":
        # A passage already recorded at this office is no longer expected there.
        found = [m for m in found if office not in m.passed_offices]
    return found


def mark_overdue_movements(ctx: TransitContext, *, limit: int = 500) -> list[str]:
    """Mark every released movement past its time limit as overdue; returns their references."""
    now = ctx.clock.now()
    with ctx.read() as uow:
        candidates = [
            m.reference for m in uow.movements.overdue_candidates(now.date(), limit=limit)
        ]
    marked: list[str] = []
    for reference in candidates:
        try:
            act(ctx, reference, MarkOverdue(now), actor=f"node:{ctx.state}")
        except (DomainError, MovementBusy):
            continue  # changed meanwhile (arrived, extended): nothing to mark
        marked.append(reference)
    return marked


def event_log(ctx: TransitContext, reference: str) -> tuple[list[EventRecord], ChainVerdict]:
    with ctx.read() as uow:
        records = uow.events.records(reference)
    if not records:
        raise MovementNotFound(f"no movement {reference!r} at the {ctx.state} node")
    return records, audit.verify_chain(records, movement_reference=reference)


def verify_all(ctx: TransitContext) -> dict[str, ChainVerdict]:
    """Verify the event log of every movement of the node."""
    with ctx.read() as uow:
        references = uow.events.references()
        return {
            ref: audit.verify_chain(uow.events.records(ref), movement_reference=ref)
            for ref in references
        }
