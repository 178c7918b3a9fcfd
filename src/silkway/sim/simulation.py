"""A bounded simulation: lodge a batch of traffic, drive every movement to its end, account for it.

Everything goes through the Union's HTTP API as its people would do it (the demo's declarants
lodge, each state's officer records what happens at its offices, on the copy the exchange
brought), so a run measures the whole chain: lodging, release with its guarantee lock, the
release notification to every state on the route, passage and arrival recorded there, the
arrival notice back, completion, and the lock credited. The summary says how every movement
ended, what the exchange carried per process and channel, and where each guarantee stands.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from silkway.node.ports import Clock
from silkway.reference.model import ReferenceData
from silkway.seals.domain.seals import IncidentCode
from silkway.sim.accounts import declarants, officer, seal_operator
from silkway.sim.client import CallRefused, UnionClient
from silkway.sim.demo import Step, next_step
from silkway.sim.devices import (
    Address,
    Device,
    DeviceError,
    EgtsTerminal,
    TeltonikaTracker,
    WialonTracker,
)
from silkway.sim.track import Journey, Track, make_track, tamper
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
    positions: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per device protocol: fixes ``sent`` by the simulated seals and ``acknowledged``."""
    stored_positions: int = 0
    """Positions the node of departure stored on the run's movements (read back)."""
    incidents: dict[str, int] = field(default_factory=dict)
    """Seal incidents on the run's movements, by code."""
    tampered: dict[str, int] = field(default_factory=dict)
    """Tampering the simulated seals reported, by the incident code it should open."""
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
            "positions": self.positions,
            "stored_positions": self.stored_positions,
            "incidents": self.incidents,
            "tampered": self.tampered,
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


WORKERS = 8
"""Movements driven at once in a round."""

REPORT_PERIOD = timedelta(seconds=10)
"""How often a simulated seal reports in the run (the shortest period a seal may have)."""
FIRST_FIXES = 3
"""Fixes each seal reports after release before the carriage moves on in the run."""


TAMPER_EVENTS = {"wialon": IncidentCode.SEAL_BROKEN, "egts": IncidentCode.HOUSING_OPENED}
"""The tampering each protocol can report."""


def _share(seal_id: str) -> float:
    return (_digest("tamper:" + seal_id) % 10_000) / 10_000


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _imei(seal_id: str) -> str:
    """A 15-digit device identity for the seal, the same every run."""
    return f"35{_digest(seal_id) % 10**13:013d}"


def _password(seal_id: str) -> str:
    return f"sim{_digest('pw:' + seal_id) % 10**8:08d}"


def _whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _device(protocol: str, seal_id: str) -> Device:
    if protocol == "egts":
        return EgtsTerminal(_imei(seal_id))
    if protocol == "wialon":
        return WialonTracker(_imei(seal_id), _password(seal_id))
    if protocol == "teltonika":
        return TeltonikaTracker(_imei(seal_id))
    raise ValueError(f"no simulated device speaks {protocol!r}")


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
    tamper_share: float = 0.0
    """Share of the tracked movements whose seal reports tampering (01 over Wialon IPS, 02
    over EGTS; Teltonika carries no seal event), chosen by the seal's number."""
    tracked_state: str | None = None
    """The node the device listeners feed (``SILKWAY_LISTENER_NODE``): its movements' seals
    are registered there and report their fixes through the real protocols; None, no seals."""
    stop: threading.Event = field(default_factory=threading.Event)
    _listeners: dict[str, Address] = field(default_factory=dict)
    _tracked: set[str] = field(default_factory=set)
    _positions: dict[str, dict[str, int]] = field(default_factory=dict)
    _tampered: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
        if self.tracked_state is not None:
            self._listeners = self._listener_addresses(self.tracked_state)
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
        summary.positions = {p: dict(c) for p, c in sorted(self._positions.items())}
        summary.tampered = dict(sorted(self._tampered.items()))
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
            if p.state == self.tracked_state:
                self._register_seals(p)
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
        """Every open movement one step on, at every node on its route that has one to record;
        movements in parallel, as many officers work at once."""
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="silkway-sim") as pool:
            done = list(pool.map(lambda r: (r, self._advance(r, open_at[r])), list(open_at)))
        moved = False
        for reference, (ended, actions) in done:
            if ended:
                del open_at[reference]
            steps.update(actions)
            moved = moved or bool(actions)
        return moved

    def _advance(self, reference: str, departure: str) -> tuple[bool, list[str]]:
        """One movement's steps this round, the node of departure first (it is the one that
        says the movement has ended): (ended, actions taken)."""
        office_state = office_states(self.reference)
        actions: list[str] = []
        route: list[str] = [departure]
        master: MovementDetail | None = None
        for state in route:
            movement = self._movement(state, reference)
            if movement is None:
                continue  # its copy is still on the bus
            if state == departure:
                if movement.status in FINAL:
                    return True, actions
                master = movement
                if not self._track(movement):
                    break  # its seals have not reported yet: the carriage waits
                route += [s for s in movement.declaration.route if s in self.states and s != state]
            step = next_step(movement, state, office_state)
            if step is None or master is None or not _in_order(step, master, state, office_state):
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
            actions.append(step.action)
        return False, actions

    def _movement(self, state: str, reference: str) -> MovementDetail | None:
        try:
            found = self.union.call(state, officer(state), "GET", f"/movements/{reference}")
        except CallRefused as exc:
            if exc.status == 404:
                return None
            raise
        return MovementDetail.model_validate(found)

    # -- seals -------------------------------------------------------------------------------

    def _listener_addresses(self, state: str) -> dict[str, Address]:
        status = self.union.call(state, seal_operator(state), "GET", "/devices/listeners")
        out: dict[str, Address] = {}
        for protocol, listener in (status.get("tcp") or {}).items():
            address = listener.get("address")
            if address:
                host, _, port = str(address).rpartition(":")
                # A listener on every address is reached on the loopback from this machine.
                out[protocol] = ("127.0.0.1" if host in ("0.0.0.0", "") else host, int(port))
        return out

    def _register_seals(self, p: Planned) -> None:
        """Each navigation seal of the movement, registered with the departure's operator on
        a protocol the listeners speak (the seal's number decides which)."""
        protocols = sorted(self._listeners)
        if not protocols:
            return
        for seal_id in p.declaration.seals.navigation_seal_ids:
            protocol = protocols[_digest(seal_id) % len(protocols)]
            body: dict[str, Any] = {
                "seal_id": seal_id,
                "protocol": protocol,
                "imei": _imei(seal_id),
            }
            if protocol == "wialon":
                body["password"] = _password(seal_id)
            try:
                self.union.call(p.state, seal_operator(p.state), "POST", "/seals", json=body)
            except CallRefused as exc:
                if exc.status != 409:  # registered by an earlier run with the same seed
                    raise

    def _track(self, movement: MovementDetail) -> bool:
        """Once released, each seal of the movement reports its first fixes from the corridor
        through its protocol: True when that is done (or there is nothing to report)."""
        reference = movement.reference
        if (
            reference in self._tracked
            or movement.state != self.tracked_state
            or movement.released_at is None
            or not self._listeners
        ):
            return True
        corridor = self.reference.corridors.get(movement.declaration.corridor or "")
        if corridor is None:
            self._tracked.add(reference)
            return True
        now = self.clock.now()
        if now - movement.released_at < REPORT_PERIOD * (FIRST_FIXES - 1) + timedelta(seconds=2):
            return False
        protocols = sorted(self._listeners)
        for k, seal_id in enumerate(movement.declaration.seals.navigation_seal_ids):
            track = make_track(
                corridor,
                Journey(
                    start=_whole_seconds(movement.released_at) + timedelta(seconds=1),
                    period=REPORT_PERIOD,
                    to_km=0.2 * (FIRST_FIXES - 1),
                    seed=_digest(seal_id) + k,
                ),
            )
            track = Track(track.period, track.fixes[:FIRST_FIXES])
            protocol = protocols[_digest(seal_id) % len(protocols)]
            event = TAMPER_EVENTS.get(protocol)
            tampered = event is not None and _share(seal_id) < self.tamper_share
            if event is not None and tampered:
                track = tamper(track, track.fixes[-1].time, event)
            fixes = track.fixes
            try:
                delivery = asyncio.run(
                    _device(protocol, seal_id).send(self._listeners[protocol], fixes)
                )
            except DeviceError as exc:
                log.warning("seal %s could not report: %s", seal_id, exc)
                acknowledged = exc.acknowledged
            else:
                acknowledged = delivery.acknowledged
            with self._lock:  # movements report from several threads at once
                counts = self._positions.setdefault(protocol, {"sent": 0, "acknowledged": 0})
                counts["sent"] += len(fixes)
                counts["acknowledged"] += acknowledged
                if event is not None and tampered:
                    self._tampered[event.value] = self._tampered.get(event.value, 0) + 1
        self._tracked.add(reference)
        return True

    # -- accounting --------------------------------------------------------------------------

    def _account(self, references: dict[str, str], summary: Summary) -> None:
        outcomes: Counter[str] = Counter()
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
        messages = self._settled_messages(list(references))
        incidents: Counter[str] = Counter()
        stored = 0
        if self.tracked_state is not None:
            for reference, state in references.items():
                if state == self.tracked_state:
                    track = self.union.call(
                        state, seal_operator(state), "GET", f"/movements/{reference}/track"
                    )
                    stored += int(track["stored_points"])
                    for i in self.union.call(
                        state,
                        seal_operator(state),
                        "GET",
                        "/seal-incidents",
                        params={"movement": reference, "limit": 500},
                    ):
                        incidents[str(i["code"])] += 1
        summary.incidents = dict(sorted(incidents.items()))
        summary.stored_positions = stored
        summary.outcomes = dict(sorted(outcomes.items()))
        summary.messages = dict(sorted(messages.items()))
        for grn, state in sorted(grns.items()):
            g = self.union.call(state, officer(state), "GET", f"/guarantees/{grn}")
            balance = g["guarantee"]["balance"]
            summary.guarantees[grn] = {k: str(v) for k, v in balance.items()}

    def _settled_messages(self, references: list[str], settle_s: float = 30.0) -> Counter[str]:
        """Messages about ``references`` by process, channel and outcome, once none is still
        on its way: the last completion notices may be answered a moment after the end."""
        deadline = time.monotonic() + settle_s
        while True:
            messages: Counter[str] = Counter()
            for reference in references:
                for s in self.states:
                    for view in self._messages(s, reference):
                        outcome = view.get("outcome") or "unanswered"
                        channel = view.get("channel") or "pending"
                        messages[f"{view['process']} {channel} {outcome}"] += 1
            waiting = any(
                (k.endswith(" unanswered") and " bus " in k) or " pending " in k for k in messages
            )
            if not waiting or time.monotonic() > deadline or self.stop.is_set():
                return messages
            self.stop.wait(0.5)

    def _messages(self, state: str, reference: str) -> list[dict[str, Any]]:
        views: list[dict[str, Any]] = self.union.call(
            state, officer(state), "GET", "/messages", params={"movement": reference, "limit": 500}
        )
        return [v for v in views if v.get("message_kind") != "processing_result"]
