"""Demo traffic: lodges the example declarations and drives them along their lifecycle.

Each step is recorded where it would be in life: acceptance and release at the node of
departure, passage and arrival by the node of the office concerned, on the copy the release
notification brought it; the exchange carries them back to the node of departure, which
completes the movement on the arrival notice. A node records steps only at its own offices, so
a movement whose route crosses a state the exchange does not reach waits there (the start-up
conformance run puts every pair of states in operation).
Before the first step, the guarantees the examples quote are registered at their departure
nodes (a demo guarantor, the declarant as holder), so that releases lock real amounts.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal

from silkway.bootstrap import Node
from silkway.examples import example_declaration, example_names
from silkway.guarantees import service as guarantees
from silkway.guarantees.domain.guarantee import (
    GuaranteeMethod,
    GuaranteeScope,
    GuarantorKind,
    Holder,
)
from silkway.kernel.errors import DomainError
from silkway.transit import service as transit
from silkway.transit.domain.declaration import SecurityKind
from silkway.transit.domain.movement import (
    Accept,
    Complete,
    Movement,
    MovementEvent,
    MovementStatus,
    RecordArrival,
    RecordPassage,
    Release,
    office_states,
)
from silkway.transit.ports import MovementFilter

log = logging.getLogger("silkway.demo")


def next_step(
    m: Movement, here: str, office_state: Callable[[str], str | None]
) -> MovementEvent | None:
    """The next event of an uneventful journey that the node of ``here`` records, if any."""
    d = m.declaration
    master = m.state == here

    def ours(office: str) -> bool:
        return office_state(office) == here

    match m.status:
        case MovementStatus.LODGED if master:
            return Accept()
        case MovementStatus.ACCEPTED if master:
            security = d.security[0].reference if d.security else "EXEMPT"
            return Release(security, d.departure_office)
        case MovementStatus.RELEASED | MovementStatus.IN_PASSAGE:
            pending = [o for o in d.intermediate_offices if o not in m.passed_offices and ours(o)]
            if pending:
                return RecordPassage(pending[0])
            if ours(m.destination_office):
                return RecordArrival(m.destination_office)
            return None
        case MovementStatus.ARRIVED if master:
            return Complete()  # an arrival at an office of this state (others' come by message)
        case _:
            return None


DEMO_LRN_PREFIX = "DEMO-"
"""The demo lodges and drives only declarations whose LRN starts with this."""

DEMO_GUARANTOR = "Silkway Demo Surety"
DEMO_REFERENCE_AMOUNT = Decimal("50000000.00")
"""EUR per example guarantee: enough for every demo movement open at once."""


def _today(nodes: Mapping[str, Node]) -> date:
    # The embedded nodes share one clock; the demo dates its declarations by it.
    return nodes[next(iter(nodes))].transit.clock.now().date()


def register_example_guarantees(nodes: Mapping[str, Node]) -> list[str]:
    """Register, at its departure node, each guarantee an example quotes (once; a restart finds
    them registered). Returns the GRNs registered now."""
    registered = []
    for name in example_names():
        decl = example_declaration(name, _today(nodes))
        office = nodes[next(iter(nodes))].reference.offices.get(decl.departure_office)
        if office is None or office.state not in nodes:
            continue
        ctx = nodes[office.state].guarantees
        declarant = decl.declarant
        for security in decl.security:
            if security.kind is not SecurityKind.GRN:
                continue
            guarantor = next(
                (g for g in guarantees.list_guarantors(ctx) if g.name == DEMO_GUARANTOR), None
            ) or guarantees.register_guarantor(
                ctx, name=DEMO_GUARANTOR, kind=GuarantorKind.SURETY, country=office.state
            )
            guarantees.register_holder(
                ctx, Holder(declarant.identification, declarant.name, declarant.country)
            )
            application = guarantees.GuaranteeApplication(
                method=GuaranteeMethod.SURETY,
                scope=GuaranteeScope.GENERAL,
                reference_amount=DEMO_REFERENCE_AMOUNT,
                currency="EUR",
                guarantor_id=guarantor.guarantor_id,
                holder_id=declarant.identification,
                grn=security.reference,
                access_code=security.access_code,
            )
            try:
                guarantees.register_guarantee(ctx, application, actor="demo")
            except guarantees.GuaranteeExists:
                continue
            registered.append(security.reference)
    return registered


def lodge_one(nodes: Mapping[str, Node], name: str, serial: int) -> Movement | None:
    decl = example_declaration(name, _today(nodes))
    decl = decl.model_copy(update={"lrn": f"{DEMO_LRN_PREFIX}{serial:06d}-{name[:6]}"})
    office = nodes[next(iter(nodes))].reference.offices.get(decl.departure_office)
    if office is None or office.state not in nodes:
        return None
    return transit.lodge_declaration(nodes[office.state].transit, decl).movement


def tick(nodes: Mapping[str, Node], serial: int, rng: random.Random) -> None:
    """One round: lodge a declaration and move a few open movements one step on."""
    names = example_names()
    try:
        lodge_one(nodes, names[serial % len(names)], serial)
    except DomainError as exc:
        log.warning("demo lodging refused: %s", exc.message)
    for state, node in nodes.items():
        office_state = office_states(node.reference)
        open_ = transit.list_movements(node.transit, MovementFilter(), offset=0, limit=50).items
        # Only its own movements: one lodged by a person trying the API is left to that person.
        ours = [m for m in open_ if m.declaration.lrn.startswith(DEMO_LRN_PREFIX)]
        for m in rng.sample(ours, k=min(3, len(ours))):
            event = next_step(m, state, office_state)
            if event is None:
                continue
            try:
                transit.act(node.transit, m.reference, event)
            except DomainError as exc:
                log.info("demo step refused for %s: %s", m.reference, exc.message)


class DemoTraffic:
    """Runs :func:`tick` every ``period`` seconds on a daemon thread until stopped."""

    def __init__(self, nodes: Mapping[str, Node], period: float = 2.0, seed: int = 7) -> None:
        self._nodes = nodes
        self._period = period
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="silkway-demo", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        serial = 0
        while not self._stop.wait(self._period):
            serial += 1
            try:
                tick(self._nodes, serial, self._rng)
            except Exception:  # the demo must never take the server down
                log.exception("demo tick failed")


__all__ = ["DemoTraffic", "lodge_one", "next_step", "register_example_guarantees", "tick"]
