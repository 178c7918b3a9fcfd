"""The interstate conformance kit: scenarios run between two live nodes over the bus.

P.CP.01 (transit) and P.SO.01 (seal operators) each have a kit; both run the same five
scenarios: the process's opening message accepted, its replay refused, a message about something
the receiver does not know refused, a tampered envelope refused, an unknown key refused.

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
from decimal import Decimal
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
    PROCESS,
    PROCESSES,
    SEAL_PROCESS,
    is_processing_result,
    process_of,
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


def _conformance_reference(state: str, now: datetime) -> str:
    """A reference in the last serial block of the year: never issued to a real movement."""
    return make_movement_reference(state, now.year, 99_999_000_000 + int(now.timestamp()) % 999_999)


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
    movement, _ = Movement.lodge(
        _conformance_reference(a.state, now),
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
    code: str,
    roles: tuple[str, str],
    fields: dict[str, Any],
    now: datetime,
) -> Envelope:
    """A conformance envelope carrying message ``code`` from A (role ``roles[0]``) to B."""
    entry = CATALOGUE[code]
    process = PROCESSES[process_of(code)]
    sender_role, receiver_role = roles
    return Envelope(
        EnvelopeHeader(
            to=Address.for_role(b_state, receiver_role),
            reply_to=Address.for_role(a.state, sender_role),
            action=Action(
                process.code,
                process.version,
                process.procedure,
                entry.transaction or f"{process.code}.TRN.001",
                code,
            ),
            message_id=uuid.uuid4(),
            procedure_id=CONFORMANCE_PROCEDURE,
            conversation_id=uuid.uuid4(),
        ),
        EDocHeader(code, entry.structure, uuid.uuid4(), now),
        MessageBody(entry.structure, fields),
    )


@dataclass(frozen=True, slots=True)
class Kit:
    """What a process contributes to the scenarios: one message B must accept, one it must refuse."""

    accepted: tuple[str, Callable[[], Envelope]]
    """Scenario name and a factory of fresh envelopes B accepts (also replayed and tampered)."""
    refused: tuple[str, Envelope, str]
    """Scenario name, an envelope B refuses, and the error code it must give."""
    tamper: str
    """A value inside the accepted envelope's body; changing one digit of it breaks the signature."""


def _transit_kit(a: ExchangeContext, b_state: str, now: datetime) -> Kit:
    movement, release_fields = _synthetic_release(a, b_state, now)
    office_state = office_states(a.transit.reference)

    def roles(kind: str) -> tuple[str, str]:
        return transit_messages.roles(kind, a.state, b_state, movement, office_state)

    release = MessageKind.RELEASE_NOTIFICATION
    arrival = MessageKind.ARRIVAL_NOTICE
    arrival_fields = {
        "MovementReference": movement.reference,
        "DestinationOffice": release_fields["DestinationOffice"],
        "ArrivalDateTime": now,
        "SealsIntactIndicator": True,
    }
    return Kit(
        accepted=(
            "release-notification-accepted",
            lambda: _envelope(
                a, b_state, transit_messages.MESSAGE_CODES[release], roles(release),
                release_fields, now,
            ),
        ),
        refused=(
            "unknown-movement-refused",
            _envelope(
                a, b_state, transit_messages.MESSAGE_CODES[arrival], roles(arrival),
                arrival_fields, now,
            ),
            "movement-not-found",
        ),
        tamper=movement.reference,
    )  # fmt: skip


def _seal_kit(a: ExchangeContext, b_state: str, now: datetime) -> Kit:
    """P.SO.01: an enquiry about a seal B does not know, and a hand-over of a movement it lacks."""
    reference = _conformance_reference(a.state, now)
    seal_id = f"{a.state}CONF{uuid.uuid4().hex[:12].upper()}"
    enquiry = {
        "SealId": seal_id,
        "MovementReference": reference,
        "TrackingCountryCode": a.state,
        "EnquiryDateTime": now,
    }
    handover = {
        "MovementReference": reference,
        "SealId": seal_id,
        "RegistrationCountryCode": a.state,
        "FromCountryCode": a.state,
        "ToCountryCode": b_state,
        "HandoverDateTime": now,
        "Location": {"Latitude": Decimal("50.0"), "Longitude": Decimal("60.0")},
        "Device": {
            "ProtocolCode": "egts",
            "DeviceId": "356307000000000",
            "ReportingPeriodSeconds": 60,
        },
    }
    return Kit(
        accepted=(
            "seal-enquiry-accepted",
            lambda: _envelope(
                a, b_state, "P.SO.01.MSG.901", ("P.SO.01.ACT.002", "P.SO.01.ACT.001"),
                enquiry, now,
            ),
        ),
        refused=(
            "unknown-movement-refused",
            _envelope(
                a, b_state, "P.SO.01.MSG.903", ("P.SO.01.ACT.002", "P.SO.01.ACT.003"),
                handover, now,
            ),
            "movement-not-found",
        ),
        tamper=reference,
    )  # fmt: skip


KITS: dict[str, Callable[[ExchangeContext, str, datetime], Kit]] = {
    PROCESS: _transit_kit,
    SEAL_PROCESS: _seal_kit,
}
"""The processes with a conformance kit, and how each builds its scenario messages."""


def _answers(a: ExchangeContext, message_id: str) -> list[InboxEntry]:
    with a.transit.read() as uow:
        return [
            e
            for e in uow.exchange.inbox(relates_to=message_id, limit=10)
            if is_processing_result(e.message_code)
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
    process: str = PROCESS,
) -> list[ScenarioOutcome]:
    """Every scenario of ``process`` from A to B."""
    now = a.transit.clock.now()
    kit = KITS[process](a, b_state, now)
    subject = subject_for(b_state, process)
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

    accepted_name, fresh = kit.accepted
    # 1. The process's opening message is accepted.
    accepted = fresh()
    sealed = a.sealer.seal(accepted, now)
    accepted_id = urn_uuid(accepted.header.message_id)
    exchange_one(accepted_name, sealed, accepted_id, "accepted", None)

    # 2. The same envelope again, under a new transport id (as a replay attack would send it)
    #    is refused with message-replayed; its effect is not applied twice.
    send(subject, sealed, f"{accepted_id}:replay")
    deadline = time.monotonic() + timeout
    answers = _answers(a, accepted_id)
    while len(answers) < 2 and time.monotonic() < deadline:
        settle()
        time.sleep(0.02)
        answers = _answers(a, accepted_id)
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

    # 3. A message about something B does not know is refused with the right code.
    refused_name, refused_envelope, refused_code = kit.refused
    exchange_one(
        refused_name,
        a.sealer.seal(refused_envelope, now),
        urn_uuid(refused_envelope.header.message_id),
        "rejected",
        refused_code,
    )

    # 4. A tampered envelope is refused.
    tampered_env = fresh()
    good = a.sealer.seal(tampered_env, now)
    tampered = good.replace(kit.tamper.encode(), _flip(kit.tamper).encode(), 1)
    exchange_one(
        "tampered-envelope-refused",
        tampered,
        urn_uuid(tampered_env.header.message_id),
        "rejected",
        "signature-invalid",
    )

    # 5. A key the trust list does not know is refused.
    rogue_env = fresh()
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
    process: str = PROCESS,
) -> dict[str, list[ScenarioOutcome]]:
    """Run ``process`` both ways between A and B; record results and the pair's status."""
    results = {
        f"{a.state}->{b.state}": run_pair(
            a, b.state, send, settle, timeout=timeout, process=process
        ),
        f"{b.state}->{a.state}": run_pair(
            b, a.state, send, settle, timeout=timeout, process=process
        ),
    }
    now = a.transit.clock.now()
    records = [
        ConformanceResult(run_id, process, src, dst, o.scenario, o.passed, o.detail, now)
        for (src, dst), outcomes, run_id in (
            ((a.state, b.state), results[f"{a.state}->{b.state}"], str(uuid.uuid4())),
            ((b.state, a.state), results[f"{b.state}->{a.state}"], str(uuid.uuid4())),
        )
        for o in outcomes
    ]
    status = pair_status(records)
    operating = in_operation_between(status, process, a.state, b.state)
    if register is not None:
        with register.transit.uow() as uow:
            for r in records:
                uow.exchange.conformance_add(r)
            uow.commit()
    run_id = records[0].run_id if records else str(uuid.uuid4())
    for here, there in ((a, b.state), (b, a.state)):
        with here.transit.uow() as uow:
            uow.exchange.set_partner(process, there, operating, now, run_id)
            uow.commit()
    return results


__all__ = ["KITS", "ScenarioOutcome", "run_conformance", "run_pair"]
