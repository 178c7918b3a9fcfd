"""The node's periodic duties: overdue movements, expired guarantee locks, silent seals, retention,
and the anchor of its logs at the Commission.

Each duty is an ordinary use case run on a timer in one daemon thread; a failing duty is logged
and tried again at its next turn, and never stops the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from silkway.anchoring import service as anchoring
from silkway.bootstrap import Node
from silkway.guarantees import service as guarantees
from silkway.reference.model import MEMBER_STATES
from silkway.seals import ingest as telemetry
from silkway.transit import service as transit

log = logging.getLogger("silkway.scheduler")


@dataclass(frozen=True, slots=True)
class Duty:
    name: str
    every_s: float
    run: Callable[[], object]


def node_duties(node: Node, *, minute: float = 60.0) -> list[Duty]:
    """What a member state's node does on its own, and how often."""
    if node.state not in MEMBER_STATES:
        return []
    return [
        Duty(f"{node.state}:overdue", minute, lambda: transit.mark_overdue_movements(node.transit)),
        Duty(f"{node.state}:lock-expiry", minute, lambda: guarantees.expire_due_locks(node.guarantees)),
        Duty(f"{node.state}:seal-silence", minute, lambda: telemetry.check_silence(node.seals)),
        Duty(f"{node.state}:position-retention", 24 * 60 * minute,
             lambda: telemetry.purge_positions(node.seals)),
        Duty(f"{node.state}:anchor", node.settings.anchor_interval_s * minute / 60.0,
             lambda: anchoring.take_anchor(node.anchoring)),
    ]  # fmt: skip


class Scheduler:
    """Runs duties on their intervals (first run one interval after start, or ``first_run_s``
    after it when given) until stopped; :meth:`run_now` runs one at once."""

    def __init__(
        self, duties: list[Duty], *, tick_s: float = 1.0, first_run_s: float | None = None
    ) -> None:
        self.duties = duties
        self.tick_s = tick_s
        self.first_run_s = first_run_s
        self.runs: dict[str, int] = {d.name: 0 for d in duties}
        self.failures: dict[str, int] = {d.name: 0 for d in duties}
        self._stop = threading.Event()
        self._wake = threading.Event()
        # Guards what run_now reads and the loop changes: the duties asked for and the one running.
        self._lock = threading.Lock()
        self._asked: set[str] = set()
        self._running: str | None = None
        self._thread = threading.Thread(target=self._loop, name="silkway-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def run_now(self, name: str) -> bool:
        """Run the duty ``name`` as soon as the scheduler is free (it wakes for it) rather than
        at its time; its next turn is then one interval after this run. False, and nothing
        asked, when the duty is running or already asked for: that run is the one a caller gets."""
        if name not in self.runs:
            raise KeyError(f"no duty {name!r}; duties: {', '.join(self.runs)}")
        with self._lock:
            if name == self._running or name in self._asked:
                return False
            self._asked.add(name)
        self._wake.set()
        return True

    def _loop(self) -> None:
        start = time.monotonic()
        due = {
            d.name: start + (d.every_s if self.first_run_s is None else self.first_run_s)
            for d in self.duties
        }
        while True:
            # A tick, or run_now (or stop) waking the loop early.
            self._wake.wait(self.tick_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            for duty in self.duties:
                now = time.monotonic()
                with self._lock:
                    if now < due[duty.name] and duty.name not in self._asked:
                        continue
                    self._asked.discard(duty.name)
                    self._running = duty.name
                due[duty.name] = now + duty.every_s
                # A run ends (and may be asked for again) before it is counted: whoever waits
                # for the count can ask at once.
                try:
                    duty.run()
                except Exception:  # one failing duty must not stop the others
                    self._finished()
                    self.failures[duty.name] += 1
                    log.exception("duty %s failed", duty.name)
                else:
                    self._finished()
                    self.runs[duty.name] += 1

    def _finished(self) -> None:
        with self._lock:
            self._running = None


def start_scheduler(nodes: Mapping[str, Node]) -> Scheduler:
    scheduler = Scheduler([d for node in nodes.values() for d in node_duties(node)])
    scheduler.start()
    return scheduler
