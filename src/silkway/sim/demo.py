"""Demo traffic: lodges the example declarations and drives them along their lifecycle.

Until nodes exchange messages, every step is recorded at the node of departure, which holds the
movement; the acting office of each step is the real one (border, destination) all the same.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping

from silkway.bootstrap import Node
from silkway.domain.errors import DomainError
from silkway.domain.movement import (
    Accept,
    Complete,
    Movement,
    MovementEvent,
    MovementStatus,
    RecordArrival,
    RecordPassage,
    Release,
)
from silkway.examples import example_declaration, example_names
from silkway.services import transit
from silkway.services.ports import MovementFilter

log = logging.getLogger("silkway.demo")


def next_step(m: Movement) -> MovementEvent | None:
    """The next event of an uneventful journey, or None when the movement is done."""
    d = m.declaration
    match m.status:
        case MovementStatus.LODGED:
            return Accept()
        case MovementStatus.ACCEPTED:
            security = d.security[0].reference if d.security else "EXEMPT"
            return Release(security, d.departure_office)
        case MovementStatus.RELEASED | MovementStatus.IN_PASSAGE:
            pending = [o for o in d.intermediate_offices if o not in m.passed_offices]
            if pending:
                return RecordPassage(pending[0])
            return RecordArrival(m.destination_office)
        case MovementStatus.ARRIVED:
            return Complete()
        case _:
            return None


def lodge_one(nodes: Mapping[str, Node], name: str, serial: int) -> Movement | None:
    decl = example_declaration(name)
    decl = decl.model_copy(update={"lrn": f"DEMO-{serial:06d}-{name[:6]}"})
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
    for node in nodes.values():
        open_ = transit.list_movements(node.transit, MovementFilter(), offset=0, limit=50).items
        for m in rng.sample(open_, k=min(3, len(open_))):
            event = next_step(m)
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


__all__ = ["DemoTraffic", "lodge_one", "next_step", "tick"]
