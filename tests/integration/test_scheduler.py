"""The node's periodic duties run on their own: overdue movements, lock expiry, silence, retention."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from silkway.bootstrap import Node
from silkway.entrypoints.scheduler import Duty, Scheduler, node_duties
from silkway.examples import example_declaration
from silkway.node.clock import ManualClock
from silkway.transit import service as transit
from silkway.transit.domain.movement import Accept, MovementStatus, Release


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.01)


def test_a_movement_past_its_time_limit_becomes_overdue_by_itself(
    kz_node: Node, clock: ManualClock
) -> None:
    decl = example_declaration("western-road", clock.now().date())
    ref = transit.lodge_declaration(kz_node.transit, decl).movement.reference
    transit.act(kz_node.transit, ref, Accept())
    transit.act(kz_node.transit, ref, Release(decl.security[0].reference, decl.departure_office))
    clock.advance(timedelta(days=(decl.time_limit - clock.now().date()).days + 1))
    duties = node_duties(kz_node, minute=0.01)
    assert {d.name for d in duties} == {
        "KZ:overdue",
        "KZ:lock-expiry",
        "KZ:seal-silence",
        "KZ:position-retention",
        "KZ:anchor",
    }
    scheduler = Scheduler(duties, tick_s=0.01)
    scheduler.start()
    try:
        eventually(
            lambda: transit.get_movement(kz_node.transit, ref).status is MovementStatus.OVERDUE
        )
        eventually(lambda: scheduler.runs["KZ:seal-silence"] >= 2)
    finally:
        scheduler.stop()
    assert scheduler.failures == dict.fromkeys(scheduler.failures, 0)


def test_a_failing_duty_does_not_stop_the_others() -> None:
    done: list[int] = []

    def broken() -> None:
        raise RuntimeError("out of order")

    scheduler = Scheduler(
        [Duty("broken", 0.01, broken), Duty("fine", 0.01, lambda: done.append(1))], tick_s=0.01
    )
    scheduler.start()
    try:
        eventually(lambda: len(done) >= 3 and scheduler.failures["broken"] >= 3)
    finally:
        scheduler.stop()
    assert scheduler.runs["broken"] == 0
