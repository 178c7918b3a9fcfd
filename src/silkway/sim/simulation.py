"""A bounded simulation: lodge a batch of traffic, drive every movement to its end, account for it.

Everything goes through the Union's HTTP API as its people would do it (the demo's declarants
lodge, each state's officer records what happens at its offices, on the copy the exchange
brought), so a run measures the whole chain: lodging, release with its guarantee lock, the
release notification to every state on the route, passage and arrival recorded there, the
arrival notice back, completion, and the lock credited. The summary says how every movement
ended, what the exchange carried per process and channel, and where each guarantee stands.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from silkway.node.ports import Clock
from silkway.reference.model import ReferenceData
from silkway.sim.accounts import declarants, officer
from silkway.sim.client import CallRefused, UnionClient
from silkway.sim.demo import Step, next_step
from silkway.sim.traffic import TrafficModel
from silkway.transit.api.schemas import MovementDetail
from silkway.transit.domain.declaration import SecurityKind, TransitDeclaration
from silkway.transit.domain.movement import MovementStatus, office_states

log = logging.getLogger("silkway.sim")

__all__ = ["Planned", "Simulation", "Summary"]

FINAL = frozenset(
    {
        MovementStatus.COMPLETED,
        MovementStatus.PARTIALLY_COMPLETED,
        MovementStatus.NOT_DELIVERED,
        MovementStatus.CANCELLED,
        MovementStatus.REJECTED,
    }
)
"""Where a movement's story ends at its node of departure."""


@dataclass(frozen=True, slots=True)
class Planned:
    corridor: str
    declaration: TransitDeclaration
    state: str
    """The node of departure."""


@dataclass
class Summary:
    """What a run did: the figures ``silkway simulate`` prints."""

    planned: int = 0
    lodged: int = 0
    refused_at_lodging: dict[str, int] = field(default_factory=dict)
    by_corridor: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    """Movements by status at their node of departure when the run ended."""
    steps: dict[str, int] = field(default_factory=dict)
    """Officers' actions taken, by action."""
    messages: dict[str, int] = field(default_factory=dict)
    """Messages about the run's movements, by ``process channel outcome``."""
    guarantees: dict[str, dict[str, str]] = field(default_factory=dict)
    """Each guarantee the traffic used: its balance when the run ended."""
    unaccounted: list[str] = field(default_factory=list)
    """Lodged movements that did not reach an end (or vanished)."""
    seconds: float = 0.0

    @property
    def accounted(self) -> bool:
        return not self.unaccounted and self.lodged + sum(self.refused_at_lodging.values()) == (
            self.planned
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "planned": self.planned,
            "lodged": self.lodged,
            "refused_at_lodging": self.refused_at_lodging,
            "by_corridor": self.by_corridor,
            "outcomes": self.outcomes,
            "steps": self.steps,
            "messages": self.messages,
            "guarantees": self.guarantees,
            "unaccounted": self.unaccounted,
            "every_movement_accounted_for": self.accounted,
            "seconds": round(self.seconds, 1),
        }


def _in_order(
    step: Step, master: MovementDetail, state: str, office_state: Callable[[str], str | None]
) -> bool:
    """Whether the carriage can be where ``step`` says: past every office of the other states
    before it on the route, as the node of departure knows (a truck reaches Brest after it
    has left Russia, whatever order the officers' screens would allow)."""
    d = master.declaration
    offices = list(d.intermediate_offices)
    if step.action == "passages":
        offices = offices[: offices.index(step.body["office"])]
    elif step.action != "arrival":
        return True
    passed = set(master.passed_offices)
    return all(o in passed or office_state(o) == state for o in offices)


Progress = Callable[[int, int], None]
"""Called with (movements at their end, movements lodged) as the run goes."""


@dataclass
class Simulation:
    """A run against one Union's API (``union``), for the member states ``states``."""

    union: UnionClient
    reference: ReferenceData
    clock: Clock
    states: Sequence[str]
    model: TrafficModel
    stop: threading.Event = field(default_factory=threading.Event)

    def plan(self, count: int, *, first: int = 1) -> list[Planned]:
        today = self.clock.now().date()
        planned = []
        for corridor, decl in self.model.declarations(count, today, first=first):
            office = self.reference.offices.get(decl.departure_office)
            if office is not None and office.state in self.states:
                planned.append(Planned(corridor, decl, office.state))
        return planned

    def wait_in_operation(self, process: str = "P.CP.01", timeout: float = 120.0) -> None:
        """Until every member state's node has measured the process in operation with every
        other (the interstate tests at start-up): before then, messages go on paper."""
        deadline = time.monotonic() + timeout
        missing: list[str] = []
        while not self.stop.is_set():
            missing = []
            for state in self.states:
                try:
                    partners = self.union.call(
                        state, officer(state), "GET", "/partners", params={"process": process}
                    )
                except CallRefused as exc:
                    missing.append(f"{state}: {exc}")
                    continue
                missing += [
                    f"{state}-{p}" for p in self.states if p != state and not partners.get(p)
                ]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{process} not in operation between {', '.join(missing)}")
            self.stop.wait(0.5)

    def run(
        self,
        planned: Sequence[Planned],
        *,
        timeout: float = 600.0,
        progress: Progress | None = None,
    ) -> Summary:
        started = time.monotonic()
        summary = Summary(planned=len(planned))
        summary.by_corridor = dict(sorted(Counter(p.corridor for p in planned).items()))
        references = self._lodge(planned, summary)
        open_at = dict(references)  # reference -> node of departure, while not at its end
        steps: Counter[str] = Counter()
        deadline = started + timeout
        stalled = 0
        while open_at and not self.stop.is_set() and time.monotonic() < deadline:
            moved = self._round(references, open_at, steps)
            if progress is not None:
                progress(len(references) - len(open_at), len(references))
            # Nothing to do here while messages are on their way: wait a moment for the bus.
            stalled = 0 if moved else stalled + 1
            if not moved:
                self.stop.wait(min(0.05 * stalled, 1.0))
        summary.steps = dict(sorted(steps.items()))
        self._account(references, summary)
        summary.seconds = time.monotonic() - started
        return summary

    # -- lodging -----------------------------------------------------------------------------

    def _lodge(self, planned: Sequence[Planned], summary: Summary) -> dict[str, str]:
        who = declarants(list(self.states), self.reference, self.clock.now().date())
        references: dict[str, str] = {}
        refused: Counter[str] = Counter()
        for p in planned:
            account = who.get(p.declaration.declarant.identification)
            if account is None:
                refused["no-declarant-account"] += 1
                continue
            try:
                lodged = self.union.call(
                    p.state,
                    account,
                    "POST",
                    "/declarations",
                    content=p.declaration.model_dump_json(),
                )
            except CallRefused as exc:
                log.warning("lodging %s refused: %s", p.declaration.lrn, exc)
                refused[exc.code] += 1
                continue
            references[str(lodged["reference"])] = p.state
        summary.lodged = len(references)
        summary.refused_at_lodging = dict(sorted(refused.items()))
        return references

    # -- driving -----------------------------------------------------------------------------

    def _round(
        self, references: dict[str, str], open_at: dict[str, str], steps: Counter[str]
    ) -> bool:
        """Every open movement one step on, at every node on its route that has one to record:
        the node of departure first, since it is the one that says the movement has ended."""
        office_state = office_states(self.reference)
        moved = False
        for reference in list(open_at):
            departure = open_at[reference]
            route: list[str] = [departure]
            master: MovementDetail | None = None
            for state in route:
                movement = self._movement(state, reference)
                if movement is None:
                    continue  # its copy is still on the bus
                if state == departure:
                    if movement.status in FINAL:
                        del open_at[reference]
                        break
                    master = movement
                    route += [
                        s for s in movement.declaration.route if s in self.states and s != state
                    ]
                step = next_step(movement, state, office_state)
                if (
                    step is None
                    or master is None
                    or not _in_order(step, master, state, office_state)
                ):
                    continue
                try:
                    self.union.call(
                        state,
                        officer(state),
                        "POST",
                        f"/movements/{reference}/{step.action}",
                        json=step.body,
                    )
                except CallRefused as exc:
                    if exc.status == 409:  # the copy moved on meanwhile: next round
                        continue
                    raise
                steps[step.action] += 1
                moved = True
        return moved

    def _movement(self, state: str, reference: str) -> MovementDetail | None:
        try:
            found = self.union.call(state, officer(state), "GET", f"/movements/{reference}")
        except CallRefused as exc:
            if exc.status == 404:
                return None
            raise
        return MovementDetail.model_validate(found)

    # -- accounting --------------------------------------------------------------------------

    def _account(self, references: dict[str, str], summary: Summary) -> None:
        outcomes: Counter[str] = Counter()
        messages: Counter[str] = Counter()
        grns: dict[str, str] = {}
        for reference, state in references.items():
            try:
                found = self.union.call(state, officer(state), "GET", f"/movements/{reference}")
            except CallRefused:
                summary.unaccounted.append(reference)
                continue
            movement = MovementDetail.model_validate(found)
            outcomes[movement.status.value] += 1
            if movement.status not in FINAL:
                summary.unaccounted.append(reference)
            for security in movement.declaration.security:
                if security.kind is SecurityKind.GRN:
                    grns[security.reference] = state
            for s in self.states:
                for view in self._messages(s, reference):
                    outcome = view.get("outcome") or "unanswered"
                    messages[f"{view['process']} {view.get('channel') or 'pending'} {outcome}"] += 1
        summary.outcomes = dict(sorted(outcomes.items()))
        summary.messages = dict(sorted(messages.items()))
        for grn, state in sorted(grns.items()):
            g = self.union.call(state, officer(state), "GET", f"/guarantees/{grn}")
            balance = g["guarantee"]["balance"]
            summary.guarantees[grn] = {k: str(v) for k, v in balance.items()}

    def _messages(self, state: str, reference: str) -> list[dict[str, Any]]:
        views: list[dict[str, Any]] = self.union.call(
            state, officer(state), "GET", "/messages", params={"movement": reference, "limit": 500}
        )
        return [v for v in views if v.get("message_kind") != "processing_result"]
