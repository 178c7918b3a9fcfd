"""A node that was down catches up on everything that waited for it on the bus.

RU and BY stop consuming while KZ releases a movement every simulated hour for seven hours;
the bus (the in-process one, stamping each message on the federation's clock as a JetStream
server stamps it on its own) keeps what they owe. Back up, they take every release
notification once, judged as fresh as when the bus took it, and answer each; KZ's outbox
shows every message accepted. Judged at processing time instead, the first releases (signed
seven hours earlier, past the six-hour limit) would be refused as stale and lost for good.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

from tests.conftest import START
from tests.integration.exchange.federation import Federation, federation

from silkway.examples import example_declaration
from silkway.exchange import service as exchange
from silkway.exchange.bus.inproc import InProcessBus
from silkway.exchange.bus.ports import Delivery, Handler, Subscription, publisher_of
from silkway.exchange.bus.runner import BusRunner
from silkway.transit import service as transit
from silkway.transit.domain.movement import Accept, MovementStatus, Release

STATES = ("KZ", "RU", "BY")


def _eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in time: {what}")
        time.sleep(0.02)


class Nodes:
    """The three nodes' receiving side on one bus, as the exchange runtime wires it."""

    def __init__(self, fed: Federation, runner: BusRunner, bus: InProcessBus) -> None:
        self.fed, self.runner, self.bus = fed, runner, bus
        self.receipts: dict[str, list[exchange.Receipt]] = {s: [] for s in STATES}
        self.dead: list[str] = []

    def handler(self, state: str) -> Handler:
        async def handle(delivery: Delivery) -> None:
            receipt = await asyncio.to_thread(
                partial(exchange.receive, via=publisher_of(delivery.subject)),
                self.fed.contexts[state],
                delivery.data,
                timedelta(seconds=delivery.waited),
            )
            self.receipts[state].append(receipt)

        return handle

    async def _dead(self, delivery: Delivery, reason: str) -> None:
        self.dead.append(reason)

    def up(self, state: str) -> Subscription:
        return self.runner.call(
            self.bus.subscribe(
                f"node-{state}",
                f"silkway.{state}.>",
                self.handler(state),
                on_dead_letter=self._dead,
            )
        )

    def send(self, subject: str, data: bytes, message_id: str) -> None:
        self.runner.call(self.bus.publish(subject, data, message_id=message_id))

    def relay(self, state: str) -> exchange.RelayReport:
        return exchange.relay(self.fed.contexts[state], self.send)


def test_nodes_down_for_seven_simulated_hours_catch_up_with_nothing_lost_or_twice(
    tmp_path: Path,
) -> None:
    with federation(tmp_path, STATES, START) as fed:
        fed.open_all()
        runner = BusRunner()
        runner.start()
        bus = InProcessBus(clock=fed.clock.now)
        runner.call(bus.start())
        try:
            nodes = Nodes(fed, runner, bus)
            nodes.up("KZ")
            for state in ("RU", "BY"):
                runner.call(nodes.up(state).stop())  # down; the consumer keeps its place

            kz = fed.nodes["KZ"].transit
            references = []
            for hour in range(8):  # at 0h, 1h, ... 7h
                decl = example_declaration("western-road", fed.clock.now().date())
                decl = decl.model_copy(update={"lrn": f"CATCH-UP-{hour}"})
                ref = transit.lodge_declaration(kz, decl).movement.reference
                transit.act(kz, ref, Accept())
                transit.act(kz, ref, Release(decl.security[0].reference, decl.departure_office))
                report = nodes.relay("KZ")
                assert (report.paper, report.dead) == (0, 0)  # everything on the bus
                references.append(ref)
                fed.clock.advance(timedelta(hours=1))
            fed.clock.advance(timedelta(minutes=-59))  # 7h01 after the first release
            with kz.uow() as uow:
                sent = [
                    v
                    for ref in references
                    for v in uow.exchange.outbox_views(movement_reference=ref)
                    if v.message_kind != "processing_result"
                ]
            owed = {s: sorted(v.message_id for v in sent if v.to_state == s) for s in ("RU", "BY")}
            assert all(owed.values())
            assert {v.channel for v in sent} == {"bus"}

            for state in ("RU", "BY"):
                nodes.up(state)
            _eventually(
                lambda: all(len(nodes.receipts[s]) == len(owed[s]) for s in ("RU", "BY")),
                "RU and BY took every message",
            )
            for state in ("RU", "BY"):
                receipts = nodes.receipts[state]
                assert sorted(r.message_id for r in receipts) == owed[state]
                assert {(r.outcome, str(r.errors)) for r in receipts} == {("accepted", "[]")}
                for ref in references:
                    movement = transit.get_movement(fed.nodes[state].transit, ref)
                    assert movement.status is MovementStatus.RELEASED

            # Their answers reach KZ: every release notification is accepted in its outbox.
            answers = 0
            for state in ("RU", "BY"):
                answers += nodes.relay(state).sent
            assert answers == len(sent)
            _eventually(lambda: len(nodes.receipts["KZ"]) == len(sent), "KZ took every answer")
            assert {r.outcome for r in nodes.receipts["KZ"]} == {"answer"}
            with kz.uow() as uow:
                views = [
                    v
                    for ref in references
                    for v in uow.exchange.outbox_views(movement_reference=ref)
                    if v.message_kind != "processing_result"
                ]
            assert len(views) == len(sent)
            assert {(v.channel, v.outcome) for v in views} == {("bus", "accepted")}

            # Nothing twice: no delivery beyond one per message; the bus delivering a copy
            # again is a duplicate; the same bytes put on the bus anew, seven hours on, are
            # refused as stale, and KZ keeps the first answer.
            time.sleep(0.3)
            assert [len(nodes.receipts[s]) for s in ("RU", "BY")] == [len(owed[s]) for s in owed]
            assert not nodes.dead
            again = next(v for v in sent if v.to_state == "BY")
            with fed.nodes["BY"].transit.uow() as uow:
                kept = uow.exchange.envelope_received(again.message_id)
            assert kept is not None
            data, taken_at = kept
            by = fed.contexts["BY"]
            assert exchange.receive(by, data, fed.clock.now() - taken_at).outcome == "duplicate"
            replay = exchange.receive(by, data)
            assert (replay.outcome, replay.code) == ("rejected", "signature-stale")
            # BY answers both: the duplicate (as a replay) and the stale copy (refused).
            late = nodes.relay("BY").sent
            assert late == 2
            _eventually(lambda: len(nodes.receipts["KZ"]) == len(sent) + late, "KZ took both")
            with kz.uow() as uow:
                (view,) = uow.exchange.outbox_views(message_id=again.message_id)
            assert view.outcome == "accepted"
        finally:
            runner.call(bus.close())
            runner.stop()
