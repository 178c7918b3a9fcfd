"""The node's periodic duties run on their own: overdue movements, lock expiry, silence, retention."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

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


def test_a_duty_asked_for_runs_at_once_and_is_not_asked_twice() -> None:
    started, finish = threading.Event(), threading.Event()
    others: list[int] = []

    def long_run() -> None:
        started.set()
        finish.wait(30)

    scheduler = Scheduler(
        [Duty("tests", 3600.0, long_run), Duty("other", 3600.0, lambda: others.append(1))],
        tick_s=0.01,
    )
    with pytest.raises(KeyError, match="no duty 'unknown'"):
        scheduler.run_now("unknown")
    scheduler.start()
    try:
        assert scheduler.run_now("tests") is True
        # Asked for and not yet finished (waiting for its turn, or running): the same run.
        assert scheduler.run_now("tests") is False
        assert started.wait(20)
        assert scheduler.run_now("tests") is False
        finish.set()
        eventually(lambda: scheduler.runs["tests"] == 1)
        assert scheduler.run_now("tests") is True
        eventually(lambda: scheduler.runs["tests"] == 2)
    finally:
        finish.set()
        scheduler.stop()
    # Only the duty asked for ran: the other is an hour from its turn.
    assert (others, scheduler.failures) == ([], {"tests": 0, "other": 0})
