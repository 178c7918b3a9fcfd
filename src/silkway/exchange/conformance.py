"""The interstate conformance kit: scenarios run between two live nodes over the bus.

Each process with a kit (P.CP.01 from transit, P.SO.01 from the seal operators; bootstrap hands
them to the exchange) runs the same five scenarios: the process's opening message accepted, its
replay refused, a message about something the receiver does not know refused, a tampered
envelope refused, an unknown key refused.

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

from silkway.exchange.bus.ports import subject_for
from silkway.exchange.domain.envelope import (
    Action,
    Address,
    EDocHeader,
    Envelope,
    EnvelopeHeader,
    MessageBody,
    urn_uuid,
)
from silkway.exchange.domain.processes import (
    CATALOGUE,
    PROCESS,
    PROCESSES,
    is_processing_result,
    process_of,
)
from silkway.exchange.ports import ConformanceResult, InboxEntry
from silkway.exchange.register import in_operation_between, pair_status
from silkway.exchange.service import CONFORMANCE_PROCEDURE, REPLAYED, ExchangeContext, Send
from silkway.kernel.codes import make_movement_reference
from silkway.kernel.errors import ActionInvalid, Violation

Settle = Callable[[], None]
"""Lets the bus deliver (a live set-up waits; a test harness pumps)."""
Expect = Callable[[str, str], None]
"""Announces ``(MessageID, refusal code)`` before a scenario sends an envelope to be refused
(:class:`~silkway.exchange.expected.ExpectedRefusals`, for receivers in this process)."""


@dataclass(frozen=True, slots=True)
class ScenarioOutcome:
    scenario: str
    passed: bool
    detail: str


def conformance_reference(state: str, now: datetime) -> str:
    """A reference in the last serial block of the year: never issued to a real movement."""
    return make_movement_reference(state, now.year, 99_999_000_000 + int(now.timestamp()) % 999_999)


def scenario_envelope(
    sender: str,
    receiver: str,
    code: str,
    roles: tuple[str, str],
    fields: dict[str, Any],
    now: datetime,
) -> Envelope:
    """A conformance envelope carrying message ``code`` from ``sender`` (role ``roles[0]``)."""
    entry = CATALOGUE[code]
    process = PROCESSES[process_of(code)]
    sender_role, receiver_role = roles
    return Envelope(
        EnvelopeHeader(
            to=Address.for_role(receiver, receiver_role),
            reply_to=Address.for_role(sender, sender_role),
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


def _answers(a: ExchangeContext, message_id: str) -> list[InboxEntry]:
    with a.node.read() as uow:
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
    expect: Expect | None = None,
) -> list[ScenarioOutcome]:
    """Every scenario of ``process`` from A to B (each refusal it provokes announced first to
    ``expect``, when given)."""
    now = a.node.clock.now()
    build = a.kits.get(process)
    if build is None:
        raise ActionInvalid(
            f"no conformance kit for {process} at {a.state}",
            [Violation("process-without-kit", "/process", process)],
        )
    kit = build(b_state, now)
    subject = subject_for(b_state, process, a.state)
    outcomes: list[ScenarioOutcome] = []

    def announce(message_id: str, code: str) -> None:
        if expect is not None:
            expect(message_id, code)

    def exchange_one(
        name: str, data: bytes, message_id: str, outcome: str, code: str | None
    ) -> None:
        if code is not None:
            announce(message_id, code)
        send(subject, data, message_id)
        answers = _await_answer(a, message_id, settle, timeout)
        if not answers:
            outcomes.append(ScenarioOutcome(name, False, f"no R.006 within {timeout:.0f} s"))
            return
        answer = answers[0]
        codes = [e.get("ErrorCode") for e in answer.errors]
        passed = answer.outcome == outcome and (code is None or code in codes)
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
    announce(accepted_id, REPLAYED)
    send(subject, sealed, f"{accepted_id}:replay")
    deadline = time.monotonic() + timeout
    answers = _answers(a, accepted_id)
    while len(answers) < 2 and time.monotonic() < deadline:
        settle()
        time.sleep(0.02)
        answers = _answers(a, accepted_id)
    refused = [x for x in answers if any(e.get("ErrorCode") == REPLAYED for e in x.errors)]
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
    expect: Expect | None = None,
) -> dict[str, list[ScenarioOutcome]]:
    """Run ``process`` both ways between A and B; record results and the pair's status."""
    results = {
        f"{a.state}->{b.state}": run_pair(
            a, b.state, send, settle, timeout=timeout, process=process, expect=expect
        ),
        f"{b.state}->{a.state}": run_pair(
            b, a.state, send, settle, timeout=timeout, process=process, expect=expect
        ),
    }
    now = a.node.clock.now()
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
        with register.node.uow() as uow:
            for r in records:
                uow.exchange.conformance_add(r)
            uow.commit()
    run_id = records[0].run_id if records else str(uuid.uuid4())
    for here, there in ((a, b.state), (b, a.state)):
        with here.node.uow() as uow:
            uow.exchange.set_partner(process, there, operating, now, run_id)
            uow.commit()
    return results


__all__ = [
    "ScenarioOutcome",
    "conformance_reference",
    "run_conformance",
    "run_pair",
    "scenario_envelope",
]
