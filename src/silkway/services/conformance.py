"""The interstate conformance kit: P.CP.01 scenarios run between two live nodes over the bus.

Each scenario sends a real, signed envelope from node A to node B over the bus and checks the
R.006 answer that comes back to A. Scenario messages carry the conformance ProcedureID, so B
checks and applies them in full and then undoes the effect: tests never leave data behind.
Results go to the Commission's register; A and B learn whether the process is in operation
between them (both ways), which is what their relays obey.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from silkway.domain import transit_messages
from silkway.domain.codes import make_movement_reference, make_registration_number
from silkway.domain.envelope import (
    Action,
    Address,
    EDocHeader,
    Envelope,
    EnvelopeHeader,
    MessageBody,
    urn_uuid,
)
from silkway.domain.movement import Accept, MessageKind, Movement, Release, apply, office_states
from silkway.domain.processes import (
    CATALOGUE,
    PROCEDURE_TRANSIT_CONTROL,
    PROCESS,
    PROCESS_VERSION,
    PROCESSING_RESULT,
)
from silkway.domain.reference import OfficeRole
from silkway.examples import example_declaration, example_names
from silkway.services.bus_ports import subject_for
from silkway.services.exchange import CONFORMANCE_PROCEDURE, ExchangeContext, Send
from silkway.services.exchange_ports import ConformanceResult, InboxEntry
from silkway.services.register import in_operation_between, pair_status

Settle = Callable[[], None]
"""Lets the bus deliver (a live set-up waits; a test harness pumps)."""


@dataclass(frozen=True, slots=True)
class ScenarioOutcome:
    scenario: str
    passed: bool
    detail: str


def _synthetic_release(
    a: ExchangeContext, b_state: str, now: datetime
) -> tuple[Movement, dict[str, Any]]:
    """A released movement from A to B, built only for the test (never stored anywhere)."""
    ref_data = a.transit.reference
    departure = next(o for o in ref_data.offices_of(a.state) if OfficeRole.DEPARTURE in o.roles)
    destination = next(o for o in ref_data.offices_of(b_state) if OfficeRole.DESTINATION in o.roles)
    decl = example_declaration(example_names()[0], now.date()).model_copy(
        update={
            "lrn": f"CONF-{uuid.uuid4().hex[:12]}",
            "departure_office": departure.code,
            "destination_office": destination.code,
            "intermediate_offices": [],
            "route": [a.state, b_state],
            "border_points": [],
            "corridor": None,
        }
    )
    # A reference in the last serial block of the year: never issued to a real movement.
    reference = make_movement_reference(
        a.state, now.year, 99_999_000_000 + int(now.timestamp()) % 999_999
    )
    movement, _ = Movement.lodge(
        reference,
        make_registration_number(departure.code, now.date(), 9_999_999),
        a.state,
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


def _envelope(
    a: ExchangeContext,
    b_state: str,
    kind: str,
    fields: dict[str, Any],
    movement: Movement,
    now: datetime,
) -> Envelope:
    code = transit_messages.MESSAGE_CODES[kind]
    entry = CATALOGUE[code]
    sender_role, receiver_role = transit_messages.roles(
        kind, a.state, b_state, movement, office_states(a.transit.reference)
    )
    message_id = uuid.uuid4()
    return Envelope(
        EnvelopeHeader(
            to=Address.for_role(b_state, receiver_role),
            reply_to=Address.for_role(a.state, sender_role),
            action=Action(
                PROCESS,
                PROCESS_VERSION,
                PROCEDURE_TRANSIT_CONTROL,
                entry.transaction or "P.CP.01.TRN.001",
                code,
            ),
            message_id=message_id,
            procedure_id=CONFORMANCE_PROCEDURE,
            conversation_id=uuid.uuid4(),
        ),
        EDocHeader(code, entry.structure, uuid.uuid4(), now),
        MessageBody(entry.structure, fields),
    )


def _answers(a: ExchangeContext, message_id: str) -> list[InboxEntry]:
    with a.transit.read() as uow:
        return [
            e
            for e in uow.exchange.inbox(relates_to=message_id, limit=10)
            if e.message_code == PROCESSING_RESULT
        ]


def _await_answer(
    a: ExchangeContext, message_id: str, settle: Settle, timeout: float
) -> list[InboxEntry]:
    deadline = time.monotonic() + timeout
    while True:
        settle()
        found = _answers(a, message_id)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def run_pair(
    a: ExchangeContext,
    b_state: str,
    send: Send,
    settle: Settle,
    *,
    timeout: float = 5.0,
) -> list[ScenarioOutcome]:
    """Every P.CP.01 scenario from A to B."""
    now = a.transit.clock.now()
    movement, release_fields = _synthetic_release(a, b_state, now)
    subject = subject_for(b_state, PROCESS)
    outcomes: list[ScenarioOutcome] = []

    def exchange_one(
        name: str, data: bytes, message_id: str, expect: str, code: str | None
    ) -> None:
        send(subject, data, message_id)
        answers = _await_answer(a, message_id, settle, timeout)
        if not answers:
            outcomes.append(ScenarioOutcome(name, False, f"no R.006 within {timeout:.0f} s"))
            return
        answer = answers[0]
        codes = [e.get("ErrorCode") for e in answer.errors]
        passed = answer.outcome == expect and (code is None or code in codes)
        detail = f"R.006 {answer.outcome}" + (f" {codes}" if codes else "")
        outcomes.append(ScenarioOutcome(name, passed, detail))

    # 1. The release notification is accepted.
    release = _envelope(a, b_state, MessageKind.RELEASE_NOTIFICATION, release_fields, movement, now)
    sealed = a.sealer.seal(release, now)
    exchange_one(
        "release-notification-accepted",
        sealed,
        urn_uuid(release.header.message_id),
        "accepted",
        None,
    )

    # 2. The same envelope again, under a new transport id (as a replay attack would send it)
    #    is refused with message-replayed; its effect is not applied twice.
    release_id = urn_uuid(release.header.message_id)
    send(subject, sealed, f"{release_id}:replay")
    deadline = time.monotonic() + timeout
    answers = _answers(a, release_id)
    while len(answers) < 2 and time.monotonic() < deadline:
        settle()
        time.sleep(0.02)
        answers = _answers(a, release_id)
    refused = [
        x for x in answers if any(e.get("ErrorCode") == "message-replayed" for e in x.errors)
    ]
    outcomes.append(
        ScenarioOutcome(
            "replay-refused",
            len(answers) == 2 and len(refused) == 1 and refused[0].outcome == "rejected",
            f"{len(answers)} answer(s) to two deliveries, {len(refused)} refusing the replay",
        )
    )

    # 3. An arrival notice for a movement B does not know is refused.
    arrival_fields = {
        "MovementReference": movement.reference,
        "DestinationOffice": release_fields["DestinationOffice"],
        "ArrivalDateTime": now,
        "SealsIntactIndicator": True,
    }
    unknown = _envelope(a, b_state, MessageKind.ARRIVAL_NOTICE, arrival_fields, movement, now)
    exchange_one(
        "unknown-movement-refused",
        a.sealer.seal(unknown, now),
        urn_uuid(unknown.header.message_id),
        "rejected",
        "movement-not-found",
    )

    # 4. A tampered envelope is refused.
    tampered_env = _envelope(
        a, b_state, MessageKind.RELEASE_NOTIFICATION, release_fields, movement, now
    )
    good = a.sealer.seal(tampered_env, now)
    tampered = good.replace(movement.reference.encode(), _flip(movement.reference).encode(), 1)
    exchange_one(
        "tampered-envelope-refused",
        tampered,
        urn_uuid(tampered_env.header.message_id),
        "rejected",
        "signature-invalid",
    )

    # 5. A key the trust list does not know is refused.
    rogue_env = _envelope(
        a, b_state, MessageKind.RELEASE_NOTIFICATION, release_fields, movement, now
    )
    exchange_one(
        "unknown-key-refused",
        a.sealer.seal_untrusted(rogue_env, now),
        urn_uuid(rogue_env.header.message_id),
        "rejected",
        "key-unknown",
    )
    return outcomes


def _flip(reference: str) -> str:
    """The same reference with one digit changed: still schema-valid, no longer signed."""
    digit = reference[-2]
    return reference[:-2] + ("1" if digit != "1" else "2") + reference[-1]


def run_conformance(
    a: ExchangeContext,
    b: ExchangeContext,
    send: Send,
    settle: Settle,
    *,
    register: ExchangeContext | None = None,
    timeout: float = 5.0,
) -> dict[str, list[ScenarioOutcome]]:
    """Run P.CP.01 both ways between A and B; record results and the pair's status."""
    results = {
        f"{a.state}->{b.state}": run_pair(a, b.state, send, settle, timeout=timeout),
        f"{b.state}->{a.state}": run_pair(b, a.state, send, settle, timeout=timeout),
    }
    now = a.transit.clock.now()
    records = [
        ConformanceResult(run_id, PROCESS, src, dst, o.scenario, o.passed, o.detail, now)
        for (src, dst), outcomes, run_id in (
            ((a.state, b.state), results[f"{a.state}->{b.state}"], str(uuid.uuid4())),
            ((b.state, a.state), results[f"{b.state}->{a.state}"], str(uuid.uuid4())),
        )
        for o in outcomes
    ]
    status = pair_status(records)
    operating = in_operation_between(status, PROCESS, a.state, b.state)
    if register is not None:
        with register.transit.uow() as uow:
            for r in records:
                uow.exchange.conformance_add(r)
            uow.commit()
    run_id = records[0].run_id if records else str(uuid.uuid4())
    for here, there in ((a, b.state), (b, a.state)):
        with here.transit.uow() as uow:
            uow.exchange.set_partner(PROCESS, there, operating, now, run_id)
            uow.commit()
    return results


__all__ = ["ScenarioOutcome", "run_conformance", "run_pair"]
