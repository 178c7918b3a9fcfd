"""Demo traffic: lodges the example declarations and drives them along their lifecycle, through
each node's HTTP API as the demo's declarants, officers and administrators.

Each step is recorded where it would be in life: acceptance and release at the node of
departure, passage and arrival by the node of the office concerned, on the copy the release
notification brought it; the exchange carries them back to the node of departure, which
completes the movement on the arrival notice. A node records steps only at its own offices, so
a movement whose route crosses a state the exchange does not reach waits there (the start-up
conformance run puts every pair of states in operation).
Before the first step, the guarantees the examples quote are registered at their departure
nodes (a demo guarantor, the declarant as holder), so that releases lock real amounts.
The traffic is a caller like any other (:class:`silkway.sim.client.UnionClient`): it signs in,
holds tokens, and is refused, limited and logged like anyone.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from silkway.examples import example_declaration, example_names
from silkway.node.ports import Clock
from silkway.reference.model import ReferenceData
from silkway.sim.accounts import administrator, declarants, officer
from silkway.sim.client import CallRefused, UnionClient
from silkway.transit.api.schemas import MovementDetail
from silkway.transit.domain.declaration import SecurityKind
from silkway.transit.domain.movement import MovementStatus, office_states

log = logging.getLogger("silkway.demo")


@dataclass(frozen=True, slots=True)
class Step:
    """One officer's action as the API takes it: ``POST /movements/{ref}/{action}``."""

    action: str
    body: dict[str, Any] = field(default_factory=dict)


def next_step(
    m: MovementDetail, here: str, office_state: Callable[[str], str | None]
) -> Step | None:
    """The next step of an uneventful journey that the node of ``here`` records, if any."""
    d = m.declaration
    master = m.state == here

    def ours(office: str) -> bool:
        return office_state(office) == here

    match m.status:
        case MovementStatus.LODGED if master:
            return Step("accept")
        case MovementStatus.ACCEPTED if master:
            security = d.security[0].reference if d.security else "EXEMPT"
            return Step("release", {"office": d.departure_office, "security_reference": security})
        case MovementStatus.RELEASED | MovementStatus.IN_PASSAGE:
            pending = [o for o in d.intermediate_offices if o not in m.passed_offices and ours(o)]
            if pending:
                return Step("passages", {"office": pending[0]})
            if ours(m.destination_office):
                return Step("arrival", {"office": m.destination_office})
            return None
        case MovementStatus.ARRIVED if master:
            return Step("completion")  # an arrival at an office of this state
        case _:
            return None


DEMO_LRN_PREFIX = "DEMO-"
"""The demo lodges and drives only declarations whose LRN starts with this."""

DEMO_GUARANTOR = "Silkway Demo Surety"
DEMO_REFERENCE_AMOUNT = Decimal("50000000.00")
"""EUR per example guarantee: enough for every demo movement open at once."""


@dataclass(frozen=True, slots=True)
class Demo:
    """What the demo traffic needs: the Union's API, its reference data, its clock, its nodes."""

    union: UnionClient
    reference: ReferenceData
    clock: Clock
    states: Sequence[str]
    """The member states whose nodes it drives."""

    def today(self) -> date:
        return self.clock.now().date()

    def departure_state(self, office: str) -> str | None:
        found = self.reference.offices.get(office)
        return found.state if found is not None and found.state in self.states else None


def register_example_guarantees(demo: Demo) -> list[str]:
    """Register, at its departure node, each guarantee an example quotes (once; a restart finds
    them registered): the demo guarantor and the holder by the node's administrator, the
    guarantee by its officer. Returns the GRNs registered now."""
    registered = []
    for name in example_names():
        decl = example_declaration(name, demo.today())
        state = demo.departure_state(decl.departure_office)
        if state is None:
            continue
        declarant = decl.declarant
        for security in decl.security:
            if security.kind is not SecurityKind.GRN:
                continue
            guarantor_id = _demo_guarantor(demo.union, state)
            demo.union.call(
                state,
                administrator(state),
                "PUT",
                f"/holders/{declarant.identification}",
                json={"name": declarant.name, "country": declarant.country},
            )
            application = {
                "method": "surety",
                "scope": "general",
                "reference_amount": str(DEMO_REFERENCE_AMOUNT),
                "currency": "EUR",
                "guarantor_id": guarantor_id,
                "holder_id": declarant.identification,
                "grn": security.reference,
                "access_code": security.access_code,
            }
            try:
                demo.union.call(state, officer(state), "POST", "/guarantees", json=application)
            except CallRefused as exc:
                if exc.status == 409:  # registered by an earlier run
                    continue
                raise
            registered.append(security.reference)
    return registered


def _demo_guarantor(union: UnionClient, state: str) -> str:
    admin = administrator(state)
    for g in union.call(state, admin, "GET", "/guarantors"):
        if g["name"] == DEMO_GUARANTOR:
            return str(g["guarantor_id"])
    made = union.call(
        state,
        admin,
        "POST",
        "/guarantors",
        json={"name": DEMO_GUARANTOR, "kind": "surety", "country": state},
    )
    return str(made["guarantor_id"])


def lodge_one(demo: Demo, name: str, serial: int) -> str | None:
    """Lodge example ``name`` as its declarant; returns the movement's reference."""
    decl = example_declaration(name, demo.today())
    decl = decl.model_copy(update={"lrn": f"{DEMO_LRN_PREFIX}{serial:06d}-{name[:6]}"})
    state = demo.departure_state(decl.departure_office)
    if state is None:
        return None
    who = declarants(list(demo.states), demo.reference, demo.today())[decl.declarant.identification]
    lodged = demo.union.call(state, who, "POST", "/declarations", content=decl.model_dump_json())
    return str(lodged["reference"])


def tick(demo: Demo, serial: int, rng: random.Random) -> None:
    """One round: lodge a declaration and move a few open movements one step on."""
    names = example_names()
    try:
        lodge_one(demo, names[serial % len(names)], serial)
    except CallRefused as exc:
        log.warning("demo lodging refused: %s", exc)
    office_state = office_states(demo.reference)
    for state in demo.states:
        who = officer(state)
        page = demo.union.call(state, who, "GET", "/movements", params={"limit": 50})
        # Only its own movements: one lodged by a person trying the API is left to that person.
        ours = [m["reference"] for m in page["items"] if m["lrn"].startswith(DEMO_LRN_PREFIX)]
        for reference in rng.sample(ours, k=min(3, len(ours))):
            try:
                found = demo.union.call(state, who, "GET", f"/movements/{reference}")
                step = next_step(MovementDetail.model_validate(found), state, office_state)
                if step is None:
                    continue
                demo.union.call(
                    state, who, "POST", f"/movements/{reference}/{step.action}", json=step.body
                )
            except CallRefused as exc:
                log.info("demo step refused for %s: %s", reference, exc)


class DemoTraffic:
    """Runs :func:`tick` every ``period`` seconds on a daemon thread until stopped."""

    def __init__(self, demo: Demo, period: float = 2.0, seed: int = 7) -> None:
        self._demo = demo
        self._period = period
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="silkway-demo", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stopping(self) -> None:
        """Stop after the round under way, without waiting for it (the server is going down)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        serial = 0
        while not self._stop.wait(self._period):
            serial += 1
            try:
                tick(self._demo, serial, self._rng)
            except Exception:  # the demo must never take the server down
                if self._stop.is_set():  # a round cut short by the shutdown: nothing wrong
                    log.debug("demo round cut short by the shutdown", exc_info=True)
                else:
                    log.exception("demo tick failed")


__all__ = [
    "DEMO_GUARANTOR",
    "DEMO_LRN_PREFIX",
    "Demo",
    "DemoTraffic",
    "Step",
    "lodge_one",
    "next_step",
    "register_example_guarantees",
    "tick",
]
