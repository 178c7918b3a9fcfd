"""simulate.movements: simulated movements fully processed per second, embedded set-up.

``silkway run`` (its own process, SQLite, the in-process bus, demo traffic off) takes a
bounded simulation through its API: each movement lodged, accepted, released with its lock,
passed and arrived at the offices of the states on its route, completed, its lock credited,
every message answered. Baseline: authenticated ``GET /movements/{ref}`` round trips per
second against the same server in the same run, the cheapest call a movement's story is made
of (a movement takes some twenty such calls and several transactions on each node it crosses).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx2

from silkway.node.clock import SystemClock
from silkway.reference.loader import load_reference
from silkway.reference.model import MEMBER_STATES
from silkway.sim.accounts import DEMO_PASSWORD, officer
from silkway.sim.client import UnionClient
from silkway.sim.simulation import Simulation
from silkway.sim.traffic import TrafficModel
from tests.bench.harness import Result
from tests.union import silkway_run

COUNT = 60
PROBES = 400


def run() -> list[Result]:
    with (
        tempfile.TemporaryDirectory(prefix="silkway-bench-sim-") as tmp,
        silkway_run(Path(tmp), env={"SILKWAY_DEMO_TRAFFIC": "false"}) as running,
        httpx2.Client(base_url=running.base, timeout=30) as http,
    ):
        union = UnionClient(http, DEMO_PASSWORD)
        sim = Simulation(
            union, load_reference(), SystemClock(), list(MEMBER_STATES), TrafficModel(9)
        )
        sim.wait_in_operation()
        summary = sim.run(sim.plan(COUNT), timeout=600)
        if not summary.accounted:
            raise RuntimeError(f"not every movement ended: {summary.as_dict()}")
        reference = next(iter(_references(union)))
        start = time.perf_counter()
        for _ in range(PROBES):
            union.call("KZ", officer("KZ"), "GET", f"/movements/{reference}")
        probe_rate = PROBES / (time.perf_counter() - start)
    return [
        Result(
            "simulate.movements",
            summary.lodged / summary.seconds,
            "movements/s",
            "http.get_movement",
            probe_rate,
        )
    ]


def _references(union: UnionClient) -> list[str]:
    page = union.call("KZ", officer("KZ"), "GET", "/movements", params={"limit": 5})
    return [str(m["reference"]) for m in page["items"]]
