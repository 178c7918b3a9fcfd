"""simulate.positions: device positions per second through the listeners, as the simulator
sends them.

A KZ node on SQLite with its device listeners on free ports; simulated seals (one EGTS
terminal, one Wialon IPS tracker, one Teltonika tracker, each on a seal activated at the
release of a Western road movement) send a long track each through their protocol, in
batches, over TCP; a figure counts the positions the node stored per second of sending.
Baseline: the same SQLite table's raw insert rate (``telemetry.raw_insert.sqlite``, from the
telemetry benchmark), measured in the same run.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from silkway.bootstrap import Node, build_node
from silkway.examples import example_declaration
from silkway.node.clock import ManualClock
from silkway.reference import load_reference
from silkway.seals import service as seals
from silkway.seals.listeners import DeviceListeners, plan_from_settings
from silkway.settings import Settings
from silkway.sim.devices import Device, EgtsTerminal, TeltonikaTracker, WialonTracker
from silkway.sim.track import Journey, Stretch, make_track
from silkway.transit import service as transit
from silkway.transit.domain.movement import Accept, Release
from silkway.transit.security import QuotedSecurityGate
from tests.bench.bench_telemetry import _raw_insert
from tests.bench.harness import Result
from tests.conftest import START

FIXES = 3000
"""Per seal: a fix every 10 s, some eight hours of road."""
PASSWORD = "bench-pass"
DEVICES: dict[str, tuple[str, str]] = {
    "egts": ("KZNS2690000001", "356307042440001"),
    "wialon": ("KZNS2690000002", "864123456780002"),
    "teltonika": ("KZNS2690000003", "864123456780003"),
}


def _device(protocol: str, imei: str) -> Device:
    if protocol == "egts":
        return EgtsTerminal(imei, batch_size=100)
    if protocol == "wialon":
        return WialonTracker(imei, PASSWORD, batch_size=100)
    return TeltonikaTracker(imei, batch_size=30)


def _released(node: Node) -> str:
    for protocol, (seal_id, imei) in DEVICES.items():
        seals.register_seal(
            node.seals,
            seal_id=seal_id,
            protocol=protocol,
            imei=imei,
            reporting_period_s=10,
            password=PASSWORD if protocol == "wialon" else None,
        )
    decl = example_declaration("western-road", START.date())
    decl = decl.model_copy(
        update={
            "lrn": "BENCH-POSITIONS",
            "seals": decl.seals.model_copy(
                update={"navigation_seal_ids": [s for s, _ in DEVICES.values()]}
            ),
        }
    )
    ref = transit.lodge_declaration(node.transit, decl).movement.reference
    transit.act(node.transit, ref, Accept())
    transit.act(node.transit, ref, Release(decl.security[0].reference, decl.departure_office))
    return ref


def _positions_rate(folder: Path) -> float:
    clock = ManualClock(START)
    node = build_node(
        "KZ",
        Settings(data_dir=folder),
        database_url=f"sqlite:///{folder / 'positions.sqlite'}",
        clock=clock,
        security=QuotedSecurityGate(),
    )
    try:
        ref = _released(node)
        corridor = load_reference().corridors["WESTERN_ROAD"]
        track = make_track(
            corridor,
            Journey(
                start=START + timedelta(seconds=10),
                speeds=(Stretch(0.0, 70.0),),
                period=timedelta(seconds=10),
                to_km=70.0 * 10 * FIXES / 3600,
                seed=1,
            ),
        ).fixes[:FIXES]
        clock.advance(timedelta(days=1))  # every fix lies in the node's past
        listeners = DeviceListeners(
            plan_from_settings(
                Settings(data_dir=folder, egts_port=0, wialon_port=0, teltonika_port=0),
                {"KZ": node},
            )
        )
        listeners.start()
        try:

            async def send_all() -> None:
                await asyncio.gather(
                    *(
                        _device(p, imei).send(listeners.tcp[p].address, track)
                        for p, (_, imei) in DEVICES.items()
                    )
                )

            start = time.perf_counter()
            asyncio.run(send_all())
            expected = FIXES * len(DEVICES)
            deadline = time.monotonic() + 120
            while seals.movement_track(node.seals, ref).stored_points < expected:
                if time.monotonic() > deadline:
                    stored = seals.movement_track(node.seals, ref).stored_points
                    raise RuntimeError(f"only {stored} of {expected} positions stored")
                time.sleep(0.02)
            elapsed = time.perf_counter() - start
        finally:
            listeners.stop()
    finally:
        node.dispose()
    return expected / elapsed


def run() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="silkway-bench-positions-") as tmp:
        folder = Path(tmp)
        rate = _positions_rate(folder)
        raw = _raw_insert(f"sqlite:///{folder / 'raw.sqlite'}", folder)
    return [Result("simulate.positions", rate, "positions/s", "telemetry.raw_insert.sqlite", raw)]
